"""SES timestamps: every ISO 8601 form SES (or a hand-made fixture) writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.timestamps import unix_seconds

#: Every millisecond from year 1 to 9999, as a UTC datetime.
MOMENTS = st.datetimes(  # hypothesis takes naive bounds
    min_value=datetime(1, 1, 1),  # noqa: DTZ001
    max_value=datetime(9999, 12, 31, 23, 59, 59, 999000),  # noqa: DTZ001
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC))


def _ses(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(MOMENTS)
def test_ses_form_reads_every_instant(moment: datetime) -> None:
    """Any instant in SES's form reads as its Unix time, to the bit: event keys hash
    the time, and keys in a state file must match after an upgrade."""
    assert unix_seconds(_ses(moment)) == moment.timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-15T10:00:00.000+02:00", datetime(2027, 1, 15, 8, tzinfo=UTC)),
        ("2027-01-15T08:00:00Z", datetime(2027, 1, 15, 8, tzinfo=UTC)),
        ("2027-01-15T08:00:00.000", datetime(2027, 1, 15, 8, tzinfo=UTC)),  # no zone: UTC
        ("2027-01-15T08:00:00.123456Z", datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC)),
        (
            "2027-01-15T08:00:00.250-05:30",
            datetime(2027, 1, 15, 13, 30, 0, 250000, tzinfo=UTC),
        ),
    ],
)
def test_other_iso_forms_read_through_datetime(text: str, expected: datetime) -> None:
    assert unix_seconds(text) == pytest.approx(expected.timestamp(), abs=1e-6)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2027-02-30T08:00:00.000Z", "2027-01-15T25:00:00Z", "\ud800"]
)
def test_not_a_timestamp_raises(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        unix_seconds(text)


def test_one_millisecond_apart_stays_apart() -> None:
    """Millisecond steps survive the float arithmetic (dedup keys hash the time)."""
    start = datetime(2027, 1, 15, 8, tzinfo=UTC)
    times = [unix_seconds(_ses(start + timedelta(milliseconds=i))) for i in range(2000)]
    assert times == sorted(set(times))
