"""What a change of rules does to the alerts they fired: at a reload, and at a start
from a state file saved under other rules (a restart is a reload across a stop).

A sink that was sent an alert's firing is sent its resolve. So a removed rule
resolves its sent alerts on its sinks; a rule that no longer watches a label (a new
``exclude_domains``, a narrower list or glob) resolves that label's alert and
forgets its state, as does a group the config removed (its label went with it); a
rule that no longer names a sink resolves its firing alerts there, and a sink it
names anew is sent them as firing, so that it gets the resolves later too. A sink
that tells alerts apart by their labels (Alertmanager) sees a rule whose labels or
severity changed as a new alert: it is sent the old labels' resolve and the new
labels' firing at once, not at the next repeat. Pure: the caller passes the states
and queues what is returned. A rule kept with other thresholds (or another metric or
window) resolves its alerts by evaluation, not here; sesd.alerting.rechecked has such
a resolve say why.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from sesd.alerting.alert import Alert, scope_of
from sesd.alerting.labels import takes
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import ACCOUNT_METRICS, CANARY_METRICS, RuleConfig
from sesd.core.scopes import DOMAIN
from sesd.core.windows import Breakdown

__all__ = [
    "Change",
    "Retired",
    "changes",
    "owed_alert",
    "relabel",
    "resolved_again",
    "sent",
]


@dataclass(frozen=True, slots=True)
class Change:
    """A notification a change of rules owes: ``rule`` as the alert was sent under,
    ``label``, its state, what to send and to which sinks, and why."""

    rule: RuleConfig
    label: str
    state: AlertState
    kind: Transition
    sinks: tuple[str, ...]
    note: str


def changes(
    old: Mapping[str, RuleConfig],
    new: Sequence[RuleConfig],
    states: dict[str, dict[str, AlertState]],
    by_labels: frozenset[str] = frozenset(),
    groups_gone: Collection[str] = (),
) -> Iterator[Change]:
    """What going from rules ``old`` to ``new`` owes the sinks (``by_labels``: those
    that tell alerts apart by their labels; ``groups_gone``: the groups the config
    removed, whose labels went with them); ``states`` (by rule, then label) loses the
    rules and labels the new rules do not have."""
    kept = {rule.name: rule for rule in new}
    for name in sorted(set(states) - set(kept)):
        gone = states.pop(name)
        if name in old:
            note = "the rule was removed from the config"
            yield from _ended(old[name], gone, sorted(gone), note)
    for name, rule in kept.items():
        before, held = old.get(name), states.get(name)
        if before is None or not held:
            continue
        if _labelled(rule) and rule.scope == DOMAIN:
            ungrouped = sorted(label for label in held if label in groups_gone)
            yield from _ended(before, held, ungrouped, "the group was removed from the config")
        if _labelled(rule):
            unwatched = sorted(label for label in held if not takes(rule, label))
            note = f"the rule no longer watches this {rule.scope}"
            yield from _ended(before, held, unwatched, note)
        yield from _sinks_changed(before, rule, held)
        yield from _relabelled(before, rule, held, by_labels)


#: Resolves a state file kept as owed (sesd.alerting.retiring): the rule they were made
#: under (the sinks owed them named), their alerts' states by label, and why they
#: resolved ("" when they ended on their own).
Retired = tuple[RuleConfig, dict[str, AlertState], str]


def resolved_again(retired: Iterable[Retired]) -> Iterator[Change]:
    """The resolves ``retired`` owes, each to the sinks its rule names."""
    for rule, states, note in retired:
        for label, state in sorted(states.items()):
            if sent(state):
                yield Change(rule, label, state, Transition.RESOLVED, tuple(rule.sinks), note)


def _ended(
    rule: RuleConfig, states: dict[str, AlertState], labels: list[str], note: str
) -> Iterator[Change]:
    """The resolves of the sent alerts of ``labels``, whose states are dropped."""
    for label in labels:
        state = states.pop(label)
        if sent(state):
            yield Change(rule, label, state, Transition.RESOLVED, tuple(rule.sinks), note)


def _sinks_changed(
    before: RuleConfig, rule: RuleConfig, states: dict[str, AlertState]
) -> Iterator[Change]:
    """Sinks a rule no longer names get its sent alerts' resolves; sinks it names anew
    their firings."""
    dropped = tuple(s for s in before.sinks if s not in rule.sinks)
    added = tuple(s for s in rule.sinks if s not in before.sinks)
    for label, state in sorted(states.items()):
        if not sent(state):
            continue
        if dropped:
            note = "the rule no longer notifies this sink"
            yield Change(before, label, state, Transition.RESOLVED, dropped, note)
        if added:
            note = "the rule notifies this sink from now on"
            yield Change(_as_fired(before, rule), label, state, Transition.FIRING, added, note)


def _relabelled(
    before: RuleConfig, rule: RuleConfig, states: dict[str, AlertState], by_labels: frozenset[str]
) -> Iterator[Change]:
    """A rule kept with other labels or another severity: to the sinks it names still
    that tell alerts by their labels, its sent alerts' old labels resolve and the new
    ones fire (Alertmanager routes the new ones; the old ones would end in a resolve
    at their ``endsAt``, mid-incident)."""
    if (before.labels, before.severity) == (rule.labels, rule.severity):
        return
    sinks = tuple(s for s in rule.sinks if s in before.sinks and s in by_labels)
    if not sinks:
        return
    for label, state in sorted(states.items()):
        if sent(state):
            note = "the rule's labels or severity changed: the alert goes on under the new ones"
            yield Change(before, label, state, Transition.RESOLVED, sinks, note)
            yield Change(_as_fired(before, rule), label, state, Transition.FIRING, sinks, note)


def _as_fired(before: RuleConfig, rule: RuleConfig) -> RuleConfig:
    """The rule a firing owed anew to a sink is told under: ``before``, as its alert
    fired (its value against those thresholds, as the firing last sent, and the
    resolve owed to a sink the rule dropped, tell it), under the labels and severity in
    force (what the sink routes it by). Where nothing was sent since a start, the
    rule in force made it: a page then read "60% above 30%" for an alert that fired
    above 20%."""
    return msgspec.structs.replace(before, labels=rule.labels, severity=rule.severity)


def owed_alert(
    change: Change,
    last: Alert | None,
    fields: Mapping[str, Any],
    provider: str | None,
    now: float,
) -> Alert:
    """The alert ``change`` owes its sinks: a firing as ``last`` sent (when it was sent
    since the start), else one without figures (none were read) of ``fields`` (the
    alert's identity). A domain alert's names ``provider`` (as known now) as an
    evaluation's does: the provider is the domain's, not one of the figures unread."""
    if last is not None and change.kind is Transition.FIRING:
        return replace(last, kind=change.kind, at=now, notes=(change.note,))
    rule = change.rule
    # Fired no later than it ends, as a step takes a start ahead of this clock
    # (sesd.alerting.rules.step): else the sinks' documents start it after its resolve.
    fields = {**fields, "since": min(fields["since"], fields["at"])}
    return Alert(
        **fields,
        counts={},
        breakdown=Breakdown(),
        stage="-",  # nothing read: its text says "where: -", not a line cut short
        regions=[],
        internal=False,
        notes=(change.note,) if change.note else (),
        # An account rule's is on its (account, region), as its firing was: told as a
        # domain, Alertmanager took the resolve for another alert and kept the firing.
        scope=scope_of(rule),
        provider=provider if rule.scope == DOMAIN and _labelled(rule) else None,
    )


def relabel(current: dict[tuple[str, str], Alert], rules: Mapping[str, RuleConfig]) -> None:
    """The alerts last sent per (rule, label), posted again to sinks that want them
    (Alertmanager), from now on under their rule's labels and severity as configured."""
    for key, alert in current.items():
        rule = rules.get(key[0])
        if rule is not None:
            current[key] = replace(alert, labels=rule.labels, severity=rule.severity)


def sent(state: AlertState) -> bool:
    """Whether sinks were told the alert fires (and not yet that it resolved)."""
    return state.status is Status.FIRING and state.notified


def _labelled(rule: RuleConfig) -> bool:
    """Whether the rule's labels are domains, providers or tenants it names (not the
    canary's one label, not accounts, whatever their rule's domains say)."""
    return rule.metric not in CANARY_METRICS and rule.metric not in ACCOUNT_METRICS
