"""A poller cancelled (a reload, a program cancelling its task: ``Task.cancel()``, which
no shield holds off) as the receive made beside a batch's delete raises, or after: the
poller ends in what must reach whoever waits for it, an exit before that cancellation,
the cancellation before a fault, and a fault of sesd's own under the receive is counted
and logged, not dropped. An exit that ends a task of the poller's ends its event loop:
those tests run one of their own."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import anyio
import pytest

import sesd.io.sqs_answers as answers_module
from sesd.runtime.sqs import QueuePoller
from tests.conftest import said_in
from tests.test_sqs_receive_beside_delete import (
    HeldReleases,
    Releases,
    _raising,
    _read_faults,
    _waiting_for_the_delete_alone,
)
from tests.test_sqs_receive_failures import _receiving


async def _cancelled_waiting_for_the_delete(
    sqs: HeldReleases, p: QueuePoller, kind: type[BaseException]
) -> asyncio.Task[Any]:
    """The poller handles one message; the receive beside its delete raises ``kind`` as
    its answer is read, and the delete is held: once the poller waits for the delete
    alone, its task is cancelled. The task, ended."""
    messages = await p._receive()
    assert messages is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(answers_module, "_entry", _raising(kind, "MessageId"))
        task = asyncio.get_running_loop().create_task(p._handle(messages, ask=True))
        try:
            with anyio.fail_after(5):
                await _waiting_for_the_delete_alone(p._in_flight)
                task.cancel()
                await asyncio.wait((task,))
        finally:
            sqs.answer_deletes.set()
    return task


async def test_a_fault_under_the_receive_is_told_when_the_poller_is_cancelled_after_it(
    json_logs: io.StringIO,
) -> None:
    """A bug of sesd's own under the receive (KeyError), then the poller cancelled while
    it waits for the delete beside it: the poller ends in the cancellation, for whoever
    cancelled it (a reload) to go on, and the bug is counted and logged with its
    traceback. An error of sesd's in place of the cancellation would have the poller's
    supervisor start again a poller asked to end."""
    async with HeldReleases() as sqs, _receiving(sqs) as p:
        task = await _cancelled_waiting_for_the_delete(sqs, p, KeyError)
        assert task.cancelled()
        assert _read_faults(p, json_logs) == [("poller", "KeyError")]


def _cancelled_as_it_raises(p: QueuePoller, kind: type[BaseException]) -> None:
    """``p``'s receive raising ``kind`` in the very turn its task is cancelled, before it
    waits for SQS: the delete's task beside it, made just before, has taken no step."""

    async def receive(**_: Any) -> Any:
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        raise kind("as the poller is cancelled")

    p._receiver.receive_message = receive  # type: ignore[method-assign]


async def test_a_fault_as_the_poller_is_cancelled_before_its_delete_began_is_told(
    json_logs: io.StringIO,
) -> None:
    """The poller is cancelled in the very turn a bug of sesd's own is raised under the
    receive beside the batch's delete, before the delete's task took its first step: the
    poller ends in the cancellation, not in the bug (its supervisor would start again a
    poller asked to end), and the bug is counted and logged with its traceback."""
    async with Releases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        _cancelled_as_it_raises(p, RuntimeError)
        task = asyncio.get_running_loop().create_task(p._handle(messages, ask=True))
        with anyio.fail_after(5):
            await asyncio.wait((task,))
        assert task.cancelled()
        assert "DeleteMessageBatch" not in sqs.seen
        assert _read_faults(p, json_logs) == [("poller", "RuntimeError")]


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit], ids=lambda k: k.__name__)
def test_an_exit_as_the_poller_is_cancelled_before_its_delete_began_is_raised(
    kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """The poller is cancelled in the very turn an exit is asked for under the receive
    beside the batch's delete, before the delete's task took its first step: that task
    is cancelled unstarted, no delete made. The poller still ends in the exit, raised out
    of the event loop, not in the cancellation (a Ctrl-C could leave the process
    running); nothing is counted or logged as a fault, and the delete is said cut off,
    its message counted but not deleted."""
    ran: list[tuple[Releases, QueuePoller, asyncio.Task[Any]]] = []

    async def run() -> None:
        async with Releases() as sqs, _receiving(sqs) as p:
            messages = await p._receive()
            assert messages is not None

            _cancelled_as_it_raises(p, kind)
            task = asyncio.get_running_loop().create_task(p._handle(messages, ask=True))
            ran.append((sqs, p, task))
            with anyio.fail_after(5):
                await asyncio.wait((task,))

    with pytest.raises(kind, match="as the poller is cancelled"):
        anyio.run(run)
    [(sqs, p, task)] = ran
    assert isinstance(task.exception(), kind)
    assert "DeleteMessageBatch" not in sqs.seen
    assert _read_faults(p, json_logs) == []
    cut = said_in(json_logs)["sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut["deleted"]) == (1, 0)


async def test_a_reload_cancelling_the_poller_after_its_receive_raised_waits_for_the_delete(
    json_logs: io.StringIO,
) -> None:
    """A bug of sesd's own under the receive (KeyError), then a reload cancels the
    poller's task group while the batch's delete is still out: the delete is waited for,
    not cut off, and the batch's line says it deleted its message; cut off, SQS would
    hand the message out again after its visibility timeout, to count a second time. The
    bug is still raised, for the supervisor to count and log."""
    raised: list[BaseException] = []
    async with HeldReleases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(answers_module, "_entry", _raising(KeyError, "MessageId"))

            async def handle() -> None:
                try:
                    await p._handle(messages, ask=True)
                except BaseException as exc:
                    raised.append(exc)
                    raise

            with anyio.fail_after(5):
                try:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(handle)
                        await _waiting_for_the_delete_alone(p._in_flight)
                        tg.cancel_scope.cancel()
                        sqs.answer_deletes.set()
                except* KeyError:
                    pass
    assert [type(exc) for exc in raised] == [KeyError]
    said = said_in(json_logs)
    assert "sesd.sqs.delete_cut_off" not in said, said["sesd.sqs.delete_cut_off"]
    assert (said["sesd.sqs.batch"]["received"], said["sesd.sqs.batch"]["deleted"]) == (1, 1)
