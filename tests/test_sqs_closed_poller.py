"""A poller whose coroutine is closed where it waits (``coroutine.close()``: what
Python does to a task left pending as its event loop or the interpreter ends, its
coroutine dropped): a ``GeneratorExit`` thrown in as it judges a batch, or as it
deletes what a batch handled before a fault of sesd's own (in its judging, or after
it). That is an exit, as a kill is: the
poller waits for nothing more (a coroutine being closed may not: Python raises
"coroutine ignored GeneratorExit"), takes the close for no fault of its own, and what
it held comes back after its visibility timeout; the batch is told as when an exit
cuts it off."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.core.tallies import Outcome
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_ends import APPLIED, MISJUDGED_ENDING
from tests.conftest import aws_client, queue_counts, said_in
from tests.test_sqs_batch_cancelled import _a_costly_batch, _told_judged_cut_off
from tests.test_sqs_fault_after_batch import _slips
from tests.test_sqs_fault_ends_told import _hints
from tests.test_sqs_judge_fault import _DELIVERIES, _FailsOn, _three_received
from tests.test_sqs_stop_delete_cancelled import _counted, _stalled


async def _closed(task: asyncio.Task[Any]) -> BaseException | None:
    """Close ``task``'s coroutine where it waits, from another task (the test's), and
    return what the close raised, if anything. The task is then let end: asyncio ends
    one whose coroutine was closed under it in a ``RuntimeError`` of its own."""
    raised: BaseException | None = None
    try:
        task.get_coro().close()
    except Exception as exc:  # noqa: BLE001 - what the close raised, looked at by the test
        raised = exc
    task.cancel()
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        await task
    return raised


def _no_wait_in_the_close(raised: BaseException | None) -> None:
    """The close waited for nothing: it raised, if anything, what anyio's scope the
    poller waited in raises as it is left from another task (as it is at the
    interpreter's end too: no event loop runs then), not Python's "coroutine ignored
    GeneratorExit", which says the poller waited for a call as its coroutine closed."""
    assert raised is None or "GeneratorExit" not in str(raised), raised
    assert raised is None or "cancel scope in a different task" in str(raised), raised


def _at_the_turn_after_one_judged(p: QueuePoller) -> anyio.Event:
    """An event set as the batch comes to its turn after its first message is judged:
    the poller then waits there, as the event's waiter runs."""
    at_turn = anyio.Event()
    tallies = p._pipeline.ledger.tallies
    monotonic = p._judge._monotonic

    def read() -> float:
        if tallies.messages.get(("q", Outcome.PROCESSED), 0) >= 1:
            at_turn.set()
        return monotonic()

    p._judge._monotonic = read
    return at_turn


async def test_a_poller_closed_as_it_judges_a_batch_ends_as_at_an_exit(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """Closed at the turn a costly batch gives the event loop between its two messages:
    no fault said or counted, no call made. The message judged is said cut off from its
    delete (counted, not deleted), as when an exit ends the event loop there; both stay
    hidden until their visibility timeout, as after a kill."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_costly_batch(sqs)
        at_turn = _at_the_turn_after_one_judged(p)
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await at_turn.wait()
            raised = await _closed(task)
        _no_wait_in_the_close(raised)
        assert _counted(p, "delete") == (1, 0)
        assert _counted(p, "process") == (0, 0)
        assert _counted(p, "release") == (0, 0)
        assert await queue_counts(sqs, url) == (0, 2)
    said = said_in(json_logs)
    assert "sesd.sqs.batch_failed" not in said, said["sesd.sqs.batch_failed"]
    assert "sesd.sqs.released" not in said
    _told_judged_cut_off(said)


async def test_a_poller_closed_as_it_deletes_what_a_faulted_batch_judged_ends_as_at_an_exit(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """The second of three messages meets a fault of sesd's own in its judging, and the
    poller's coroutine is closed while the delete of the first waits for SQS: that
    fault is told as one an exit ends the poller beside (it is not started again), the
    close is none; the delete is said cut off, and so is the give-back of the third,
    which is not made (the poller waits for nothing more). All three stay hidden until
    their visibility timeout."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _three_received(sqs, _DELIVERIES)
        p._judge._invalid = _FailsOn(messages[1]["MessageId"])
        deleting = _stalled(sqs, "delete_message_batch")
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await deleting.wait()
            raised = await _closed(task)
        _no_wait_in_the_close(raised)
        assert _counted(p, "delete") == (1, 1)  # the fault of the judging, told beside
        assert _counted(p, "process") == (1, 1)
        assert _counted(p, "release") == (1, 1)
        assert await queue_counts(sqs, url) == (0, 3)
    said = said_in(json_logs)
    failed = said["sesd.sqs.batch_failed"]
    assert failed["hint"] == MISJUDGED_ENDING
    assert (failed["to_delete"], failed["deleted"], failed["to_give_back"]) == (1, 0, 1)
    assert _hints(json_logs, "sesd.task.failed") == [MISJUDGED_ENDING]
    fault = said["sesd.task.failed"]["exception"].rstrip().splitlines()[-1]
    assert fault.startswith("RuntimeError: a fault judging the mail of ")
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1
    assert said["sesd.sqs.release_cut_off"]["count"] == 1
    assert "sesd.sqs.released" not in said
    assert "sesd.sqs.delete_failed" not in said, said["sesd.sqs.delete_failed"]


async def test_a_poller_closed_as_it_deletes_what_a_batch_handled_before_a_fault_ends_so(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A fault of sesd's own after a batch of three was handled, and the poller's
    coroutine closed while the delete of the three waits for SQS: that fault is told
    as one an exit ends the poller beside, the close is none, the delete is said cut
    off; the three come back after their visibility timeout."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _three_received(sqs, _DELIVERIES)
        p._after_batch = _slips
        deleting = _stalled(sqs, "delete_message_batch")
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await deleting.wait()
            raised = await _closed(task)
        _no_wait_in_the_close(raised)
        assert _counted(p, "delete") == (1, 1)  # the fault after the batch, told beside
        assert await queue_counts(sqs, url) == (0, 3)
    said = said_in(json_logs)
    assert _hints(json_logs, "sesd.task.failed") == [APPLIED]
    fault = said["sesd.task.failed"]["exception"].rstrip().splitlines()[-1]
    assert fault.endswith("_Slip: after the batch")
    assert said["sesd.sqs.delete_cut_off"]["count"] == 3
    assert "sesd.sqs.delete_failed" not in said, said["sesd.sqs.delete_failed"]
    assert "sesd.sqs.batch_failed" not in said


async def test_a_poller_closed_as_its_delete_and_next_receive_wait_waits_for_neither(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """Closed while the batch's delete and the next receive, made beside it, both wait
    for SQS: the poller waits for neither, and says no fault. The delete, a task of its
    own that the close does not reach, goes on: the three are deleted once SQS answers,
    as any batch's."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _three_received(sqs, _DELIVERIES)
        let_delete, deleted = anyio.Event(), anyio.Event()
        delete = sqs.delete_message_batch

        async def delete_once_let(**kwargs: Any) -> Any:
            await let_delete.wait()
            try:
                return await delete(**kwargs)
            finally:
                deleted.set()

        sqs.delete_message_batch = delete_once_let
        receiving = _stalled(sqs, "receive_message")
        task = asyncio.get_running_loop().create_task(p._handle(messages, ask=True))
        with anyio.fail_after(10):
            await receiving.wait()
            raised = await _closed(task)
            let_delete.set()
            await deleted.wait()
        _no_wait_in_the_close(raised)
        assert await queue_counts(sqs, url) == (0, 0)
        assert _counted(p, "delete") == (0, 0)
    said = said_in(json_logs)
    assert "sesd.task.failed" not in said, said["sesd.task.failed"]
