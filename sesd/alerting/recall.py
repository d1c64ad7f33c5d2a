"""What a new silence recalls: the firings and repeats queued for a sink, not yet
taken, or still waiting their group_wait, of alerts the silence now holds back.

A silence is read at each evaluation, but a storm's notifications may wait minutes
in a sink's outbox (PagerDuty takes about 120 events a minute): without a recall,
every page queued before the silence still went out. A firing no sink has taken
yet is recalled as if the silence had held it from the start (its alert is not
notified: no resolve will follow, and the firing goes when the silence ends while
it still fires); one that a sink has taken already is recalled from the others'
queues only, so its resolve still reaches every sink. A firing queued for part of its
rule's sinks (those a restart found had not taken it, or a sink a reload named anew)
was taken by the others: recalled, it is one a sink has taken.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sesd.alerting.alert import Notification
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Transition

__all__ = ["held_back", "recall"]


def recall(outboxes: Iterable[Outbox], evaluator: Evaluator, now: float) -> list[tuple[str, str]]:
    """Take out of ``outboxes`` what the silences in force now hold back; returns the
    (rule, domain) of each alert recalled."""
    holders: dict[int, tuple[Notification, list[Outbox]]] = {}
    for outbox in outboxes:
        for notification in outbox.waiting():
            if notification.kind is not Transition.RESOLVED:
                holders.setdefault(id(notification), (notification, []))[1].append(outbox)
    recalled: list[tuple[str, str]] = []
    named = {rule.name: set(rule.sinks) for rule in evaluator.rules}
    for notification, boxes in holders.values():
        rule = notification.rule
        held = [a for a in notification.alerts if evaluator.silenced(rule, a.domain, now)]
        if not held:
            continue
        kept = tuple(a for a in notification.alerts if a not in held)
        other = dataclasses.replace(notification, alerts=kept) if kept else None
        for outbox in boxes:
            outbox.swap(notification, other)
        # Every sink that may have it holds it still: those it is queued for, and its
        # rule's others (a restart or a reload owed it to part of them: they took it).
        owners = set(notification.sinks) | named.get(rule, set())
        untaken = {outbox.sink.name for outbox in boxes} >= owners
        if untaken and notification.kind is Transition.FIRING:
            for alert in held:
                _unnotified(evaluator, rule, alert.domain)
        recalled += [(rule, alert.domain) for alert in held]
    # Not yet a notification: waiting for the rest of its group. A firing is then
    # untaken everywhere, unless it waits for part of its rule's sinks only.
    partial = {
        id(alert)
        for sinks, alert in evaluator.groups.alerts()
        if not set(sinks) >= named.get(alert.rule, set())
    }
    for alert in evaluator.groups.withdraw(lambda a: evaluator.silenced(a.rule, a.domain, now)):
        if alert.kind is Transition.FIRING and id(alert) not in partial:
            _unnotified(evaluator, alert.rule, alert.domain)
        recalled.append((alert.rule, alert.domain))
    return recalled


def held_back(
    evaluator: Evaluator, sink: str, rule: str, label: str, kind: Transition, now: float
) -> bool:
    """Whether a silence now holds ``rule``'s alert on ``label``: asked by ``sink`` before
    each event of a notification it has yet to send. A firing held back there, the
    rule's only sink, is untaken everywhere: recalled as from a queue (it pages when
    the silence ends while it still fires)."""
    if not evaluator.silenced(rule, label, now):
        return False
    sinks = next((r.sinks for r in evaluator.rules if r.name == rule), [])
    if kind is Transition.FIRING and list(sinks) == [sink]:
        _unnotified(evaluator, rule, label)
    return True


def _unnotified(evaluator: Evaluator, rule: str, domain: str) -> None:
    """A firing recalled before any sink took it: as if the silence had held it from
    the start (no resolve follows; it fires again when the silence ends)."""
    state = evaluator.states.get(rule, {}).get(domain)
    if state is not None:
        state.notified = False
