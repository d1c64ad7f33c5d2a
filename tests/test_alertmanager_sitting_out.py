"""Members of an Alertmanager pair that fail in turn: one sitting out is owed the
resolve it missed; one refusing while the other is down is a post to retry. Two
Alertmanager-like members and the real sink."""

from __future__ import annotations

import aiohttp
import pytest

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import Retryable
from sesd.config import AlertmanagerConfig, Duration
from tests.proxy import Proxy
from tests.test_alertmanager_members import _ended, _Member
from tests.test_sinks import alert, notification


async def test_a_member_sitting_out_when_the_resolve_goes_is_owed_it() -> None:
    """a blips (503) on the firing and sits out a resend period; the alert resolves
    meanwhile. The resolve goes to b only; a must be owed it and get it once its time
    out is over, or it keeps the alert firing until endsAt and notifies it again."""
    now, wall = [0.0], [1.8e9]
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        sink = AlertmanagerSink(
            AlertmanagerConfig(urls=[a.url, b.url]), session, "am", lambda: now[0], lambda: wall[0]
        )
        a.status = 503
        await sink.send(notification())  # b takes it; a sits out 60 s
        a.status = 200
        now[0], wall[0] = 10.0, 1.8e9 + 10
        await sink.send(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
        now[0], wall[0] = 61.0, 1.8e9 + 61
        await sink.catch_up()
        assert _ended(a.bodies[-1]), "member a never got the resolve"


async def test_one_member_refusing_and_one_down_is_retried() -> None:
    """a refuses for good (400), b times out: the post failed everywhere, and b may take
    it on a retry: the outbox must be told Retryable, not Permanent (no retry)."""
    async with (
        _Member() as a,
        _Member() as behind,
        Proxy(behind.port) as b,
        aiohttp.ClientSession() as session,
    ):
        a.status = 400
        b.stall()
        config = AlertmanagerConfig(urls=[a.url, b.url], timeout=Duration("1s"))
        sink = AlertmanagerSink(config, session, "am")
        with pytest.raises(Retryable):
            await sink.send(notification())
