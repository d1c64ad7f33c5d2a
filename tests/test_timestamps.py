"""SES timestamps read without datetime, checked against datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.timestamps import NOT_SES_FORM, ses_form, unix_seconds

#: Every millisecond from year 1 to 9999, as a UTC datetime.
MOMENTS = st.datetimes(  # hypothesis takes naive bounds
    min_value=datetime(1, 1, 1),  # noqa: DTZ001
    max_value=datetime(9999, 12, 31, 23, 59, 59, 999000),  # noqa: DTZ001
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC))


def _ses(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(MOMENTS)
def test_ses_form_is_datetimes_reading(moment: datetime) -> None:
    """Any instant in SES's form reads as datetime reads it, to the bit: event keys
    hash the time, and keys in a state file must match after an upgrade."""
    text = _ses(moment)
    assert ses_form(text) == moment.timestamp()
    assert unix_seconds(text) == moment.timestamp()


@pytest.mark.parametrize(
    "text",
    [
        "1970-01-01T00:00:00.000Z",
        "1969-12-31T23:59:59.999Z",
        "2000-02-29T12:00:00.000Z",  # leap: divisible by 400
        "2024-02-29T00:00:00.001Z",
        "2027-01-15T08:00:00.000Z",
        "2027-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
    ],
)
def test_ses_form_edges(text: str) -> None:
    assert ses_form(text) == datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    "text",
    [
        "2027-01-15T08:00:00.000+00:00",  # another form: datetime reads it
        "2027-01-15T08:00:00Z",
        "2027-01-15 08:00:00.000Z",
        "2027/01/15T08:00:00.000Z",
        "2027-13-15T08:00:00.000Z",
        "2027-00-15T08:00:00.000Z",
        "2027-01-00T08:00:00.000Z",
        "2027-04-31T08:00:00.000Z",
        "2027-02-29T08:00:00.000Z",  # not a leap year
        "1900-02-29T08:00:00.000Z",  # divisible by 100, not 400
        "2027-01-15T24:00:00.000Z",
        "2027-01-15T08:60:00.000Z",
        "2027-01-15T08:00:60.000Z",
        "0000-01-15T08:00:00.000Z",
        "2027-01-15T08:00:00.0a0Z",
        "2027-0\u0661-15T08:00:00.000Z",  # a digit, but not an ASCII one
        "2027-01-15T08:00:00.000\ud800",  # a lone surrogate
        "-027-01-15T08:00:00.000Z",
    ],
)
def test_ses_form_rejects_anything_else(text: str) -> None:
    assert ses_form(text) == NOT_SES_FORM


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
    times = [ses_form(_ses(start + timedelta(milliseconds=i))) for i in range(2000)]
    assert times == sorted(set(times))
