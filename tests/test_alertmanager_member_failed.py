"""``member_failed`` counts a member that failed while another took the post (the help
text, SesdAlertmanagerMemberFailing): not every member failing, which the outbox
counts as retried or failed."""

from __future__ import annotations

import contextlib

import aiohttp
import pytest

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.sinks import Retryable
from sesd.config import AlertmanagerConfig
from tests.test_alertmanager_members import _Member
from tests.test_sinks import notification


async def test_member_failed_is_not_counted_when_every_member_failed() -> None:
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        a.status = b.status = 503
        sink = AlertmanagerSink(AlertmanagerConfig(urls=[a.url, b.url]), session, "am")
        failed: list[str] = []
        sink.on_member_failed = failed.append
        with contextlib.suppress(Retryable):
            await sink.send(notification())
    assert failed == []


@pytest.mark.parametrize("status", [429, 503])
async def test_a_member_asking_for_a_pause_is_said_to_sit_out_not_paused(status: int) -> None:
    """Member a answers 429 (or 503) with Retry-After: 5 while b takes the post. Nothing
    pauses (the sink's notification counts as sent): a sits out a resend period. The
    line logged for it says that, and names no 5 s pause it does not take."""
    from structlog.testing import capture_logs

    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        a.status, a.headers = status, {"Retry-After": "5"}
        sink = AlertmanagerSink(AlertmanagerConfig(urls=[a.url, b.url]), session, "am")
        with capture_logs() as logs:
            await sink.send(notification())
    [line] = [log for log in logs if log["event"] == "sesd.notify.member_failed"]
    assert "paused" not in line["error"]
    assert line["error"].startswith(f"HTTP {status}")
    assert line["sitting_out_seconds"] == 60.0
    assert len(b.bodies) == 1
