"""An SQS error's code is the endpoint's text: botocore takes it from the answer's
``__type`` (or its ``x-amzn-query-error`` header) as it comes, of any length, with
any character. A proxy's or a stand-in's answer must not write a line of kilobytes,
nor a terminal's control sequence, at every receive, delete or check: the code is
said escaped and cut, as a batch entry's code is."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.io.logs import configure_logging
from sesd.runtime.sqs_calls import check_queue
from tests.conftest import aws_client
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)

#: A code no SQS gives: long, and clearing a terminal's screen at each repeat.
CODE = "E\x1b[2J" * 2000


class LongCodes(LocalServer):
    """An SQS stand-in that refuses every call with :data:`CODE`."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        body = {"__type": CODE, "message": "no"}
        return web.json_response(body, status=400, content_type="application/x-amz-json-1.0")


async def test_a_refusal_s_long_code_is_said_cut_and_escaped() -> None:
    """A receive, a delete and a check refused with a code 8000 characters long, an
    escape sequence in each word: each line says the error in under 200 characters,
    with no control character (each wrote the code whole, 20 kB a line)."""
    logs = io.StringIO()
    configure_logging("debug", "json", stream=logs)
    async with LongCodes() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": "m1", "ReceiptHandle": "r1"}]
        assert await p._receive() is None
        await p._deletes.delete(messages)
        await check_queue(sqs, p._queue, "default", "us-east-1")
    said = [r for r in map(json.loads, logs.getvalue().splitlines()) if "error" in r]
    events = {r["event"] for r in said}
    assert {"sesd.sqs.receive_failed", "sesd.sqs.delete_failed"} <= events
    assert "sesd.sqs.attributes_failed" in events
    for line in said:
        assert line["error"].startswith("ClientError: E"), line["event"]
        assert len(line["error"]) < 200, line["event"]
        assert "\x1b" not in line["error"], line["event"]
