"""What the old pollers of a queue a reload moved hear in their last batch is told as
the old place's: logged with ``retired: true`` (a refused delete or release at info,
without a fix to make), as their refused receive is, and counted on none of the
queue's SQS series (those of the place in force); where the reload left the queue
(only its ``concurrency`` changed), the same refusal is the place's and said as
before."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiobotocore.session import get_session
from prometheus_client import CollectorRegistry

from sesd.config import QueueConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.io.logs import get_logger
from sesd.metrics.registry import Metrics
from sesd.metrics.sqs import SqsSeries
from sesd.runtime.health import Changes, Health
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_calls import check_queue
from sesd.runtime.sqs_deletes import Deletes
from tests.conftest import aws_client, sesd_logs
from tests.test_dedup import break_after_delivery
from tests.test_reload_calls_in_flight import Standing, _logged, _moved, reloaded_mid_receive
from tests.test_reload_same_place_counts import _two_pollers
from tests.test_sqs_edges import ForbiddingSqs

#: The SDK's pauses before its retries cut short: these tests count the retries and
#: read what they end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = pytest.mark.usefixtures("quick_sdk_retries")

#: The line that says a queue's attributes could not be read.
_ATTRIBUTES = "sesd.sqs.attributes_failed"


async def test_a_bug_on_a_moved_queues_last_batch_is_logged_not_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q`` moves from eu-west-1 to us-east-1 while a receive waits at the old place,
    which then brings a message; the pipeline fails on it (a bug). The failure is logged
    at error, with ``retired: true``, and counts no ``process`` error on ``q``'s series:
    they carry the place in force's account and region, which the message did not come
    from (a failure of the same bug on the new place's messages counts there)."""
    break_after_delivery(monkeypatch)
    _, logs, samples = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, ("sesd_sqs_errors_total",), grace="30s", message=True
    )
    (failed,) = _logged(logs, "sesd.pipeline.failed")
    assert (failed["level"], failed["retired"]) == ("error", True)
    errors = samples["sesd_sqs_errors_total"]
    assert {dict(labels)["region"] for labels in errors} == {"us-east-1"}
    counted = {dict(labels)["operation"]: value for labels, value in errors.items()}
    assert counted == dict.fromkeys(("receive", "delete", "release", "process"), 0.0)


@pytest.mark.parametrize(("after", "retired"), [(_moved, True), (_two_pollers, None)])
async def test_an_invalid_message_on_a_moved_queues_last_batch_is_retired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: Any, retired: bool | None
) -> None:
    """As above, the message brought no event sesd reads (not JSON): its
    ``sesd.message.invalid`` line is the old place's, ``retired: true`` as the batch's
    other lines are; where the reload left the queue (only its ``concurrency``
    changed), the place's in force, without ``retired``."""
    _, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, after, (), grace="30s", message=True, body="not json"
    )
    (invalid,) = _logged(logs, "sesd.message.invalid")
    assert invalid.get("retired") is retired


async def test_a_delete_refused_at_a_moved_queues_old_place_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``q`` moves from eu-west-1 to us-east-1 while a receive waits at the old place,
    which then brings a message and fails its delete (a 500 the SDK asks again, the
    message failed, a refusal). The refusal is logged at info, ``retired``, without
    the hint to grant sqs:DeleteMessage and the message said to come back "counted
    once, then as a duplicate" (it was an error of queue ``q``, which reads and
    deletes at its new place, and sesd reads nothing of the old one again); so is the
    delete's partial failure (a warning)."""
    sqs, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, (), grace="30s", message=True
    )
    assert sqs.deletes == [500, 200, 400]
    (refused,) = _logged(logs, "sesd.sqs.delete_refused")
    assert (refused["level"], refused["retired"]) == ("info", True)
    assert "hint" not in refused
    (partly,) = _logged(logs, "sesd.sqs.delete_partly_failed")
    assert (partly["level"], partly["retired"]) == ("info", True)


async def test_a_delete_refused_where_the_queue_still_is_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, the reload changing only ``q``'s ``concurrency``: the refusal is the
    place's in force, an error with its fix."""
    _, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, _two_pollers, (), grace="30s", message=True
    )
    (refused,) = _logged(logs, "sesd.sqs.delete_refused")
    assert refused["level"] == "error"
    assert "sqs:DeleteMessage" in refused["hint"]
    assert "retired" not in refused


async def test_a_bug_on_the_last_batch_where_the_queue_still_is_is_not_retired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the first, the reload changing only ``q``'s ``concurrency``: the old poller's
    last batch is the place in force's. The pipeline's failure on it is logged at error
    without ``retired`` (it said ``retired: true`` while the delete and release lines of
    the same batch did not: a queue that reads where it did is retired by nothing) and
    counts as a ``process`` error on ``q``'s series."""
    break_after_delivery(monkeypatch)
    _, logs, samples = await reloaded_mid_receive(
        tmp_path, monkeypatch, _two_pollers, ("sesd_sqs_errors_total",), grace="30s",
        message=True,
    )  # fmt: skip
    (failed,) = _logged(logs, "sesd.pipeline.failed")
    assert failed["level"] == "error"
    assert "retired" not in failed
    errors = samples["sesd_sqs_errors_total"]
    counted = {dict(labels)["operation"]: value for labels, value in errors.items()}
    assert counted["process"] == 1.0


async def test_a_refused_receive_where_the_queue_still_is_is_not_retired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, the old poller's receive refused: the refusal is the place's in force,
    logged without ``retired`` (still at info: the old poller judges nothing, its
    successors at the same place tell of the queue)."""
    _, logs, _ = await reloaded_mid_receive(tmp_path, monkeypatch, _two_pollers, (), deny=True)
    (refused,) = _logged(logs, "sesd.sqs.receive_failed")
    assert refused["level"] == "info"
    assert "retired" not in refused


async def test_a_release_refused_at_a_moved_queues_old_place_is_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the first, with no grace period: the old place's receive answers a message
    after its poller was cancelled, and refuses the release that gives it back:
    logged at info, ``retired`` (a warning of queue ``q``, which reads where it is)."""
    sqs, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, (), grace="0s", message=True
    )
    assert sqs.releases == 1
    (refused,) = _logged(logs, "sesd.sqs.release_failed")
    assert (refused["level"], refused["retired"]) == ("info", True)


async def test_failed_deletes_at_a_moved_queues_old_place_are_logged_as_retired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the first, but the delete fails for a passing reason (a 400 the SDK does not
    ask again), then, tried once more, fails for the message. Both failures are the old
    place's: logged at info with ``retired: true``, as the refused delete and receive
    are, not warned of as the queue in force's trouble."""
    sqs, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, (), grace="30s", message=True,
        deleting=("KmsThrottled", "Failed"),
    )  # fmt: skip
    assert sqs.deletes == [400, 200]
    lines = [
        *_logged(logs, "sesd.sqs.delete_failed"),
        *_logged(logs, "sesd.sqs.delete_partly_failed"),
    ]
    assert [(line["event"], line["level"], line.get("retired")) for line in lines] == [
        ("sesd.sqs.delete_failed", "info", True),
        ("sesd.sqs.delete_partly_failed", "info", True),
    ]


async def test_a_release_at_a_moved_queues_old_place_is_logged_as_retired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the release refused above, but the old place takes the message back: its
    ``sesd.sqs.released`` says ``retired: true``, as every other line of that place
    does (it read as the queue in force's release, the queue's other lines the old
    place's)."""
    sqs, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, (), grace="0s", message=True, releasing="Released"
    )
    assert sqs.releases == 1
    (released,) = _logged(logs, "sesd.sqs.released")
    assert (released["level"], released["retired"]) == ("info", True)


async def test_a_release_cut_off_at_a_moved_queues_old_place_is_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the old place does not answer the release before its margin ends:
    the cut-off is that place's, logged at info with ``retired: true`` and without the
    hint that the messages come back (sesd reads nothing of that place again)."""
    sqs, logs, _ = await reloaded_mid_receive(
        tmp_path, monkeypatch, _moved, (), grace="0s", message=True, releasing="Hold"
    )
    assert sqs.releases == 1
    (cut,) = _logged(logs, "sesd.sqs.release_cut_off")
    assert (cut["level"], cut["retired"]) == ("info", True)
    assert "hint" not in cut


async def test_deletes_working_again_at_a_moved_queues_old_place_are_logged_as_retired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A poller of ``q`` (eu-west-1) has a batch whose delete fails twice, then one
    whose delete is refused; a reload moves ``q`` to us-east-1; the poller's last batch
    at the old place is deleted. Its ``sesd.sqs.delete_recovered`` and
    ``sesd.sqs.deletes_recovered`` say ``retired: true``: the old place's deletes work
    again, not the queue in force's (whose own lines tell of it)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    async with Standing() as sqs:
        sqs.deleting = ("Failed", "Failed", "AccessDenied", "Deleted")
        old = QueueConfig(url=f"{sqs.url}/123456789012/old", name="q", region="eu-west-1")
        new = QueueConfig(url=f"{sqs.url}/123456789012/new", name="q")
        series = SqsSeries(CollectorRegistry())
        series.configure([old], lambda _: ("default", "eu-west-1"))
        async with get_session().create_client(
            "sqs", region_name="eu-west-1", endpoint_url=sqs.url
        ) as client:
            deletes = Deletes(client, old, series.at(old), get_logger(queue="q"))
            batch: list[Any] = [{"MessageId": "m-1", "ReceiptHandle": "r-1"}]
            assert await deletes.delete(batch) == 0
            assert await deletes.delete(batch) == 0
            series.configure([new], lambda _: ("default", "us-east-1"))
            assert await deletes.delete(batch) == 1
        sqs.close()
    assert sqs.deletes == [200, 200, 400, 200]
    lines = [
        *_logged(logs, "sesd.sqs.delete_recovered"),
        *_logged(logs, "sesd.sqs.deletes_recovered"),
    ]
    assert [(line["event"], line["level"], line.get("retired")) for line in lines] == [
        ("sesd.sqs.delete_recovered", "info", True),
        ("sesd.sqs.deletes_recovered", "info", True),
    ]


async def test_a_check_refused_at_a_moved_queues_old_place_is_no_warning() -> None:
    """``q``'s check asks its place for the redrive policy, and a reload moves ``q``
    before the answer comes: the refusal (sqs:GetQueueAttributes denied) is the old
    place's, told at info, ``retired``, without the hint to grant the permission on a
    queue sesd no longer reads. At the place in force, the same refusal is a warning
    with its hint."""
    logs = sesd_logs("info")
    queue = QueueConfig(url="http://127.0.0.1:9/123456789012/q", name="q")
    async with ForbiddingSqs() as forbidding, aws_client("sqs", forbidding) as denied:
        for in_force in (False, True):
            told = partial(bool, in_force)
            assert await check_queue(denied, queue, "default", "us-east-1", in_force=told) is False
    said = [(r["level"], r.get("retired"), "hint" in r) for r in _logged(logs, _ATTRIBUTES)]
    assert said == [("info", True, False), ("warning", None, True)]


async def test_a_receive_abandoned_at_a_moved_queues_old_place_is_no_warning(sqs: Any) -> None:
    """A stop's grace period ends while the receive of a poller of ``q``'s old place
    (a reload moved ``q``) is still out: abandoned, it is told at info, ``retired``, as
    a delete or release cut off there is; at the place in force, a warning."""
    logs = sesd_logs("info")
    old = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/old"\nname = "q"\n').queues[0]
    new = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/new"\nname = "q"\n').queues[0]
    pipeline = Pipeline(core_settings(parse_config("")))
    metrics = Metrics(pipeline.ledger, [old], lambda: 0.0)
    in_flight = InFlight()
    in_flight.cut()  # the grace period is over: a receive begun now is abandoned at once
    for moved in (False, True):
        metrics.set_queues([new if moved else old])
        poller = QueuePoller(
            sqs, old, pipeline=pipeline, metrics=metrics, health=Health(["q"]),
            changes=Changes(), stopping=anyio.Event(), delete_invalid=False,
            clock=lambda: 0.0, monotonic=lambda: 0.0, in_flight=in_flight,
        )  # fmt: skip
        poller.in_force = partial(bool, not moved)
        assert await poller._receive() is None
    said = [(r["level"], r.get("retired")) for r in _logged(logs, "sesd.sqs.receive_abandoned")]
    assert said == [("warning", None), ("info", True)]
