"""A notification's severity when its alerts carry different ones: a reload changed
the rule's severity while a group waited its ``group_wait``. The header of a Slack
message, a webhook's document and a sink's outbox order read the notification's
severity; an on-call engineer reads the most urgent of its alerts'."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render_slack import slack_message
from sesd.alerting.rules import Transition
from sesd.config import parse_config
from tests import factory as f
from tests.test_rules import built, feed_spike

pytestmark = pytest.mark.timeout(30)

RULE = """
[alerts]
group_wait = "30s"
[[alerts.rules]]
name = "delays"
metric = "delay_ratio"
window = "5m"
above = 0.2
clear_below = 0.1
min_events = 4
severity = "{severity}"
"""


def _reloaded(evaluator: Evaluator, severity: str, now: float) -> None:
    config = parse_config(RULE.format(severity=severity))
    assert evaluator.configure(config.alerts, evaluator.window_names, now) == []


@pytest.mark.parametrize(("before", "after"), [("warning", "critical"), ("critical", "info")])
def test_a_group_of_alerts_of_two_severities_goes_out_as_the_most_urgent(
    before: str, after: str
) -> None:
    pipeline, evaluator = built(parse_config(RULE.format(severity=before)))
    t = f.T0
    feed_spike(pipeline, "a.example", t, 5, 5)
    assert [a.severity for a in evaluator.evaluate(pipeline.ledger, t)] == [before]
    _reloaded(evaluator, after, t + 5)
    feed_spike(pipeline, "b.example", t + 10, 5, 5)
    assert [a.severity for a in evaluator.evaluate(pipeline.ledger, t + 10)] == [after]
    (notification,) = evaluator.due(t + 30)
    assert notification.kind is Transition.FIRING
    assert [(a.domain, a.severity) for a in notification.alerts] == [
        ("a.example", before),
        ("b.example", after),
    ]
    assert notification.severity == "critical"
    title = slack_message(notification)["blocks"][0]["text"]["text"]
    assert "delays (critical): 2 domains" in title
