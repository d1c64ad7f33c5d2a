"""An SQS answer's list may hold ``null`` where an entry should be: botocore's parser
keeps a list's nulls as ``None`` (it reads every list as sparse) and checks no member,
so a proxy's or a stand-in's answer hands sesd a ``None`` among the failed entries of
a batch call, or among the messages of a receive. Such an entry is an answer's fault,
told as any other entry that names nothing: never the poller's end (restarted 10 s
later, at each such answer, its batch neither deleted nor released)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from tests import factory as f
from tests.conftest import aws_client, said_in, sesd_logs
from tests.test_malformed_entries import OddCodes
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)


class NullFailures(OddCodes):
    """A stand-in whose batch calls take the first entry and list the others' failures
    as ``null``; its receive brings a ``null`` before one message."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[str] = []

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        body = await request.json()
        if operation == "ReceiveMessage":
            body = f.raw(f.delivery(["a@one.example"]))
            message = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": body}
            answer: dict[str, Any] = {"Messages": [None, message]}
        else:
            entries = body["Entries"]
            self.deleted += [e["ReceiptHandle"] for e in entries[:1]]
            answer = {"Successful": [{"Id": entries[0]["Id"]}], "Failed": [None] * 2}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


@pytest.mark.parametrize("call", ["delete", "release"])
async def test_a_null_failed_entry_is_a_failure_naming_no_entry(call: str) -> None:
    """Three messages deleted (released): the stand-in takes the first and lists two
    failures as ``null``. Two failed entries are counted and warned of, as failures
    naming no entry are, and the call returns (raised, it ended the poller)."""
    logs = sesd_logs("info")
    async with NullFailures() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(3)]
        await getattr(p._deletes, call)(messages)
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": call},
    )
    assert errors == 2
    said = said_in(logs)
    assert said[f"sesd.sqs.{call}_partly_failed"]["failed"] == 2


async def test_a_null_among_a_receive_s_messages_is_passed_over() -> None:
    """A receive brings ``null`` and one message: the message is handled and deleted,
    one message counted received, and the batch ends (raised, the ``null`` ended the
    poller before the delete: the message came back as a duplicate)."""
    async with NullFailures() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages = await p._receive()
        assert messages is not None
        await p._handle(messages)
    assert endpoint.deleted == ["r1"]
    received = metrics.registry.get_sample_value(
        "sesd_sqs_messages_received_total",
        {"queue": "q", "account": "default", "region": "us-east-1"},
    )
    assert received == 1
