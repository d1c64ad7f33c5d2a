"""The canary, pure: matching, the three stages, what is missing, which stage is slow."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    EndpointConnectionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import console_text, pagerduty_events
from sesd.alerting.render_slack import slack_message
from sesd.alerting.rules import Status, Transition
from sesd.alerting.silences import Silence, SilenceSet
from sesd.canary.sender import CanarySender, error_reason, shown_code
from sesd.config import ConfigError, core_settings, parse_config
from sesd.core.canary import CANARY_DOMAIN, CANARY_TAG, CanaryTracker
from sesd.core.decode import Event, decode_body
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests import factory as f

SIM = "success@simulator.amazonses.com"
T0 = f.T0
CANARY = """
[[queues]]
url = "http://127.0.0.1:1/123456789012/events"
name = "events"
[canary]
from = "canary@example.com"
configuration_set = "sesd"
deadline = "2m"
"""
RULES = """
[[alerts.rules]]
name = "canary-missing"
metric = "canary_missing"
window = "15m"
above = 0
[[alerts.rules]]
name = "canary-slow-api"
metric = "canary_send_latency_seconds"
window = "5m"
above = 2.0
"""


def canary_event(kind: str, message_id: str, at: float, processing_ms: int = 1200) -> str:
    tags = {CANARY_TAG: ["host-1"], "ses:configuration-set": ["sesd"]}
    if kind == "delivery":
        event = f.delivery([SIM], at=at, processing_ms=processing_ms, message_id=message_id)
    elif kind == "bounce":
        event = f.bounce([SIM], at=at)
        event["mail"]["messageId"] = message_id
    else:
        event = f.simple(kind.capitalize(), [SIM], at=at)
        event["mail"]["messageId"] = message_id
    event["mail"]["tags"] = tags
    return f.sns(event)


def test_a_delivery_completes_its_canary_with_each_stage_timed() -> None:
    """Send at T0 (0.2 s call), delivered at T0+1.5 after 1.2 s in SES, received at T0+2:
    end to end 2.0 s, inside SES 1.2 s, event pipeline 0.5 s. The simulator's domain
    never reaches the domain windows or per-domain counters."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.2)
    result = pipeline.feed(canary_event("delivery", "m-1", T0 + 1.5), "events", T0 + 2.0, T0 + 2.0)
    assert result.outcome == "processed"
    (canary,) = tracker.canaries
    assert canary.outcome == "delivery"
    assert canary.end_to_end_seconds == pytest.approx(2.0)
    assert canary.ses_seconds == pytest.approx(1.2)
    assert canary.pipeline_seconds == pytest.approx(0.5)
    assert tracker.figures.end_to_end.counts[tracker.figures.end_to_end.bounds.index(2)] == 1
    assert tracker.figures.send.sum == pytest.approx(0.2)
    assert pipeline.ledger.windows == {}
    assert pipeline.ledger.by_domain.recipients == {}
    # Still counted per queue.
    assert pipeline.ledger.tallies.events["events"][EVENT_TYPE_INDEX["delivery"]] == 1
    assert tracker.events == {"matched": 1}
    assert tracker.measure("canary_missing", 900, T0 + 600) == (0.0, 1)


def test_another_replicas_canary_stays_out_of_the_windows() -> None:
    """A tagged event whose id this replica never sent is kept out and counted unmatched;
    the same holds on a replica with no [canary] at all."""
    for text in (CANARY, ""):
        pipeline = Pipeline(core_settings(parse_config(text)))
        pipeline.feed(canary_event("delivery", "theirs", T0), "events", T0 + 1)
        pipeline.feed(f.sns(f.delivery(["a@gmail.com"], at=T0)), "events", T0 + 1)
        assert set(pipeline.ledger.windows) == {"gmail.com"}
        assert pipeline.ledger.canary.events == {"unmatched": 1}


def test_our_canarys_event_without_its_tag_is_ours_by_its_id() -> None:
    """An event of a canary this replica sent is known by its message id too, its tag
    missing: it completes the canary and stays out of the windows; another message's
    event without the tag is traffic."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.2)
    untagged = f.delivery([SIM], at=T0 + 1.5, message_id="m-1")
    untagged["mail"]["tags"] = {}
    pipeline.feed(f.sns(untagged), "events", T0 + 2.0, T0 + 2.0)
    assert tracker.events == {"matched": 1}
    assert tracker.canaries[0].outcome == "delivery"
    assert pipeline.ledger.windows == {}
    pipeline.feed(f.sns(f.delivery(["a@gmail.com"], at=T0, message_id="m-2")), "events", T0 + 3)
    assert set(pipeline.ledger.windows) == {"gmail.com"}
    assert tracker.events == {"matched": 1}


def test_missing_after_the_deadline_until_a_canary_comes_back() -> None:
    """Past the 2 min deadline a canary is missing; a later canary coming back ends the
    streak (the earlier one is not counted again); the late one arriving ends it too."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    assert tracker.measure("canary_missing", 900, T0 + 119) == (0.0, 1)
    assert tracker.measure("canary_missing", 900, T0 + 121) == (1.0, 1)
    tracker.sent("m-2", T0 + 60, 0.1)
    assert tracker.measure("canary_missing", 900, T0 + 181) == (2.0, 2)
    pipeline.feed(canary_event("delivery", "m-2", T0 + 185), "events", T0 + 186, T0 + 186)
    assert tracker.measure("canary_missing", 900, T0 + 190) == (0.0, 2)
    assert tracker.overdue_count(T0 + 190) == 0
    # Only canaries sent within the rule's window count.
    tracker.sent("m-3", T0 + 200, 0.1)
    assert tracker.measure("canary_missing", 900, T0 + 400) == (1.0, 3)
    assert tracker.measure("canary_missing", 60, T0 + 400) == (0.0, 0)
    pipeline.feed(canary_event("delivery", "m-3", T0 + 401), "events", T0 + 402, T0 + 402)
    assert tracker.measure("canary_missing", 900, T0 + 403) == (0.0, 3)


def test_a_refused_call_is_missing_at_once_and_says_what_ses_said() -> None:
    """A call SES refused (a paused account) is missing at once; the stage names SES's
    error code and what it means; no send was counted."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.failed("rejected", T0, 0.05, "SendingPausedException")
    assert tracker.errors == {"rejected": 1}
    assert tracker.measure("canary_missing", 900, T0 + 1) == (1.0, 1)
    assert tracker.stage("canary_missing", T0 + 1, 900) == (
        "API call (SendEmail failed: rejected: SendingPausedException, SES has paused "
        "sending for the account: every email fails)"
    )
    assert tracker.sent_total == 0
    assert tracker.figures.send.sum == 0
    tracker.failed("auth", T0 + 60, 0.05)
    assert tracker.stage("canary_missing", T0 + 61, 900) == "API call (SendEmail failed: auth)"


@pytest.mark.parametrize("reason", ["throttled", "timeout", "server_error", "network"])
def test_a_call_a_retry_gets_through_is_missing_only_past_the_deadline(reason: str) -> None:
    """One throttled (or timed out, or 5xx) call at a peak of sending is no outage: it
    counts as missing once the deadline passes, as a late canary does, and not at all
    when a later canary comes back before."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.failed(reason, T0, 0.05, "TooManyRequestsException")
    assert tracker.measure("canary_missing", 900, T0 + 120) == (0.0, 1)
    assert tracker.measure("canary_missing", 900, T0 + 121) == (1.0, 1)
    assert tracker.stage("canary_missing", T0 + 121, 900).startswith(
        f"API call (SendEmail failed: {reason}: TooManyRequestsException, "
    )
    tracker.sent("m-2", T0 + 60, 0.1)
    pipeline.feed(canary_event("delivery", "m-2", T0 + 61), "events", T0 + 62, T0 + 62)
    assert tracker.measure("canary_missing", 900, T0 + 121) == (0.0, 2)


def test_which_stage_a_missing_canary_points_at() -> None:
    """Accepted (its Send event arrived): inside SES. No event for it but others arrive on
    its queue: inside SES. Nothing arrives at all: the event pipeline."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    late = T0 + 300
    assert tracker.stage("canary_missing", late, 900).startswith("event pipeline (nothing has")
    pipeline.feed(f.sns(f.delivery(["a@gmail.com"], at=T0 + 10)), "other-queue", T0 + 11)
    assert tracker.stage("canary_missing", late, 900).startswith("event pipeline")
    pipeline.feed(f.sns(f.delivery(["a@gmail.com"], at=T0 + 10)), "events", T0 + 12)
    assert tracker.stage("canary_missing", late, 900) == (
        "inside SES, or the canary configuration set's event destination (no Delivery, "
        "while other events arrive on queue events)"
    )
    pipeline.feed(canary_event("send", "m-1", T0 + 1), "events", T0 + 13)
    assert tracker.stage("canary_missing", late, 900) == (
        "inside SES (the Send event arrived, no Delivery yet), or the canary configuration "
        "set does not publish Delivery events (nor, to a bounce address, Bounce)"
    )
    assert tracker.stage("canary_send_latency_seconds", late, 900).startswith("API call")


@pytest.mark.parametrize("came_back_before", [False, True])
def test_send_events_without_a_delivery_over_several_canaries_point_at_the_event_types(
    came_back_before: bool,
) -> None:
    """A configuration set whose event destination publishes Send but not Delivery looks,
    canary by canary, like SES holding the mail. Once three canaries are missing with a
    Send event each and none has ever come back, the stage names the event types first;
    when canaries came back before, SES holding them stays first (a set edited since is
    still named as possible)."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    start = T0
    if came_back_before:
        tracker.sent("m-0", T0, 0.1)
        pipeline.feed(canary_event("delivery", "m-0", T0 + 1), "events", T0 + 2, T0 + 2)
        start = T0 + 60
    for k in range(3):
        tracker.sent(f"m-{k + 1}", start + 60 * k, 0.1)
        at = start + 60 * k + 1
        pipeline.feed(canary_event("send", f"m-{k + 1}", at), "events", at + 1, at + 1)
    two_missing = start + 60 + 121  # the third is not yet past its 2m deadline
    three_missing = start + 120 + 121
    assert [tracker.overdue_count(t) for t in (two_missing, three_missing)] == [2, 3]
    held = (
        "inside SES (the Send event arrived, no Delivery yet), or the canary configuration "
        "set does not publish Delivery events (nor, to a bounce address, Bounce)"
    )
    assert tracker.stage("canary_missing", two_missing, 900) == held
    assert tracker.stage("canary_missing", three_missing, 900) == (
        held
        if came_back_before
        else "the canary configuration set's event destination (Send events arrived for 3 "
        "canaries, and not one has come back: does the set publish Delivery events, or, "
        "to a bounce address, Bounce?), or inside SES"
    )


def test_send_latency_is_the_latest_answered_or_timed_out_call_in_the_window() -> None:
    """A call cut off after send_timeout took at least that long; a call refused or
    throttled at once says nothing of how long an answer takes."""
    tracker = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    assert tracker.measure("canary_send_latency_seconds", 300, T0) == (None, 0)
    tracker.sent("m-1", T0, 3.5)
    tracker.failed("throttled", T0 + 30, 0.05)
    assert tracker.measure("canary_send_latency_seconds", 300, T0 + 31) == (3.5, 1)
    tracker.failed("timeout", T0 + 60, 10.0)
    assert tracker.measure("canary_send_latency_seconds", 300, T0 + 61) == (10.0, 2)
    tracker.sent("m-2", T0 + 120, 0.1)
    assert tracker.measure("canary_send_latency_seconds", 300, T0 + 121) == (0.1, 3)
    assert tracker.measure("canary_send_latency_seconds", 300, T0 + 500) == (None, 0)


def test_calls_that_time_out_keep_the_latency_alert_firing() -> None:
    """SES's API gets slow (3 s, the latency rule fires), then slower, until every call
    outlives send_timeout: a call cut off after 10 s took at least 10 s, so the alert
    stays firing (it does not resolve as the API gets worse) and its value says 10 s;
    it resolves once a call is answered fast again."""
    config = parse_config(CANARY + RULES)
    pipeline = Pipeline(core_settings(config))
    tracker = pipeline.ledger.canary
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    tracker.sent("m-1", T0, 3.0)
    (slow,) = evaluator.evaluate(pipeline.ledger, T0 + 1)
    assert (slow.rule, slow.kind) == ("canary-slow-api", "firing")
    for minute in range(1, 8):  # past the 5m window of the answered call
        tracker.failed("timeout", T0 + 60 * minute, 10.0)
        assert tracker.measure("canary_send_latency_seconds", 300, T0 + 60 * minute + 1) == (
            10.0,
            min(minute + 1, 5),
        )
        assert [
            a
            for a in evaluator.evaluate(pipeline.ledger, T0 + 60 * minute + 1)
            if a.rule == "canary-slow-api"
        ] == []
    state = evaluator.states["canary-slow-api"][CANARY_DOMAIN]
    assert (state.status, state.value) == (Status.FIRING, 10.0)
    tracker.sent("m-2", T0 + 480, 0.2)
    (back,) = [
        a for a in evaluator.evaluate(pipeline.ledger, T0 + 481) if a.rule == "canary-slow-api"
    ]
    assert back.kind is Transition.RESOLVED


def test_canary_rules_fire_resolve_and_say_where() -> None:
    """canary_missing fires once the deadline passes and resolves when the canary comes
    back; the notification names the stage and the missing message id on every sink."""
    config = parse_config(CANARY + RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    pipeline.ledger.canary.sent("m-1", T0, 0.3)
    assert evaluator.evaluate(pipeline.ledger, T0 + 60) == []
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 121)
    assert (alert.rule, alert.domain, alert.kind) == ("canary-missing", CANARY_DOMAIN, "firing")
    assert alert.stage.startswith("event pipeline")
    assert alert.breakdown.message_ids == ["m-1"]
    assert alert.counts == {"sent": 1, "send_failed": 0, "back": 0, "missing": 1}
    (notification,) = evaluator.due(T0 + 121, flush=True)
    text = str(slack_message(notification)) + console_text(notification)
    assert "event pipeline" in text
    assert "m-1" in text
    assert "no canary has come back yet" in text
    (event,) = pagerduty_events(notification, "key", "sesd")
    assert b'"dedup_key":"sesd:canary-missing:canary"' in event
    assert b'"missing_message_ids":["m-1"]' in event

    pipeline.feed(canary_event("delivery", "m-1", T0 + 125), "events", T0 + 126, T0 + 126)
    (resolved,) = evaluator.evaluate(pipeline.ledger, T0 + 127)
    assert resolved.kind is Transition.RESOLVED
    assert "end to end 126.00s" in resolved.notes[0]
    assert evaluator.states["canary-missing"][CANARY_DOMAIN].status is Status.INACTIVE
    # The API stage: a 3 s call fires the latency rule (above 2 s).
    pipeline.ledger.canary.sent("m-2", T0 + 130, 3.0)
    (slow,) = evaluator.evaluate(pipeline.ledger, T0 + 131)
    assert (slow.rule, slow.value, slow.stage) == (
        "canary-slow-api",
        3.0,
        "API call (SendEmail is slow: client -> SES)",
    )


def test_a_silence_on_the_canary_holds_its_alert_until_it_ends() -> None:
    """The mute line of a canary alert names the domain ``canary``: a silence on it
    holds the firing back (noted as held), and the firing is sent once it ends."""
    silence = Silence(
        id="s1", comment="known", starts_at=T0, ends_at=T0 + 200, domain=CANARY_DOMAIN
    )
    config = parse_config(CANARY + RULES)
    pipeline = Pipeline(core_settings(config))
    names = [spec.name for spec in pipeline.ledger.specs]
    evaluator = Evaluator(config.alerts, names, SilenceSet([silence]))
    pipeline.ledger.canary.sent("m-1", T0, 0.3)
    assert evaluator.evaluate(pipeline.ledger, T0 + 121) == []
    assert evaluator.held == [("canary-missing", CANARY_DOMAIN, "firing", "s1")]
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 200)
    assert (alert.domain, alert.kind, alert.at) == (CANARY_DOMAIN, Transition.FIRING, T0 + 200)


def test_canaries_in_flight_survive_a_restart() -> None:
    """The state file keeps canaries: one sent before a restart is matched after it."""
    config = parse_config(CANARY + RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    pipeline.ledger.canary.sent("m-1", T0, 0.3)
    pipeline.ledger.canary.failed("auth", T0 + 1, 0.1)
    fresh = Pipeline(core_settings(config))
    blob = snapshot(pipeline.ledger, evaluator, T0 + 2)
    restored = restore(blob, fresh.ledger, evaluator, T0 + 2)
    assert restored["canaries"] == 2
    fresh.feed(canary_event("delivery", "m-1", T0 + 3), "events", T0 + 4, T0 + 4)
    assert fresh.ledger.canary.events == {"matched": 1}
    assert fresh.ledger.canary.last_done is not None
    assert fresh.ledger.canary.last_done.message_id == "m-1"
    assert fresh.ledger.windows == {}


def test_a_canary_in_flight_across_a_long_stop_has_its_deadline_from_the_restore() -> None:
    """sesd stopped for an hour with a canary in flight: at the restart its events may
    wait on the queue, not read yet, so it is not missing until a deadline after the
    restore, and missing past that if nothing came."""
    config = parse_config(CANARY + RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    pipeline.ledger.canary.sent("m-1", T0, 0.3)
    blob = snapshot(pipeline.ledger, evaluator, T0 + 1)
    fresh = Pipeline(core_settings(config)).ledger
    restore(blob, fresh, evaluator, T0 + 3600)
    due = T0 + 3600 + fresh.canary.deadline
    assert fresh.canary.missing(due) == []
    assert [c.message_id for c in fresh.canary.missing(due + 1)] == ["m-1"]


@pytest.mark.parametrize(
    ("ahead", "timed"), [(3600.0, 40.0), (2 * 86400.0, 10.0)], ids=["an hour", "two days"]
)
def test_a_canary_in_flight_at_a_restart_behind_the_save_is_timed_on_the_new_clock(
    ahead: float, timed: float
) -> None:
    """The clock steps back an hour while sesd is stopped (the state file saved an hour
    ahead of the restart), a canary sent thirty seconds before the save: it is missing a
    deadline after the restore, not an hour later; and one that comes back ten seconds
    after the restart is timed forty seconds end to end, not none. Saved two days ahead
    (more than a day: nothing moves), a time ahead of the clock is the restart's: the
    one back is timed ten seconds, the other missing a deadline after the restore."""
    config = parse_config(CANARY + RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    for message in ("m-2", "m-1"):
        pipeline.ledger.canary.sent(message, T0 + ahead - 30, 0.3)
    blob = snapshot(pipeline.ledger, evaluator, T0 + ahead)
    fresh = Pipeline(core_settings(config))
    canary = fresh.ledger.canary
    restore(blob, fresh.ledger, evaluator, T0)
    fresh.feed(canary_event("delivery", "m-2", T0 + 9), "events", T0 + 10, T0 + 10)
    assert canary.last_done is not None
    assert canary.last_done.end_to_end_seconds == pytest.approx(timed)
    assert canary.missing(T0 + canary.deadline) == []
    assert [c.message_id for c in canary.missing(T0 + canary.deadline + 1)] == ["m-1"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('to = "someone@gmail.com"', "canary.to: must be a mailbox simulator address"),
        ('to = "bounce+tag-1@simulator.amazonses.com"', None),
        ('to = "ooto@simulator.amazonses.com"', None),
        ('queue = "nope"', "canary.queue: 'nope' is not a configured queue (events)"),
        ('interval = "500ms"', "canary.interval: must be at least 1s"),
        ('send_timeout = "0s"', "canary.send_timeout: must be positive"),
        ('endpoint_url = "ftp://x"', "is not an http(s) URL"),
    ],
)
def test_canary_config_is_checked(body: str, error: str | None) -> None:
    text = CANARY + body + "\n"
    if error is None:
        parse_config(text)
        return
    with pytest.raises(ConfigError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_config(text)


def test_a_canary_rule_needs_a_canary_and_from_is_required() -> None:
    with pytest.raises(ConfigError, match=r"metric: 'canary_missing' needs \[canary\]"):
        parse_config(RULES)
    with pytest.raises(ConfigError, match=r"canary\.from: required, and not given"):
        parse_config('[canary]\nconfiguration_set = "sesd"\n')
    config = parse_config(CANARY)
    assert config.canary is not None
    assert config.canary.to == SIM
    assert config.canary_queue == "events"


def _client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "SendEmail")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (_client_error("TooManyRequestsException", 429), "throttled"),
        (_client_error("Throttling", 400), "throttled"),
        (_client_error("MessageRejected", 400), "rejected"),
        (_client_error("AccessDeniedException", 403), "auth"),
        (_client_error("InternalFailure", 500), "server_error"),
        (_client_error("Whatever", 400), "client_error"),
        (TimeoutError(), "timeout"),
        (EndpointConnectionError(endpoint_url="http://x"), "network"),
        # The SDK's own read timeout is send_timeout too: the same timeout.
        (ReadTimeoutError(endpoint_url="http://x"), "timeout"),
        (PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), "auth"),
        (CredentialRetrievalError(provider="sts-assume-role", error_msg="x"), "auth"),
        (ParamValidationError(report="Invalid type"), "client_error"),
    ],
)
def test_error_reasons_are_bounded(exc: BaseException, reason: str) -> None:
    assert error_reason(exc) == reason


def test_a_missing_canary_alert_repeats_lists_at_most_five_and_only_its_window() -> None:
    """Seven canaries go missing: one sent before the rule's 15m window is not listed,
    and of the six inside it the five newest are. The alert is not internal, has no
    regions, goes out group_wait after its evaluation, and repeats every
    repeat_interval."""
    config = parse_config(CANARY + RULES + '[alerts]\nrepeat_interval = "10m"\n')
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    pipeline.ledger.canary.sent("old", T0 - 1000, 0.3)
    for i in range(6):
        pipeline.ledger.canary.sent(f"m-{i}", T0 + i, 0.3)
    now = T0 + 300
    (alert,) = evaluator.evaluate(pipeline.ledger, now)
    assert alert.breakdown.message_ids == ["m-1", "m-2", "m-3", "m-4", "m-5"]
    assert (alert.internal, alert.regions) == (False, [])
    assert evaluator.due(now + 9) == []  # group_wait (10 s) from its evaluation
    (notification,) = evaluator.due(now + 10)
    assert notification.alerts == (alert,)
    assert (notification.rule, notification.kind) == ("canary-missing", Transition.FIRING)
    assert evaluator.evaluate(pipeline.ledger, now + 599) == []
    (repeat,) = evaluator.evaluate(pipeline.ledger, now + 600)
    assert repeat.kind is Transition.REPEAT


def test_a_missing_canary_from_before_the_window_is_not_listed() -> None:
    """Two canaries missing in the 15m window and one from before it: the alert lists
    the two."""
    config = parse_config(CANARY + RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    pipeline.ledger.canary.sent("old", T0 - 1000, 0.3)
    pipeline.ledger.canary.sent("m-0", T0, 0.3)
    pipeline.ledger.canary.sent("m-1", T0 + 1, 0.3)
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 300)
    assert alert.breakdown.message_ids == ["m-0", "m-1"]


def test_what_the_alert_text_says_of_the_last_canary_and_of_the_path() -> None:
    """Before any canary comes back, and after: the last one's stage timings to the
    hundredth (a bounce has no time inside SES: "-"), and a pipeline that has heard
    nothing since start-up, or since an event at a named time."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    assert tracker.notes() == ["no canary has come back yet"]
    assert tracker.stage("canary_missing", T0, 900) == "none (canaries come back)"
    tracker.sent("m-1", T0, 0.2)
    assert tracker.stage("canary_missing", T0 + 300, 900) == (
        "event pipeline (nothing has arrived on queue events since start-up: check the "
        "configuration set's event destination, the SNS subscription, the queue and "
        "sesd_sqs_errors_total)"
    )
    pipeline.feed(canary_event("delivery", "m-1", T0 + 1.5), "events", T0 + 2.0, T0 + 2.0)
    assert tracker.notes() == [
        "last canary back (2027-01-15 08:00:00Z): API call 0.20s, inside SES 1.20s, "
        "event pipeline 0.50s, end to end 2.00s"
    ]
    tracker.sent("m-2", T0 + 60, 0.25)
    pipeline.feed(canary_event("bounce", "m-2", T0 + 63), "events", T0 + 64, T0 + 64)
    assert tracker.notes() == [
        "last canary back (2027-01-15 08:01:00Z): API call 0.25s, inside SES -, "
        "event pipeline 1.00s, end to end 4.00s"
    ]
    tracker.sent("m-3", T0 + 120, 0.2)
    assert tracker.stage("canary_missing", T0 + 400, 900) == (
        "event pipeline (nothing has arrived on queue events since 2027-01-15 08:01:04Z: "
        "check the configuration set's event destination, the SNS subscription, the "
        "queue and sesd_sqs_errors_total)"
    )


def test_boundaries_of_the_deadline_and_the_window_and_the_counts() -> None:
    """A canary exactly at its deadline is not yet missing; one sent exactly a window
    ago is out of it. counts() says how many were sent, failed, came back, are
    missing."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    assert tracker.measure("canary_missing", 900, T0 + 120) == (0.0, 1)  # deadline 2m
    assert tracker.measure("canary_missing", 120, T0 + 120) == (0.0, 0)
    tracker.sent("m-2", T0 + 10, 0.1)
    tracker.failed("throttled", T0 + 20, 5.0)
    tracker.failed("throttled", T0 + 30, 5.0)
    pipeline.feed(canary_event("delivery", "m-2", T0 + 11), "events", T0 + 12, T0 + 12)
    assert tracker.counts(900, T0 + 200) == {"sent": 2, "send_failed": 2, "back": 1, "missing": 2}
    assert tracker.counts(191, T0 + 200) == {"sent": 1, "send_failed": 2, "back": 1, "missing": 2}
    assert tracker.counts(190, T0 + 200) == {"sent": 0, "send_failed": 2, "back": 0, "missing": 2}
    assert tracker.errors == {"throttled": 2}
    assert tracker.sent_total == 2
    with pytest.raises(ValueError, match="unknown canary metric 'canary_nope'"):
        tracker.measure("canary_nope", 900, T0)


def test_every_event_of_a_canary_counts_and_real_mail_is_never_taken_for_one() -> None:
    """With a canary in flight, real traffic still reaches the windows; its Send and
    Delivery both count as matched, another replica's two as unmatched; a canary that
    came back stays done when a late duplicate or a bounce arrives."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    pipeline.feed(f.sns(f.delivery(["a@gmail.com"], at=T0)), "events", T0 + 1)
    assert set(pipeline.ledger.windows) == {"gmail.com"}
    pipeline.feed(canary_event("send", "m-1", T0 + 1), "events", T0 + 2, T0 + 2)
    pipeline.feed(canary_event("delivery", "m-1", T0 + 3), "events", T0 + 4, T0 + 4)
    pipeline.feed(canary_event("bounce", "m-1", T0 + 5), "events", T0 + 6, T0 + 6)
    for message_id in ("theirs-1", "theirs-2"):
        pipeline.feed(canary_event("delivery", message_id, T0 + 5), "events", T0 + 6)
    assert tracker.events == {"matched": 3, "unmatched": 2}
    (canary,) = tracker.canaries
    assert (canary.accepted_at, canary.done_at, canary.outcome) == (T0 + 2, T0 + 4, "delivery")


def test_a_bounce_completes_a_canary_sent_to_the_bounce_simulator() -> None:
    """No Send event seen: the Bounce accepts it too."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    pipeline.feed(canary_event("bounce", "m-1", T0 + 3), "events", T0 + 4, T0 + 4)
    (canary,) = tracker.canaries
    assert (canary.accepted_at, canary.done_at, canary.outcome) == (T0 + 4, T0 + 4, "bounce")
    assert canary.ses_seconds is None
    assert tracker.figures.end_to_end.sum == pytest.approx(4.0)


def test_canaries_are_remembered_up_to_a_bound_and_the_oldest_is_forgotten() -> None:
    """Past 2,048 canaries the oldest goes, and its id with it: its late event is
    another replica's, as far as this one can tell."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    for i in range(2049):
        tracker.sent(f"m-{i}", T0 + i, 0.1)
    assert len(tracker.canaries) == 2048
    assert tracker.canaries[0].message_id == "m-1"
    pipeline.feed(canary_event("delivery", "m-0", T0 + 3000), "events", T0 + 3001, T0 + 3001)
    pipeline.feed(canary_event("delivery", "m-1", T0 + 3000), "events", T0 + 3001, T0 + 3001)
    assert tracker.events == {"unmatched": 1, "matched": 1}


def test_a_failed_call_at_the_bound_goes_and_only_the_oldest_id_with_each() -> None:
    """The oldest canary, a failed call (no id), goes at the bound without a trace;
    then each canary past the bound forgets the oldest one's id, and no other: the
    next ones' events still match."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.failed("refused", T0, 0.1, "MessageRejected")
    for i in range(1, 2050):
        tracker.sent(f"m-{i}", T0 + i, 0.1)
    assert [c.message_id for c in list(tracker.canaries)[:2]] == ["m-2", "m-3"]
    for message_id in ("m-1", "m-2", "m-3"):
        event = canary_event("delivery", message_id, T0 + 3000)
        pipeline.feed(event, "events", T0 + 3001, T0 + 3001)
    assert tracker.events == {"unmatched": 1, "matched": 2}


def test_the_last_canary_back_is_the_newest_sent_also_after_a_restart() -> None:
    """Two canaries sent in the same second come back: the later one to come back is
    the last; a restore keeps the newest by sending time, ties to the later row."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    tracker.sent("m-2", T0, 0.2)
    pipeline.feed(canary_event("delivery", "m-1", T0 + 1), "events", T0 + 2, T0 + 2)
    pipeline.feed(canary_event("delivery", "m-2", T0 + 1), "events", T0 + 3, T0 + 3)
    assert tracker.last_done is not None
    assert tracker.last_done.message_id == "m-2"
    fresh = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    fresh.restore(tracker.snapshot(), T0 + 3)
    assert fresh.last_done is not None
    assert fresh.last_done.message_id == "m-2"
    assert fresh.missing(T0 + 1000) == []


def test_a_clock_stepped_back_does_not_hide_later_canaries() -> None:
    """A canary comes back, then the clock steps ten minutes back and the next one never
    comes back: it is missing once past the deadline, though the clock reads it as sent
    before the one that came back (the order of sending decides, not the clock)."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    pipeline.feed(canary_event("delivery", "m-1", T0 + 1), "events", T0 + 2, T0 + 2)
    stepped = T0 - 600
    tracker.sent("m-2", stepped, 0.1)
    assert [c.message_id for c in tracker.missing(stepped + 121)] == ["m-2"]
    assert tracker.measure("canary_missing", 900, stepped + 121) == (1.0, 2)


def test_a_canary_in_flight_across_a_step_back_is_missing_on_time() -> None:
    """A canary is sent, and the clock steps an hour back a second later: it is missing
    once ``deadline`` has passed since it was sent (not an hour later), and a restore
    before the step keeps its deadline from the restart on the new time."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    tracker.stepped(-3600)
    now = T0 - 3600
    assert tracker.missing(now + 119) == []
    assert [c.message_id for c in tracker.missing(now + 121)] == ["m-1"]
    fresh = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    fresh.restore(tracker.snapshot(), T0 + 600)
    fresh.stepped(-3600)
    assert fresh.missing(T0 - 3000 + 119) == []
    assert [c.message_id for c in fresh.missing(T0 - 3000 + 121)] == ["m-1"]


def test_every_time_the_canary_keeps_moves_with_each_step_of_the_clock() -> None:
    """Two steps of the wall clock (ten minutes ahead, then one back): each time kept on
    that clock (a canary's call, its Send and its Delivery, the restore, the last event
    on the queue, another sesd's canary) moves by both, a time not known stays unknown,
    and ``shifted`` adds the steps up for a call under way across them."""
    tracker = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    rows: list[list[object]] = [
        [T0, 0.1, "m-1", "", T0 + 1, T0 + 2, "delivery", 0.5, 0.4],
        [T0 + 60, 0.1, "m-2", "", T0 + 61, None, "", None, None],
        [T0 + 120, 0.1, "m-3", "", None, None, "", None, None],
    ]
    tracker.restore(rows, T0 + 130)
    tracker.last_event_at, tracker.foreign_at = T0 + 131, T0 + 132
    tracker.stepped(600)
    tracker.stepped(-60)
    assert tracker.shifted == 540
    assert [(c.sent_at, c.accepted_at, c.done_at) for c in tracker.canaries] == [
        (T0 + 540, T0 + 541, T0 + 542),
        (T0 + 600, T0 + 601, None),
        (T0 + 660, None, None),
    ]
    assert (tracker.restored_at, tracker.last_event_at, tracker.foreign_at) == (
        T0 + 670,
        T0 + 671,
        T0 + 672,
    )


def test_a_failed_call_s_error_code_is_kept_to_64_characters() -> None:
    """SES's error code on a failed call goes into the stage text of every sink: the
    tracker keeps at most 64 characters of it, whoever calls it."""
    tracker = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    assert tracker.failed("refused", T0, 0.1, "E" * 100).code == "E" * 64


def test_the_stage_s_boundaries_of_the_window_and_of_the_canary_s_call() -> None:
    """Another sesd's canary heard exactly a window ago is out of the window (the stage
    no longer doubts); an event on the queue at the very time a canary was sent is no
    sign that events arrive after it, one a second later is."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0 + 150, 0.1)
    now, window = T0 + 300, 200.0
    tracker.foreign_at, tracker.foreign_from = T0 + 101, "host-2"
    assert tracker.stage("canary_missing", now, window).startswith("unsure: canary events")
    tracker.foreign_at = T0 + 100
    pipeline.feed(f.sns(f.delivery(["a@gmail.com"], at=T0 + 149)), "events", T0 + 150)
    assert tracker.stage("canary_missing", now, window).startswith(
        "event pipeline (nothing has arrived on queue events since 2027-01-15 08:02:30Z"
    )
    pipeline.feed(f.sns(f.delivery(["b@gmail.com"], at=T0 + 150)), "events", T0 + 151)
    assert tracker.stage("canary_missing", now, window).startswith("inside SES, or the")


def test_a_canary_back_before_it_was_sent_on_a_stepped_clock_shows_no_time_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clock stepped back while a canary was under way: its Delivery arrives before
    the time its call began, so the pipeline and the whole path show 0.00s. The time
    named is UTC (it ends in Z) in whatever zone the host is set to."""
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    try:
        pipeline = Pipeline(core_settings(parse_config(CANARY)))
        tracker = pipeline.ledger.canary
        tracker.sent("m-1", T0, 0.2)
        pipeline.feed(canary_event("delivery", "m-1", T0 - 6), "events", T0 - 5, T0 - 5)
        assert tracker.notes() == [
            "last canary back (2027-01-15 08:00:00Z): API call 0.20s, inside SES 1.20s, "
            "event pipeline 0.00s, end to end 0.00s"
        ]
        assert tracker.figures.end_to_end.sum == tracker.figures.pipeline.sum == 0
        assert tracker.figures.end_to_end.counts[0] == 1
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_tracker_made_alone_keeps_its_deadline_and_queue() -> None:
    """The tracker's own deadline and queue, without a ledger to set them again: a
    canary is missing past the deadline, only its queue's events show the pipeline
    alive, and an event of one of its canaries is known by its id alone."""
    tracker = CanaryTracker(60.0, "events")
    tracker.sent("m-1", T0, 0.1)
    assert tracker.missing(T0 + 60) == []
    assert [c.message_id for c in tracker.missing(T0 + 61)] == ["m-1"]
    event = decode_body(f.sns(f.delivery(["a@gmail.com"])))
    assert isinstance(event, Event)
    tracker.arrived(event, "other", T0 + 30)
    assert tracker.last_event_at is None
    assert not tracker.arrived(event, "events", T0 + 31)
    assert tracker.last_event_at == T0 + 31
    # One of ours by its id, though its tags were lost on the way.
    ours = decode_body(f.sns(f.delivery(["a@gmail.com"], message_id="m-1")))
    assert isinstance(ours, Event)
    assert tracker.arrived(ours, "events", T0 + 32)


def test_a_refused_call_exactly_a_window_ago_is_out_of_the_window() -> None:
    """A refused call is missing at once, but only in windows it was made in: one made
    exactly a window ago is not counted."""
    tracker = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    tracker.failed("refused", T0, 0.1, "MessageRejected")
    assert tracker.measure("canary_missing", 100, T0 + 99) == (1.0, 1)
    assert tracker.measure("canary_missing", 100, T0 + 100) == (0.0, 0)


def test_only_the_restored_canaries_get_their_deadline_from_the_restore() -> None:
    """A canary sent after a restore, on a clock that went back a second since (too
    little to count as a step), has its deadline from its own call, not the restore."""
    tracker = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    tracker.restore([[T0, 0.1, "m-1", "", None, None, "", None, None]], T0 + 600)
    tracker.sent("m-2", T0 + 599, 0.1)
    assert [c.message_id for c in tracker.missing(T0 + 599 + 121)] == ["m-2"]
    assert [c.message_id for c in tracker.missing(T0 + 721)] == ["m-1", "m-2"]


def test_a_canary_in_flight_at_a_stop_gets_its_deadline_from_the_restart() -> None:
    """A canary sent just before a stop of ten minutes: its events may wait on the queue
    sesd has not read yet, so it is not missing at the restart; it is once ``deadline``
    passes after it without them."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    fresh = Pipeline(core_settings(parse_config(CANARY))).ledger.canary
    fresh.restore(tracker.snapshot(), T0 + 600)
    assert fresh.missing(T0 + 601) == []
    assert [c.message_id for c in fresh.missing(T0 + 721)] == ["m-1"]


def test_another_sesd_s_canaries_on_the_queue_are_named_in_the_stage() -> None:
    """Canary events of another sesd (its tag, a message id not ours) arrive on the
    canary's queue while ours is missing: the stage says another sesd may be taking
    this one's events, rather than blaming SES, for the rule's window."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    pipeline.feed(canary_event("delivery", "theirs", T0 + 1), "events", T0 + 2, T0 + 2)
    assert tracker.events == {"unmatched": 1}
    assert tracker.stage("canary_missing", T0 + 200, 900) == (
        "unsure: canary events of another sesd (host-1) arrive on queue events, which "
        "may take this one's events; give each sesd's canary a queue of its own"
    )
    # Once none has come for the rule's window, the stage is read as before.
    tracker.sent("m-2", T0 + 1500, 0.1)
    assert tracker.stage("canary_missing", T0 + 1700, 900).startswith("event pipeline")


def test_this_sesd_s_own_canary_it_lost_track_of_is_not_another_sesd_s() -> None:
    """A call timed out at this end, but SES sent the email: its events come back with
    this sesd's own tag and a message id it never learnt. They are not another sesd's:
    when a later canary goes missing, the stage names the event pipeline, not "another
    sesd (this very host)"."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    canary = parse_config(CANARY).canary
    assert canary is not None
    sender = CanarySender(canary, None, tracker, clock=lambda: T0, instance="host-1")
    assert sender.instance == tracker.instance == "host-1"
    tracker.failed("timeout", T0, 10.0)
    pipeline.feed(canary_event("delivery", "unknown-id", T0 + 5), "events", T0 + 6, T0 + 6)
    assert tracker.events == {"unmatched": 1}
    assert tracker.foreign_at is None
    tracker.sent("m-2", T0 + 60, 0.1)
    pipeline.feed(canary_event("delivery", "m-2", T0 + 65), "events", T0 + 70, T0 + 70)
    tracker.sent("m-3", T0 + 120, 0.1)
    assert tracker.stage("canary_missing", T0 + 300, 900).startswith("event pipeline")


def test_another_sesd_with_this_ones_host_name_is_told_from_its_own_lost_canaries() -> None:
    """Two sesd on one host (or pods on the host's network) send canaries tagged with
    the same name to one queue, and each takes some of the other's events. An event of
    this name, of a message this sesd never learnt the id of, sent while it remembers
    its canaries and at no time a call of its own failed, is not this one's: when its
    canary goes missing, the stage is "unsure", naming the other as this one's
    namesake, not the event pipeline. One SES sent before this sesd's first canary (a
    restart without the state file) or about when a call of its own timed out is still
    its own."""
    pipelines = [Pipeline(core_settings(parse_config(CANARY))) for _ in range(2)]
    for pipeline in pipelines:
        pipeline.ledger.canary.instance = "host-1"
        pipeline.ledger.canary.sent("m-1", T0, 0.1)
    ours, namesake = pipelines
    tracker = ours.ledger.canary
    ours.feed(canary_event("delivery", "before", T0 - 30, 1000), "events", T0 + 1, T0 + 1)
    tracker.failed("timeout", T0 + 120, 10.0)
    ours.feed(canary_event("delivery", "lost", T0 + 125, 1000), "events", T0 + 126, T0 + 126)
    assert tracker.events == {"unmatched": 2}
    assert tracker.foreign_at is None
    tracker = namesake.ledger.canary
    namesake.feed(canary_event("delivery", "theirs", T0 + 300, 1000), "events", T0 + 301)
    assert tracker.events == {"unmatched": 1}
    assert tracker.foreign_at == T0 + 301
    stage = tracker.stage("canary_missing", T0 + 400, 900)
    assert stage.startswith(
        "unsure: canary events of another sesd (host-1, this one's own name) arrive on queue"
    ), stage


def test_a_canary_the_state_file_missed_is_still_this_sesd_s_after_a_restart() -> None:
    """A canary SES accepted after the last save (the process killed before the next,
    or its call cut off by the stop) is in no file: after a restart its events carry
    this sesd's own tag and an id it never learnt, and SES took it a day after the
    first canary the file brought back. It is this sesd's own, not a namesake's: the
    stage of a canary then missing is read as ever, not "unsure"."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    for i in range(3):
        tracker.sent(f"m-{i}", T0 + 60 * i, 0.1)
    rows = tracker.snapshot()  # the last save; m-3 at T0 + 180 is in none
    fresh = Pipeline(core_settings(parse_config(CANARY)))
    fresh.ledger.canary.instance = "host-1"
    fresh.ledger.canary.restore(rows, T0 + 400)
    fresh.ledger.canary.sent("m-4", T0 + 400, 0.1)
    fresh.feed(canary_event("delivery", "m-3", T0 + 181, 1000), "events", T0 + 402, T0 + 402)
    assert fresh.ledger.canary.events == {"unmatched": 1}
    assert fresh.ledger.canary.foreign_at is None


def test_a_lost_canary_across_a_step_of_the_clock_is_still_this_sesd_s() -> None:
    """A call times out, SES sent the email, and the host is then suspended ten minutes
    (the wall clock steps ahead on resume): the tracker moves the call's time with the
    step, but SES's clock took the message when the call began. Its events are this
    sesd's own, not a namesake's."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.instance = "host-1"
    tracker.sent("m-1", T0 - 3600, 0.1)
    tracker.failed("timeout", T0 + 120, 10.0)
    tracker.stepped(600.0)
    pipeline.feed(canary_event("delivery", "lost", T0 + 126, 1000), "events", T0 + 727)
    assert tracker.events == {"unmatched": 1}
    assert tracker.foreign_at is None


def test_a_lost_canary_on_a_host_whose_clock_is_behind_ses_is_still_this_sesd_s() -> None:
    """This host's clock runs five minutes behind SES's (no NTP; no step to see): SES
    takes each canary five minutes after the time this sesd keeps for its call, as its
    canaries that come back say. A call that times out which SES still sent is this
    sesd's own, not a namesake's, and so is one SES took before this process's first
    canary, by SES's clock."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.instance = "host-1"
    tracker.sent("m-1", T0, 0.1)
    pipeline.feed(canary_event("delivery", "m-1", T0 + 302, 1000), "events", T0 + 3)
    tracker.failed("timeout", T0 + 120, 10.0)
    pipeline.feed(canary_event("delivery", "lost", T0 + 426, 1000), "events", T0 + 127)
    pipeline.feed(canary_event("delivery", "before", T0 + 290, 1000), "events", T0 + 128)
    assert tracker.events == {"matched": 1, "unmatched": 2}
    assert tracker.foreign_at is None
    # A namesake's, SES taking it ten minutes after this sesd's calls, is still told.
    pipeline.feed(canary_event("delivery", "theirs", T0 + 1000, 1000), "events", T0 + 701)
    assert tracker.foreign_at == T0 + 701


def test_a_strangers_canary_tag_reaches_the_alert_text_as_a_bounded_name() -> None:
    """Anyone who sends through the configuration set (or writes to the queue) can tag
    mail ``sesd-canary``: the value named as "another sesd" is a name of letters,
    digits, '.', '_' and '-', at most 64 of them (what a sesd sends); any other value
    is not shown (no terminal escape, Slack styling or address), and a host name is."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    tracker.sent("m-1", T0, 0.1)
    event = f.delivery([SIM], at=T0 + 1, message_id="theirs")
    event["mail"]["tags"] = {CANARY_TAG: ["\x1b[2J*pwn* <!channel> bob@corp.example" + "x" * 99]}
    pipeline.feed(f.sns(event), "events", T0 + 2, T0 + 2)
    assert tracker.foreign_from == "unnamed"
    assert "another sesd (unnamed)" in tracker.stage("canary_missing", T0 + 200, 900)
    named = f.delivery([SIM], at=T0 + 2, message_id="theirs-too")
    named["mail"]["tags"] = {CANARY_TAG: ["sesd-7f9c.eu_1"]}
    pipeline.feed(f.sns(named), "events", T0 + 3, T0 + 3)
    assert tracker.foreign_from == "sesd-7f9c.eu_1"


def test_a_skewed_clock_is_not_read_as_pipeline_time() -> None:
    """SES's clock 30 s behind sesd's: the Delivery event reads 30 s before it was
    made. The pipeline's figure is no more than what the path leaves after the call
    and SES (0.6 s of the 2 s), not 32 s."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    canary = tracker.sent("m-1", T0, 0.2)
    pipeline.feed(canary_event("delivery", "m-1", T0 - 30), "events", T0 + 2, T0 + 2)
    assert canary.pipeline_seconds == pytest.approx(0.6)
    assert canary.end_to_end_seconds == pytest.approx(2.0)


def test_a_skewed_clock_is_not_read_as_pipeline_time_for_a_bounce_either() -> None:
    """A Bounce has no time inside SES: the path leaves the pipeline what the call did
    not take (1.8 s of the 2 s), with SES's clock 10 s behind."""
    pipeline = Pipeline(core_settings(parse_config(CANARY)))
    tracker = pipeline.ledger.canary
    canary = tracker.sent("m-1", T0, 0.2)
    pipeline.feed(canary_event("bounce", "m-1", T0 - 10), "events", T0 + 2, T0 + 2)
    assert canary.ses_seconds is None
    assert canary.pipeline_seconds == pytest.approx(1.8)


def test_a_failed_call_keeps_ses_s_error_code_and_nothing_else() -> None:
    """The code SES gave is kept (it tells a paused account from a missing
    configuration set); a code that is not a name, or no code, is not."""
    assert shown_code(_client_error("SendingPausedException", 400)) == "SendingPausedException"
    assert shown_code(_client_error("bad code <x@y>", 400)) == ""
    assert shown_code(TimeoutError()) == ""


@pytest.mark.parametrize(
    ("canary", "sender"),
    [
        ("", ("prod-eu", "eu-west-1")),  # the queue's account and region
        ('region = "us-west-2"\n', ("prod-eu", "us-west-2")),
    ],
)
def test_the_canary_sends_where_its_queue_is_unless_told(
    canary: str, sender: tuple[str, str]
) -> None:
    """Its events must reach its queue, and a configuration set is a region's: the
    canary sends as its queue's account, in its queue's region, unless ``[canary]``
    says otherwise (``[aws] region`` is another)."""
    config = parse_config(
        '[aws]\nregion = "us-east-1"\n'
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/sesd"\n'
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/events"\n'
        'account = "prod-eu"\n'
        f'[canary]\nfrom = "canary@example.com"\nconfiguration_set = "sesd"\n{canary}'
    )
    assert config.canary_sender() == sender


def test_the_last_canary_back_is_absent_until_one_comes_back_and_missing_says_it() -> None:
    """``sesd_canary_last_back_timestamp_seconds`` is the send time of the newest canary
    that came back; before any has, it has no sample rather than 0, which would read
    as 1970: ``time() - x`` would say 56 years on the dashboard and fire an alert on
    the time since, with that figure, at every fresh start. That no canary came back
    is ``sesd_canary_missing``'s, present from the start (what the shipped
    SesdCanaryMissing watches): 1 once the first is past its deadline. A restart
    with the state file brings the last one back at once."""
    from prometheus_client import CollectorRegistry

    from sesd.metrics.canary import CanaryCollector

    def registry(pipeline: Pipeline, now: float) -> CollectorRegistry:
        found = CollectorRegistry()
        found.register(CanaryCollector(pipeline.ledger.canary, lambda: now))
        return found

    config = parse_config(CANARY)
    pipeline = Pipeline(core_settings(config))
    pipeline.ledger.canary.sent("m-1", T0, 0.3)
    at_start = registry(pipeline, T0 + 1)
    assert at_start.get_sample_value("sesd_canary_last_back_timestamp_seconds") is None
    assert at_start.get_sample_value("sesd_canary_missing") == 0
    late = registry(pipeline, T0 + 121)  # past the 2 min deadline
    assert late.get_sample_value("sesd_canary_last_back_timestamp_seconds") is None
    assert late.get_sample_value("sesd_canary_missing") == 1
    pipeline.feed(canary_event("delivery", "m-1", T0 + 122), "events", T0 + 123, T0 + 123)
    back = registry(pipeline, T0 + 123)
    assert back.get_sample_value("sesd_canary_last_back_timestamp_seconds") == T0
    assert back.get_sample_value("sesd_canary_missing") == 0
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    fresh = Pipeline(core_settings(config))
    restore(snapshot(pipeline.ledger, evaluator, T0 + 124), fresh.ledger, evaluator, T0 + 125)
    restarted = registry(fresh, T0 + 125)
    assert restarted.get_sample_value("sesd_canary_last_back_timestamp_seconds") == T0
