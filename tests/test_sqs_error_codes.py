"""An SQS error's code is the endpoint's text: botocore takes it from the answer's
``__type`` (or its ``x-amzn-query-error`` header) as it comes, of any length, with
any character. A proxy's or a stand-in's answer must not write a line of kilobytes,
nor a terminal's control sequence, at every receive, delete or check: the code is
said escaped and cut, as a batch entry's code is."""

from __future__ import annotations

import io
import json
import socket
from types import SimpleNamespace
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiohttp import web
from botocore.exceptions import EndpointConnectionError

from sesd.commands.demo.localhttp import LocalServer
from sesd.runtime.sqs_calls import check_queue, unreached
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


async def test_a_refusal_s_long_code_is_said_cut_and_escaped(json_logs: io.StringIO) -> None:
    """A receive, a delete and a check refused with a code 8000 characters long, an
    escape sequence in each word: each line says the error in under 200 characters,
    with no control character (each wrote the code whole, 20 kB a line)."""
    async with LongCodes() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": "m1", "ReceiptHandle": "r1"}]
        assert await p._receive() is None
        await p._deletes.delete(messages)
        await check_queue(sqs, p._queue, "default", "us-east-1")
    said = [r for r in map(json.loads, json_logs.getvalue().splitlines()) if "error" in r]
    events = {r["event"] for r in said}
    assert {"sesd.sqs.receive_failed", "sesd.sqs.delete_failed"} <= events
    assert "sesd.sqs.attributes_failed" in events
    for line in said:
        assert line["error"].startswith("ClientError: E"), line["event"]
        assert len(line["error"]) < 200, line["event"]
        assert "\x1b" not in line["error"], line["event"]


async def test_an_endpoint_nothing_answers_at_is_named_with_the_setting_that_chose_it(
    json_logs: io.StringIO,
) -> None:
    """`[aws] endpoint_url` on a port nothing listens on (a local SQS not started, a
    port mistyped): the receive's warning and the check's name that endpoint and the
    setting to look at, not only "Could not connect". A token the endpoint carries in
    its query (a gateway's) is in no line: neither the hint nor the SDK's error, which
    quotes the request's URL, says it."""
    with socket.socket() as free:  # a port that was free: nothing listens on it now
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    closed = f"http://127.0.0.1:{port}"
    once = AioConfig(retries={"max_attempts": 0})
    endpoint = SimpleNamespace(url=f"{closed}/?token=SECRET")
    async with aws_client("sqs", endpoint, once) as sqs:
        p, _ = poller(sqs, f"{closed}/123456789012/q")
        assert await p._receive() is None
        assert await p._receive() is None
        await check_queue(sqs, p._queue, "default", "us-east-1")
    said = [
        r for r in map(json.loads, json_logs.getvalue().splitlines()) if r.get("level") == "warning"
    ]
    assert {r["event"] for r in said} == {"sesd.sqs.receive_failed", "sesd.sqs.attributes_failed"}
    for line in said:
        assert line["hint"] == (
            f"nothing answers at {closed}, the endpoint [aws] endpoint_url (else "
            "$AWS_ENDPOINT_URL_SQS or $AWS_ENDPOINT_URL) gives: check its host and port, and "
            "that what serves there (a local SQS) runs"
        ), line["event"]
        assert line["error"] == (
            f'EndpointConnectionError: Could not connect to the endpoint URL: "{closed}"'
        ), line["event"]
    assert "SECRET" not in json_logs.getvalue()


@pytest.mark.parametrize(
    ("endpoint", "queue_url", "whose"),
    [
        (
            "https://sqs.eu-west-1.amazonaws.com",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
            "SQS's endpoint for the queue's region",
        ),
        (
            "https://vpce-0a1b2c3d-4e5f.sqs.eu-west-1.vpce.amazonaws.com",
            "https://vpce-0a1b2c3d-4e5f.sqs.eu-west-1.vpce.amazonaws.com/123456789012/q",
            "the endpoint the queue's URL names",
        ),
        (
            "https://ops:PASSWORD@sqs.local:9324/?token=SECRET",
            "http://sqs.local/1/q",
            "[aws] endpoint_url",
        ),
        # A VPC endpoint set in [aws] endpoint_url for queues of SQS's own URLs (private
        # DNS off): the setting chose it, not the region.
        (
            "https://vpce-0a1b2c3d-4e5f.sqs.eu-west-1.vpce.amazonaws.com",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
            "the endpoint [aws] endpoint_url (else $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL or "
            "$AWS_USE_FIPS_ENDPOINT)",
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn",
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
            "SQS's endpoint for the queue's region",
        ),
    ],
)
def test_an_endpoint_not_reached_is_told_by_who_chose_it(
    endpoint: str, queue_url: str, whose: str
) -> None:
    """AWS's own endpoint is the network's to reach, one a queue URL names (a VPC
    endpoint) the network's too, any other host a setting's; a password or a token
    written into it is not said (its host and port are)."""
    hint = unreached(EndpointConnectionError(endpoint_url=endpoint), queue_url)["hint"]
    assert whose in hint
    assert "PASSWORD" not in hint
    assert "SECRET" not in hint
    assert unreached(ValueError("x"), queue_url) == {}
