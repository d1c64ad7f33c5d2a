"""Every firing alert posted again, now and then, to the sinks that want it: an
Alertmanager forgets an alert not posted again within its ``resolve_timeout``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from sesd.alerting.alert import Alert, notification_of
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.held import resent
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Transition, has_waited, less_a_tenth

__all__ = ["Resends"]


class Resends:
    """When each resending sink (one with a ``resend_every``) last got every firing
    alert, and the resends due to it."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def at_once(self, sink: str) -> None:
        """Post to ``sink`` at the next evaluation: new members, or a ``resend_every``
        longer than four old ones."""
        self._last[sink] = float("-inf")

    def forget(self, sink: str) -> None:
        """``sink`` is gone (a reload removed it)."""
        self._last.pop(sink, None)

    def post(self, evaluator: Evaluator, outboxes: Mapping[str, Outbox], now: float) -> None:
        """Queue every firing alert again on each sink whose ``resend_every`` has
        passed since its last resend, and whose outbox is empty."""
        due = []
        # Firing alerts a state file brought back were last posted before the stop:
        # due at once (a stop of three periods and one more would see them ended).
        first = float("-inf") if evaluator.restored else now
        evaluator.restored = False
        for name, outbox in outboxes.items():
            every = getattr(outbox.sink, "resend_every", None)
            # A resend ahead of now (the clock stepped back) is due: Alertmanager ends
            # an alert not posted again for its resolve_timeout.
            last = self._last.setdefault(name, first)
            if every is None or len(outbox):
                continue
            # A tenth of a tick short counts as waited (a slewed clock reads the ticks
            # short): else each resend waits a whole tick more than its period.
            if not has_waited(last, now, less_a_tenth(every, evaluator.groups.tick)):
                continue
            self._last[name] = now
            due.append((name, outbox))
        if not due:
            return
        by_rule = _firing_by_rule(evaluator, now)
        for name, outbox in due:
            for rule in evaluator.rules:
                for kind, alerts in by_rule.get(rule.name, {}).items():
                    if name in rule.sinks:
                        outbox.put(
                            notification_of(rule, kind, (name,), tuple(alerts), now, evaluator.mute)
                        )


def _firing_by_rule(evaluator: Evaluator, now: float) -> dict[str, dict[Transition, list[Alert]]]:
    """The firing alerts whose firing was sent, by rule, as a repeat. One a silence
    began to hold after its firing went out is posted again too: Alertmanager would
    otherwise end it after its endsAt, and its receivers hear a resolve for an alert
    that still fires (sesd's silence holds new notifications, not this). One whose
    resolve a stop left undelivered, held firing by a window too thin to make that
    resolve again, is posted as sesd last knew it: resolved, when and at what it
    resolved (sesd.alerting.held), as its other sinks and the status page tell it."""
    by_rule: dict[str, dict[Transition, list[Alert]]] = {}
    states = evaluator.states
    # A firing still waiting its group_wait goes with its group, not before it.
    waiting = evaluator.groups.waiting()
    grouped = {(r, d) for r, d, kind in waiting if kind is Transition.FIRING}
    for (rule_name, domain), alert in evaluator.current.items():
        state = states.get(rule_name, {}).get(domain)
        if state is not None and state.notified and (rule_name, domain) not in grouped:
            # Its start as the state has it now (a clock step back brings it back).
            if alert.since != state.since:
                alert = dataclasses.replace(alert, since=state.since)
            kind, alert = resent(alert, state, now)
            by_rule.setdefault(rule_name, {}).setdefault(kind, []).append(alert)
    return by_rule
