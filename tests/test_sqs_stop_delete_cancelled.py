"""A stop's delete, made alone (no receive beside it once a stop has begun), ended by what
its shield does not hold off: the event loop's close after an exit elsewhere, which
cancels every task left; a program running sesd that cancels its task; an exit asked for
under the delete. The batch is told as every other end of a delete tells it: the delete
said cut off and counted failed, the batch's line, and no fault of sesd's logged. moto's
SQS, in a process of its own: the loop's close would end a stand-in served in the same
loop."""

from __future__ import annotations

import asyncio
import io
from functools import partial
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs import QueuePoller
from tests import factory as f
from tests.conftest import aws_client, make_queue, queue_counts, said_in, send_bodies
from tests.test_sqs_edges import poller
from tests.test_sqs_exit_beside_delete import _handled_as_another_task_exits

_EXITS = [KeyboardInterrupt, SystemExit]


def _told_cut_off(said: dict[str, dict[str, Any]]) -> None:
    """The batch's one message received, none deleted, its delete said cut off, and no
    fault of sesd's logged (``sesd.task.failed`` would ask to report a bug)."""
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1
    assert (said["sesd.sqs.batch"]["received"], said["sesd.sqs.batch"]["deleted"]) == (1, 0)
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")


def _counted(p: QueuePoller, operation: str) -> tuple[float | None, float | None]:
    """The queue's failed ``operation`` calls, and the poller's faults, as counted."""
    registry = p._metrics.registry
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": operation}
    return (
        registry.get_sample_value("sesd_sqs_errors_total", labels),
        registry.get_sample_value("sesd_task_failures_total", {"task": "poller"}),
    )


def _stalled(sqs: Any, call: str) -> anyio.Event:
    """SQS's ``call`` made to wait for ever once asked (a stalled network); the event
    says it was asked."""
    asked = anyio.Event()

    async def waits(**_: Any) -> Any:
        asked.set()
        await anyio.sleep_forever()

    setattr(sqs, call, waits)
    return asked


async def _a_batch_in_a_stop(sqs: Any) -> tuple[str, QueuePoller, list[Any]]:
    """A queue with one message (visibility 300 s), a poller that received it, and a stop
    begun: the batch's delete is made alone."""
    url, _ = await make_queue(sqs, visibility=300)
    await send_bodies(sqs, url, [f.raw(f.delivery(["u0@one.example"]))])
    p, _ = poller(sqs, url, settings="wait_time_seconds = 20\nmax_messages = 1\n")
    messages = await p._receive()
    assert messages is not None
    assert len(messages) == 1
    p._stopping.set()
    return url, p, messages


async def _counts(local_sqs: LocalSqs, url: str) -> tuple[int, int]:
    """The queue's (visible, hidden) messages, read once the poller's run has ended."""
    async with aws_client("sqs", local_sqs) as sqs:
        return await queue_counts(sqs, url)


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_a_stops_delete_the_event_loops_close_cancels_tells_the_batch(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """A stop has begun and the batch's delete waits for SQS when an exit comes in
    another task: the event loop's close cancels the poller, through the delete's shield.
    The delete is said cut off and counted a failed delete, the batch's line written, as
    when the delete beside a receive is cut off so; the cancellation is no fault of
    sesd's. The message stays hidden until its visibility timeout, counted once."""
    url = ""
    counted: tuple[float | None, float | None] = (None, None)

    async def run() -> None:
        nonlocal url, counted
        async with aws_client("sqs", local_sqs) as sqs:
            url, p, messages = await _a_batch_in_a_stop(sqs)
            deleting = _stalled(sqs, "delete_message_batch")
            try:
                await _handled_as_another_task_exits(
                    partial(p._handle, messages), deleting.wait, kind
                )
            finally:
                counted = _counted(p, "delete")

    with pytest.raises(kind):
        anyio.run(run)
    _told_cut_off(said_in(json_logs))
    assert counted == (1, 0)
    assert anyio.run(_counts, local_sqs, url) == (0, 1)


async def test_a_stops_delete_whose_task_is_cancelled_tells_the_batch(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A program running sesd cancels its task (``Task.cancel()``, which no cancel
    scope's shield holds off) while a stop's delete waits for SQS: the poller ends in
    that cancellation, once the batch is told (the delete said cut off and counted
    failed, the batch's line), not before."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _a_batch_in_a_stop(sqs)
        deleting = _stalled(sqs, "delete_message_batch")
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await deleting.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert _counted(p, "delete") == (1, 0)
    _told_cut_off(said_in(json_logs))


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_an_exit_under_a_stops_delete_is_raised_once_the_batch_is_told(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """An exit asked for under a stop's delete (its end, SQS's part of it, not known):
    the batch is told first, as when the exit comes under the delete beside a receive
    (the delete said cut off and counted failed, the batch's line), then the exit is
    raised, no fault of sesd's."""
    counted: tuple[float | None, float | None] = (None, None)

    async def run() -> None:
        nonlocal counted
        async with aws_client("sqs", local_sqs) as sqs:
            _, p, messages = await _a_batch_in_a_stop(sqs)

            async def delete_exits(**_: Any) -> Any:
                raise kind("under the delete")

            sqs.delete_message_batch = delete_exits
            try:
                with anyio.fail_after(10):
                    await p._handle(messages)
            finally:
                counted = _counted(p, "delete")

    with pytest.raises(kind):
        anyio.run(run)
    _told_cut_off(said_in(json_logs))
    assert counted == (1, 0)
