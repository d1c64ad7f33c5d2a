"""A poller whose coroutine a program closes where it waits, from outside its task
(``coroutine.close()``): a ``GeneratorExit`` thrown in as it judges a batch, or as it
deletes what a batch handled before a fault of sesd's own (in its judging, or after
it). That is an exit, as a kill is: the poller waits for nothing more (a coroutine
being closed may not: Python raises "coroutine ignored GeneratorExit"), takes the
close for no fault of its own, and what it held comes back after its visibility
timeout; the batch is told as when an exit cuts it off. A fault of the poller's own
task whose context holds a generator's ``GeneratorExit`` is no close."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Generator
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


async def _closed(task: asyncio.Task[Any], *, in_a_thread: bool = False) -> BaseException | None:
    """Close ``task``'s coroutine where it waits, from another task (the test's), or
    from a thread where no event loop runs (``in_a_thread``; the event loop waits for
    it, nothing else running the coroutine meanwhile), and return what the close
    raised, if anything. The task is then let end: asyncio ends one whose coroutine was closed
    under it in a ``RuntimeError`` of its own."""
    raised: list[BaseException] = []

    def close() -> None:
        try:
            task.get_coro().close()
        except Exception as exc:  # noqa: BLE001 - what the close raised, looked at by the test
            raised.append(exc)

    if in_a_thread:
        thread = threading.Thread(target=close)
        thread.start()
        thread.join(10)  # the event loop held: nothing else runs the poller's coroutine
        assert not thread.is_alive()
    else:
        close()
    task.cancel()
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        await task
    return raised[0] if raised else None


def _no_wait_in_the_close(raised: BaseException | None) -> None:
    """The close waited for nothing: it raised, if anything, what anyio's scope the
    poller waited in raises as it is left from another task, or where no event loop
    runs, not Python's "coroutine ignored GeneratorExit", which says the poller waited
    for a call as its coroutine closed."""
    assert raised is None or "GeneratorExit" not in str(raised), raised
    scope = ("cancel scope in a different task", "no running event loop")
    assert raised is None or any(said in str(raised) for said in scope), raised


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


@pytest.mark.parametrize("in_a_thread", [False, True], ids=["another_task", "no_loop"])
async def test_a_poller_closed_as_it_judges_a_batch_ends_as_at_an_exit(
    local_sqs: LocalSqs, json_logs: io.StringIO, in_a_thread: bool
) -> None:
    """Closed at the turn a costly batch gives the event loop between its two messages,
    from another task or where no event loop runs: no fault said or counted, no call
    made. The message judged is said cut off from its
    delete (counted, not deleted), as when an exit ends the event loop there; both stay
    hidden until their visibility timeout, as after a kill."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _a_costly_batch(sqs)
        at_turn = _at_the_turn_after_one_judged(p)
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await at_turn.wait()
            raised = await _closed(task, in_a_thread=in_a_thread)
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


class _FailsClosingALines(_FailsOn):
    """A fault of sesd's own judging one message, raised as a generator it reads is
    closed (its cleanup fails): the error's context is that close's ``GeneratorExit``,
    in the poller's own task, whose coroutine nobody closed."""

    def __contains__(self, message_id: object) -> bool:
        def lines() -> Generator[None, None, None]:
            try:
                yield
            finally:
                super(_FailsClosingALines, self).__contains__(message_id)

        read = lines()
        next(read)
        read.close()
        return super().__contains__(message_id)


async def test_a_fault_met_as_a_generator_closes_is_no_close_of_the_poller(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """A fault of sesd's own judging the second of three messages, whose context holds a
    generator's ``GeneratorExit``: told as any judging fault is, not taken for the close
    of the poller's coroutine. The first is deleted, the third given back at once."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _three_received(sqs, _DELIVERIES)
        p._judge._invalid = _FailsClosingALines(messages[1]["MessageId"])
        with anyio.fail_after(10), pytest.raises(RuntimeError, match="a fault judging") as got:
            await p._handle(messages)
        assert isinstance(got.value.__context__, GeneratorExit)
        assert await queue_counts(sqs, url) == (1, 1)
    said = said_in(json_logs)
    failed = said["sesd.sqs.batch_failed"]
    assert (failed["deleted"], failed["to_give_back"]) == (1, 1)
    assert said["sesd.sqs.released"]["count"] == 1
    assert "sesd.sqs.delete_cut_off" not in said, said["sesd.sqs.delete_cut_off"]


async def test_a_poller_closed_as_it_deletes_a_batch_says_that_delete_cut_off(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """Closed while a batch's delete, made alone (no receive beside it), waits for SQS:
    the delete is said cut off and counted failed, as when an exit cuts it off, and
    no fault is said; the three come back after their visibility timeout."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, p, messages = await _three_received(sqs, _DELIVERIES)
        deleting = _stalled(sqs, "delete_message_batch")
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await deleting.wait()
            raised = await _closed(task)
        _no_wait_in_the_close(raised)
        assert _counted(p, "delete") == (1, 0)
        assert await queue_counts(sqs, url) == (0, 3)
    said = said_in(json_logs)
    assert said["sesd.sqs.delete_cut_off"]["count"] == 3
    assert "sesd.task.failed" not in said, said["sesd.task.failed"]
