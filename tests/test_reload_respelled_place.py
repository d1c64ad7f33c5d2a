"""A reload that writes a queue's place otherwise, not elsewhere (a ``region`` added
equal to the one its URL names, ``account`` left to its default): no move. The old
pollers' last batch counts on the queue's SQS series, its lines are the place's, and
its readiness goes on; a reload to another region or queue still moves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import QueueConfig, load_config
from sesd.runtime.reload_keys import moved_queues
from tests import factory as f
from tests.conftest import make_queue, running
from tests.test_alerting_e2e import Clock
from tests.test_reload_calls_in_flight import (
    SQS_SERIES,
    _logged,
    reloaded_mid_receive,
)
from tests.test_reload_moved_ready import HoldingFront, _config, _name, _readyz

#: The SDK's pauses before its retries cut short: these tests count the retries and
#: read what they end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = pytest.mark.usefixtures("quick_sdk_retries")

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


async def test_a_queue_a_reload_only_respelled_stays_ready(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """``q`` reads at an SQS URL naming us-east-1 (moto behind a front, the ``[aws]``
    endpoint), and is ready; then a reload adds ``region = "us-east-1"`` while every
    call of ``q`` hangs from then on. ``q`` stays ready (/readyz 200): it answered a
    moment ago where it is still read. Counted a move, it was not ready (503 naming
    ``q``) until a call answered again."""
    url, _ = await make_queue(sqs, dlq=False)
    named = f"https://sqs.us-east-1.amazonaws.com/123456789012/{_name(url)}"
    clock = Clock(f.T0)  # the daemon's wall and monotonic time: it moves when told
    path = tmp_path / "sesd.toml"
    async with HoldingFront(local_sqs.url, _name(url)) as front:
        front.release.set()  # every call passes until the reload
        path.write_text(_config(front, named))
        async with running(load_config(str(path)), clock=clock, config_path=path) as daemon:

            def ready() -> bool:
                return daemon.health.ready(clock())[0]

            with anyio.fail_after(20):
                await daemon.changes.wait_for(ready)
            front.releases[_name(url)] = anyio.Event()
            path.write_text(_config(front, named).replace(
                "wait_time_seconds", 'region = "us-east-1"\nwait_time_seconds'
            ))  # fmt: skip
            assert await daemon.reload()
            assert daemon.config.queues[0].region == "us-east-1"
            assert daemon.health.ready(clock()) == (True, [])
            assert await _readyz(daemon.http_port) == (200, "ready\n")
            front.close()
