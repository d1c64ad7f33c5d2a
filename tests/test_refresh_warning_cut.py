"""The SDK's warning of a failed credential refresh is said once an episode, by the
line a reader sees: the error escaped and cut at 300 characters. Two errors alike in
what is said (an endpoint's long text that differs only past the cut) are one line:
logged, the second would repeat the first word for word. Errors that differ in what
is said (STS throttles, then refuses) are a line each."""

from __future__ import annotations

import logging

import pytest

from sesd.io import logs
from tests.conftest import log_records, sesd_logs

pytestmark = pytest.mark.timeout(10)


def _warn(error: Exception) -> None:
    try:
        raise error
    except RuntimeError:
        logging.getLogger("aiobotocore.credentials").warning(
            "Refreshing temporary credentials failed during mandatory refresh period.",
            exc_info=True,
        )


def test_a_refresh_warning_is_kept_by_what_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = sesd_logs("info")
    monkeypatch.setattr(logs, "_clock", lambda: 1000.0)
    same = "x" * 400
    _warn(RuntimeError(same + " of one role"))
    _warn(RuntimeError(same + " of another"))
    _warn(RuntimeError("Throttling " + same))
    said = [r["event"] for r in log_records(stream)]
    assert len(said) == 2
    assert len(said[0]) < 500
    assert said[0] != said[1]
    assert "of one role" not in said[0]
