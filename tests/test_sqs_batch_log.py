"""What the debug line of each batch (``sesd.sqs.batch``) says: how many messages the
batch brought, how many were to be deleted, and how many SQS did delete. moto's SQS
and the real poller."""

from __future__ import annotations

import io
import json
from typing import Any

from tests import factory as f
from tests.conftest import make_queue, queue_counts, send_bodies
from tests.test_sqs_edges import poller


async def test_a_batch_whose_delete_partly_failed_says_how_many_were_deleted(
    sqs: Any,
    json_logs: io.StringIO,
) -> None:
    """A batch of three countable messages, one of whose receipt handles SQS refuses
    (expired): all three were to be deleted, two were. The batch's line says both,
    not "deleted" for a message still in the queue."""
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(2)])
    messages = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))["Messages"]
    assert len(messages) == 2
    stale: Any = {
        "MessageId": "gone",
        "ReceiptHandle": "expired-handle",
        "Body": f.raw(f.delivery(["u9@one.example"])),
    }
    p, _ = poller(sqs, url)
    await p._handle([*messages, stale])
    assert await queue_counts(sqs, url) == (0, 0)
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (batch,) = [r for r in records if r["event"] == "sesd.sqs.batch"]
    assert (batch["received"], batch["to_delete"], batch["deleted"]) == (3, 3, 2)
