"""What a stop leaves undelivered, as the state file keeps it.

Most of it the rules in force make again after a restart: a firing is saved as not
sent, a resolve as an alert still firing (sesd.runtime.state). Not a resolve a sink is
owed under the rule as a reload left it: a sink the rule no longer names (a reload
moved the rule from PagerDuty to Slack), or labels or severity a sink that tells alerts
apart by their labels (Alertmanager) no longer sees (a reload relabelled the rule).
The rules in force would send such a resolve to their own sinks, under their own
labels: the sink that carried the trigger would keep its incident open for ever, and
a sink that never had the trigger would be told it ended. So it is kept apart
(:attr:`Undelivered.retired`): the resolve as it was made, for that one sink, which
the restart sends again, and nothing else. A firing or a repeat owed so is dropped:
the resolve behind it is what the sink is owed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from sesd.alerting.alert import Alert
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Transition
from sesd.config import RuleConfig

__all__ = ["Retiring", "Undelivered", "undelivered"]

#: A resolve owed under a rule as a reload left it: the rule as the resolve was made
#: (narrowed to the one sink owed it), and the resolve.
Retiring = tuple[RuleConfig, Alert]


class Undelivered(NamedTuple):
    """What is not delivered yet, as the state file keeps it."""

    #: (rule, label, kind) of what the rules in force make again after a restart.
    again: list[tuple[str, str, Transition]]
    #: The resolves they would not (see the module's text).
    retired: list[Retiring]


def undelivered(
    outboxes: Iterable[Outbox], evaluator: Evaluator, by_labels: frozenset[str]
) -> Undelivered:
    """What ``outboxes`` (every sink's, those a reload removed included) and
    ``evaluator``'s groups hold undelivered, and the resolves Alertmanager members are
    owed; ``by_labels``: the sinks that tell alerts apart by their labels."""
    sorting = _Sorting(evaluator, by_labels)
    again: list[tuple[str, str, Transition]] = []
    for sinks, alert in evaluator.groups.alerts():
        # Each sink sorted, past the first that makes it again: another may be owed it.
        made = [sorting.again(sink, alert, alert.kind) for sink in sinks]
        if any(made):
            again.append((alert.rule, alert.domain, alert.kind))
    for outbox in outboxes:
        name = outbox.sink.name
        again += [
            (notification.rule, alert.domain, notification.kind)
            for notification in outbox.unsent()
            for alert in notification.alerts
            if sorting.again(name, alert, notification.kind)
        ]
        if isinstance(outbox.sink, AlertmanagerSink):
            again += [
                (alert.rule, alert.domain, Transition.RESOLVED)
                for alert in outbox.sink.owed_alerts()
                if sorting.again(name, alert, Transition.RESOLVED)
            ]
    return Undelivered(again, list(sorting.retired.values()))


class _Sorting:
    """Sorts what is undelivered, alert by alert, and keeps the resolves owed under a
    rule as a reload left it."""

    def __init__(self, evaluator: Evaluator, by_labels: frozenset[str]) -> None:
        self._rules = {rule.name: rule for rule in evaluator.rules}
        self._was = evaluator.retired
        self._by_labels = by_labels
        #: By (alert, sink): a resolve both queued and owed to a member is one.
        self.retired: dict[tuple[int, str], Retiring] = {}

    def again(self, sink: str, alert: Alert, kind: Transition) -> bool:
        """Whether the rules in force make ``alert`` (of ``kind``) again for ``sink``;
        a resolve they would not is kept (:attr:`retired`)."""
        # A removed rule's, to its sinks: saved with the rule (sesd.runtime.state).
        rule = self._rules.get(alert.rule) or self._was.get(alert.rule)
        if rule is None or _made_again(rule, sink, alert, self._by_labels):
            return True
        if kind is Transition.RESOLVED:
            base = self._was.get(alert.rule, rule)
            made = msgspec.structs.replace(
                base, sinks=[sink], labels=dict(alert.labels), severity=alert.severity
            )
            self.retired.setdefault((id(alert), sink), (made, alert))
        return False


def _made_again(rule: RuleConfig, sink: str, alert: Alert, by_labels: frozenset[str]) -> bool:
    """Whether ``rule`` (in force) makes ``alert`` again for ``sink``: it names the sink,
    and, for a sink that tells alerts apart by their labels, with the same labels and
    severity (another labelled alert is another alert there)."""
    if sink not in rule.sinks:
        return False
    return sink not in by_labels or (alert.labels, alert.severity) == (rule.labels, rule.severity)
