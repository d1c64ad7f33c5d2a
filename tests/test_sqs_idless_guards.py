"""A received message without an id (a stand-in's: SQS gives each one) is judged by
its own body. Two things keep it so, each tested alone here: the memory of invalid
ids is never asked of "" (a message without an id is no other message), and is never
told "" (the memory is bounded and shared by the queue's pollers: "" would take the place
of a real id, whose message would be judged, logged and counted again)."""

from __future__ import annotations

from typing import Any

import pytest

from sesd.runtime import sqs_calls
from tests import factory as f
from tests.conftest import aws_client, log_records, sesd_logs
from tests.test_sqs_edges import poller
from tests.test_sqs_odd_messages import OddMessages

pytestmark = pytest.mark.timeout(30)


async def test_a_message_without_an_id_is_read_whatever_the_memory_holds() -> None:
    """The invalid ids' memory holds "" (however it came there): a delivery without an
    id is still read and deleted (taken for that "", it was left unread)."""
    delivery = {"ReceiptHandle": "r1", "Body": f.raw(f.delivery(["a@one.example"]))}
    async with OddMessages(delivery) as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        p._invalid.add("")
        messages = await p._receive()
        assert messages is not None
        await p._handle(messages)
    assert endpoint.deleted == ["r1"]


async def test_an_invalid_message_without_an_id_takes_no_place_of_a_real_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memory keeps one id (its bound, lowered); an invalid message ``m1``, then an
    invalid one without an id, then ``m1`` again: ``m1`` is known, said invalid once
    (remembered as "", the id-less one put ``m1`` out, said and counted twice)."""
    monkeypatch.setattr(sqs_calls, "_REMEMBERED_INVALID", 1)
    logs = sesd_logs("info")
    invalid = {"MessageId": "m1", "ReceiptHandle": "r1", "Body": "not an event"}
    idless = {"ReceiptHandle": "r2", "Body": "not an event"}
    async with OddMessages() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        for batch in ([invalid], [idless], [invalid]):
            endpoint.messages = list(batch)
            messages = await p._receive()
            assert messages is not None
            await p._handle(messages)
    lines: list[dict[str, Any]] = log_records(logs)
    said = [r.get("sqs_message_id") for r in lines if r["event"] == "sesd.message.invalid"]
    assert said == ["m1", ""]


def test_the_memory_of_invalid_ids_forgets_the_oldest_past_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memory's bound lowered to two; ``a``, ``b`` and ``c`` judged invalid in turn:
    ``a``, the oldest, is forgotten (its next delivery is judged again), ``b`` and ``c``
    are known, and the memory never holds more than two."""
    monkeypatch.setattr(sqs_calls, "_REMEMBERED_INVALID", 2)
    memory = sqs_calls.InvalidMemory()
    for message_id in "abc":
        memory.add(message_id)
    assert ("a" in memory, "b" in memory, "c" in memory) == (False, True, True)
    assert len(memory) == 2
