"""What each sink receives, exactly: the PagerDuty events, the Slack message and the
console lines of a grouped firing notification (one alert at the recipient's MTA, one
inside SES) and of a resolve. The expected payloads in tests/fixtures/render/ were
reviewed field by field; they are the formats' specification, and a change to a
format changes them on purpose (``SESD_RENDER_UPDATE=1`` rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sesd.alerting.evaluator import Alert, Notification
from sesd.alerting.render import console_text, pagerduty_events, slack_message
from sesd.alerting.rules import Transition
from sesd.windows import Breakdown

FIXTURES = Path(__file__).parent / "fixtures" / "render"
T = 1_800_000_000.0


def _alert(kind: Transition, domain: str, *, internal: bool = False, value: float = 0.25) -> Alert:
    return Alert(
        rule="delay-ratio-high",
        metric="delay_ratio",
        domain=domain,
        kind=kind,
        severity="critical",
        window="15m",
        value=value,
        threshold=0.05,
        clear_threshold=0.03,
        at=T + 60,
        since=T,
        counts={"send": 0, "delivery": 30, "delivery_delay": 10, "bounce": 1, "complaint": 0},
        breakdown=Breakdown(
            delay_types=[("TransientCommunicationFailure", 8), ("InternalFailure", 2)],
            statuses=[("4.4.1", 8)],
            diagnostics=[("smtp; 421 4.4.1 Unable to connect", 8)],
            mtas=[("dsn; a8-70.smtp-out.amazonses.com", 10)],
            message_ids=["m-2", "m-1"],
            sources=["arn:aws:ses:eu-west-1:123456789012:identity/example.com"],
            config_sets=["marketing"],
        ),
        stage="inside SES" if internal else "SES -> recipient MTA",
        regions=["eu-west-1"],
        internal=internal,
    )


def _notification(kind: Transition) -> Notification:
    if kind is Transition.RESOLVED:
        alerts = (_alert(kind, "outlook.com", value=0.01),)
    else:
        alerts = (_alert(kind, "outlook.com"), _alert(kind, "gmail.com", internal=True))
    return Notification(
        rule="delay-ratio-high",
        kind=kind,
        severity="critical",
        sinks=("slack", "pagerduty", "console"),
        alerts=alerts,
        at=T + 60,
    )


def _rendered(kind: Transition) -> dict[str, Any]:
    notification = _notification(kind)
    return {
        "pagerduty": [json.loads(e) for e in pagerduty_events(notification, "KEY", "sesd-test")],
        "slack": slack_message(notification),
        "console": console_text(notification).splitlines(),
    }


@pytest.mark.parametrize("kind", [Transition.FIRING, Transition.REPEAT, Transition.RESOLVED])
def test_each_sink_receives_exactly_the_documented_payload(kind: Transition) -> None:
    """The whole payload, every key and every word, for each kind of notification."""
    path = FIXTURES / f"{kind.value}.json"
    got = _rendered(kind)
    if os.environ.get("SESD_RENDER_UPDATE") == "1":
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(path.read_text())


def test_a_canary_alert_says_which_stage_and_which_canaries() -> None:
    """A canary_missing alert: its stage, notes and the missing message ids, in every
    sink, and nothing of the domain breakdowns."""
    alert = Alert(
        rule="canary-missing",
        metric="canary_missing",
        domain="canary",
        kind=Transition.FIRING,
        severity="critical",
        window="15m",
        value=2.0,
        threshold=0.0,
        clear_threshold=0.0,
        at=T + 60,
        since=T,
        counts={"sent": 5, "back": 3, "missing": 2},
        breakdown=Breakdown(message_ids=["c-4", "c-5"]),
        stage="event pipeline",
        regions=[],
        internal=False,
        notes=("nothing arrived on queue events since the canary was sent",),
    )
    notification = Notification(
        rule="canary-missing",
        kind=Transition.FIRING,
        severity="critical",
        sinks=("slack",),
        alerts=(alert,),
        at=T + 60,
    )
    path = FIXTURES / "canary.json"
    got = {
        "pagerduty": [json.loads(e) for e in pagerduty_events(notification, "KEY", "sesd-test")],
        "slack": slack_message(notification),
        "console": console_text(notification).splitlines(),
    }
    if os.environ.get("SESD_RENDER_UPDATE") == "1":
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(path.read_text())
