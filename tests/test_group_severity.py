"""A notification's severity when its alerts carry different ones: a reload changed
the rule's severity while a group waited its ``group_wait``. The header of a Slack
message, a webhook's document and a sink's outbox order read the notification's
severity; an on-call engineer reads the most urgent of its alerts'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sesd.alerting.documents import webhook_document
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render_slack import slack_message
from sesd.alerting.rules import Transition
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from tests import factory as f
from tests.test_routing import RULE as ROUTED
from tests.test_routing import T, _silenceable
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


@pytest.mark.parametrize(
    ("before", "after", "most"),
    [
        ("warning", "critical", "critical"),
        ("critical", "info", "critical"),
        # Ranked as severities, not as words ("info" comes first by its letters).
        ("info", "warning", "warning"),
        ("warning", "error", "error"),
    ],
)
def test_a_group_of_alerts_of_two_severities_goes_out_as_the_most_urgent(
    before: str, after: str, most: str
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
    assert notification.severity == most
    title = slack_message(notification)["blocks"][0]["text"]["text"]
    assert f"delays ({most}): 2 domains" in title


async def test_what_a_silence_leaves_of_a_mixed_group_goes_as_its_own_severity(
    tmp_path: Path,
) -> None:
    """a.example fires under ``warning``, a reload makes the rule ``critical``, b.example
    fires: one critical notification of both waits in the outbox. A silence recalls
    b.example: what is left is a warning page, and its header, webhook document and
    outbox rank say so (PagerDuty and Alertmanager, reading each alert's, already did)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "10s")
    text = (
        f'[alerts]\ngroup_wait = "10s"\nsilences_path = "{silences}"\n'
        '[alerts.sinks.ops]\ntype = "console"\n' + ROUTED + 'sinks = ["ops"]\n'
        'severity = "critical"\n'
    )
    alerting.reconfigure(parse_config(text.replace("critical", "warning")))
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    alerting.reconfigure(parse_config(text))
    feed_spike(pipeline, "b.example", T + 2, 5, 5)
    now[0] = T + 2
    alerting.evaluate()
    now[0] = T + 12
    alerting.evaluate()
    (queued,) = alerting.outboxes["ops"]._queue
    assert [(a.domain, a.severity) for a in queued.alerts] == [
        ("a.example", "warning"),
        ("b.example", "critical"),
    ]
    held = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 60, domain="b.example")
    SilenceFile(str(silences)).add(held, T + 12)
    now[0] = T + 13
    alerting.evaluate()
    (left,) = alerting.outboxes["ops"]._queue
    assert [(a.domain, a.severity) for a in left.alerts] == [("a.example", "warning")]
    assert left.severity == "warning"
    assert "delays (warning): 1 domain" in slack_message(left)["blocks"][0]["text"]["text"]
    assert json.loads(webhook_document(left))["severity"] == "warning"
