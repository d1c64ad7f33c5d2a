"""A reload that changes how a queue is read, not where (its ``concurrency``): the
old pollers' last batch is the same place's, and counts on the queue's SQS series
(those of a queue a reload moved do not: tests/test_reload_calls_in_flight.py)."""

from __future__ import annotations

import io
from pathlib import Path

import anyio
import pytest

from sesd.config import load_config
from sesd.io.logs import configure_logging
from tests import factory
from tests.conftest import running
from tests.test_reload_calls_in_flight import (
    _OLD,
    Standing,
    _config_at,
    _queue_samples,
    _until,
)


async def test_the_last_batch_of_a_queue_whose_pool_a_reload_changed_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q``'s receive waits when a reload gives it two pollers (its old one is
    stopped, two start on the same queue); then it brings a message whose delete fails
    (a 500 the SDK asks again, the message failed, a refusal). That receipt, those
    errors and that retry are the place in force's: they count on ``q``'s series."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = io.StringIO()
    configure_logging("info", "json", stream=logs)
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        body = factory.sns(factory.delivery(["a@example.com"]))
        sqs.messages = [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": body}]
        old = _OLD.format(url=sqs.url)
        path.write_text(_config_at(sqs, old, grace="30s"))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
            path.write_text(_config_at(sqs, old + "concurrency = 2\n", grace="30s"))
            assert await daemon.reload()
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
            series = {
                name: _queue_samples(daemon, name, "q")
                for name in (
                    "sesd_sqs_messages_received_total",
                    "sesd_sqs_errors_total",
                    "sesd_sqs_retries_total",
                )
            }
    assert sqs.deletes == [500, 200, 400]
    for name, samples in series.items():
        assert {dict(labels)["region"] for labels in samples} == {"eu-west-1"}, name
    counted = {name: sum(samples.values()) for name, samples in series.items()}
    assert counted == {
        "sesd_sqs_messages_received_total": 1.0,
        "sesd_sqs_errors_total": 2.0,
        "sesd_sqs_retries_total": 1.0,
    }


async def test_a_refusal_of_a_queue_whose_pool_a_reload_changed_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the receive is refused: the old poller judges nothing (its
    successors do), but the refusal is the place's and counts on ``q``'s series."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = io.StringIO()
    configure_logging("info", "json", stream=logs)
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        old = _OLD.format(url=sqs.url)
        path.write_text(_config_at(sqs, old))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
            path.write_text(_config_at(sqs, old + "concurrency = 2\n"))
            assert await daemon.reload()
            sqs.deny = True
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
            errors = _queue_samples(daemon, "sesd_sqs_errors_total", "q")
    counted = {dict(labels)["operation"]: value for labels, value in errors.items()}
    assert counted == {"receive": 1.0, "delete": 0.0, "release": 0.0, "process": 0.0}
    assert {dict(labels)["region"] for labels in errors} == {"eu-west-1"}
