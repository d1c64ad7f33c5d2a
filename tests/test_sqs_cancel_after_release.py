"""A poller's give-back (visibility 0: what a cancellation caught before its handling)
that SQS has answered, ended before the SDK hands the answer back: by a program's
cancellation of the poller's task, an exit, or the give-back's own bound. SQS made the
messages visible again: the give-back is told as SQS answered it (said released, none
said cut off nor counted failed), and the queue hands them out at once."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs import QueuePoller
from tests.conftest import aws_client, queue_counts, said_in
from tests.test_sqs_batch_cancelled import _a_costly_batch
from tests.test_sqs_cancel_after_delete import _held_once_answered
from tests.test_sqs_stop_delete_cancelled import _counted

_RELEASE = "ChangeMessageVisibilityBatch"


async def _given_back(p: QueuePoller, messages: list[Any]) -> None:
    """The batch handled by a poller cancelled while its receive was in flight: it gives
    the messages back (visibility 0, in a shielded scope of its own)."""
    with anyio.CancelScope() as scope:
        scope.cancel()  # while the receive was in flight
        await p._handle(messages)


def _told_released(said: dict[str, dict[str, Any]], count: int = 2) -> None:
    """``count`` messages said given back, no release said cut off, no fault logged."""
    assert "sesd.sqs.release_cut_off" not in said, said["sesd.sqs.release_cut_off"]
    assert said["sesd.sqs.released"]["count"] == count
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")


async def test_a_cancel_after_a_give_back_was_answered_tells_it_given_back(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A program running sesd cancels the poller's task (``Task.cancel()``, which no
    shield holds off) once SQS has answered the give-back: the messages are visible in
    the queue, and sesd says so; the poller ends in that cancellation."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_costly_batch(sqs)
        answered = _held_once_answered(sqs, call=_RELEASE)
        task = asyncio.get_running_loop().create_task(_given_back(p, messages))
        with anyio.fail_after(10):
            await answered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert _counted(p, "release") == (0, 0)
        assert await queue_counts(sqs, url) == (2, 0)
    _told_released(said_in(json_logs))


async def test_a_give_back_its_bound_ends_after_sqs_answered_is_told_given_back(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """The give-back's own bound (its margin, 0.1 s here) ends it while the SDK still
    holds SQS's answer: told as answered, not as cut off."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_costly_batch(sqs)
        p._in_flight = InFlight(margin=0.1)
        answered = _held_once_answered(sqs, call=_RELEASE)
        with anyio.fail_after(10):
            await _given_back(p, messages)
        assert answered.is_set()
        assert _counted(p, "release") == (0, 0)
        assert await queue_counts(sqs, url) == (2, 0)
    _told_released(said_in(json_logs))


async def test_a_cancel_after_a_partly_failed_give_back_counts_what_failed(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """SQS's answer says one of the two entries was not given back (a receipt no longer
    good): cancelled before the SDK hands it back, that entry is counted a failed
    release and warned of, the other said given back, no release said cut off."""
    async with aws_client("sqs", local_sqs) as sqs:
        answer = {
            "Successful": [{"Id": "0"}],
            "Failed": [{"Id": "1", "SenderFault": True, "Code": "ReceiptHandleIsInvalid"}],
        }

        def one_failed(response_dict: dict[str, Any], **_: Any) -> None:
            response_dict["body"] = json.dumps(answer).encode()

        # Before sesd's hooks: the answer sesd reads says so.
        sqs.meta.events.register(f"before-parse.sqs.{_RELEASE}", one_failed)
        answered = _held_once_answered(sqs, call=_RELEASE)
        _, p, messages = await _a_costly_batch(sqs)
        task = asyncio.get_running_loop().create_task(_given_back(p, messages))
        with anyio.fail_after(10):
            await answered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert _counted(p, "release") == (1, 0)
    said = said_in(json_logs)
    assert said["sesd.sqs.release_partly_failed"]["failed"] == 1
    _told_released(said, count=1)


@pytest.mark.parametrize("exit_", [KeyboardInterrupt, SystemExit])
async def test_an_exit_after_a_give_back_was_answered_tells_it_given_back(
    exit_: type[BaseException], local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """An exit asked for (Ctrl-C, ``sys.exit`` in a program running sesd) that comes in
    the SDK's last hook, SQS's answer read: the give-back is told as answered, and the
    exit reaches whoever waits for it."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_costly_batch(sqs)

        def leave(**_: Any) -> None:
            raise exit_

        sqs.meta.events.register(f"after-call.sqs.{_RELEASE}", leave)
        with anyio.fail_after(10), pytest.raises(exit_):
            await _given_back(p, messages)
        assert _counted(p, "release") == (0, 0)
        assert await queue_counts(sqs, url) == (2, 0)
    _told_released(said_in(json_logs))
