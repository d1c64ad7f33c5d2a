"""``member_failed`` counts a member that failed while another took the post (the help
text, SesdAlertmanagerMemberFailing): not every member failing, which the outbox
counts as retried or failed."""

from __future__ import annotations

import contextlib

import aiohttp

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
