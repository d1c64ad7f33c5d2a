"""The ``sesd silence add`` line each PagerDuty event carries (``custom_details.mute``).
PagerDuty makes each alert of a notification an incident of its own: a.example's
incident offering the notification's line (``--domain '*'``, for its several
domains) would mute every domain of the rule, b.example's incident and new ones
included, as Alertmanager's did before each alert there named its own."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sesd.alerting.alert import Notification
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import pagerduty_events
from sesd.config import parse_config
from tests import factory as f
from tests.test_group_severity import RULE
from tests.test_rules import built, feed_spike

pytestmark = pytest.mark.timeout(30)


def fired(*domains: str) -> tuple[Notification, Evaluator]:
    """The notification of ``domains`` firing together on one critical rule, and the
    evaluator that made it."""
    pipeline, evaluator = built(parse_config(RULE.format(severity="critical")))
    for domain in domains:
        feed_spike(pipeline, domain, f.T0, 5, 5)
    evaluator.evaluate(pipeline.ledger, f.T0)
    (notification,) = evaluator.due(f.T0 + 30)
    return notification, evaluator


def test_each_pagerduty_event_offers_the_line_that_mutes_its_alert_alone() -> None:
    notification, evaluator = fired("a.example", "b.example")
    assert "--domain '*'" in notification.silence  # Slack's, for the message's domains
    events = [json.loads(e)["payload"] for e in pagerduty_events(notification, "key", "sesd")]
    mutes = {event["component"]: event["custom_details"]["mute"] for event in events}
    assert mutes == {
        domain: evaluator.mute("delays", [domain]) for domain in ("a.example", "b.example")
    }
    assert all("--domain '*'" not in line for line in mutes.values())


def test_an_alert_no_line_of_its_own_names_offers_the_notifications() -> None:
    """A notification whose lines per domain name none of its alerts: each event
    offers the notification's line, not none (the one test above named each)."""
    notification, _ = fired("a.example")
    assert notification.silence
    bare = dataclasses.replace(notification, mutes=())
    (event,) = [json.loads(e)["payload"] for e in pagerduty_events(bare, "key", "sesd")]
    assert event["custom_details"]["mute"] == notification.silence
