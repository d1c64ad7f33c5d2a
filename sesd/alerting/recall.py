"""What a new silence recalls: the firings and repeats queued for a sink, not yet
taken, or still waiting their group_wait, of alerts the silence now holds back.

A silence is read at each evaluation, but a storm's notifications may wait minutes
in a sink's outbox (PagerDuty takes about 120 events a minute): without a recall,
every page queued before the silence still went out. A firing no sink has taken
yet is recalled as if the silence had held it from the start (its alert is not
notified: no resolve will follow, and the firing goes when the silence ends while
it still fires); one that a sink has taken already is recalled from the others'
queues only, and owed to those it was recalled from (sesd.alerting.unheard): they
are paged when the silence ends while it still fires, and its resolve reaches the
sinks that had it. A firing queued for part of its rule's sinks (those a restart
found had not taken it, or a sink a reload named anew) was taken by the others:
recalled, it is one a sink has taken. A resolve queued behind a firing recalled from
a sink's queue (the alert ended while the sink was down) goes with it: that sink
never had the incident; so does one still waiting its group, of a firing recalled
or withdrawn from its group (the alert ended within ``group_wait``): it goes to the
sinks that had the firing alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from sesd.alerting.alert import Notification, with_alerts
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Status, Transition

__all__ = ["held_back", "recall"]


def recall(outboxes: Iterable[Outbox], evaluator: Evaluator, now: float) -> list[tuple[str, str]]:
    """Take out of ``outboxes`` what the silences in force now hold back; returns the
    (rule, domain) of each alert recalled."""
    holders, behind = _queued(outboxes)
    untaken = _untaken(holders.values(), evaluator)
    recalled: list[tuple[str, str]] = []
    taken: set[tuple[int, str, str]] = set()  # (outbox, rule, label) of a firing recalled
    # (rule, label, when it fired, sinks) of a firing recalled or withdrawn: its resolve
    # still waiting its group is not theirs to hear either.
    withdrawn: set[tuple[str, str, float, tuple[str, ...]]] = set()
    for notification, boxes in holders.values():
        rule = notification.rule
        held = [a for a in notification.alerts if evaluator.silenced(rule, a.domain, now)]
        if not held:
            continue
        kept = tuple(a for a in notification.alerts if a not in held)
        other = with_alerts(notification, kept) if kept else None
        for outbox in boxes:
            outbox.swap(notification, other)
        if notification.kind is Transition.FIRING:
            for alert in held:
                _withheld(evaluator, untaken, rule, alert.domain, [b.sink.name for b in boxes])
            taken |= {(id(b), rule, alert.domain) for b in boxes for alert in held}
            names = tuple(b.sink.name for b in boxes)
            withdrawn |= {(rule, alert.domain, alert.since, names) for alert in held}
        recalled += [(rule, alert.domain) for alert in held]
    _resolves_unheard(behind, taken)
    # Not yet a notification: waiting for the rest of its group.
    waiting: dict[int, set[str]] = {}
    for sinks, alert in evaluator.groups.alerts():
        waiting.setdefault(id(alert), set()).update(sinks)  # in two groups: both
    for alert in evaluator.groups.withdraw(lambda a: evaluator.silenced(a.rule, a.domain, now)):
        if alert.kind is Transition.FIRING:
            _withheld(evaluator, untaken, alert.rule, alert.domain, waiting[id(alert)])
            withdrawn.add((alert.rule, alert.domain, alert.since, tuple(waiting[id(alert)])))
        recalled.append((alert.rule, alert.domain))
    # Its resolve waiting too (it ended within group_wait, or while the sink was down,
    # the resolve's group not yet due): those sinks never had it.
    evaluator.groups.unsent_resolves(withdrawn)
    return recalled


#: A resolve queued behind a firing of its alert: the outbox, the resolve, and the
#: (rule, label) of those of its alerts.
_Behind = tuple[Outbox, Notification, set[tuple[str, str]]]


def _queued(
    outboxes: Iterable[Outbox],
) -> tuple[dict[int, tuple[Notification, list[Outbox]]], list[_Behind]]:
    """The firings and repeats waiting in ``outboxes`` (no delivery begun), each with
    the outboxes holding it, and the resolves queued behind a firing of their alert."""
    holders: dict[int, tuple[Notification, list[Outbox]]] = {}
    behind: list[_Behind] = []
    for outbox in outboxes:
        fired: set[tuple[str, str]] = set()
        for notification in outbox.waiting():
            of = {(notification.rule, alert.domain) for alert in notification.alerts}
            if notification.kind is Transition.RESOLVED:
                if of & fired:
                    behind.append((outbox, notification, of & fired))
                continue
            holders.setdefault(id(notification), (notification, []))[1].append(outbox)
            if notification.kind is Transition.FIRING:
                fired |= of
    return holders, behind


def _resolves_unheard(behind: list[_Behind], taken: set[tuple[int, str, str]]) -> None:
    """Take out of their outboxes the resolves queued behind a firing recalled there
    (``taken``: outbox, rule, label). That sink never had the firing: the resolve, of
    the same incident, is not its to hear (Slack would post the end of what it never
    showed). The sinks that had the firing keep theirs."""
    for outbox, notification, alerts in behind:
        gone = {label for rule, label in alerts if (id(outbox), rule, label) in taken}
        if gone:
            left = tuple(a for a in notification.alerts if a.domain not in gone)
            rest = with_alerts(notification, left) if left else None
            outbox.swap(notification, rest)


def _withheld(
    evaluator: Evaluator,
    untaken: set[tuple[str, str]],
    rule: str,
    label: str,
    sinks: Iterable[str],
) -> None:
    """A firing of ``rule`` on ``label`` recalled from ``sinks``: unsent, when no sink
    took it; else owed to them (sesd.alerting.unheard), paged when the silence ends
    while it still fires, and told nothing of its end otherwise: they never had it.
    One of an alert no longer firing (it ended while the page waited) is owed to no
    one: its incident is over, and the next (a new firing) goes to every sink."""
    state = evaluator.states.get(rule, {}).get(label)
    if state is None or state.status is not Status.FIRING:
        return
    if (rule, label) in untaken:
        state.notified = False
    else:
        evaluator.unheard.owe(rule, label, sinks)


def _untaken(
    holders: Iterable[tuple[Notification, list[Outbox]]], evaluator: Evaluator
) -> set[tuple[str, str]]:
    """The (rule, label) of the firings no sink has taken: every sink that may have
    one holds it still, queued (no delivery begun) or waiting its group. Those are the
    sinks it was sent to and every sink its rule names: a firing sent to part of them
    (after a restart, to the sinks that had not taken it before the stop; by a
    reload, to a sink it named anew) was taken by the others."""
    holding: dict[tuple[str, str], set[str]] = {}
    owners: dict[tuple[str, str], set[str]] = {}
    found = [
        (notification.rule, alert.domain, notification.sinks, {box.sink.name for box in boxes})
        for notification, boxes in holders
        if notification.kind is Transition.FIRING
        for alert in notification.alerts
    ]
    found += [
        (alert.rule, alert.domain, sinks, set(sinks))
        for sinks, alert in evaluator.groups.alerts()
        if alert.kind is Transition.FIRING
    ]
    for rule, label, sinks, held in found:
        holding.setdefault((rule, label), set()).update(held)
        owners.setdefault((rule, label), set()).update(sinks)
    named = {rule.name: rule.sinks for rule in evaluator.rules}
    return {
        key for key, held in holding.items() if held >= owners[key].union(named.get(key[0], ()))
    }


def held_back(
    evaluator: Evaluator, sink: str, rule: str, label: str, kind: Transition, now: float
) -> bool:
    """Whether a silence now holds ``rule``'s alert on ``label``: asked by ``sink`` before
    each event of a notification it has yet to send. A firing held back there, the
    rule's only sink, is untaken everywhere: recalled as from a queue (it pages when
    the silence ends while it still fires); of a rule with other sinks, owed to ``sink``
    alone (as a firing recalled from its queue while others took it)."""
    if not evaluator.silenced(rule, label, now):
        return False
    sinks = next((r.sinks for r in evaluator.rules if r.name == rule), [])
    if kind is Transition.FIRING and sink in sinks:
        only = {(rule, label)} if list(sinks) == [sink] else set()
        _withheld(evaluator, only, rule, label, [sink])
    return True
