"""An account rule's value and its alert's lines, split so that an evaluation builds
no text (account_value, account_lines), answer as the one function before the split
did, kept here as the reference: for every metric, with and without a poll's status
or an estimate, a quota of zero, AWS's own figures with and without their time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.alerting.accounts import account_lines, account_value, measure_account
from sesd.alerting.alert import percent
from sesd.core.accounts import AccountStatus
from sesd.core.reputation import PAUSE, REVIEW, Estimate

_METRICS = (
    "sending_paused",
    "enforcement_not_healthy",
    "quota_used_ratio",
    "reputation_bounce_ratio",
    "reputation_complaint_ratio",
)


def reference_measure_account(
    metric: str, status: AccountStatus | None, estimate: Estimate | None
) -> tuple[float | None, int, tuple[str, ...]]:
    """measure_account as it was before account_value and account_lines (the reference)."""
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
        used = f"sent {_whole(status.sent_24h)} of {_whole(status.max_24h)} in the last 24 h"
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
    if aws is not None:
        at = status.aws_at.get(kind) if status is not None else None
        when = "" if at is None else f", its newest datapoint {_utc(at)}"
        lines.append(f"AWS's own figure (CloudWatch): {percent(aws)}{when}")
    return value, estimate.sends, tuple(lines)


def _status_lines(status: AccountStatus) -> tuple[str, ...]:
    return (
        f"sending enabled: {status.sending_enabled}; enforcement status: "
        f"{status.enforcement or 'unknown'}; production access: {status.production}",
    )


def _whole(figure: float | None) -> str:
    """A count as a whole number, never in an exponent's notation."""
    assert figure is not None
    return f"{int(figure)}" if figure == int(figure) else f"{figure:g}"


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


_FIGURES = st.dictionaries(
    st.sampled_from(["bounce", "complaint"]), st.sampled_from([0.0, 0.0004, 0.05, 1.0])
)
_STATUS = st.none() | st.builds(
    AccountStatus,
    sending_enabled=st.none() | st.booleans(),
    enforcement=st.none() | st.sampled_from(["HEALTHY", "PROBATION", "SHUTDOWN", ""]),
    production=st.none() | st.booleans(),
    max_24h=st.none() | st.sampled_from([0.0, -1.0, 200.0, 50_000.0, 2e6]),
    sent_24h=st.none() | st.sampled_from([0.0, 12.0, 50_000.0, 1_234_567.0, 1e9, 0.5]),
    aws=_FIGURES,
    aws_at=st.dictionaries(
        st.sampled_from(["bounce", "complaint"]), st.sampled_from([0.0, 1_800_000_000.5])
    ),
)
_ESTIMATE = st.none() | st.builds(
    Estimate,
    sends=st.integers(0, 20_000),
    bounces=st.integers(0, 500),
    complaints=st.integers(0, 50),
    from_sends=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(metric=st.sampled_from(_METRICS), status=_STATUS, estimate=_ESTIMATE)
def test_value_and_lines_as_the_reference(
    metric: str, status: AccountStatus | None, estimate: Estimate | None
) -> None:
    expected = reference_measure_account(metric, status, estimate)
    assert (*account_value(metric, status, estimate), account_lines(metric, status, estimate)) == (
        expected
    )
    assert measure_account(metric, status, estimate) == expected


def test_an_unknown_metric_is_refused_by_both() -> None:
    for split in (account_value, account_lines):
        with pytest.raises(ValueError, match="unknown account metric"):
            split("bounce_rate", None, None)
