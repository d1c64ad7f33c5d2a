"""The rule each firing alert fired under, where a change of rules (a reload, or a
start from a state file saved under other rules) changed what decides its resolve
since: kept while the alert fires on as it did, saved with the state, and told.

A resolve the rule as it fired would not have made says why (a resolve at 77% under
``above = 0.85`` is no contradiction on the pager), and a notification the change owes
(sesd.alerting.changes) is told the thresholds its alert was paged at
(sesd.alerting.fired_as decides which). Pure: the caller passes the states.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sesd.alerting.alert import Alert
from sesd.alerting.changes import Change, sent
from sesd.alerting.fired_as import DECIDING as _DECIDING
from sesd.alerting.fired_as import MEASURES, fired_rule, fires_as, moved_back, told_rule
from sesd.alerting.rules import AlertState, Transition
from sesd.config import ACCOUNT_METRICS, CANARY_METRICS, RuleConfig, rule_of, saved_rule
from sesd.core.accounts import is_account_label
from sesd.core.canary import CANARY_DOMAIN

__all__ = ["Rechecked"]


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
                if sent(state) and (was is None or was[1] != state.since):
                    self.fired[rule.name, label] = (before, state.since)
        self.fired = {
            key: (rule, since)
            for key, (rule, since) in self.fired.items()
            if (now := states.get(key[0], {}).get(key[1])) is not None
            and sent(now)
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
