"""What a sink reads of a receiver's answer: its start, not all of it. A relay, a
proxy's error page or a broken receiver may answer with a body that does not end."""

from __future__ import annotations

import time

import aiohttp
import anyio
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from sesd.alerting.sinks import PagerDutySink, Permanent, Retryable, SlackSink
from sesd.alerting.webhook import WebhookSink
from sesd.commands.demo.localhttp import LocalServer
from sesd.config import parse_config
from tests.receivers import Answer, Receiver
from tests.test_sinks import (
    Sleeps,
    delivering,
    notification,
    outcomes,
    pagerduty_config,
    slack_config,
)

#: What the endless answer writes at a time.
_CHUNK = b"x" * 65536


class _Endless(LocalServer):
    """Answers every POST with ``status`` and a body that goes on until the client
    hangs up; counts the bytes it got out."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.sent = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=self.status)
        response.content_type = "text/plain"
        await response.prepare(request)
        try:
            while True:
                await response.write(_CHUNK)
                self.sent += len(_CHUNK)
        except (ConnectionError, RuntimeError):
            return response  # the client hung up (RuntimeError: aiohttp's closing transport)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._handle)


@pytest.mark.parametrize("status", [503, 200])
async def test_an_answer_that_never_ends_is_read_no_further_than_its_start(status: int) -> None:
    """A webhook receiver answers 503 (then 200) with a body that never ends. The sink
    reads its start and says what it was at once (a 503 to retry; a 200 taken): read
    whole, the answer was held in memory until the sink's timeout, as fast as the
    network brought it (gigabytes in a 30 s timeout on a fast link), and the post
    then counted as timed out."""
    async with _Endless(status) as endless, aiohttp.ClientSession() as session:
        config = parse_config(
            f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{endless.url}"\ntimeout = "5m"\n'
        ).alerts.named_sinks()["hook"]
        sink = WebhookSink(config, session, "hook")  # type: ignore[arg-type]
        with anyio.fail_after(10):
            if status >= 500:
                with pytest.raises(Retryable, match="HTTP 503"):
                    await sink.send(notification())
            else:
                await sink.send(notification())
    assert endless.sent < 64 * 2**20  # what the sockets' buffers took, no more


async def test_slack_reads_the_start_of_a_long_answer_to_say_it_was_not_ok() -> None:
    """A proxy's page in front of Slack answers 200 with an endless body: not ``ok``,
    said at once from the start of it (a refusal, not a timeout)."""
    async with _Endless(200) as endless, aiohttp.ClientSession() as session:
        sink = SlackSink(slack_config(endless.url, timeout="5m"), session)
        with anyio.fail_after(10), pytest.raises(Permanent, match=r"not ok: x+"):
            await sink.send(notification())


@pytest.mark.parametrize("zone", ["", " -0000"])
async def test_a_retry_after_date_without_a_zone_is_read_as_utc(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429's Retry-After as an HTTP date in asctime's form (RFC 9110 has recipients
    read it; it names no zone, and is UTC), or with RFC 5322's "-0000", two minutes
    ahead, on a host whose local time is New York's: sesd waits two minutes, not five
    hours and two minutes (cut to five minutes), nor, east of UTC, a second."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        at = time.gmtime(time.time() + 120)
        header = time.strftime("%a %b %d %H:%M:%S %Y", at)
        if zone:
            header = time.strftime("%a, %d %b %Y %H:%M:%S", at) + zone
        sleeps = Sleeps()
        async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
            slack.script(Answer(429, retry_after=header))
            sink = SlackSink(slack_config(slack.url), session)
            async with delivering(sink, sleeps) as (box, _):
                box.put(notification())
                with anyio.fail_after(10):
                    await box.wait_empty()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert len(sleeps.waits) == 1
    assert 110 <= sleeps.waits[0] <= 120


@pytest.mark.parametrize(
    ("kind", "retry_after", "waited"),
    [
        ("slack", "7", 7.0),
        ("pagerduty", "7", 7.0),  # PagerDuty's 30 s is what it asks after a 429
        ("slack", "3600", 300.0),  # the longest pause, as for a 429
        ("slack", "0", 1.0),  # the shortest, as for a 429
        ("slack", "date", 120.0),
    ],
)
async def test_a_503_with_retry_after_waits_what_it_asks(
    kind: str, retry_after: str, waited: float
) -> None:
    """A receiver (or a proxy in front) answers 503 Service Unavailable with Retry-After,
    which RFC 9110 defines for 503 as for 429: the sink waits what it asks, within the
    same bounds as a 429's (a second to five minutes), then the notification goes, where
    it was posted again after a backoff from a second, into the outage."""
    if retry_after == "date":
        retry_after = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 120))
    sleeps = Sleeps()
    async with Receiver(kind) as receiver, aiohttp.ClientSession() as session:
        receiver.script(Answer(503, retry_after=retry_after))
        sink = (
            SlackSink(slack_config(receiver.url), session)
            if kind == "slack"
            else PagerDutySink(pagerduty_config(receiver.url), session)
        )
        async with delivering(sink, sleeps) as (box, _):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
        assert len(receiver.accepted) == 1
    assert len(sleeps.waits) == 1
    if retry_after[0].isdigit():
        assert sleeps.waits == [waited]
    else:  # a date: the seconds to it, as the clock read them
        assert waited - 10 <= sleeps.waits[0] <= waited


async def test_a_503_without_retry_after_is_retried_with_backoff() -> None:
    """A 503 that asks no pause (or one that does not read) is retried with backoff
    from a second, as any 5xx."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(503), Answer(503, retry_after="soon"))
        async with delivering(SlackSink(slack_config(slack.url), session), sleeps) as (box, c):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
            assert outcomes(c, "slack")["retried"] == 2
    assert len(sleeps.waits) == 2
    assert all(wait <= 2.0 for wait in sleeps.waits)


@pytest.mark.parametrize(
    ("status", "said", "gone"),
    [
        (404, "no_service", True),
        (403, "invalid_token", True),
        (410, "channel_is_archived", True),
        (400, "invalid_payload", False),
        # A relay's or a proxy's refusal in front of Slack (a Slack-compatible relay on
        # the host, a filtering proxy's page): not Slack's word on the URL, so no hint
        # to make a webhook anew.
        (404, "404 page not found", False),
        (403, "Forbidden", False),
    ],
)
async def test_a_webhook_slack_takes_no_post_at_says_to_make_a_new_one(
    status: int, said: str, gone: bool
) -> None:
    """Slack answers a webhook removed, revoked or whose channel is archived with a
    403, 404 or 410 and one of its words, and every later post to that URL alike: the
    on-call reading ``sesd.notify.failed`` is told to make a new incoming webhook,
    where to put its URL and how to check it. A 400 is the message's fault, not the
    URL's, and a refusal in other words is not Slack's: no such hint."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(status, body=said))
        sink = SlackSink(slack_config(slack.url), session, "team-mail")
        with pytest.raises(Permanent) as refused:
            await sink.send(notification())
        assert str(refused.value) == f"HTTP {status}: {said}"
        slack.script(Answer(status, body=said))
        with capture_logs() as logs:
            async with delivering(sink, sleeps) as (box, counter):
                box.put(notification())
                with anyio.fail_after(10):
                    await box.wait_empty()
    assert outcomes(counter, "team-mail")["failed"] == 1
    [line] = [e for e in logs if e["event"] == "sesd.notify.failed"]
    assert line["error"] == f"HTTP {status}: {said}"
    if gone:
        assert "make a new incoming webhook" in line["hint"]
        assert "webhook_url" in line["hint"]
        assert "sesd send-test-alert --sink team-mail" in line["hint"]
    else:
        assert "hint" not in line
