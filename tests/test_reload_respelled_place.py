"""A reload that writes a queue's place otherwise, not elsewhere (a ``region`` added
equal to the one its URL names, ``account`` left to its default): no move. The old
pollers' last batch counts on the queue's SQS series, its lines are the place's, and
its readiness goes on; a reload to another region or queue still moves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.config import QueueConfig
from sesd.runtime.reload_keys import moved_queues
from tests.test_reload_calls_in_flight import (
    SQS_SERIES,
    _logged,
    reloaded_mid_receive,
)

#: Queue ``q`` at an SQS URL that names its region (the calls go to the
#: :class:`Standing`, the ``[aws]`` endpoint; it reads the queue's name from the URL).
_NAMED = (
    'url = "https://sqs.eu-west-1.amazonaws.com/123456789012/old"\nname = "q"\n'
    "wait_time_seconds = 1\n"
)
_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/old"


async def test_the_last_batch_of_a_queue_a_reload_only_respelled_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q``'s receive waits when a reload adds ``region = "eu-west-1"``, the region
    its URL names; then it brings a message whose delete fails (a 500 the SDK asks
    again, the message failed, a refusal). The queue did not move: that receipt, those
    errors and that retry count on ``q``'s series (they counted on none, as a moved
    queue's old place's), and the refusal is an error with its fix, not ``retired``."""
    sqs, logs, series = await reloaded_mid_receive(
        tmp_path, monkeypatch, lambda _: _NAMED + 'region = "eu-west-1"\n', SQS_SERIES,
        grace="30s", message=True, before=lambda _: _NAMED,
    )  # fmt: skip
    assert sqs.deletes == [500, 200, 400]
    for name, samples in series.items():
        assert {dict(labels)["region"] for labels in samples} == {"eu-west-1"}, name
    counted = {name: sum(samples.values()) for name, samples in series.items()}
    assert counted == {
        "sesd_sqs_messages_received_total": 1.0,
        "sesd_sqs_errors_total": 2.0,
        "sesd_sqs_retries_total": 1.0,
    }
    (refused,) = _logged(logs, "sesd.sqs.delete_refused")
    assert refused["level"] == "error"
    assert "retired" not in refused


def test_a_respelled_place_is_no_move_and_another_place_is() -> None:
    """What a reload counts as a move (the queues whose readiness starts again from
    their new place): not a region added that the URL names, nor the default account
    named; another region, URL or account is."""
    was = QueueConfig(url=_URL, name="q")
    same = [
        QueueConfig(url=_URL, name="q", region="eu-west-1"),
        QueueConfig(url=_URL, name="q", account="default"),
        QueueConfig(url=_URL, name="q", concurrency=2),
    ]
    for queue in same:
        assert queue.place == was.place
        assert moved_queues([was], [queue]) == []
        assert moved_queues([queue], [was]) == []
    elsewhere = [
        QueueConfig(url=_URL.replace("eu-west-1", "us-east-1"), name="q"),
        QueueConfig(url=_URL.replace("/old", "/new"), name="q"),
        QueueConfig(url=_URL, name="q", account="other"),
        # The URL's letter case or a trailing slash: SQS holds queue URLs
        # case-sensitive, so neither is known to be the same queue.
        QueueConfig(url=_URL.replace("/old", "/Old"), name="q"),
        QueueConfig(url=_URL.replace("sqs.eu", "SQS.eu"), name="q"),
        QueueConfig(url=_URL + "/", name="q"),
    ]
    for queue in elsewhere:
        assert moved_queues([was], [queue]) == ["q"], queue
