"""The state file: what a restart must not lose.

The ledger's saved stores (sesd.core.ledger says which and why), the alert
states and the rules they were stepped under go into one msgpack document,
written atomically (a temporary file beside it, fsync, rename) with mode 0600
(sesd.runtime.state_bytes reads and writes it, and says which versions it reads).
Restored at start, it means a restart neither loses the last hour nor sends
firing alerts again, an alert that cleared while sesd was down resolves (and
is notified), and a change of rules across the restart owes the sinks what a
reload would. Counters are not kept: Prometheus handles counter resets.

A file that cannot be read is reported and ignored: sesd starts rather than
refusing to. Windows of a size the config no longer has start empty. A file saved
ahead of the clock holds resolves on empty windows until the clock passes it, and its
alert times move back as far (sesd.runtime.state_alerts.stepped_back); one saved on
this boot behind the clock by more, or less, than the boot clock passed since moves
its times by the difference (sesd.runtime.boot_clock).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

import msgspec

from sesd.alerting.alert import Alert
from sesd.alerting.clock_steps import fired_moved
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.part_saved import SavedPart
from sesd.alerting.rechecked import Rechecked
from sesd.alerting.retiring import Retiring
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import RuleConfig, saved_rule
from sesd.core.canary import names_read
from sesd.core.ledger import Ledger
from sesd.core.ledger_steps import restored_behind
from sesd.core.scopes import DOMAIN
from sesd.core.text import clean
from sesd.core.ungrouped import drop_groups, removed_groups
from sesd.runtime.boot_clock import passed_while_stopped, stepped_while_stopped
from sesd.runtime.collector import held_off
from sesd.runtime.state_alerts import (
    alert_states,
    clocked,
    read_heard,
    read_retired,
    resolve_row,
    saved_heard,
    saved_retired,
    stepped_back,
    unread_alerted,
)
from sesd.runtime.state_bounds import bounded, firing_of, named
from sesd.runtime.state_bytes import STATE_VERSION, StateError, decoded
from sesd.runtime.state_parts import read_parts, taken
from sesd.runtime.state_refused import in_line
from sesd.runtime.state_rules import saved_rules, saved_windows

__all__ = ["restore", "snapshot"]

#: How many of the alerts a change of rules since the save owes the start's line names.
_NAMED_OWED: Final = 20
#: A state's seventh item, written only where its alert is held by a window too thin
#: to decide on (sesd.runtime.state_alerts reads a row without it as not held).
_HELD: Final[dict[bool, list[bool]]] = {False: [], True: [True]}


def snapshot(
    ledger: Ledger,
    evaluator: Evaluator,
    now: float,
    unsent: Iterable[tuple[str, str, Transition]] = (),
    stopped: bool = False,
    retired: Iterable[Retiring] = (),
    firing_owed: Mapping[tuple[str, str], Collection[str]] | None = None,
    resolves: Iterable[Alert] = (),
    part_sent: Iterable[SavedPart] = (),
    boot: list[str | float] | None = None,
) -> bytes:
    """Everything worth keeping, encoded: the ledger's saved stores and the alert
    states, as if ``unsent`` (rule, domain, kind: notifications not delivered yet) had
    not happened, so a restart sends them again, and the resolves not delivered, each
    with the sinks owed it (``retired``, sesd.runtime.state_alerts); ``stopped``: the
    stop's last save (a file without it was left by a run that did not stop cleanly).
    A resolve in ``unsent`` keeps its alert firing, as earlier builds saved them all:
    the restart resolves it on the rule's sinks (sesd.alerting.retiring keeps them
    apart, in ``retired``, and says why). ``firing_owed``: the sinks each firing in
    ``unsent`` is owed to (every sink of its rule where it does not say); the others
    took it, and are not sent it again (sesd.alerting.unheard). ``resolves``: those
    in ``unsent`` as made, each saved with its own figure, start and end (its state
    may hold a new breach since). ``part_sent``: webhook notifications part-sent.
    ``boot``: this boot's mark (sesd.runtime.boot_clock), which a start on it reads."""
    alerts = {
        rule: {
            domain: [s.status.value, s.since, s.last_sent, s.value, s.resolved_at, s.notified]
            + _HELD[s.held]
            for domain, s in states.items()
            if s.status is not Status.INACTIVE
        }
        for rule, states in evaluator.states.items()
    }
    made: dict[tuple[str, str], Alert] = {}
    for alert in resolves:  # the first of an alert's: the incident its sinks have open
        made.setdefault((alert.rule, alert.domain), alert)
    for rule, domain, kind in unsent:
        # A rule no longer in force: what it owes is a resolve, kept in ``retired``
        # under the rule as it was (sesd.alerting.retiring), not made again.
        saved = alerts.get(rule)
        if saved is None:
            continue
        row = saved.get(domain)
        firing = row is not None and row[0] == Status.FIRING.value
        if kind is Transition.FIRING and firing:
            assert row is not None
            row[5] = False  # not notified: the first evaluation after a restart sends it
        elif kind is Transition.RESOLVED and not firing:
            # Still firing as far as the sinks know: the first evaluation after a
            # restart resolves it again (or finds it firing, as the sinks have it).
            # Its resolved_at says the resolve was decided: not held back at the start.
            state = evaluator.states.get(rule, {}).get(domain)
            saved[domain] = resolve_row(state, made.get((rule, domain)), now)
    heard = saved_heard(alerts, evaluator.rules, evaluator.unheard.owed, firing_owed or {})
    rules = {rule.name: saved_rule(rule) for rule in evaluator.rules}
    owed = list(retired)
    alerted = _alerted(ledger, evaluator.rules, alerts, owed)
    # The windows the alerts kept firing fired under: a config's, perhaps one dropped
    # since, which the next restart reads as one a config had (saved_windows).
    fired = evaluator.rechecked.fired.values()
    windows = sorted({rule.window for rule, _ in fired} - set(evaluator.window_names))
    return msgspec.msgpack.encode(
        {"version": STATE_VERSION, "saved_at": now, "boot": boot,
         **ledger.snapshot(now), "alerts": alerts,
         "rules": rules, "alerted": alerted, "retired": saved_retired(owed), "heard": heard,
         "fired": evaluator.rechecked.saved(), "groups": sorted(ledger.settings.groups),
         "stopped": stopped, "fired_windows": windows, "part_sent": list(part_sent)}
    )  # fmt: skip


def _alerted(
    ledger: Ledger,
    rules: list[RuleConfig],
    alerts: dict[str, dict[str, list[Any]]],
    retired: list[Retiring],
) -> list[str]:
    """The labels of domain rules' firing alerts (sent, or saved to be sent, ``retired``
    resolves among them) that the domain table no longer holds: a group a reload
    removed, evicted while its alert's resolve was held (a queue unread). Listed, the
    restart takes their states as it takes a group the file's table lists
    (:meth:`Ledger.makes`), and they resolve; not listed, they were dropped as a hand's
    labels, their incidents left open."""
    domain_rules = [rule.name for rule in rules if rule.scope == DOMAIN]
    found = {
        label
        for name in domain_rules
        for label, row in alerts.get(name, {}).items()
        if row[0] == Status.FIRING.value and not ledger.domains.holds(label)
    }
    found |= {
        alert.domain
        for rule, alert in retired
        if rule.scope == DOMAIN and not ledger.domains.holds(alert.domain)
    }
    return sorted(found)


def restore(
    blob: bytes,
    ledger: Ledger,
    evaluator: Evaluator,
    now: float,
    boot: list[str | float] | None = None,
) -> dict[str, Any]:
    """Load a snapshot into a fresh ledger and evaluator at ``now``, this boot's mark
    ``boot`` (sesd.runtime.boot_clock: None, no step while stopped is told); returns what was
    restored.

    All or nothing: the file is first restored into a ledger of the same settings
    that is then dropped, so a file damaged halfway (a flipped byte, a field of the
    wrong type) raises StateError with nothing loaded, rather than windows without
    the alert states that go with them (which would page again); but an entry beside
    them that does not read is skipped alone (sesd.runtime.state_alerts says why).

    The alert states are taken as a reload from the rules they were saved under to
    the configured ones takes them (a removed rule's sent alerts resolve, say), and
    for a window's length a window without data does not resolve an alert: the
    events queued while sesd was down have not reached it yet.
    """
    with held_off():  # (its collections took over a quarter of the time)
        return _restore(blob, ledger, evaluator, now, boot)


def _restore(
    blob: bytes, ledger: Ledger, evaluator: Evaluator, now: float, boot: list[str | float] | None
) -> dict[str, Any]:
    data = decoded(blob)
    try:
        Ledger(ledger.settings).restore(data, now)
        # A flipped byte here (no date of it can be written) is read as the start's time:
        written = float(data["saved_at"])  # the rest is sound, and the start's lines say it
        saved_at = clocked(written, now)
        step = stepped_back(saved_at, now)  # the alert times move with the clock
        # Saved on the same boot, a step while stopped is told: the times move as at a
        # step measured, and the downtime is the boot clock's, not the step's too.
        told = stepped_while_stopped(data.get("boot"), boot, saved_at, now) if step == 0 else 0.0
        step = step or told
        alerts = alert_states(data["alerts"], now, step)
        windows = saved_windows(data, evaluator)
        rules, unknown, unread_rules = saved_rules(
            data.get("rules", {}), alerts, evaluator, windows
        )
        known = {name: states for name, states in alerts.items() if name not in unknown}
        dropped, refused = bounded(rules, known, ledger, data)
        retired, unread, skipped = read_retired(data, now, step)
        heard, unheard = read_heard(data)
        resumed, unread_parts = read_parts(data, evaluator.config, saved_at + told, now, step)
        # Their sink goes on with them; the rules of the resolves among them stay known
        # (below), so that a stop before they went keeps them under their rule again.
        retired, owed_before = taken(resumed, known, heard, retired), retired
        fired = Rechecked()  # the rules firing alerts fired under, where since changed
        unfired = fired.adopt(data.get("fired"), rules, windows, unknown)
        fired.fired = fired_moved(fired.fired, step)
        entries = {"rules": unread_rules, "retired": skipped, "heard": unheard, "alerted":
                   unread_alerted(data), "fired": unfired,
                   "canary_names": names_read(data.get("canary_names"))[1],
                   "part_sent": unread_parts}  # fmt: skip
        for rule, states, _ in retired:
            # Held to the rule as it was, on its own: its labels, its ceiling. What it
            # drops is named for a person to close, and not resolved.
            held = {rule.name: states}
            more, fewer = bounded([rule], held, ledger, data)
            kept = held[rule.name]
            for label in [label for label in states if label not in kept]:
                del states[label]
            dropped = named(dropped, more)
            refused += fewer
        # Resolving them again reads their states, and changes none.
        dry = Evaluator(evaluator.config, evaluator.window_names)
        dry.adopt(rules, _copied(known), now, retired=retired, heard=heard, fired=fired.fired)
        # A group the file was saved with and the config no longer has goes, and its
        # alerts resolve, as at a reload that removes it.
        gone = removed_groups(_groups(data), ledger.settings.groups, ledger.settings.track)
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes readers raise
        raise StateError(f"state file is damaged ({type(exc).__name__}: {exc})") from None
    # On the clock of the save, then moved as a step sesd measured moves them: a walk,
    # say, is judged by its age on that clock (on this one it was the step older).
    restored = ledger.restore(data, now - told, -step if step < 0 else 0.0)
    if told:
        ledger.stepped(told, now)
        # Each held to this clock, as a restart behind the save holds them: a save time
        # damaged earlier (a flipped bit) reads as a step up to a day, and moved as far,
        # a domain seen at the save was seen hours ahead of the clock, not idle as long.
        restored_behind(ledger, 0.0, now, 0.0)
        restored["tenant_walks_resumed"] = len(ledger.tenant_walks.walks)
        restored["clock_stepped_seconds"] = round(told, 1)
    if saved_at > now:  # read on the clock ahead: moved back as alerts are, or held to now
        restored_behind(ledger, step, now, saved_at - now)
        restored["tenant_walks_resumed"] = len(ledger.tenant_walks.walks)  # (some too old)
    entries["tenant_walks"] = restored.pop("tenant_walks_unread")
    drop_groups(ledger, gone)
    count = sum(map(len, known.values()))
    owed = evaluator.adopt(rules, known, now, ledger, gone, retired, heard, fired.fired)
    evaluator.resumed = resumed
    for rule, _, _ in owed_before:
        # A removed rule's resolve the restart goes on with: unknown, a stop would keep
        # it only as part-sent, and a restart not going on with it would lose it.
        evaluator.retired.older(rule)
    # Saved ahead of this clock (it stepped back, or the host booted before NTP set
    # it), the windows' events lie ahead of it and read as none: no resolve on that
    # until the clock is past the save, within the windows' reach (a file saved a year
    # ahead holds nothing back for a year).
    evaluator.blind(min(max(now, saved_at), now + ledger.horizon))
    # The ends of ``--until-resolved`` silences a resolve ended before the save lie
    # ahead of it too: they move back as the alert times do, once the silences file is
    # read (sesd.alerting.silences.moved_back); left, each would mute its alert's next
    # incident until the clock reached it. A step the boot clock tells (the save
    # behind this clock) put no such end ahead.
    evaluator.restored_back = (now, stepped_back(saved_at, now))
    # What the change of rules since the save owes the sinks (sesd.alerting.changes),
    # the first named, as many as the line's bound holds, and the others counted:
    # every one is queued all the same.
    shown = in_line([f"{a.kind.value} {a.rule} {a.domain}" for a in owed[:_NAMED_OWED]],
                    _NAMED_OWED)  # fmt: skip
    return {
        "saved_at": saved_at,
        # Read as the start's: said, or a person takes it for the save's.
        **({} if saved_at == written else {"saved_at_unread": repr(written)}),
        **restored,
        "alerts": count,
        "owed": shown,
        **({"owed_not_named": len(owed) - len(shown)} if len(owed) > len(shown) else {}),
        # Rules neither the file nor the config describe: their firing alerts stay
        # open in the sinks that were sent them (a file from before rules were saved).
        "unknown_rules": named(
            unread,
            {clean(name): [clean(label) for label in firing_of(s)] for name, s in unknown.items()},
        ),
        # States on labels no event makes, or past what their rule's scope holds (a
        # hand-edited file): dropped, and the firing ones among them named.
        "alert_states_refused": refused,
        "entries_skipped": {key: count for key, count in entries.items() if count},
        "dropped": dropped,
        # Whether the stop's last save wrote it (None: a build that did not say).
        "stopped": data.get("stopped"),
        # The time that passed since the save by the boot clock (None: not told).
        "passed": passed_while_stopped(data.get("boot"), boot),
    }


def _groups(data: dict[str, Any]) -> list[str]:
    """The group names the file was saved with (none from a build that did not list
    them); a name that is no string is a damaged file."""
    saved = data.get("groups")
    names = saved if isinstance(saved, list) else []
    if not all(isinstance(name, str) for name in names):
        raise TypeError("groups holds a name that is no string")
    return names


def _copied(alerts: dict[str, dict[str, AlertState]]) -> dict[str, dict[str, AlertState]]:
    return {
        name: {label: replace(s) for label, s in states.items()} for name, states in alerts.items()
    }
