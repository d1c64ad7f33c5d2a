"""A batch ended while it is judged by what the shield of its turns does not hold off: a
program running sesd that cancels its task, the event loop's close after an exit
elsewhere. The messages judged so far are counted but not deleted, and come back after
their visibility timeout: the batch is told as a delete cut off is (said, counted
failed, the batch's line); those not yet judged, counted nowhere, are given back at once
(visibility 0); then the poller ends in that cancellation. So is a release
of what a poller cancelled as its receive answered gives back, cut off so."""

from __future__ import annotations

import asyncio
import io
import itertools
from functools import partial
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.core.tallies import Outcome
from sesd.runtime.sqs import QueuePoller
from tests import factory as f
from tests.conftest import aws_client, make_queue, queue_counts, said_in, send_bodies
from tests.test_sqs_edges import poller
from tests.test_sqs_exit_beside_delete import _handled_as_another_task_exits
from tests.test_sqs_stop_delete_cancelled import _counted, _stalled


async def _a_costly_batch(sqs: Any) -> tuple[str, QueuePoller, list[Any]]:
    """A queue with two messages (visibility 300 s), received, and a poller whose batch
    takes a turn of the event loop between them (each read of its monotonic clock a
    second later than the one before)."""
    url, _ = await make_queue(sqs, visibility=300)
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(2)])
    seconds = itertools.count()
    p, _ = poller(sqs, url, monotonic=lambda: float(next(seconds)))
    messages: list[Any] = []
    with anyio.fail_after(10):
        while len(messages) < 2:
            got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages += got.get("Messages", [])
    return url, p, messages


async def _give_back_cancelled(sqs: Any, p: QueuePoller, messages: list[Any]) -> None:
    """``p``, cancelled while its receive of ``messages`` was in flight, gives them
    back; a program running sesd cancels its task (``Task.cancel()``) while that
    release waits for SQS. Back once the task ended in that cancellation."""
    releasing = _stalled(sqs, "change_message_visibility_batch")

    async def handle_cancelled() -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()  # while the receive was in flight
            await p._handle(messages)

    task = asyncio.get_running_loop().create_task(handle_cancelled())
    with anyio.fail_after(10):
        await releasing.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def _cancelled_before_its_first_message(
    sqs: Any,
) -> tuple[str, QueuePoller, asyncio.Task[Any]]:
    """A costly batch handled in a task of its own, which a program running sesd cancels
    (``Task.cancel()``) at the batch's turn before its first message: the batch took the
    event loop from the receive's answer so long that it gives the others a turn at once.
    The task is left to end in that cancellation."""
    url, p, messages = await _a_costly_batch(sqs)
    judging = anyio.Event()

    def received_at() -> float:
        judging.set()  # read just before the batch, which takes its turn at once
        return 0.0

    p._clock = received_at
    task = asyncio.get_running_loop().create_task(p._handle(messages))
    with anyio.fail_after(10):
        await judging.wait()
    task.cancel()
    return url, p, task


async def _one_of_two_received_the_next_receive_watched(
    sqs: Any,
) -> tuple[str, QueuePoller, list[Any], anyio.Event]:
    """A queue with two messages (visibility 300 s), a poller taking one at a time that
    received the first, and its next receive (made beside the batch's delete) watched:
    the event says that receive has answered, with the second message; the poller then
    waits for the delete, in that same turn."""
    url, _ = await make_queue(sqs, visibility=300)
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(2)])
    p, _ = poller(sqs, url, settings="wait_time_seconds = 20\nmax_messages = 1\n")
    messages = await p._receive()
    assert messages is not None
    assert len(messages) == 1
    answered = anyio.Event()
    receive = sqs.receive_message

    async def receive_beside(**kwargs: Any) -> Any:
        answer = await receive(**kwargs)
        answered.set()
        return answer

    sqs.receive_message = receive_beside
    return url, p, messages, answered


async def _one_judged(p: QueuePoller) -> None:
    """Wait, taking every turn of the event loop the batch gives, until it has judged its
    first message: the batch is then at its turn before the second."""
    tallies = p._pipeline.ledger.tallies
    while tallies.messages.get(("q", Outcome.PROCESSED), 0) < 1:
        await anyio.lowlevel.checkpoint()


def _told_judged_cut_off(said: dict[str, dict[str, Any]]) -> None:
    """The batch's two messages received, the one judged said cut off from its delete,
    none deleted, and no fault of sesd's logged."""
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1
    line = said["sesd.sqs.batch"]
    assert (line["received"], line["to_delete"], line["deleted"]) == (2, 1, 0)
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")


async def test_a_batch_whose_task_is_cancelled_while_judged_tells_it(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A program running sesd cancels its task (``Task.cancel()``, which no cancel
    scope's shield holds off) at a turn the batch takes between two messages: the poller
    ends in that cancellation, once the batch is told; the message judged is counted
    once, hidden until its visibility timeout, the one not judged given back at once
    (visibility 0), as a batch cancelled before it was judged is: counted nowhere, it
    need not wait out its visibility timeout."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_costly_batch(sqs)
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await _one_judged(p)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert _counted(p, "delete") == (1, 0)
        assert p._pipeline.ledger.tallies.messages == {("q", Outcome.PROCESSED): 1}
        assert await queue_counts(sqs, url) == (1, 1)
        assert _counted(p, "release") == (0, 0)
    _told_judged_cut_off(said_in(json_logs))


async def test_a_batch_whose_task_is_cancelled_before_a_message_is_judged_tells_it(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """The cancellation at the batch's turn before its first message (the batch took the
    event loop from the receive's answer so long that it gives the others a turn at
    once): nothing counted, so no delete is said cut off nor counted failed; the batch's
    line says none judged to delete, and both messages are given back at once."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, task = await _cancelled_before_its_first_message(sqs)
        with anyio.fail_after(10), pytest.raises(asyncio.CancelledError):
            await task
        assert _counted(p, "delete") == (0, 0)
        assert p._pipeline.ledger.tallies.messages == {}
        assert await queue_counts(sqs, url) == (2, 0)
    said = said_in(json_logs)
    assert "sesd.sqs.delete_cut_off" not in said
    line = said["sesd.sqs.batch"]
    assert (line["received"], line["to_delete"], line["deleted"]) == (2, 0, 0)
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit], ids=lambda k: k.__name__)
def test_a_batch_the_event_loops_close_cancels_while_judged_tells_it(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """An exit in another task while the batch takes a turn between two messages: the
    event loop's close cancels the poller through the turn's shield. The batch is told
    (the message judged said cut off from its delete, counted failed; the one not
    judged given back as the loop closes), the cancellation no fault of sesd's."""
    counted: tuple[float | None, float | None] = (None, None)
    visible = (0, 0)

    async def run() -> None:
        nonlocal counted, visible
        async with aws_client("sqs", local_sqs) as sqs:
            url, p, messages = await _a_costly_batch(sqs)
            try:
                await _handled_as_another_task_exits(
                    partial(p._handle, messages), partial(_one_judged, p), kind
                )
            finally:
                counted = _counted(p, "delete")
                visible = await queue_counts(sqs, url)

    with pytest.raises(kind):
        anyio.run(run)
    _told_judged_cut_off(said_in(json_logs))
    assert counted == (1, 0)
    assert visible == (1, 1)


async def test_a_give_back_whose_task_is_cancelled_tells_it(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A poller cancelled while its receive was in flight gives back what it brought
    (visibility 0, in a shielded scope of its own); a program running sesd cancels its
    task (``Task.cancel()``) while that release waits for SQS. The release is said cut
    off and counted a failed release, as when its own bound cuts it off, then the poller
    ends in that cancellation: the messages stay hidden until their visibility timeout,
    counted nowhere."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_costly_batch(sqs)
        await _give_back_cancelled(sqs, p, messages)
        assert _counted(p, "release") == (1, 0)
        assert p._pipeline.ledger.tallies.messages == {}
        assert await queue_counts(sqs, url) == (0, 2)
    said = said_in(json_logs)
    assert said["sesd.sqs.release_cut_off"]["count"] == 2
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")


async def test_a_give_back_cut_off_after_a_cancelled_delete_leaves_the_batch_told(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A program running sesd cancels its task while the batch's delete, made beside the
    next receive, outlasts that receive: the delete ends cut off, and what the receive
    brought is given back before the poller ends in that cancellation. A second
    cancellation while that release waits for SQS (the program's again, the event loop's
    close) cuts it off too: the release is said cut off, and the batch still told (its
    delete cut off, its line), not dropped with the release."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages, answered = await _one_of_two_received_the_next_receive_watched(sqs)
        _stalled(sqs, "delete_message_batch")
        releasing = _stalled(sqs, "change_message_visibility_batch")
        task = asyncio.get_running_loop().create_task(p._handle(messages, ask=True))
        with anyio.fail_after(10):
            await answered.wait()
            task.cancel()
            await releasing.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert _counted(p, "delete") == (1, 0)
        assert _counted(p, "release") == (1, 0)
        assert await queue_counts(sqs, url) == (0, 2)
    said = said_in(json_logs)
    assert said["sesd.sqs.release_cut_off"]["count"] == 1
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1
    line = said["sesd.sqs.batch"]
    assert (line["received"], line["to_delete"], line["deleted"]) == (1, 1, 0)
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")
