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
window) resolves its alerts by evaluation, not here; :class:`Rechecked` has such a
resolve say why.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from sesd.alerting.alert import Alert
from sesd.alerting.fired_as import DECIDING as _DECIDING
from sesd.alerting.fired_as import MEASURES, fired_rule, fires_as, moved_back, told_rule
from sesd.alerting.labels import takes
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import ACCOUNT_METRICS, CANARY_METRICS, RuleConfig, rule_of, saved_rule
from sesd.core.accounts import is_account_label
from sesd.core.canary import CANARY_DOMAIN
from sesd.core.scopes import DOMAIN
from sesd.core.windows import Breakdown

__all__ = [
    "Change",
    "Rechecked",
    "Retired",
    "changes",
    "moved",
    "owed_alert",
    "relabel",
    "resolved_again",
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
            if _sent(state):
                yield Change(rule, label, state, Transition.RESOLVED, tuple(rule.sinks), note)


def moved(before: RuleConfig | None, rule: RuleConfig) -> bool:
    """Whether a change of rules from ``before`` to ``rule`` owes some sink a resolve
    under ``before``: it names other sinks, or other labels or severity (what a sink
    that tells alerts apart by their labels sees as another alert)."""
    if before is None:
        return False
    was = (before.sinks, before.labels, before.severity)
    return was != (rule.sinks, rule.labels, rule.severity)


def _ended(
    rule: RuleConfig, states: dict[str, AlertState], labels: list[str], note: str
) -> Iterator[Change]:
    """The resolves of the sent alerts of ``labels``, whose states are dropped."""
    for label in labels:
        state = states.pop(label)
        if _sent(state):
            yield Change(rule, label, state, Transition.RESOLVED, tuple(rule.sinks), note)


def _sinks_changed(
    before: RuleConfig, rule: RuleConfig, states: dict[str, AlertState]
) -> Iterator[Change]:
    """Sinks a rule no longer names get its sent alerts' resolves; sinks it names anew
    their firings."""
    dropped = tuple(s for s in before.sinks if s not in rule.sinks)
    added = tuple(s for s in rule.sinks if s not in before.sinks)
    for label, state in sorted(states.items()):
        if not _sent(state):
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
        if _sent(state):
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


class Rechecked:
    """The rule each firing alert fired under, where the config changed what decides
    its resolve since: the resolve the rule as it fired would not have made says why
    (a resolve at 77% under ``above = 0.85`` is no contradiction on the pager)."""

    def __init__(self) -> None:
        #: (rule, label) -> the rule as the alert fired, and when it fired.
        self.fired: dict[tuple[str, str], tuple[RuleConfig, float]] = {}

    def track(
        self,
        old: Mapping[str, RuleConfig],
        new: Sequence[RuleConfig],
        states: Mapping[str, Mapping[str, AlertState]],
    ) -> None:
        """After a change of rules from ``old`` to ``new`` (``states`` as they are
        now): a sent alert of a rule whose deciding keys changed keeps the rule it
        fired under (the first, over several changes); an alert no longer firing as
        it did is forgotten."""
        for rule in new:
            before = old.get(rule.name)
            if before is None or _deciding(before) == _deciding(rule):
                continue
            for label, state in states.get(rule.name, {}).items():
                was = self.fired.get((rule.name, label))
                # One of an earlier incident (it ended with no resolve sent) is not this one's.
                if _sent(state) and (was is None or was[1] != state.since):
                    self.fired[rule.name, label] = (before, state.since)
        self.fired = {
            key: (rule, since)
            for key, (rule, since) in self.fired.items()
            if (now := states.get(key[0], {}).get(key[1])) is not None
            and _sent(now)
            and now.since == since
        }

    def saved(self) -> dict[str, dict[str, list[Any]]]:
        """:attr:`fired` as the state file keeps it (key ``fired``): by rule and label,
        when the alert fired and the keys that decided it then. Lost with the process,
        a change across a restart told a sink the thresholds in force at the stop."""
        found: dict[str, dict[str, list[Any]]] = {}
        keys: dict[int, dict[str, Any]] = {}  # each rule once: a storm shares a few
        for (name, label), (rule, since) in self.fired.items():
            decided = keys.get(id(rule)) or keys.setdefault(id(rule), _deciding_keys(rule))
            found.setdefault(name, {})[label] = [since, decided]
        return found

    def adopt(
        self,
        saved: Any,
        rules: Iterable[RuleConfig],
        windows: Collection[str],
        unknown: Collection[str] = (),
    ) -> int:
        """:meth:`saved`'s from a state file, each of ``rules`` (as the file saved them)
        with the keys that decided its alert as it fired; how many do not read (a
        hand's edit, a flipped byte, a rule the file does not describe, or one the
        config would refuse: a window not of ``windows``, those configured when the
        file was saved or now): forgotten, as they were before the file kept them.
        Those of ``unknown`` (rules the start names the alerts of as left open) go with
        their alerts uncounted: the description that did not read is counted, once."""
        self.fired, unread = {}, int(saved is not None and not isinstance(saved, dict))
        by_name = {rule.name: rule for rule in rules}
        if isinstance(saved, dict):
            saved = {name: labels for name, labels in saved.items() if name not in unknown}
        # Each version read once, its alerts sharing it as before the stop: one for each
        # alert held a rule apiece, and each save read every one of them again.
        made: dict[tuple[object, ...], RuleConfig | None] = {}
        for name, labels in saved.items() if isinstance(saved, dict) else ():
            if not isinstance(labels, dict):
                unread += 1
                continue
            for label, row in labels.items():
                was = _fired_as(by_name.get(name), row, made)
                if was is not None and not _could_fire(was[0], label, windows):
                    was = None
                if was is None:
                    unread += 1
                else:
                    self.fired[name, str(label)] = was
        return unread

    def as_fired(self, change: Change) -> Change:
        """``change`` told under what decided its alert as it fired, where a change of rules
        changed that since and that rule measures its value (and, a firing's, fires at it:
        a resolve's value, read whatever ended it, judges nothing): a sink is told the
        thresholds it was paged at (labels, severity, sinks: the change's)."""
        value = change.state.value if change.kind is Transition.FIRING else None
        key, since = (change.rule.name, change.label), change.state.since
        fired = fired_rule(self.fired, key, since, change.rule, value)
        return change if fired is None else replace(change, rule=told_rule(change.rule, fired))

    def moved_back(self, key: tuple[str, str], was: float, since: float) -> None:
        """sesd.alerting.fired_as.moved_back, of :attr:`fired`."""
        moved_back(self.fired, key, was, since)

    def explained(self, rule: RuleConfig, alert: Alert) -> Alert:
        """``alert`` (of ``rule`` as it is now), saying why when it is the resolve of
        an alert that the rule as it fired would have kept firing. The rule stays (a
        change of rules forgets it): a resolve undelivered at a stop is made again."""
        if alert.kind is not Transition.RESOLVED:
            return alert
        fired = self.fired.get((alert.rule, alert.domain))
        if fired is None or fired[1] != alert.since:
            return alert  # fired again since: resolved on its own
        before = fired[0]
        changed = [key for key in _DECIDING if getattr(before, key) != getattr(rule, key)]
        # No figure (no data) ends it under the rule as it fired too (a page without one
        # is told that rule: there, no figure contradicts it).
        remeasured = any(key in changed for key in MEASURES)
        if not remeasured and (alert.value is None or not fires_as(before, rule, alert.value)):
            return alert  # the rule as it fired resolves it too
        was = ", ".join(
            f"{key} {_shown(getattr(before, key))} to {_shown(getattr(rule, key))}"
            for key in changed
        )
        return replace(alert, notes=(*alert.notes, f"the rule was changed in the config ({was})"))


def _deciding(rule: RuleConfig) -> tuple[object, ...]:
    return tuple(getattr(rule, key) for key in _DECIDING)


def _fired_as(
    rule: RuleConfig | None, row: Any, made: dict[tuple[object, ...], RuleConfig | None]
) -> tuple[RuleConfig, float] | None:
    """``rule`` with the deciding keys ``row`` (as :meth:`Rechecked.saved` saved it)
    says, and when its alert fired; None when it does not read. ``made``: the rules
    read so far, by name and keys (a value's type among them: 1 is not ``true``)."""
    if rule is None or not isinstance(row, list) or len(row) < 2:
        return None
    since, keys = row[0], row[1]
    if isinstance(since, bool) or not isinstance(since, int | float):
        return None
    if not isinstance(keys, dict) or not set(_DECIDING) <= keys.keys():
        return None
    values = tuple(keys[key] for key in _DECIDING)
    if not all(value is None or isinstance(value, str | int | float) for value in values):
        return None  # a list or a map where a key's value goes
    which = (rule.name, *((type(value), value) for value in values))
    if which not in made:
        try:
            made[which] = rule_of({**saved_rule(rule), **dict(zip(_DECIDING, values, strict=True))})
        except ValueError:
            made[which] = None
    was = made[which]
    return None if was is None else (was, float(since))


def _could_fire(rule: RuleConfig, label: object, windows: Collection[str]) -> bool:
    """Whether an alert on ``label`` could have fired under ``rule``: its window is one
    a config had (the file's text reaches the sinks, in the note of a change), and a
    canary metric's alert is the canary's, an account metric's an ``ACCOUNT/REGION``."""
    if rule.window not in windows:
        return False
    if rule.metric in CANARY_METRICS:
        return label == CANARY_DOMAIN
    if rule.metric in ACCOUNT_METRICS:
        return is_account_label(str(label))
    return True


def _deciding_keys(rule: RuleConfig) -> dict[str, Any]:
    """The keys of ``rule`` that decide its alerts, as saved."""
    saved = saved_rule(rule)
    return {key: saved[key] for key in _DECIDING if key in saved}


def _shown(value: object) -> str:
    """A rule key's value as the config file writes it (left out: "unset")."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


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
        stage="",
        regions=[],
        internal=False,
        notes=(change.note,) if change.note else (),
        scope=rule.scope,
        provider=provider if rule.scope == DOMAIN and _labelled(rule) else None,
    )


def relabel(current: dict[tuple[str, str], Alert], rules: Mapping[str, RuleConfig]) -> None:
    """The alerts last sent per (rule, label), posted again to sinks that want them
    (Alertmanager), from now on under their rule's labels and severity as configured."""
    for key, alert in current.items():
        rule = rules.get(key[0])
        if rule is not None:
            current[key] = replace(alert, labels=rule.labels, severity=rule.severity)


def _sent(state: AlertState) -> bool:
    """Whether sinks were told the alert fires (and not yet that it resolved)."""
    return state.status is Status.FIRING and state.notified


def _labelled(rule: RuleConfig) -> bool:
    """Whether the rule's labels are domains, providers or tenants it names (not the
    canary's one label, not accounts, whatever their rule's domains say)."""
    return rule.metric not in CANARY_METRICS and rule.metric not in ACCOUNT_METRICS
