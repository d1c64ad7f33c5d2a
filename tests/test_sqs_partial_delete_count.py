"""A batch delete that fails for two entries counts two failed deletes:
sesd_sqs_errors_total{operation="delete"} counts messages. moto's SQS and the real
poller."""

from __future__ import annotations

from typing import Any

from tests.conftest import make_queue, send_bodies
from tests.test_sqs_edges import poller


async def test_two_failed_entries_count_two(sqs: Any) -> None:
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["a"])
    messages = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))["Messages"]
    stale = [
        {"MessageId": f"gone{i}", "ReceiptHandle": f"expired-{i}", "Body": "c"} for i in (1, 2)
    ]
    p, metrics = poller(sqs, url)
    await p._deletes.delete([*messages, *stale])  # type: ignore[list-item]
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"},
    )
    assert errors == 2
