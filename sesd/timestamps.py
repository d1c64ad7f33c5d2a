"""SES timestamps -> Unix seconds, without building a ``datetime`` on the hot path.

SES writes every timestamp in one form, ``2027-01-15T08:00:00.000Z``. Compiled
(``make compiled``), :func:`unix_seconds` reads that form with integer arithmetic
in about a fifth of the time ``datetime.fromisoformat(...).timestamp()`` takes;
interpreted, the ``datetime`` route is the faster one and is taken instead. Any
other ISO 8601 form goes through ``datetime`` in both builds, and a timestamp
without a zone is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # native 64-bit integers when compiled; plain ints otherwise
    from mypy_extensions import i64

__all__ = ["ses_form", "unix_seconds"]

#: Whether this module runs as native code (mypyc builds it into a shared library).
_NATIVE: Final = not __file__.endswith(".py")

#: What :func:`ses_form` returns for text not in SES's form (no real time is this far back).
NOT_SES_FORM: Final = -1.0e18


def unix_seconds(text: str) -> float:
    """The Unix time of an ISO 8601 timestamp. Raises ValueError if ``text`` is not one."""
    if _NATIVE and len(text) == 24:
        seconds = ses_form(text)
        if seconds != NOT_SES_FORM:
            return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def ses_form(text: str) -> float:
    """Unix seconds of ``YYYY-MM-DDTHH:MM:SS.mmmZ``, or :data:`NOT_SES_FORM` for
    anything else, a date that does not exist included."""
    try:
        raw = text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return NOT_SES_FORM
    if (
        len(raw) != 24
        or raw[4] != 45  # -
        or raw[7] != 45
        or raw[10] != 84  # T
        or raw[13] != 58  # :
        or raw[16] != 58
        or raw[19] != 46  # .
        or raw[23] != 90  # Z
    ):
        return NOT_SES_FORM
    year = _number(raw, 0, 4)
    month = _number(raw, 5, 2)
    day = _number(raw, 8, 2)
    hour = _number(raw, 11, 2)
    minute = _number(raw, 14, 2)
    second = _number(raw, 17, 2)
    millis = _number(raw, 20, 3)
    if (
        year < 1
        or millis < 0
        or not 1 <= month <= 12
        or not 1 <= day <= _days_in_month(year, month)
        or not 0 <= hour < 24
        or not 0 <= minute < 60
        or not 0 <= second < 60
    ):
        return NOT_SES_FORM
    seconds: i64 = _days_since_epoch(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    # One division of an exact count of milliseconds: the double datetime gives, to the bit
    # (dedup keys hash it, and a state file outlives a version).
    return float(seconds * 1000 + millis) / 1000.0


def _number(raw: bytes, start: i64, width: i64) -> i64:
    """The decimal number in ``raw[start:start + width]``, or -1 if a byte is not a digit."""
    value: i64 = 0
    for i in range(start, start + width):
        digit: i64 = raw[i] - 48
        if digit < 0 or digit > 9:
            return -1
        value = value * 10 + digit
    return value


def _days_in_month(year: i64, month: i64) -> i64:
    # No table: compiled code would build a table constant afresh at every call.
    if month == 2:
        return 29 if _leap(year) else 28
    return 30 + ((month + month // 8) & 1)  # 31 in odd months to July, even from August


def _leap(year: i64) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_since_epoch(year: i64, month: i64, day: i64) -> i64:
    """Days from 1970-01-01 to a date of the proleptic Gregorian calendar (counted
    in eras of 400 years, each year starting in March so that leap days come last)."""
    if month <= 2:
        year -= 1
    era: i64 = year // 400
    year_of_era: i64 = year - era * 400
    day_of_year: i64 = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era: i64 = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
