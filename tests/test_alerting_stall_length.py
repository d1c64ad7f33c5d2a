"""A stall of a few minutes (a SIGSTOP, a paused VM) counts as one: the events that
came meanwhile wait in the queue, and an empty window must not resolve an alert on
resume."""

from __future__ import annotations

from sesd.alerting.rules import Status
from tests.test_routing import RULE, T, _alerting
from tests.test_rules import feed_spike


def test_a_four_minute_stall_resolves_nothing_on_resume() -> None:
    alerting, pipeline, now = _alerting(RULE)  # 5m window
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    now[0] = T + 320  # the spike left the 5m window during the stall
    alerting._stalled(240.0)  # what run() computes after a 4-minute SIGSTOP
    alerting.evaluate()
    status = alerting.evaluator.states["delays"]["a.example"].status
    assert status is Status.FIRING
