"""The SQS edge on its own, against moto's server: partial batch failures, redrive checks."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import anyio

from sesd.backoff import backoff_delay
from sesd.config import parse_config
from sesd.health import Changes, Health
from sesd.logs import configure_logging
from sesd.metrics import Metrics
from sesd.pipeline import Pipeline
from sesd.sqs import QueuePoller, check_queue
from tests.conftest import make_queue, queue_counts, running, send_bodies


def poller(sqs: Any, url: str) -> tuple[QueuePoller, Metrics]:
    config = parse_config(f'[[queues]]\nurl = "{url}"\nname = "q"\n')
    pipeline = Pipeline(config)
    metrics = Metrics(pipeline, ["q"], clock=lambda: 0.0)
    return (
        QueuePoller(
            sqs,
            config.queues[0],
            pipeline=pipeline,
            metrics=metrics,
            health=Health(["q"]),
            changes=Changes(),
            stopping=anyio.Event(),
            delete_invalid=False,
            clock=lambda: 0.0,
            monotonic=lambda: 0.0,
        ),
        metrics,
    )


async def test_partial_delete_failure_is_counted_and_the_rest_deleted(sqs: Any) -> None:
    """A batch whose delete fails for one entry (an expired or invalid receipt handle) deletes
    the others, counts the failure, and does not retry a sender fault."""
    logs = io.StringIO()
    configure_logging("debug", "json", stream=logs)
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["a", "b"])
    messages = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))["Messages"]
    assert len(messages) == 2
    stale: Any = {"MessageId": "gone", "ReceiptHandle": "expired-handle", "Body": "c"}
    p, metrics = poller(sqs, url)
    await p._delete([*messages, stale])
    assert await queue_counts(sqs, url) == (0, 0)
    errors = metrics.registry.get_sample_value(
        "sesd_sqs_errors_total",
        {"queue": "q", "account": "default", "region": "", "operation": "delete"},
    )
    assert errors == 1
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    failed = [r for r in records if r["event"] == "sesd.sqs.delete_partly_failed"]
    assert len(failed) == 1
    assert failed[0]["codes"] == ["ReceiptHandleIsInvalid"]
    assert failed[0]["retrying"] == 0


async def test_queue_without_redrive_policy_is_warned_about(sqs: Any) -> None:
    """At start each queue without a RedrivePolicy gets a warning; one with a DLQ does not."""
    logs = io.StringIO()
    configure_logging("debug", "json", stream=logs)
    bare, _ = await make_queue(sqs, dlq=False)
    guarded, _ = await make_queue(sqs)
    config = parse_config(
        f'[[queues]]\nurl = "{bare}"\nname = "bare"\n[[queues]]\nurl = "{guarded}"\nname = "ok"\n'
    )
    assert await check_queue(sqs, config.queues[0], "default", "us-east-1") is False
    assert await check_queue(sqs, config.queues[1], "default", "us-east-1") is True
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    warned = [r["queue"] for r in records if r["event"] == "sesd.sqs.no_redrive_policy"]
    assert warned == ["bare"]


def test_backoff_grows_to_a_cap_with_full_jitter() -> None:
    """Delays double per attempt up to the cap; the draw scales them (full jitter)."""
    assert backoff_delay(0, rand=0.999) < 0.2
    assert backoff_delay(3, rand=1.0) == 1.6
    assert backoff_delay(50, rand=1.0) == 30.0
    assert backoff_delay(50, rand=0.0) == 0.0


async def test_a_queue_that_does_not_exist_is_an_error_named_once_and_retried_slowly(
    local_sqs: Any, sqs: Any
) -> None:
    """One configured queue does not exist: sesd logs one error naming the queue, the
    region and a hint, /readyz fails naming it, and it is retried every minute, not
    every few seconds; the other queue is consumed as usual meanwhile."""
    logs = io.StringIO()
    configure_logging("debug", "json", stream=logs)
    good, _ = await make_queue(sqs)
    missing = good.rsplit("/", 1)[0] + "/no-such-queue"
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{good}"\nname = "good"\nwait_time_seconds = 0\n'
        f'[[queues]]\nurl = "{missing}"\nname = "missing"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    async with running(config) as daemon:
        with anyio.fail_after(20):
            # The good queue answers 400 empty receives (a 0 s wait: seconds in all);
            # exponential backoff would have retried the other at least once by then.
            receives = 0

            def busy() -> bool:
                nonlocal receives
                receives += 1
                return receives > 400

            await daemon.changes.wait_for(busy)
        errors = daemon.metrics.registry.get_sample_value(
            "sesd_sqs_errors_total",
            {
                "queue": "missing",
                "account": "default",
                "region": "us-east-1",
                "operation": "receive",
            },
        )
        readyz = f"http://127.0.0.1:{daemon.http_port}/readyz"
        async with aiohttp.ClientSession() as http, http.get(readyz) as response:
            status, text = response.status, await response.text()
    assert errors == 1
    assert status == 503
    assert "missing" in text
    assert "good" not in text
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    unusable = [r for r in records if r["event"] == "sesd.sqs.queue_unusable"]
    assert len(unusable) == 1
    (record,) = unusable
    assert record["level"] == "error"
    assert record["queue"] == "missing"
    assert record["region"] == "us-east-1"
    assert record["account"] == "default"
    assert record["url"] == missing
    assert "region" in record["hint"]
    assert not [r for r in records if r["event"] == "sesd.sqs.receive_failed"]
