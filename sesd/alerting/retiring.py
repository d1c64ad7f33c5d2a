"""What a stop leaves undelivered, as the state file keeps it.

A firing the rules in force make again after a restart: it is saved as not sent
(sesd.runtime.state), and the first evaluation sends it, only to the sinks that had
not taken it (sesd.alerting.unheard). A reminder (a repeat) not delivered is not
kept: it tells nothing new, and the next comes a ``repeat_interval`` on. A resolve is kept
apart (:attr:`Undelivered.retired`): the rule it was made under (as in force, or as a
reload left it), narrowed to the sinks owed it, and the resolve, under the labels and
severity it was made with; the restart sends it to those sinks, and to no other. A
sink is owed one resolve of an alert: after incidents the sinks flapped through, the
first it has not taken, which ends the incident it has open (a later one is of an
incident it never had paged, the alert having ended since: told twice otherwise);
after reloads that relabelled the rule while a sink that tells alerts apart by their
labels (Alertmanager) took nothing, the first, of the labels it had.
A sink that has not taken the firing of an incident (queued, no delivery of it begun,
or waiting its group) is owed no resolve of it: the firing goes only while its alert
fires, and a resolve would end an incident that sink never had; unless a resolve of
that incident comes before it (the sink taken off the rule, then named again).
Saved as an alert still firing, the restart resolved it again on the rule's sinks as
configured, under its labels as configured: a sink that had taken it was told twice;
a sink named since (a reload, an edit while sesd was down) was told an alert ended
that it never had (after a firing of it, from a config edited across the restart); a
sink the rule no longer names kept its incident open for ever; Alertmanager got the
resolve of an alert it never had, under the rule's new labels. And should the alert
fire again before the resolve went, the restored state took it as still firing: the
sinks that had taken the resolve never heard it fired again. Kept apart, the alert's
state is what it is (ended): a new firing is a new incident on every sink the rule
names, on one still owed the resolve after it. A firing or a repeat owed only under a
rule as a reload left it is dropped: the resolve behind it is what the sink is owed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.part_saved import SavedPart, saved_parts
from sesd.alerting.rules import Transition
from sesd.config import RuleConfig

__all__ = ["Retiring", "Undelivered", "undelivered", "unsent_alerts"]

#: A resolve not delivered: the rule it was made under (narrowed to the sinks owed it,
#: its labels and severity the resolve's), and the resolve.
Retiring = tuple[RuleConfig, Alert]


class Undelivered(NamedTuple):
    """What is not delivered yet, as the state file keeps it."""

    #: (rule, label, kind) of what the rules in force make again after a restart.
    again: list[tuple[str, str, Transition]]
    #: The resolves, each with the sinks owed it (see the module's text).
    retired: list[Retiring]
    #: (rule, label) -> the sinks a firing in ``again`` is owed to: the others of its
    #: rule took it (sesd.alerting.unheard).
    firing: dict[tuple[str, str], list[str]]
    #: Resolves not kept, of labels later than the ones a sink that tells alerts apart by
    #: them is owed the resolve of (see :meth:`_Sorting._owe`).
    relabelled: int = 0
    #: The resolves in ``again``, as made: the state file saves each with its own
    #: figure, start and end (its alert may be pending a new firing since).
    resolves: tuple[Alert, ...] = ()
    #: The webhook notifications part-sent, as the file keeps them (their alerts are in
    #: the others too: sesd.alerting.part_saved).
    part_sent: tuple[SavedPart, ...] = ()


def undelivered(
    outboxes: Iterable[Outbox],
    evaluator: Evaluator,
    by_labels: frozenset[str],
    now: float = -math.inf,
) -> Undelivered:
    """What ``outboxes`` (every sink's, those a reload removed included) and
    ``evaluator``'s groups hold undelivered, and the resolves Alertmanager members are
    owed; ``by_labels``: the sinks that tell alerts apart by their labels; ``now``: the
    alerting's clock, which ages the part-sent notifications not queued yet."""
    sorting = _Sorting(evaluator, by_labels)
    outboxes = list(outboxes)
    # Part-sent notifications a restart restored, their outboxes not open yet (a save
    # during the start): each goes first in its sink's, begun. Left out, their alerts
    # were saved as that sink's, and not as part-sent: lost (sesd.alerting.part_saved).
    pending = [(each.sink, [each.notification]) for each in evaluator.resumed]
    for name, held in pending:
        sorting.queued(name, held, set())
    # First the pages each sink has not taken, wherever they wait: a resolve queued
    # behind one is of an incident that sink never had. Not one whose delivery began
    # (a post that timed out may have opened the incident), nor one queued behind a
    # resolve of its incident (the sink taken off the rule, then named again): the
    # sink had the page that resolve closes, and it is kept; so too behind one whose
    # delivery began (a down sink's queue is held at its head, being tried again). In
    # the order each sink is sent them: what a member is owed, its queue, the groups.
    for outbox in outboxes:
        name, waiting = outbox.sink.name, {id(n) for n in outbox.waiting()}
        if isinstance(outbox.sink, AlertmanagerSink):
            for alert in outbox.sink.owed_alerts():
                sorting.unpaged([name], alert, Transition.RESOLVED)
        sorting.queued(name, outbox.unsent(), waiting)
    for sinks, alert in evaluator.groups.alerts():
        sorting.unpaged(sinks, alert, alert.kind)
    again: list[tuple[str, str, Transition]] = []
    for sinks, alert in evaluator.groups.alerts():
        # Each sink sorted, past the first that makes it again: another may be owed it.
        made = [sorting.again(sink, alert, alert.kind) for sink in sinks]
        if any(made):
            again.append((alert.rule, alert.domain, alert.kind))
    for name, held in pending:
        again += sorting.made_again(name, held)
    for outbox in outboxes:
        name = outbox.sink.name
        again += sorting.made_again(name, outbox.unsent())
        if isinstance(outbox.sink, AlertmanagerSink):
            again += [
                (alert.rule, alert.domain, Transition.RESOLVED)
                for alert in outbox.sink.owed_alerts()
                if sorting.again(name, alert, Transition.RESOLVED)
            ]
    resolves = tuple(sorting.resolves)
    parts = tuple(saved_parts(outboxes, evaluator.resumed, now))
    return Undelivered(again, sorting.retired, sorting.firing, sorting.relabelled, resolves, parts)


def unsent_alerts(outboxes: Iterable[Outbox], evaluator: Evaluator) -> list[Alert]:
    """Every alert not delivered to every sink yet, as the alerting's ``unsent`` counts
    them: waiting its group, queued or being delivered in ``outboxes``, or a resolve an
    Alertmanager member is owed."""
    found = [alert for _, alert in evaluator.groups.alerts()]
    for outbox in outboxes:
        found += [alert for notification in outbox.unsent() for alert in notification.alerts]
        if isinstance(outbox.sink, AlertmanagerSink):
            found += outbox.sink.owed_alerts()
    return found


class _Sorting:
    """Sorts what is undelivered, alert by alert, and keeps every resolve apart, with
    the sinks it is owed to."""

    def __init__(self, evaluator: Evaluator, by_labels: frozenset[str]) -> None:
        self._rules = {rule.name: rule for rule in evaluator.rules}
        self._was = evaluator.retired
        self._by_labels = by_labels
        #: By (alert, whether the rule in force makes it): the rule it is owed under,
        #: the resolve, and the sinks owed it (a resolve both queued and owed to a
        #: member is one; one notification's resolve owed to two sinks is one).
        self._owed: dict[tuple[int, bool], tuple[RuleConfig, Alert, list[str]]] = {}
        #: Per sink and alert (rule, label): the key in :attr:`_owed` of the one
        #: resolve it is owed.
        self._took: dict[tuple[str, str, str], tuple[int, bool]] = {}
        #: (rule, label) -> the sinks a firing the rules in force make again is owed to.
        self.firing: dict[tuple[str, str], list[str]] = {}
        #: Resolves of later labels not kept for a sink that tells alerts by them.
        self.relabelled = 0
        #: The resolves made again (of a rule neither in force nor kept as it was).
        self.resolves: list[Alert] = []
        #: Per sink and alert (as that sink tells alerts apart), when each incident it
        #: has not taken the firing of began: the resolves of those are owed to no one.
        self._unpaged: set[tuple[tuple[str, str, str, object], float]] = set()
        #: The same, of each incident a resolve was queued for before any such firing.
        self._closes: set[tuple[tuple[str, str, str, object], float]] = set()

    @property
    def retired(self) -> list[Retiring]:
        """Each resolve kept, under its rule narrowed to the sinks owed it."""
        return [
            (msgspec.structs.replace(rule, sinks=sinks), alert)
            for rule, alert, sinks in self._owed.values()
            if sinks
        ]

    def unpaged(self, sinks: Iterable[str], alert: Alert, kind: Transition) -> None:
        """Note a firing of ``alert`` that ``sinks`` have not taken: the resolve of that
        incident (of the same start) is kept for none of them. Sent, it would tell a
        sink an alert ended that it was never paged (its firing lost with the stop, its
        alert having ended; or made again, then closed by the older resolve). Noted in
        the order each sink is sent them: a firing behind a resolve of its incident
        (``kind`` RESOLVED) is of an incident that sink had."""
        for sink in sinks:
            which = (self._which(sink, alert), alert.since)
            if kind is Transition.RESOLVED:
                self._closes.add(which)
            elif kind is Transition.FIRING and which not in self._closes:
                self._unpaged.add(which)

    def queued(self, sink: str, held: Iterable[Notification], waiting: set[int]) -> None:
        """:meth:`unpaged` of each alert ``held`` for ``sink`` (in its outbox, in order),
        a firing whose delivery began (not in ``waiting``, by id) as maybe taken."""
        for notification in held:
            kind = notification.kind
            if kind is Transition.FIRING and id(notification) not in waiting:
                kind = Transition.REPEAT  # begun: maybe taken
            for alert in notification.alerts:
                self.unpaged([sink], alert, kind)

    def made_again(
        self, sink: str, held: Iterable[Notification]
    ) -> list[tuple[str, str, Transition]]:
        """(rule, label, kind) of each alert ``held`` for ``sink`` that the rules in
        force make again (:meth:`again`)."""
        return [
            (notification.rule, alert.domain, notification.kind)
            for notification in held
            for alert in notification.alerts
            if self.again(sink, alert, notification.kind)
        ]

    def again(self, sink: str, alert: Alert, kind: Transition) -> bool:
        """Whether the rules in force make ``alert`` (of ``kind``) again for ``sink``; a
        resolve is kept apart instead, for ``sink``."""
        # A removed rule's, to its sinks: its resolves kept with the rule as it was.
        rule = self._rules.get(alert.rule) or self._was.last(alert.rule)
        if rule is None:
            if kind is Transition.RESOLVED:
                self.resolves.append(alert)
            return True
        made = _made_again(rule, sink, alert, self._by_labels)
        if kind is Transition.FIRING and made:
            sinks = self.firing.setdefault((alert.rule, alert.domain), [])
            if sink not in sinks:
                sinks.append(sink)
        if kind is not Transition.RESOLVED:
            return made
        if (self._which(sink, alert), alert.since) in self._unpaged:
            return False
        base = self._was.under(alert, rule, made)
        key = (id(alert), made)
        if key not in self._owed:
            under = msgspec.structs.replace(
                base, labels=dict(alert.labels), severity=alert.severity
            )
            self._owed[key] = (under, alert, [])
        self._owe(sink, key)
        return False

    def _owe(self, sink: str, key: tuple[int, bool]) -> None:
        """``sink`` owed the resolve under ``key``, unless it is owed an earlier one of
        the same alert: sinks that flapped across two incidents hold the first resolve,
        the second firing and the second resolve, and the alert has ended. The first
        closes the incident the sink has open; the second is of one it was never paged
        (or, of the same incident, one more). So too a sink that tells alerts apart by
        their labels: each reload that relabelled the rule while it took nothing queued
        the resolve of the labels before and the firing of the new ones, which it never
        took; the first resolve is of the labels it had. Kept, every later one made the
        file grow by a resolve per alert and reload, past what its bound sets aside for
        a sink (sesd.runtime.state_size); one it had nonetheless (a member that missed a
        resolve and took the next firing) ends at its ``endsAt``, and is counted."""
        alert = self._owed[key][1]
        which = (sink, alert.rule, alert.domain)
        was = self._took.get(which)
        if was is not None:
            earlier = self._owed[was][1]
            if (earlier.since, earlier.at) > (alert.since, alert.at):
                self._owed[was][2].remove(sink)
                earlier, alert = alert, earlier
            else:
                key = was
            if sink in self._by_labels and _labelled(earlier) != _labelled(alert):
                self.relabelled += 1
            if key == was:
                return
        self._took[which] = key
        self._owed[key][2].append(sink)

    def _which(self, sink: str, alert: Alert) -> tuple[str, str, str, object]:
        """``sink`` and ``alert`` as that sink tells alerts apart (by their labels too,
        for one in ``by_labels``)."""
        labels = _labelled(alert) if sink in self._by_labels else None
        return (sink, alert.rule, alert.domain, labels)


def _labelled(alert: Alert) -> tuple[object, str]:
    """What a sink that tells alerts apart by their labels tells ``alert`` by."""
    return tuple(sorted(alert.labels.items())), alert.severity


def _made_again(rule: RuleConfig, sink: str, alert: Alert, by_labels: frozenset[str]) -> bool:
    """Whether ``rule`` (in force) makes ``alert`` again for ``sink``: it names the sink,
    and, for a sink that tells alerts apart by their labels, with the same labels and
    severity (another labelled alert is another alert there)."""
    if sink not in rule.sinks:
        return False
    return sink not in by_labels or (alert.labels, alert.severity) == (rule.labels, rule.severity)
