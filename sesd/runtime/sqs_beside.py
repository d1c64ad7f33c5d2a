"""A batch's delete and the next receive, made together (sesd.runtime.sqs): one wait
for the network a batch, not two. What the two calls came to is kept here until both
have ended, and the batch is told from it."""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef, ReceiveMessageResultTypeDef
else:
    MessageTypeDef = Any
    ReceiveMessageResultTypeDef = Any

__all__ = ["NOT_ASKED", "Asked", "Calls", "Received", "raised_first", "read_end"]


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
    the receive raised (a fault, an exit asked for, a cancellation
    nobody asked for: the poller raises it once the batch is told)."""

    __slots__ = ("answer", "deleted", "fault", "raised")

    def __init__(self) -> None:
        self.deleted: int | None = None
        self.answer: ReceiveMessageResultTypeDef | BaseException | _NotAsked | None = NOT_ASKED
        self.fault: BaseException | None = None
        self.raised: BaseException | None = None


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


def read_end(task: asyncio.Task[None], calls: Calls) -> None:
    """Read how the delete's task ended: an error of a task's that nobody read, asyncio
    logs ("Task exception was never retrieved"). The delete keeps its faults in
    ``calls``; what else it ended in (a ``GeneratorExit``, a ``CancelledError`` nobody
    asked for) becomes its fault, raised by the poller once the receive has ended, as
    when the delete was the poller's own call. A ``KeyboardInterrupt`` or a
    ``SystemExit`` asyncio has raised out of the event loop already: only read (the
    delete counts as cut off, its end not known). A task still running (the poller
    ended first, its event loop closing) is read when it ends."""
    if not task.done():
        task.add_done_callback(_end)
        return
    end = _end(task)
    if end is not None and not isinstance(end, KeyboardInterrupt | SystemExit):
        calls.fault = end


def _end(task: asyncio.Task[None]) -> BaseException | None:
    """The error ``task`` ended in, read (None if it returned)."""
    try:
        return task.exception()
    except asyncio.CancelledError as exc:  # how a cancelled task's is read
        return exc
