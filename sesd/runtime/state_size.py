"""How much state a config can hold: the most alert states each rule restores, and the
largest state file it could save, past which a file at start is refused unread (a
damaged file, a disk image named by mistake): a restore takes about fifteen times
the file's size in memory, and an out-of-memory kill at each start would keep sesd
down.

The file's size is bounded from the caps the config sets, each store at its largest
entry (measured, then doubled or more: BENCHMARKS.md section 10), and a floor for
the stores no setting caps (canaries, accounts). A file saved at the default caps
with the pending table full is 12 MB, a label's windows at their largest 77 kB; a
tenants' map full (a million ARNs) about 160 MB, up to 454 MB of the longest ARNs it
keeps, and a walk of an (account, region)'s tenants under way beside it up to 520 MB
(a million resources at their caps); tenants' statuses up to 540 MB per (account,
region) watched, and as much for those events alone named (10,000 each, every field
at its bound). Resolves owed under rules a reload removed are
of no rule the config at the start names: they have a room of their own
(:func:`retired_room`), which a save keeps them to (:func:`kept_owed`), with those
of a rule in force past its own share (a reload narrowed its scope). Webhook
notifications a stop left part-sent take at most their own bound
(sesd.alerting.part_saved.MOST_SAVED_BYTES)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Final

import msgspec

from sesd.alerting.part_saved import MOST_SAVED_BYTES
from sesd.alerting.retiring import Retiring
from sesd.config import ACCOUNT_METRICS, CANARY_METRICS, TENANT_METRICS, RuleConfig
from sesd.core.ledger import Ledger
from sesd.core.providers import LABELS as PROVIDERS
from sesd.core.scopes import PROVIDER, TENANT
from sesd.core.settings import CoreSettings
from sesd.core.tenant_walks import MAX_TOKEN, MAX_WALK_TENANTS
from sesd.core.tenants import MAX_STATUSES

__all__ = ["alert_ceiling", "kept_owed", "retired_room", "state_limit"]

#: Room in :func:`alert_ceiling` for what no setting counts (`other`, `unknown`, labels
#: a reload stopped tracking whose alerts are still resolving).
_SPARE_STATES: Final = 256

#: The most bytes a label's windows take in the file, per slot of the layout: 854
#: measured (76,829 bytes for the default 90 slots, every window keeping breakdowns
#: and each bucket fed distinct long texts past its caps).
_PER_SLOT: Final = 2048
#: A pending delay's row with the longest labels (about 390 bytes), with a resolution
#: (and its step back kept, 9 bytes, SES's time of it, 19, and its key again where it
#: timed a delay, 9) and a give-up remembered beside it, and the moves steps of the
#: clock keep of it and of the give-up (19 bytes each); 46 measured with short labels.
_PER_PENDING: Final = 512
#: A key of the duplicate filter (7 bytes measured).
_PER_KEY: Final = 32
#: A provider answer cached: the longest domain, a provider, an expiry.
_PER_ANSWER: Final = 512
#: An alert state: the longest label twice (its row, and the list of labels the domain
#: table no longer holds) and six fields; 547 bytes measured.
_PER_ALERT: Final = 1024
#: A firing some of its rule's sinks took before a stop (key ``heard``): its label
#: again (322 bytes measured, one sink of the longest name listed)...
_PER_HEARD: Final = 512
#: ...and each sink of the rule that took it, by its name (at most 64 characters).
_PER_SINK: Final = 128
#: A firing alert whose rule a reload changed the thresholds of since it fired (key
#: ``fired``): its label again, when it fired and the keys that decided it then; 432
#: bytes measured with the longest label, metric and cause.
_PER_FIRED: Final = 1024
#: A resolve owed (key ``retired``), to each sink of the rule (a sink that took one of
#: an alert's resolves and not a later one owes only that: each sink may be owed a
#: different one): its label twice (its row, and the list of labels the domain table
#: no longer holds) and six fields, as an alert state's; 557 bytes measured.
_PER_RESOLVE: Final = 1024
#: A rule a resolve owed outside the rules in force was made under, as the file keeps
#: it beside the resolve (each row may be of a rule of its own): 465 bytes measured,
#: with three sinks of the longest name (a rule listing many domains takes more).
_PER_RULE: Final = 1024
#: A row of the tenants' map: a resource's ARN, of 7-bit ASCII and at most the longest
#: SES writes (sesd.core.tenant_map.MAX_RESOURCE_ARN: an event's ``sourceArn`` is
#: anyone's who can send to the queue, and the map keeps whatever is that long), and
#: its tenant's name (at most 64): 454 bytes measured at both bounds (60-150 for ARNs
#: as SES writes most).
_PER_ARN: Final = 512
#: A resource a walk under way read (as many as the map holds, per (account, region)):
#: its ARN and two of its tenants' names, 520 bytes measured at the caps that bound
#: them (sesd.core.tenant_walks: a 384-byte ARN, 64-character names)...
_PER_WALK_RESOURCE: Final = 640
#: ...and each tenant it walks (a name, 66 bytes measured)...
_PER_WALK_TENANT: Final = 128
#: ...and the token of its next page: at most MAX_TOKEN characters, of any text (SES
#: documents none), each at most 4 bytes.
_PER_WALK_TOKEN: Final = 4 * MAX_TOKEN
#: What SES says of a tenant: its statuses and causes, its findings and the types heard
#: of, SES's id of it, under its key: 53,820 bytes measured with every field at its
#: bound (texts of 4-byte characters, the longest tenant id and names). Status events
#: are anyone's who can send to the queue: a flood of made-up tenants may fill each
#: (account, region)'s room, and the events-only tenants' as much again.
_PER_STATUS: Final = 64 << 10
#: The stores no setting caps small, and the document around them.
_FLOOR: Final = 32 << 20


def alert_ceiling(rule: RuleConfig, settings: CoreSettings) -> int:
    """The most alert states ``rule`` may restore: twice the labels its own scope can
    track (a label evicted while its alert fires keeps its state until it resolves),
    with the named ones; a provider rule's whole table, a tenant status rule's tenants
    SES may list in each (account, region) watched, an account rule's those watched.
    Far above what a real file holds; a hand-edited or damaged one loads no more."""
    if rule.metric in CANARY_METRICS:
        return 1
    if rule.metric in ACCOUNT_METRICS:
        tracked = len(settings.watched)
    elif rule.metric in TENANT_METRICS:
        tracked = _statuses(settings)
    elif rule.scope == PROVIDER:
        tracked = _providers(settings)
    elif rule.scope == TENANT:
        tracked = _tenants(settings)
    else:
        tracked = _domains(settings)
    return 2 * tracked + _SPARE_STATES


def retired_room(settings: CoreSettings, sinks: int) -> int:
    """The most resolves the state file keeps owed (each to one sink: a row) outside
    the rules in force's share (:func:`_alert_bytes`): under a rule a reload removed,
    or to a sink a reload took off the rule. As many as a rule of the widest scope may
    hold alert states, to each of ``sinks`` (those configured): a removed rule's every
    alert, on every sink (a sink is owed one resolve of an alert). More (rules of a
    storm's every label removed at once, while their sinks took nothing) are not
    kept: :func:`kept_owed`."""
    scopes = (_domains, _tenants, _statuses, _providers)
    widest = max(len(settings.watched), *(tracked(settings) for tracked in scopes))
    return (2 * widest + _SPARE_STATES) * sinks


def kept_owed(
    retired: Sequence[Retiring], rules: Iterable[RuleConfig], room: int, settings: CoreSettings
) -> tuple[list[Retiring], int]:
    """Of ``retired`` (sesd.alerting.retiring), what the state file keeps: the rows the
    rules in force (``rules``) name the sink of, as many to each sink as the rule's
    share holds (:func:`alert_ceiling`: a resolve owed each sink per alert state), and
    ``room`` others, the oldest resolves first (they end the oldest incidents); and how
    many were left out. A reload that narrowed a rule's scope (every domain to the
    providers) owes its sinks the old scope's resolves under the rule's own name: past
    the share its scope now holds, they take the room, or several rules narrowed at
    once take the file past :func:`state_limit`."""
    named = {rule.name: set(rule.sinks) for rule in rules}
    share = {rule.name: alert_ceiling(rule, settings) for rule in rules}
    free: dict[tuple[str, str], int] = {}
    kept: list[Retiring | None] = list(retired)
    left, cut = room, 0
    for i in sorted(range(len(retired)), key=lambda i: (retired[i][1].since, retired[i][1].at)):
        rule, alert = retired[i]
        sinks = []
        for sink in rule.sinks:
            ours = sink in named.get(rule.name, ())
            if ours and free.setdefault((rule.name, sink), share[rule.name]) > 0:
                free[rule.name, sink] -= 1
                sinks.append(sink)
            elif left > 0:
                left -= 1
                sinks.append(sink)
            else:
                cut += 1
        if sinks != rule.sinks:
            kept[i] = (msgspec.structs.replace(rule, sinks=sinks), alert) if sinks else None
    return [each for each in kept if each is not None], cut


def _domains(settings: CoreSettings) -> int:
    return settings.max_tracked + len(settings.track) + len(settings.groups)


def _tenants(settings: CoreSettings) -> int:
    return settings.tenants_max_tracked + len(settings.tenants_track)


def _statuses(settings: CoreSettings) -> int:
    return MAX_STATUSES * len(settings.watched) + len(settings.tenants_track)


def _providers(settings: CoreSettings) -> int:
    return len(PROVIDERS) + len(settings.mx)


def _alert_bytes(rule: RuleConfig) -> int:
    """The most bytes one of ``rule``'s alert states takes in the file, with the sinks
    that took its firing when it was saved owed to the others, the rule it fired under,
    and a resolve of another label owed each sink."""
    return _PER_ALERT + _PER_HEARD + _PER_FIRED + (_PER_SINK + _PER_RESOLVE) * len(rule.sinks)


def state_limit(ledger: Ledger, rules: Iterable[RuleConfig], sinks: Collection[str]) -> int:
    """The most bytes a state file of ``ledger``'s settings, ``rules`` and ``sinks``
    (every sink configured) may take: its labels' windows, pending delays, duplicate
    keys, cached answers, alert states, resolves owed outside them
    (:func:`retired_room`) and the tenants' map, statuses and walks, each at its cap
    and largest, and :data:`_FLOOR` for the rest."""
    s = ledger.settings
    labels = s.max_tracked + len(s.track) + len(s.groups) + 1
    labels += len(s.tags) * (s.tags_max_tracked + 1)
    if s.providers:
        labels += len(PROVIDERS) + len(s.mx)
    if s.tenants:
        labels += s.tenants_max_tracked + len(s.tenants_track) + 2
    slots = sum(spec.slots for spec in ledger.specs)
    return (
        _FLOOR
        + labels * slots * _PER_SLOT
        + s.max_pending_delays * _PER_PENDING
        + s.dedup_max_entries * _PER_KEY
        + (s.providers_max_cache * _PER_ANSWER if s.providers else 0)
        + sum(alert_ceiling(rule, s) * _alert_bytes(rule) for rule in rules)
        + retired_room(s, len(sinks)) * (_PER_RESOLVE + _PER_SINK + _PER_RULE)
        # Whatever tenants says now: a file saved with them on holds the map, and a
        # start that turned them off must not set aside its windows for it.
        + ledger.tenant_map.max_entries * _PER_ARN
        + MAX_STATUSES * (len(s.watched) + 1) * _PER_STATUS  # (+1: those of events only)
        # A walk of each (account, region) watched, each held to what the map holds.
        + len(s.watched) * _walk_bytes(ledger.tenant_map.max_entries)
        + MOST_SAVED_BYTES  # webhook notifications part-sent
    )


def _walk_bytes(resources: int) -> int:
    """The most bytes one walk under way takes in the file: its tenants, its token and,
    at most, ``resources`` resources."""
    return MAX_WALK_TENANTS * _PER_WALK_TENANT + _PER_WALK_TOKEN + resources * _PER_WALK_RESOURCE
