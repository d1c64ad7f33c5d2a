"""Each alert's own severity in a Slack message whose alerts carry several (a reload
changed the rule's while its group waited): the header tells the most urgent, and
an engineer reading a warning alert under a ``critical`` header would act on it as
critical. One severity: the header says it, and no alert repeats it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sesd.alerting.render_slack import slack_message
from sesd.config import parse_config
from tests import factory as f
from tests.test_group_severity import RULE, _reloaded
from tests.test_rules import built, feed_spike

pytestmark = pytest.mark.timeout(30)


def test_each_alert_of_a_mixed_notification_tells_its_own_severity() -> None:
    pipeline, evaluator = built(parse_config(RULE.format(severity="warning")))
    t = f.T0
    feed_spike(pipeline, "a.example", t, 5, 5)
    evaluator.evaluate(pipeline.ledger, t)
    _reloaded(evaluator, "critical", t + 5)
    feed_spike(pipeline, "b.example", t + 10, 5, 5)
    evaluator.evaluate(pipeline.ledger, t + 10)
    (notification,) = evaluator.due(t + 30)
    message = slack_message(notification)
    blocks = message["blocks"]
    assert "delays (critical): 2 domains" in blocks[0]["text"]["text"]
    first, second = (block["text"]["text"] for block in blocks[1:3])
    assert first.startswith("warning · *a.example*"), first
    assert second.startswith("critical · *b.example*"), second
    # The fallback text (a phone's notification) tells each too.
    assert "2 domains: warning · [FIRING] delays: a.example" in message["text"], message["text"]
    assert "; critical · [FIRING] delays: b.example" in message["text"], message["text"]


def test_an_alert_of_a_notification_of_one_severity_does_not_repeat_it() -> None:
    pipeline, evaluator = built(parse_config(RULE.format(severity="warning")))
    t = f.T0
    feed_spike(pipeline, "a.example", t, 5, 5)
    feed_spike(pipeline, "b.example", t, 5, 5)
    evaluator.evaluate(pipeline.ledger, t)
    (notification,) = evaluator.due(t + 30)
    message = slack_message(notification)
    blocks = message["blocks"]
    assert [block["text"]["text"][:11] for block in blocks[1:3]] == ["*a.example*", "*b.example*"]
    assert "2 domains: [FIRING] delays: a.example" in message["text"], message["text"]


def test_a_test_message_of_several_alerts_says_test_once_in_its_fallback_text() -> None:
    """A test message (``sesd send-test-alert``'s) of two alerts: its fallback text, a
    phone's preview, says "[TEST]" first, in the title, and no headline after it says
    it again (the one alert of the command's message would say it once more; two,
    twice more), as its blocks say it once, in the header."""
    pipeline, evaluator = built(parse_config(RULE.format(severity="warning")))
    t = f.T0
    feed_spike(pipeline, "a.example", t, 5, 5)
    feed_spike(pipeline, "b.example", t, 5, 5)
    evaluator.evaluate(pipeline.ledger, t)
    (notification,) = evaluator.due(t + 30)
    alerts = tuple(replace(alert, test=True) for alert in notification.alerts)
    message = slack_message(replace(notification, alerts=alerts))
    text = message["text"]
    assert text.startswith("[TEST] "), text
    assert text.count("[TEST]") == 1, text
    assert "2 domains: [FIRING] delays: a.example" in text, text
    assert "; [FIRING] delays: b.example" in text, text
    shown = [block["text"]["text"] for block in message["blocks"] if "text" in block]
    assert shown[0].startswith("*[TEST] "), shown
    assert sum(block.count("[TEST]") for block in shown) == 1, shown
