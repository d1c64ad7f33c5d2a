"""A reload that changes how a queue is read, not where (its ``concurrency``): the
old pollers' last batch is the same place's, and counts on the queue's SQS series
(those of a queue a reload moved do not: tests/test_reload_calls_in_flight.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_reload_calls_in_flight import (
    _OLD,
    SQS_SERIES,
    Standing,
    reloaded_mid_receive,
)

#: The SDK's pauses before its retries cut short: these tests count the retries and
#: read what they end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = pytest.mark.usefixtures("quick_sdk_retries")


def _two_pollers(sqs: Standing) -> str:
    """``q`` where it was, read by two pollers."""
    return _OLD.format(url=sqs.url) + "concurrency = 2\n"


async def test_the_last_batch_of_a_queue_whose_pool_a_reload_changed_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q``'s receive waits when a reload gives it two pollers (its old one is
    stopped, two start on the same queue); then it brings a message whose delete fails
    (a 500 the SDK asks again, the message failed, a refusal). That receipt, those
    errors and that retry are the place in force's: they count on ``q``'s series."""
    sqs, _, series = await reloaded_mid_receive(
        tmp_path, monkeypatch, _two_pollers, SQS_SERIES, grace="30s", message=True
    )
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
    _, _, samples = await reloaded_mid_receive(
        tmp_path, monkeypatch, _two_pollers, ("sesd_sqs_errors_total",), deny=True
    )
    errors = samples["sesd_sqs_errors_total"]
    counted = {dict(labels)["operation"]: value for labels, value in errors.items()}
    assert counted == {"receive": 1.0, "delete": 0.0, "release": 0.0, "process": 0.0}
    assert {dict(labels)["region"] for labels in errors} == {"eu-west-1"}
