"""The rule metrics of an (account, region): what SES says of it, and sesd's estimate
of its reputation rates. Pure code."""

from __future__ import annotations

from datetime import UTC, datetime

from sesd.alerting.alert import percent
from sesd.core.accounts import AccountStatus
from sesd.core.reputation import PAUSE, REVIEW, Estimate

__all__ = ["account_lines", "account_value", "measure_account"]


def measure_account(
    metric: str, status: AccountStatus | None, estimate: Estimate | None
) -> tuple[float | None, int, tuple[str, ...]]:
    """(value, volume for ``min_events``, lines for the alert text). A poll answers
    with volume 1; the estimate's volume is the sends it is over."""
    value, volume = account_value(metric, status, estimate)
    return value, volume, account_lines(metric, status, estimate)


def account_value(
    metric: str, status: AccountStatus | None, estimate: Estimate | None
) -> tuple[float | None, int]:
    """:func:`measure_account` without its lines: what an evaluation steps on. The
    lines are read only for an alert; built at every evaluation, they were about 92,000
    instructions an evaluation for the example config's four reputation rules (925 an
    event of the replay benchmark, counted under cachegrind: 162,640 to 161,715)."""
    if metric == "sending_paused":
        if status is None or status.sending_enabled is None:
            return None, 0
        return (0.0 if status.sending_enabled else 1.0), 1
    if metric == "enforcement_not_healthy":
        if status is None or status.enforcement is None:
            return None, 0
        return (0.0 if status.enforcement == "HEALTHY" else 1.0), 1
    if metric == "quota_used_ratio":
        if status is None or status.quota_used_ratio is None:
            return None, 0
        return status.quota_used_ratio, 1
    if metric not in ("reputation_bounce_ratio", "reputation_complaint_ratio"):
        raise ValueError(f"unknown account metric {metric!r}")
    if estimate is None:
        return None, 0
    bounce = metric == "reputation_bounce_ratio"
    return (estimate.bounce_ratio if bounce else estimate.complaint_ratio), estimate.sends


def account_lines(
    metric: str, status: AccountStatus | None, estimate: Estimate | None
) -> tuple[str, ...]:
    """:func:`measure_account`'s lines for the alert text (none where it has no value)."""
    if metric == "sending_paused":
        if status is None or status.sending_enabled is None:
            return ()
        return _status_lines(status)
    if metric == "enforcement_not_healthy":
        if status is None or status.enforcement is None:
            return ()
        return _status_lines(status)
    if metric == "quota_used_ratio":
        if status is None or status.quota_used_ratio is None:
            return ()
        sent, most = _count(status.sent_24h), _count(status.max_24h)
        return (f"sent {sent} of {most} in the last 24 h",)
    kind = "bounce" if metric == "reputation_bounce_ratio" else "complaint"
    if metric not in ("reputation_bounce_ratio", "reputation_complaint_ratio"):
        raise ValueError(f"unknown account metric {metric!r}")
    if estimate is None:
        return ()
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
    return tuple(lines)


def _status_lines(status: AccountStatus) -> tuple[str, ...]:
    return (
        f"sending enabled: {status.sending_enabled}; enforcement status: "
        f"{status.enforcement or 'unknown'}; production access: {status.production}",
    )


def _count(figure: float | None) -> str:
    """A count SES gives as a double, whole as it is (``:g`` wrote a quota of
    millions as "2e+06", and 1,234,567 sent as "1.23457e+06")."""
    if figure is not None and figure.is_integer():
        return f"{figure:.0f}"
    return f"{figure:g}" if figure is not None else "?"  # (none: no ratio to tell)


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
