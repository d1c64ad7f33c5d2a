"""The rule metrics of an (account, region): what SES says of it, and sesd's estimate
of its reputation rates. Pure code."""

from __future__ import annotations

from datetime import UTC, datetime

from sesd.alerting.alert import percent
from sesd.core.accounts import AccountStatus
from sesd.core.reputation import PAUSE, REVIEW, Estimate

__all__ = ["measure_account"]


def measure_account(
    metric: str, status: AccountStatus | None, estimate: Estimate | None
) -> tuple[float | None, int, tuple[str, ...]]:
    """(value, volume for ``min_events``, lines for the alert text). A poll answers
    with volume 1; the estimate's volume is the sends it is over."""
    if metric == "sending_paused":
        if status is None or status.sending_enabled is None:
            return None, 0, ()
        return (0.0 if status.sending_enabled else 1.0), 1, _status_lines(status)
    if metric == "enforcement_not_healthy":
        if status is None or status.enforcement is None:
            return None, 0, ()
        return (0.0 if status.enforcement == "HEALTHY" else 1.0), 1, _status_lines(status)
    if metric == "quota_used_ratio":
        if status is None or status.quota_used_ratio is None:
            return None, 0, ()
        used = f"sent {status.sent_24h:g} of {status.max_24h:g} in the last 24 h"
        return status.quota_used_ratio, 1, (used,)
    kind = "bounce" if metric == "reputation_bounce_ratio" else "complaint"
    if metric not in ("reputation_bounce_ratio", "reputation_complaint_ratio"):
        raise ValueError(f"unknown account metric {metric!r}")
    if estimate is None:
        return None, 0, ()
    value = estimate.bounce_ratio if kind == "bounce" else estimate.complaint_ratio
    what = "hard bounces" if kind == "bounce" else "complaints"
    count = estimate.bounces if kind == "bounce" else estimate.complaints
    denominator = "sends" if estimate.from_sends else "delivered + bounced recipients"
    lines = [
        f"{count} {what} over the last {estimate.sends} {denominator} (sesd's estimate of "
        f"AWS's arithmetic; the mailbox simulator left out)",
        f"{estimate.to_review(kind)} more {what} among these would reach AWS's review level "
        f"({percent(REVIEW[kind])}); AWS may pause sending at {percent(PAUSE[kind])}",
    ]
    aws = status.aws.get(kind) if status is not None else None
    if aws is not None:  # 0.0 too: AWS counting none yet is worth the reader's eye
        # With its datapoint's time: AWS publishes it late and not always, so the reader
        # weighs how old it is against sesd's estimate of now.
        at = status.aws_at.get(kind) if status is not None else None
        when = "" if at is None else f", its newest datapoint {_utc(at)}"
        lines.append(f"AWS's own figure (CloudWatch): {percent(aws)}{when}")
    return value, estimate.sends, tuple(lines)


def _status_lines(status: AccountStatus) -> tuple[str, ...]:
    return (
        f"sending enabled: {status.sending_enabled}; enforcement status: "
        f"{status.enforcement or 'unknown'}; production access: {status.production}",
    )


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
