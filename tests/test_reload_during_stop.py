"""A reload that comes while sesd stops (a SIGHUP in the grace period): it starts
nothing, but what it moved or removed is no longer in force. The pollers still ending
their last receive read a place the config no longer names: what it answers speaks
for no queue in force."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from sesd.config import load_config
from tests import factory
from tests.conftest import running, sesd_logs
from tests.test_reload_calls_in_flight import (
    _OLD,
    SQS_SERIES,
    Standing,
    _config_at,
    _logged,
    _moved,
    _queue_samples,
    _until,
)

#: The SDK's pauses before its retries cut short: these tests count the retries and
#: read what they end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = pytest.mark.usefixtures("quick_sdk_retries")


async def test_a_queue_moved_by_a_reload_during_a_stop_counts_its_old_place_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop begins while ``q``'s receive waits at its place in eu-west-1 (a grace
    period long enough to let it end); a reload then moves ``q`` to us-east-1; the old
    place answers a message, whose delete it fails. The message is processed, but the
    old place's receipt, delete errors and retries count on none of ``q``'s series (all
    counted on its us-east-1 ones: the pollers of the place the reload left were still
    taken for the queue in force), and its answer does not make ``q`` ready (it did,
    ``q``'s new place never having been asked)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        body = factory.sns(factory.delivery(["a@example.com"]))
        sqs.messages = [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": body}]
        path.write_text(_config_at(sqs, _OLD.format(url=sqs.url), grace="30s"))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
            daemon.stop()
            path.write_text(_config_at(sqs, _moved(sqs), grace="30s"))
            assert await daemon.reload()
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
            names = ("sesd_messages_total", *SQS_SERIES)
            series = {name: _queue_samples(daemon, name, "q") for name in names}
            ready, stale = daemon.health.ready(daemon.monotonic())
    assert sqs.deletes == [500, 200, 400]
    assert sum(series.pop("sesd_messages_total").values()) == 1
    for name, samples in series.items():
        assert {dict(labels)["region"] for labels in samples} == {"us-east-1"}, name
    counted = {name: sum(samples.values()) for name, samples in series.items()}
    assert counted == dict.fromkeys(series, 0.0)
    assert (ready, stale) == (False, ["q"])
    assert _logged(logs, "sesd.sqs.queue_unusable") == []


async def test_two_reloads_during_a_stop_that_move_a_queue_and_back_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a stop, a reload moves ``q`` (its pollers no longer in force, none
    started), and another moves it back: both apply, and the stop ends as asked (the
    second finds no pollers of the place the first moved ``q`` to: none started)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    path = tmp_path / "sesd.toml"
    async with Standing() as sqs:
        path.write_text(_config_at(sqs, _OLD.format(url=sqs.url), grace="30s"))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
            daemon.stop()
            for keys in (_moved(sqs), _OLD.format(url=sqs.url)):
                path.write_text(_config_at(sqs, keys, grace="30s"))
                assert await daemon.reload()
            sqs.receives.set()
            await _until(lambda: "sesd.queue.stopped" in logs.getvalue())
    assert _logged(logs, "sesd.config.reload_failed") == []
