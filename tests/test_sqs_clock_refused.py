"""A host clock minutes off from AWS's: SQS refuses every call, the signature being too
old or too new (the SDK does not correct for the offset), so sesd reads nothing and its
own check of the clock, made on answers that worked, never runs. What it says must
send the reader to the clock, not to the keys. An SQS stand-in speaking its JSON
protocol refuses as AWS does."""

from __future__ import annotations

import io
import json

import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.runtime.aws import sqs_config
from tests.conftest import aws_client
from tests.test_sqs_edges import poller

_KIND = "application/x-amz-json-1.0"
#: What AWS says of a signature made by a clock 10 minutes behind, and 10 ahead.
_EXPIRED = (
    "Signature expired: 20261204T210000Z is now earlier than 20261204T210500Z "
    "(20261204T211000Z - 5 min.)"
)
_EARLY = (
    "Signature not yet current: 20261204T212000Z is still later than 20261204T211500Z "
    "(20261204T211000Z + 5 min.)"
)


class SkewedSqs(LocalServer):
    """Every call refused for its signature's time, under ``code`` (the JSON protocol's
    type, or the query protocol's code in its compatibility header)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.code, self.message = code, message

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._refuse)

    async def _refuse(self, request: web.Request) -> web.Response:
        body = {"__type": "com.amazon.coral.service#InvalidSignatureException"}
        body["message"] = self.message
        headers = {}
        if self.code != "InvalidSignatureException":
            headers["x-amzn-query-error"] = f"{self.code};Sender"
        return web.json_response(body, status=400, headers=headers, content_type=_KIND)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("InvalidSignatureException", _EXPIRED),
        ("SignatureDoesNotMatch", _EXPIRED),
        ("InvalidSignatureException", _EARLY),
    ],
)
async def test_a_signature_refused_for_its_time_names_the_clock(
    code: str, message: str, json_logs: io.StringIO
) -> None:
    """Refused as made too long before AWS's clock, or after it, under either code:
    the hint names the clock, and the queue is failing."""
    hint, failing = await _refused(code, message, json_logs)
    assert "clock" in hint
    assert "secret access key" not in hint
    assert failing == {"q"}


async def test_a_signature_that_does_not_match_still_names_the_keys(
    json_logs: io.StringIO,
) -> None:
    """Refused for another reason than its time: the secret key is wrong."""
    message = "The request signature we calculated does not match the signature you provided."
    hint, _ = await _refused("SignatureDoesNotMatch", message, json_logs)
    assert "secret access key does not match" in hint


async def _refused(code: str, message: str, json_logs: io.StringIO) -> tuple[str, set[str]]:
    """One receive that SQS refuses with ``code`` and ``message``: the hint its
    ``sesd.sqs.queue_unusable`` line gives, and the queues failing after it."""
    async with (
        SkewedSqs(code, message) as sqs,
        aws_client("sqs", sqs, sqs_config(5, receive=True)) as client,
    ):
        p, _ = poller(client, f"{sqs.url}/123456789012/q")
        assert await p._receive() is None
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (unusable,) = [r for r in records if r["event"] == "sesd.sqs.queue_unusable"]
    return unusable["hint"], p._health.failing


async def test_a_request_expired_names_the_clock(json_logs: io.StringIO) -> None:
    """RequestExpired (the query protocol's code for a request that reached AWS more
    than 15 minutes from its date stamp: this host's clock): the hint names the clock,
    as a signature refused for its time does, not a passing failure backed off."""
    hint, failing = await _refused("RequestExpired", "Request has expired.", json_logs)
    assert "clock" in hint
    assert failing == {"q"}
