"""A program running sesd cancels the poller's task (``Task.cancel()``, which no cancel
scope's shield holds off) after SQS has answered the batch's delete, before the SDK
has handed the answer back. The messages were deleted: the batch is told as SQS
answered (its line says them deleted), with no delete said cut off nor counted
failed, whether the delete was made alone (a stop under way) or beside the next
receive; then the poller ends in that cancellation."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Coroutine
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.io.sdk_calls import trim_sqs
from sesd.runtime.aws import sqs_config
from tests import factory as f
from tests.conftest import aws_client, make_queue, queue_counts, said_in, send_bodies
from tests.test_sqs_batch_cancelled import _one_of_two_received_the_next_receive_watched
from tests.test_sqs_edges import poller
from tests.test_sqs_stop_delete_cancelled import _a_batch_in_a_stop, _counted


def _held_once_answered(
    sqs: Any, after: anyio.Event | None = None, call: str = "DeleteMessageBatch"
) -> anyio.Event:
    """SQS's answer to a delete (or another batch ``call``) held in the SDK (an after-call
    hook that waits for ever), once ``after`` is set, if given; the event says the answer
    has come."""
    answered = anyio.Event()

    async def hold(**_: Any) -> None:
        if after is not None:
            await after.wait()
        answered.set()
        await anyio.sleep_forever()

    sqs.meta.events.register(f"after-call.sqs.{call}", hold)
    return answered


async def _cancelled_once_answered(
    handling: Coroutine[Any, Any, object], answered: anyio.Event
) -> None:
    """The batch handled in a task of its own, cancelled once SQS's answer to its delete
    has come; the task ends in that cancellation."""
    task = asyncio.get_running_loop().create_task(handling)
    with anyio.fail_after(10):
        await answered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _told_deleted(said: dict[str, dict[str, Any]]) -> None:
    """The batch's one message said deleted, no delete said cut off, no fault logged."""
    assert "sesd.sqs.delete_cut_off" not in said, said["sesd.sqs.delete_cut_off"]
    line = said["sesd.sqs.batch"]
    assert (line["received"], line["to_delete"], line["deleted"]) == (1, 1, 1)
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")


async def test_a_cancel_after_a_stops_delete_was_answered_tells_it_deleted(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A stop has begun (the delete made alone) and SQS has answered it when the task is
    cancelled: the message is gone from the queue, and sesd says so."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_batch_in_a_stop(sqs)
        answered = _held_once_answered(sqs)
        await _cancelled_once_answered(p._handle(messages), answered)
        assert _counted(p, "delete") == (0, 0)
        assert await queue_counts(sqs, url) == (0, 0)
    _told_deleted(said_in(json_logs))


async def test_a_cancel_after_a_delete_beside_a_receive_was_answered_tells_it_deleted(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """The receive beside the delete has brought the queue's second message, and the
    poller waits for the delete, which SQS has answered, when the task is cancelled: the
    first message is said deleted, as it is, and the second given back at once."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages, received = await _one_of_two_received_the_next_receive_watched(sqs)
        answered = _held_once_answered(sqs, after=received)
        await _cancelled_once_answered(p._handle(messages, ask=True), answered)
        assert _counted(p, "delete") == (0, 0)
        assert await queue_counts(sqs, url) == (1, 0)
    said = said_in(json_logs)
    assert said["sesd.sqs.released"]["count"] == 1
    _told_deleted(said)


async def test_a_cancel_in_a_hook_that_runs_before_sesds_own_tells_it_deleted(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """The program's hook on the delete's answer was added to the client before sesd made
    its poller (its hooks run first), and the cancellation comes in it: the answer had
    been read, the message is gone, and sesd says so."""
    async with aws_client("sqs", local_sqs) as sqs:
        answered = _held_once_answered(sqs)  # before the poller is made
        url, p, messages = await _a_batch_in_a_stop(sqs)
        await _cancelled_once_answered(p._handle(messages), answered)
        assert _counted(p, "delete") == (0, 0)
        assert await queue_counts(sqs, url) == (0, 0)
    _told_deleted(said_in(json_logs))


async def test_a_cancel_after_a_partly_failed_delete_says_no_retry(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """SQS's answer says the delete failed for the batch's one entry, for a reason a
    retry may cure, and the task is cancelled before the SDK hands it back: no retry is
    made, and the warning says none is (not one that never comes)."""
    async with aws_client("sqs", local_sqs) as sqs:
        failed = {"Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError"}]}

        def refuse(response_dict: dict[str, Any], **_: Any) -> None:
            response_dict["body"] = json.dumps(failed).encode()

        # Before sesd's hooks: the answer sesd reads says so.
        sqs.meta.events.register("before-parse.sqs.DeleteMessageBatch", refuse)
        calls: list[str] = []
        sqs.meta.events.register(
            "before-call.sqs.DeleteMessageBatch", lambda **_: calls.append("delete")
        )
        answered = _held_once_answered(sqs)
        _, p, messages = await _a_batch_in_a_stop(sqs)
        await _cancelled_once_answered(p._handle(messages), answered)
        assert calls == ["delete"]
    said = said_in(json_logs)
    assert said["sesd.sqs.delete_partly_failed"]["retrying"] == 0
    line = said["sesd.sqs.batch"]
    assert (line["to_delete"], line["deleted"]) == (1, 0)
    assert "sesd.sqs.delete_cut_off" not in said


async def test_sesds_own_delete_never_pauses_once_sqs_answered(local_sqs: LocalSqs) -> None:
    """With sesd's delete client and no hook of another's, the task never gives the event
    loop a turn from the moment the answer is read to the call's return: no
    cancellation nor exit can land there, only where another's hook waits (README)."""
    async with aws_client("sqs", local_sqs, sqs_config(5)) as sqs:
        trim_sqs(sqs)
        url, _ = await make_queue(sqs)
        await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(20)])
        p, _ = poller(sqs, url)
        read = False

        def answer_read(**_: Any) -> None:  # after sesd's own: the answer is kept
            nonlocal read
            read = True

        sqs.meta.events.register("before-parse.sqs.DeleteMessageBatch", answer_read)
        turns_after_read = deletes = 0
        ended = anyio.Event()

        async def other_task() -> None:
            nonlocal turns_after_read
            while not ended.is_set():
                turns_after_read += read
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(other_task)
            with anyio.fail_after(20):
                while deletes < 20:
                    got = await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                    messages = got.get("Messages", [])
                    read = False
                    deletes += await p._deletes.delete(messages)
                    assert read or not messages
                    read = False
            ended.set()
        assert turns_after_read == 0
