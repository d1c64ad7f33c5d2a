"""The canary's words for the on-call person: which stage of the path looks at fault,
and the figures of the last canary that came back (sesd.core.canary keeps the books)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sesd.core.canary import CanaryTracker

__all__ = ["notes", "stage"]

#: What an SES error code on a failed call tells the on-call person to look at.
_CODE_HINTS: Final = {
    "SendingPausedException": "SES has paused sending for the account: every email fails",
    "AccountSuspendedException": "SES has suspended the account: every email fails",
    "NotFoundException": "the configuration set does not exist in the canary's region",
    "MessageRejected": "an identity not verified in the canary's region, or the sandbox",
    "MailFromDomainNotVerifiedException": "the MAIL FROM domain is not verified",
    "AccessDeniedException": "the canary's credentials may not call ses:SendEmail",
    **dict.fromkeys(
        ("TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"),
        "the account's maximum send rate or daily sending quota is reached (the canary "
        "counts against the rate): the account's own mail is refused too; see "
        "sesd_ses_quota_used_ratio and sesd_ses_max_send_rate, and ask AWS for more",
    ),
}

#: Missing canaries, each with its Send event, none ever back: enough that SES holding
#: every one of them reads as less likely than a set that does not publish Delivery.
_NO_DELIVERY_AFTER: Final = 3


def stage(tracker: CanaryTracker, metric: str, now: float, window: float) -> str:
    """Which stage of the path looks slow, in words the on-call person can act on."""
    if metric == "canary_send_latency_seconds":
        return "API call (SendEmail is slow: client -> SES)"
    missing = tracker.missing(now, now - window)
    failed = [c for c in missing if c.error]
    if failed:
        last = failed[-1]
        hint = _CODE_HINTS.get(last.code, "")
        code = f": {last.code}" + (f", {hint}" if hint else "") if last.code else ""
        return f"API call (SendEmail failed: {last.error}{code})"
    if not missing:
        return "none (canaries come back)"
    oldest = missing[0]
    if tracker.foreign_at is not None and tracker.foreign_at > now - window:
        # Another sesd's canaries arrive here: its consumer may take ours.
        return (
            f"unsure: canary events of another sesd ({tracker.foreign_from}) arrive on queue "
            f"{tracker.queue}, which may take this one's events; give each sesd's canary "
            "a queue of its own"
        )
    if all(c.accepted_at is not None for c in missing):
        return _accepted(tracker, now)
    if tracker.last_event_at is not None and tracker.last_event_at > oldest.sent_at:
        return (
            "inside SES, or the canary configuration set's event destination (no "
            f"Delivery, while other events arrive on queue {tracker.queue})"
        )
    return (
        f"event pipeline (nothing has arrived on queue {tracker.queue} since "
        f"{_when(tracker.last_event_at)}: check the configuration set's event destination, "
        "the SNS subscription, the queue and sesd_sqs_errors_total)"
    )


def _accepted(tracker: CanaryTracker, now: float) -> str:
    """Missing canaries whose Send event arrived: SES holds them, or the configuration
    set publishes Send but not what brings a canary back, which looks the same canary by
    canary. Several of them and never one back reads as the second."""
    if tracker.last_done is None:
        held = sum(1 for c in tracker.missing(now) if c.accepted_at is not None)
        if held >= _NO_DELIVERY_AFTER:
            return (
                "the canary configuration set's event destination (Send events arrived for "
                f"{held} canaries, and not one has come back: does the set publish Delivery "
                "events, or, to a bounce address, Bounce?), or inside SES"
            )
    return (
        "inside SES (the Send event arrived, no Delivery yet), or the canary configuration "
        "set does not publish Delivery events (nor, to a bounce address, Bounce)"
    )


def notes(tracker: CanaryTracker) -> list[str]:
    """The last returned canary's stage figures, for alert text."""
    done = tracker.last_done
    if done is None:
        return ["no canary has come back yet"]
    ses = "-" if done.ses_seconds is None else f"{done.ses_seconds:.2f}s"
    return [
        f"last canary back ({_when(done.sent_at)}): API call {done.send_seconds:.2f}s, "
        f"inside SES {ses}, event pipeline {done.pipeline_seconds or 0.0:.2f}s, "
        f"end to end {done.end_to_end_seconds or 0.0:.2f}s"
    ]


def _when(t: float | None) -> str:
    if t is None:
        return "start-up"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
