"""A batch delete (or release) that fails for two entries counts two failed deletes
(releases): sesd_sqs_errors_total{operation="delete"} counts messages. moto's SQS and
the real poller."""

from __future__ import annotations

from typing import Any

from tests.conftest import make_queue, said_in, send_bodies, sesd_logs
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


async def test_a_release_that_fails_for_some_entries_counts_and_says_them(sqs: Any) -> None:
    """Messages given back (a cancellation caught them before their handling): SQS
    takes one back and fails two (receipts no longer good). The two count as failed
    releases, as failed deletes count, a warning names them (they stay hidden until
    their visibility timeout), and ``sesd.sqs.released`` counts the one released."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["a"])
    messages = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))["Messages"]
    stale = [
        {"MessageId": f"gone{i}", "ReceiptHandle": f"expired-{i}", "Body": "c"} for i in (1, 2)
    ]
    p, metrics = poller(sqs, url)
    await p._deletes.release([*messages, *stale])  # type: ignore[list-item]
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "us-east-1", "operation": "release"},
    )
    assert errors == 2
    said = said_in(logs)
    assert said["sesd.sqs.released"]["count"] == 1
    failed = said["sesd.sqs.release_partly_failed"]
    assert (failed["level"], failed["failed"], failed["codes"]) == (
        "warning",
        2,
        ["ReceiptHandleIsInvalid"],
    )
