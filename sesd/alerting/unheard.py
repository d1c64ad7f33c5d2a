"""Firings a stop left undelivered to some of their sinks, after the restart.

A firing some of its rule's sinks took and others had not when sesd stopped (Slack
took the page, PagerDuty was down) is saved as not sent, with the sinks that took it
(sesd.runtime.state_alerts). Restored, the alert is sent as far as those sinks know:
the first evaluation that finds it firing and not silenced pages the sinks that had
not taken it, and only those the rule still names; if it resolves first, the resolve
goes to the sinks that had the firing, and to no other. A change of rules across the
restart (sesd.alerting.changes) treats it as sent: a sink the rule names anew is sent
it (an incident still going on), and a sink the rule no longer names gets its resolve
only if it had the firing. Sent again to every sink, a sink that took it was paged
twice; a sink that took it and was taken off the rule never heard it ended. Should its
repeat fall due as it is sent (the stop outlasted ``repeat_interval``), the sinks that
took it get their repeat, as without the stop: the page to the others is not theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from sesd.alerting.alert import Alert
from sesd.alerting.changes import Change
from sesd.alerting.fired_as import Fired, fired_rule, told_alert, told_rule
from sesd.alerting.rechecked import Rechecked
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import RuleConfig

__all__ = ["Unheard", "as_fired", "told"]


class Unheard:
    """By (rule, label): the sinks a restored firing is still owed to."""

    def __init__(self) -> None:
        self.owed: dict[tuple[str, str], tuple[str, ...]] = {}
        #: Those of :attr:`owed` whose repeat fell due as their firing is sent.
        self._repeat: set[tuple[str, str]] = set()

    def adopt(
        self,
        rules: Sequence[RuleConfig],
        states: Mapping[str, Mapping[str, AlertState]],
        heard: Mapping[tuple[str, str], Sequence[str]],
    ) -> None:
        """States restored from a file saved under ``rules``; ``heard``: the sinks that
        took each firing saved as not sent. Those alerts count as sent from now on, and
        the other sinks of the rule they were saved under are owed their firings."""
        self.owed, self._repeat = {}, set()
        by_name = {rule.name: rule for rule in rules}
        for (name, label), took in heard.items():
            rule, state = by_name.get(name), states.get(name, {}).get(label)
            if rule is None or state is None or state.status is not Status.FIRING:
                continue
            if state.notified or not took:
                continue  # sent to every sink, or to none: as the file says
            state.notified = True
            owed = tuple(sink for sink in rule.sinks if sink not in took)
            if owed:
                self.owed[name, label] = owed

    def narrowed(self, changes: Iterable[Change]) -> Iterator[Change]:
        """``changes`` (a change of rules), a resolve kept from the sinks that never had
        the firing; a sink sent the firing by a change is owed it no more, and one owed
        the firing of an alert whose resolve is owed is sent nothing yet."""
        for change in changes:
            key = (change.rule.name, change.label)
            owed = self.owed.get(key)
            if change.kind is Transition.FIRING and change.state.resolved_at is not None:
                # Its resolve a stop left undelivered: it ended before these sinks had
                # it (a sink named anew, labels new). Owed the firing should the first
                # evaluation find it firing still; the resolve it makes is not theirs.
                self.owe(*key, change.sinks)
            elif owed is None:
                yield change
            elif change.kind is Transition.RESOLVED:
                sinks = tuple(sink for sink in change.sinks if sink not in owed)
                if sinks:
                    yield replace(change, sinks=sinks)
            else:
                self.owed[key] = tuple(sink for sink in owed if sink not in change.sinks)
                yield change

    def prune(
        self, rules: Sequence[RuleConfig], states: Mapping[str, Mapping[str, AlertState]]
    ) -> None:
        """After a change of rules (to ``rules``): forget the sinks a rule no longer
        names (they had not had the firing: nothing is owed them), and what no firing
        state is left for (a rule or label a change removed)."""
        sinks = {rule.name: rule.sinks for rule in rules}
        kept = {
            key: tuple(sink for sink in owed if sink in sinks.get(key[0], ()))
            for key, owed in self.owed.items()
            if (state := states.get(key[0], {}).get(key[1])) is not None
            and state.status is Status.FIRING
        }  # fmt: skip
        self.owed = {key: owed for key, owed in kept.items() if owed}
        self._repeat &= self.owed.keys()

    def owe(self, rule: str, label: str, sinks: Iterable[str]) -> None:
        """``sinks`` are owed the alert's firing too: a silence recalled it from them
        while the rule's other sinks had taken it."""
        self.owed[rule, label] = tuple(dict.fromkeys((*self.owed.get((rule, label), ()), *sinks)))

    def owes(self, rule: str, label: str, step: Transition | None, state: AlertState) -> bool:
        """Whether some sink is still owed this alert's firing; ``step``: what the
        alert's step asked (a repeat due, the others are sent one). Not while ``state``
        keeps a resolve decided before a stop (held by a window too thin to make it
        again): the firing is owed should the alert fire on its own figure, and paged
        now it read "firing at 10%" above 20% to a sink for an incident that ended."""
        if (rule, label) not in self.owed or state.resolved_at is not None:
            return False
        if step is Transition.REPEAT:
            self._repeat.add((rule, label))
        return True

    def routes(
        self, rule: RuleConfig, alert: Alert, in_force: Alert
    ) -> list[tuple[Alert, tuple[str, ...]]]:
        """Where ``alert`` (of ``rule``) goes, and as what: of a restored firing some
        sinks had not taken, the firing to those alone (and its repeat to the others,
        when due), its resolve to the others. ``in_force``: ``alert`` under the rule in
        force (not :func:`as_fired`), what the repeat tells as every other repeat does:
        told the thresholds the page fired under, a sink's reminder at the restart read
        20% and the next one 30%."""
        key = (rule.name, alert.domain)
        owed = self.owed.pop(key, None)
        repeat = key in self._repeat
        self._repeat.discard(key)
        if owed is None:
            return [(alert, tuple(rule.sinks))]
        others = tuple(sink for sink in rule.sinks if sink not in owed)
        if alert.kind is Transition.RESOLVED:
            return [(alert, others)]
        routes = [(alert, tuple(sink for sink in rule.sinks if sink in owed))]
        if repeat and alert.kind is Transition.FIRING:
            routes.append((replace(in_force, kind=Transition.REPEAT), others))
        return routes


def as_fired(rule: RuleConfig, alert: Alert, fired: Fired) -> Alert:
    """A firing of ``rule`` sent again (to the sinks a stop or a silence left without
    it) of an alert whose thresholds a reload changed since it fired (``fired``:
    sesd.alerting.rechecked): told those it fired under, as the other sinks
    were, and as a sink a change of rules names anew is; under those in force, a page
    read "60% above 30%" for an alert the others were told fired above 20%. Where the
    reload changed what the value measures, or the value read now is one the rule as
    it fired clears at ("15%, fires above 20%, clears at 20%"), it goes with the rule
    in force (sesd.alerting.fired_as.fired_rule). A repeat or a resolve an evaluation
    makes goes with the rule in force too: that rule decided it."""
    if alert.kind is not Transition.FIRING:
        return alert
    before = fired_rule(fired, (alert.rule, alert.domain), alert.since, rule, alert.value)
    return alert if before is None else told_alert(alert, before)


def told(
    rechecked: Rechecked, change: Change, current: Mapping[tuple[str, str], Alert]
) -> tuple[Change, Alert | None]:
    """``change`` (a change of rules) told under what decided its alert as it fired
    (Rechecked.as_fired), and what was last sent of the alert (of ``current``: the page
    a sink named anew is sent) under those thresholds too, where they keep the value it
    tells firing (:func:`as_fired`, judged by that value, not one read since): a
    reminder since told those in force, and a sink added after it was paged under
    them, where one added before it, or across a restart, was told those it fired at."""
    last = current.get((change.rule.name, change.label))
    if last is None or change.kind is not Transition.FIRING:
        return rechecked.as_fired(change), last
    # The change and its page told alike: both judged by the figure the page tells, of
    # the incident the state is in (its start taken as now at a step back no process
    # measured, sesd.alerting.rules.step, the page's not).
    page, rule = replace(last, kind=Transition.FIRING), change.rule
    key, since = (rule.name, change.label), change.state.since
    before = fired_rule(rechecked.fired, key, since, rule, page.value)
    if before is None:
        return change, page
    return replace(change, rule=told_rule(rule, before)), told_alert(page, before)
