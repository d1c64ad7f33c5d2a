"""A batch's delete and the next receive, made together (sesd.runtime.sqs): one wait
for the network a batch, not two. What the two calls came to is kept here until both
have ended, and the batch is told from it."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from sesd.io.cancelled import stop_asked
from sesd.runtime.in_flight import Cut, InFlight
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
    "delete_and_receive",
    "delete_beside",
    "is_fault",
    "raised_after",
    "raised_first",
    "read_end",
]

#: What the log says of a fault under a batch's delete, or under the receive made beside
#: it, while another error the batch ended in is the one raised (:func:`raised_first`).
BESIDE = (
    "a fault under a batch's delete, or under the receive made beside it, while another "
    "error ended the batch: the other call's, a fault of sesd's own in judging the batch "
    "or after it, an exit, or the poller's own cancellation (the event loop's close, a "
    "program cancelling its task). That error ends the poller. A fault that repeats is "
    "a bug: report it with this traceback"
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
    delete deleted (None if cut off; ``so_far``: what it had deleted by then), the
    receive's answer (None while it waits, and if cut off; :data:`NOT_ASKED` if none
    was made), what the delete raised (a fault of sesd's own; an exit, a cancellation
    nobody asked for: :func:`read_end`), and what the receive raised, or the wait for
    the delete (a fault, an exit asked for, a cancellation nobody asked for, the event
    loop's close: the poller raises it once the batch is told, what the receive
    brought given back), or, a stop's delete made alone, what ended it but a fault
    (an exit, the poller's own cancellation: a delete cut off, told as one).
    ``other``: the receive's error when what ended the wait for the delete after it
    is the one raised, for the poller to count and log as a fault, not drop."""

    __slots__ = ("answer", "deleted", "fault", "other", "raised", "so_far")

    def __init__(self) -> None:
        self.deleted: int | None = None
        self.so_far = 0
        self.answer: ReceiveMessageResultTypeDef | BaseException | _NotAsked | None = NOT_ASKED
        self.fault: BaseException | None = None
        self.raised: BaseException | None = None
        self.other: BaseException | None = None


#: A receive made beside a delete: SQS's answer, or the error it ended in.
Ask = Callable[[], Awaitable[ReceiveMessageResultTypeDef | BaseException]]


async def delete_and_receive(
    in_flight: InFlight, deletes: Deletes, done: list[MessageTypeDef], ask: Ask, limit: float
) -> Calls:
    """Delete a batch's handled messages (``done``) and make the next receive (``ask``)
    at once, not after the delete's answer: one wait for the network a batch, not two.
    Each wait idles the CPU, and sesd's code runs slower after one (its caches and
    branch history gone to whatever ran meanwhile); with SQS tens of milliseconds away,
    a poller also reads twice as many batches a second.

    The delete is an asyncio task of its own (an anyio task group costs four times as
    much), which no cancel scope reaches, bounded by cancelling it (``limit`` seconds,
    :meth:`InFlight.bound`: a scope of its own cost 37,000 instructions a batch); the
    receive is the caller's, in a bound of its own as a receive alone is. Neither is
    cancelled by the other's end, and the caller waits for both, shielded: a
    cancellation that came meanwhile is taken after them, where it was (the poller's
    next checkpoint gives back what the receive brought). Whatever ends
    a wait (the receive's error, an exit or the event loop's close during the wait for
    the delete) is kept in what this returns, for the caller to raise once the batch is
    told: what the receive brought is then given back, not hidden until its visibility
    timeout."""
    calls = Calls()
    cut = in_flight.bound(limit)
    beside = asyncio.get_running_loop().create_task(delete_beside(deletes, done, calls, cut))
    cut.task = beside
    try:
        try:
            with in_flight.scope(margin=False) as receiving:
                calls.answer = None  # cut off, until it answers
                calls.answer = await ask()
                # The delete outlasted the receive: waited for in the receive's shielded
                # scope, its bound lifted (the delete has its own), not in a scope of its
                # own (29,000 instructions a batch).
                if not beside.done() and in_flight.lift(receiving):
                    await beside
        except BaseException as exc:  # noqa: BLE001 - raised once the batch is told
            calls.raised = exc
        if not beside.done():  # the receive raised, or its bound cut it off
            try:
                with anyio.CancelScope(shield=True):
                    await beside
            except BaseException as exc:  # noqa: BLE001 - raised once the batch is told
                # An exit, or the event loop's close (after an exit under the delete):
                # told as any end of the wait is, the receive's error not dropped. After
                # the delete's exit, which asyncio raised out of the loop at once, an
                # exit under the receive is not raised in turn: it would go out of the
                # loop's close, cutting short the cancellation of every other task.
                if calls.raised is None or _exited(beside):
                    calls.raised, calls.other = exc, calls.raised
                else:
                    calls.raised, calls.other = raised_first(calls.raised, exc)
    finally:
        in_flight.unbound(cut)
        # Also when the caller ended first (its event loop closing): asyncio logs an
        # error of a task's that nobody read.
        read_end(beside, calls, cut)
    fault = calls.fault
    if fault is not None and not is_fault(fault):
        # The delete cancelled with the poller (the event loop's close after an exit
        # elsewhere; a cancellation of the poller passes to the task it waits for): a
        # delete cut off, told as one, the cancellation raised once the batch is told.
        calls.fault = None
        calls.raised, other = raised_first(fault, calls.raised)
        if calls.other is None:
            calls.other = other
    return calls


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
        calls.deleted = await deletes.delete(done, calls)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - raised by the poller, after the receive
        if not (cut.caught and isinstance(exc, asyncio.CancelledError)):
            calls.fault = exc


def _exited(task: asyncio.Task[None]) -> bool:
    """Whether ``task`` (the delete's) ended in an exit, gone out of the event loop."""
    if not task.done() or task.cancelled():
        return False
    return isinstance(task.exception(), KeyboardInterrupt | SystemExit)


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
    """Two errors a batch ended in: the one to raise, and the other, to be counted and
    logged as a fault, not dropped (:func:`is_fault` says which are none). An exit asked
    for comes first: it ends the whole program, whoever cancelled the poller included,
    and asyncio raises it out of the event loop; turned into a cancellation, a Ctrl-C
    could leave the process running. A cancellation comes next (it must reach whoever
    waits for it), a fault last. Of two alike, ``raised`` comes first where they are no
    Exception, ``fault`` where they are: of two faults, one under the batch's delete
    (``fault``) so comes before the receive's beside it (``raised``), as when the
    receive followed the delete. The receive's error is ``fault`` beside what ended the
    wait for the delete after it (``raised``: an exit, the event loop's close)."""
    if raised is not None and _rank(raised) >= max(_rank(fault), 1):
        return raised, fault
    return fault, raised


def _rank(exc: BaseException) -> int:
    """Which of two errors a batch ended in is raised (:func:`raised_first`): an exit
    asked for (2) before what else is no Exception (1: a cancellation, a
    ``GeneratorExit``), before a fault (0)."""
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return 2
    return 0 if isinstance(exc, Exception) else 1


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc``, an error a batch also ended in but not the one raised
    (:func:`raised_first`), is a fault to count and log as its supervisor does one. An
    exit asked for is none (the process is ending), nor is the poller's own cancellation
    (a stop, the event loop's close after an exit: the delete beside the receive is
    cancelled with it), also where an exit is raised in its place; a ``CancelledError``
    nobody asked for is, as it would be raised."""
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return False
    return not (isinstance(exc, asyncio.CancelledError) and stop_asked())


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
