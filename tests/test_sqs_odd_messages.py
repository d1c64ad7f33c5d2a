"""A receive's message whose members are not SQS's text (a proxy's or a stand-in's
answer: botocore's parser checks no member's type, so an id may come as a list, a
receipt handle as a number, a body as an object). Such a message is the answer's
fault: never the poller's end, never what keeps the batch's other messages from
being deleted, never told as a bug of sesd's; and a message without an id is not
taken for another without one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from tests import factory as f
from tests.conftest import aws_client, log_records, sesd_logs
from tests.test_malformed_entries import OddCodes
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)


class OddMessages(OddCodes):
    """A stand-in whose receive brings :attr:`messages` and whose batch calls take
    every entry (their receipt handles kept in :attr:`deleted`)."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        super().__init__()
        self.messages = list(messages)
        self.deleted: list[str] = []

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        body = await request.json()
        if operation == "ReceiveMessage":
            answer: dict[str, Any] = {"Messages": self.messages}
        else:
            entries = body["Entries"]
            self.deleted += [e["ReceiptHandle"] for e in entries]
            answer = {"Successful": [{"Id": e["Id"]} for e in entries]}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


def _message(n: int, **members: Any) -> dict[str, Any]:
    """Message ``n``: a delivery to one address, as SQS gives it, but for ``members``."""
    body = f.raw(f.delivery([f"a{n}@one.example"]))
    return {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": body, **members}


async def _batch(endpoint: OddMessages) -> list[dict[str, Any]]:
    """One receive of ``endpoint``'s messages, handled and deleted; the log's lines."""
    logs = sesd_logs("info")
    async with endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages = await p._receive()
        assert messages is not None
        await p._handle(messages)
    return log_records(logs)


@pytest.mark.parametrize("odd", [["m2"], {"id": "m2"}])
async def test_a_message_id_that_is_no_text_is_no_poller_s_end(odd: Any) -> None:
    """The second message's id is a list (an object): both messages are handled and
    deleted (raised, the id ended the poller, the first counted but not deleted: back
    as a duplicate after its visibility timeout, at each such answer)."""
    endpoint = OddMessages(_message(1), _message(2, MessageId=odd))
    await _batch(endpoint)
    assert endpoint.deleted == ["r1", "r2"]


async def test_a_receipt_handle_that_is_no_text_keeps_no_other_undeleted() -> None:
    """The second message's receipt handle is a number: the first is deleted, with no
    warning (the SDK refused the whole batch, tried again, for that one entry: every
    message of it left undeleted, counted again as a duplicate)."""
    endpoint = OddMessages(_message(1), _message(2, ReceiptHandle=7))
    lines = await _batch(endpoint)
    assert endpoint.deleted == ["r1"]
    assert [r["event"] for r in lines if r["event"].startswith("sesd.sqs.")] == []


@pytest.mark.parametrize("body", [{"eventType": "Delivery"}, ["x"], 7])
async def test_a_body_that_is_no_text_is_an_invalid_message_not_a_bug(body: Any) -> None:
    """The message's body is an object (a list, a number): an invalid message (left for
    the dead-letter queue), not ``sesd.pipeline.failed``, an error with a traceback
    telling of a bug in sesd; a field of the wrong type (``schema``), not a body that
    is "not JSON", which sends a person to look for bytes that are not there."""
    endpoint = OddMessages(_message(1, Body=body))
    lines = await _batch(endpoint)
    events = {r["event"]: r for r in lines}
    assert "sesd.pipeline.failed" not in events
    invalid = events["sesd.message.invalid"]
    assert (invalid["sqs_message_id"], invalid["reason"]) == ("m1", "schema")
    assert invalid["detail"].startswith("body is no text")
    assert endpoint.deleted == []


async def test_a_message_without_an_id_is_not_judged_by_another_s() -> None:
    """Two messages without an id, the first invalid: the second, a delivery, is read
    and deleted (judged by the first's verdict, it was left in the queue unread, as
    any later message without an id, for as long as sesd ran)."""
    first = {"ReceiptHandle": "r1", "Body": "not an event"}
    second = _message(2)
    del second["MessageId"]
    endpoint = OddMessages(first, second)
    await _batch(endpoint)
    assert endpoint.deleted == ["r2"]


async def test_a_message_id_is_said_escaped_and_cut() -> None:
    """An invalid message whose id is a long text with a terminal's escape (SQS's are
    UUIDs): its line says the id escaped and cut, as an event's text is."""
    endpoint = OddMessages({"MessageId": "m\x1b[2J" * 1000, "ReceiptHandle": "r1", "Body": "x"})
    lines = await _batch(endpoint)
    said = {r["event"]: r for r in lines}["sesd.message.invalid"]["sqs_message_id"]
    assert "\x1b" not in said
    assert len(said) <= 300


async def test_a_receive_count_is_said_as_text_escaped_and_cut() -> None:
    """An invalid message whose ``ApproximateReceiveCount`` is a long text with a
    terminal's escape (SQS's is a number's digits): said escaped and cut."""
    attributes = {"ApproximateReceiveCount": "1\x1b[2J" * 1000}
    message = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": "x", "Attributes": attributes}
    lines = await _batch(OddMessages(message))
    said = {r["event"]: r for r in lines}["sesd.message.invalid"]["receive_count"]
    assert "\x1b" not in said
    assert len(said) <= 300


async def test_a_bug_that_quotes_the_body_logs_its_traceback_with_the_text_cleaned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in the pipeline raises an error quoting what the message held (as
    ``int()`` quotes what it could not read): ``sesd.pipeline.failed`` keeps the
    traceback's frames, for the report, but the error's text is a stranger's: its
    address hidden, a terminal's escape escaped, cut short (whole, it put the address,
    and a megabyte of body, into every such line). The message is left for SQS to
    deliver again, as before."""
    quoted = "to victim@one.example \x1b[2J" + "x" * 100_000

    def raises(*_: Any) -> Any:
        raise ValueError(f"invalid literal: {quoted!s}") from KeyError(quoted)

    endpoint = OddMessages(_message(1))
    monkeypatch.setattr("sesd.core.pipeline.Pipeline.feed", raises)
    lines = await _batch(endpoint)
    (failed,) = [r for r in lines if r["event"] == "sesd.pipeline.failed"]
    said = json.dumps(failed)
    assert "victim@" not in said
    assert "\x1b" not in failed["exception"]
    assert len(said) < 5_000
    assert "Traceback (most recent call last)" in failed["exception"]
    assert "in _judge" in failed["exception"]
    assert "KeyError" in failed["exception"]  # the cause, as a traceback says it
    assert failed["error"] == "ValueError"
    assert endpoint.deleted == []
