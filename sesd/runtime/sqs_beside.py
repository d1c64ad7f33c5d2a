"""A batch's delete and the next receive, made together (sesd.runtime.sqs): one wait
for the network a batch, not two. What the two calls came to is kept here until both
have ended, and the batch is told from it."""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Any

from sesd.runtime.in_flight import Cut
from sesd.runtime.sqs_deletes import Deletes

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef, ReceiveMessageResultTypeDef
else:
    MessageTypeDef = Any
    ReceiveMessageResultTypeDef = Any

__all__ = [
    "BESIDE",
    "NOT_ASKED",
    "Asked",
    "Calls",
    "Received",
    "delete_beside",
    "raised_after",
    "raised_first",
    "read_end",
]

#: What the log says of a fault under one of a batch's two calls while the other's
#: error is the one raised (:func:`raised_first`).
BESIDE = (
    "a fault under one of a batch's two calls (its delete, the receive made beside it) "
    "while the other raised: that error ends the poller. A fault that repeats is a bug: "
    "report it with this traceback"
)


class _NotAsked(enum.Enum):
    NOT_ASKED = enum.auto()


#: No receive made (a stop began, or the delete before it was cut off).
NOT_ASKED = _NotAsked.NOT_ASKED
#: What a receive brought: its messages, or None (failed, or cut off).
Received = list[MessageTypeDef] | None
#: What a batch's handling received after its delete, if it asked.
Asked = Received | _NotAsked


class Calls:
    """What a batch's delete, and the receive made beside it, came to: how many the
    delete deleted (None if cut off), the receive's answer (None while it waits, and if
    cut off; :data:`NOT_ASKED` if none was made), what the delete raised (a fault of
    sesd's own; an exit, a cancellation nobody asked for: :func:`read_end`), and what
    the receive raised, or the wait for the delete after its answer (a fault, an exit
    asked for, a cancellation nobody asked for, the event loop's close: the poller
    raises it once the batch is told, what the receive brought given back)."""

    __slots__ = ("answer", "deleted", "fault", "raised")

    def __init__(self) -> None:
        self.deleted: int | None = None
        self.answer: ReceiveMessageResultTypeDef | BaseException | _NotAsked | None = NOT_ASKED
        self.fault: BaseException | None = None
        self.raised: BaseException | None = None


async def delete_beside(
    deletes: Deletes, done: list[MessageTypeDef], calls: Calls, cut: Cut
) -> None:
    """Delete a batch's handled messages (``done``) in a task of its own beside the
    receive, bounded by ``cut`` (which cancels the task: no scope of its own):
    ``calls.deleted`` says what SQS deleted, None if cut off. What else the delete
    raises is kept in ``calls.fault`` (a fault, a cancellation nobody asked for, a
    ``GeneratorExit``), for the poller to raise once the receive has ended: the task
    ends in none, as one awaited raises it into its awaiter (a ``GeneratorExit`` so
    thrown in ends the poller's coroutine). An exit is not kept: asyncio raises it out
    of the event loop at once."""
    try:
        calls.deleted = await deletes.delete(done)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - raised by the poller, after the receive
        if not (cut.caught and isinstance(exc, asyncio.CancelledError)):
            calls.fault = exc


def raised_after(calls: Calls) -> ReceiveMessageResultTypeDef | BaseException | None:
    """The receive's answer, where the poller raises once it came (sesd's own bug under
    the delete; an exit under it, or the event loop's close cancelling the wait for
    it): what it brought is the poller's to give back. None where the poller raises
    nothing, and where the receive was not made or brought no answer (it raised, or
    was cut off)."""
    if calls.answer is NOT_ASKED or (calls.fault is None and calls.raised is None):
        return None
    return calls.answer


def raised_first(
    fault: BaseException, raised: BaseException | None
) -> tuple[BaseException, BaseException | None]:
    """A batch's delete faulted (``fault``) and the receive beside it raised ``raised``,
    if anything: the error to raise, and the other, to be counted and logged as a fault,
    not dropped. The receive's is raised if it is no Exception (an exit asked for, a
    cancellation: it must reach whoever waits for it), else the delete's, as when the
    receive followed the delete."""
    if raised is not None and not isinstance(raised, Exception):
        return raised, fault
    return fault, raised


def read_end(task: asyncio.Task[None], calls: Calls, cut: Cut) -> None:
    """Read how the delete's task ended (asyncio logs an error of a task's that nobody
    read: "Task exception was never retrieved"). The task keeps what the delete raises
    in ``calls`` but an exit (``KeyboardInterrupt``, ``SystemExit``), which asyncio
    raises out of the event loop at once: only read here, the delete counted cut off,
    its end not known (the loop's close then cancels the poller: what the receive beside
    it brought is given back; a receive still waiting is cut off, as every call in
    flight is as the loop closes). A task cancelled before it began kept nothing: the
    cut of its bound (``cut``) is a delete cut off, a cancellation nobody asked for its
    fault, raised by the poller as when the delete was its own call. A task still
    running (the poller ended first, its event loop closing) is read when it ends."""
    if not task.done():
        task.add_done_callback(_end)
        return
    end = _end(task)
    if end is None or isinstance(end, KeyboardInterrupt | SystemExit):
        return
    if not (cut.caught and isinstance(end, asyncio.CancelledError)):  # (cut off before it began)
        calls.fault = end


def _end(task: asyncio.Task[None]) -> BaseException | None:
    """The error ``task`` ended in, read (None if it returned)."""
    try:
        return task.exception()
    except asyncio.CancelledError as exc:  # how a cancelled task's is read
        return exc
