"""A queue's check (GetQueueAttributes, for its redrive policy) answered 200 with a page
that is not SQS's (a captive proxy's login page): the SDK reads a body it cannot parse
as an answer with no attributes. That says nothing of the queue's dead-letter queue:
the check is told as failed, as a receive answered so is, not as a queue without one."""

from __future__ import annotations

import io
import json

import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.io.logs import configure_logging
from sesd.runtime.sqs_calls import check_queue
from tests.conftest import aws_client
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)


class LoginPage(LocalServer):
    """Answers every call with 200 and a login page."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>Log in</html>", content_type="text/html")


async def test_a_page_answered_to_the_check_is_no_missing_dead_letter_queue() -> None:
    """The check of a queue behind a login page: not the queue's answer (readiness is
    not told), no warning to add a dead-letter queue, and the failure said with what
    the answer was (it warned ``sesd.sqs.no_redrive_policy``)."""
    logs = io.StringIO()
    configure_logging("debug", "json", stream=logs)
    answered: list[bool] = []
    async with LoginPage() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        checked = await check_queue(
            sqs, p._queue, "default", "us-east-1", lambda: answered.append(True)
        )
    assert checked is False
    assert not answered
    said = {r["event"]: r for r in map(json.loads, logs.getvalue().splitlines())}
    assert "sesd.sqs.no_redrive_policy" not in said
    failed = said["sesd.sqs.attributes_failed"]
    assert failed["level"] == "warning"
    assert (
        failed["error"]
        == "ValueError: an answer of type 'text/html; charset=utf-8', not SQS's JSON"
    )
