"""``member_failed`` counts a member that failed while another took the post (the help
text, SesdAlertmanagerMemberFailing): not every member failing, which the outbox
counts as retried or failed."""

from __future__ import annotations

import contextlib

import aiohttp
import pytest
from structlog.testing import capture_logs

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.sinks import Permanent, Retryable
from sesd.config import AlertmanagerConfig
from tests.test_alertmanager_members import _Member
from tests.test_alertmanager_sizes import _incident
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


@pytest.mark.parametrize(("width", "posts", "took"), [(1, 1, True), (1, 1, False), (500, 6, True)])
async def test_a_member_refusing_a_body_as_too_large_is_logged_with_the_limits_hint(
    width: int, posts: int, took: bool
) -> None:
    """Member b is behind a proxy that takes bodies of 512 bytes at most: it answers 413.
    Its ``member_failed`` line adds the hint the other sinks give, naming the size
    posted and the limit to raise (nginx's client_max_body_size), while a takes the
    post or when no member took it; then the sink's failure carries the hint too
    (``sesd.notify.failed``). A 500-domain notification goes in six bodies: the line
    says b refused all six, with the first's hint."""
    async with _Member() as a, _Member(most=512) as b, aiohttp.ClientSession() as session:
        urls = [a.url, b.url] if took else [b.url]
        sink = AlertmanagerSink(AlertmanagerConfig(urls=urls), session, "am")
        with capture_logs() as logs:
            if took:
                await sink.send(_incident(width))
            else:
                with pytest.raises(Permanent) as failure:
                    await sink.send(_incident(width))
                assert "client_max_body_size" in failure.value.hint
    (line,) = [e for e in logs if e["event"] == "sesd.notify.member_failed"]
    assert len(b.too_large) == posts
    refused = "HTTP 413" if posts == 1 else f"{posts} of {posts} posts refused: HTTP 413"
    assert line["error"].startswith(f"{refused}: <html>")
    assert "client_max_body_size" in line["hint"]
    assert f"no body of {b.too_large[0]} bytes" in line["hint"]
    assert ("sitting_out_seconds" in line) is took
