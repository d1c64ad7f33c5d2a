"""The ``sesd silence add`` line each alert of the webhook document carries
(``alerts[].mute``). A receiver that makes each alert an incident or a ticket of its
own (as PagerDuty does) had only the document's line, ``--domain '*'`` for a group
of several domains: offered on a.example's ticket, it would mute every domain of the
rule, b.example's and new ones included. The document's own ``mute`` stays as it
was for receivers that read it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sesd.alerting.documents import webhook_document
from sesd.alerting.rules import Transition
from tests.test_pagerduty_mute import fired

pytestmark = pytest.mark.timeout(30)


def test_each_webhook_alert_offers_the_line_that_mutes_it_alone() -> None:
    notification, evaluator = fired("a.example", "b.example")
    document = json.loads(webhook_document(notification))
    assert document["mute"] == notification.silence
    assert "--domain '*'" in document["mute"]
    mutes = {alert["domain"]: alert["mute"] for alert in document["alerts"]}
    assert mutes == {
        domain: evaluator.mute("delays", [domain]) for domain in ("a.example", "b.example")
    }


def test_a_resolved_alert_offers_no_line() -> None:
    """Nothing fires to mute: null, as the document's own ``mute``."""
    notification, _ = fired("a.example")
    resolved = dataclasses.replace(
        notification,
        kind=Transition.RESOLVED,
        alerts=tuple(dataclasses.replace(a, kind=Transition.RESOLVED) for a in notification.alerts),
        silence="",
        mutes=(),
    )
    document = json.loads(webhook_document(resolved))
    assert document["mute"] is None
    assert [alert["mute"] for alert in document["alerts"]] == [None]
