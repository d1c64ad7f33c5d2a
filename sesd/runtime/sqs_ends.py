"""How a poller's batch ends (sesd.runtime.sqs): its delete made alone (a stop under
way: no receive beside it), what a cancellation gives back, a fault of sesd's own in
its judging or after it, and each end told: the batch's line, a call cut off, a fault
beside the error the poller raises."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sesd.io.logs import debug_logged
from sesd.metrics.registry import Metrics
from sesd.metrics.sqs import QueueCounts
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs_beside import BESIDE, Calls, is_fault, raised_first
from sesd.runtime.sqs_calls import describe_error
from sesd.runtime.sqs_deletes import Deletes, Released

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef
else:
    MessageTypeDef = Any

__all__ = [
    "APPLIED",
    "GIVE_BACK",
    "MISJUDGED",
    "MISJUDGED_ENDING",
    "MISJUDGED_UNDELETED",
    "Ends",
]

#: What the log says, after what came of the delete of what a faulted batch judged, of
#: the rest of the batch and of the poller.
_MISJUDGED_REST = (
    "those after the message at fault given back at once for SQS to hand out again, "
    "unless that give-back is cut off (sesd.sqs.release_cut_off) or raises (this fault "
    "then told beside its error: sesd.task.failed); those hidden (that message, and any "
    "the batch left for SQS to deliver again) come back after their visibility timeout "
    "(with a redrive policy, one that meets the fault each time moves to the dead-letter "
    "queue); the poller starts again, unless an exit or a cancellation under that "
    "give-back ends it. A fault that repeats is a bug: report it with its traceback "
    "(sesd.task.failed)"
)

#: What the log says of a fault of sesd's own in a batch's judging, and what came of it.
MISJUDGED = (
    "a fault of sesd's own judging the batch: what it judged is deleted as any batch's, "
    + _MISJUDGED_REST
)

#: What the log says of a fault of sesd's own in a batch's judging, when another fault of
#: sesd's own ended the delete of what it judged: ``deleted`` says how many it deleted.
MISJUDGED_UNDELETED = (
    "a fault of sesd's own judging the batch, and another under the delete of what it "
    "judged (told beside it: sesd.task.failed), which ended that delete: what it did not "
    "delete (all but `deleted`) SQS hands out again after its visibility timeout, counted "
    "as duplicates; " + _MISJUDGED_REST
)

#: What the log says of a fault of sesd's own judging the batch, when an exit or the
#: poller's own cancellation ended the delete of what it judged: that ends the poller.
MISJUDGED_ENDING = (
    "a fault of sesd's own judging the batch, while an exit or a cancellation, which "
    "ends the poller (not started again), ended the delete of what it judged: what "
    "that delete did not delete (sesd.sqs.delete_cut_off, when it was cut off before "
    "SQS answered) SQS hands out again after its visibility timeout; those after the "
    "message at fault are given back at once for SQS to hand out again, unless that "
    "give-back is cut off (sesd.sqs.release_cut_off) or raises (a fault then told: "
    "sesd.task.failed); those hidden "
    "(that message, and any the batch left for SQS to deliver again) come back after "
    "their visibility timeout (with a redrive policy, one that meets the fault each "
    "time moves to the dead-letter queue). A fault that repeats is a bug: report it "
    "with this traceback"
)


#: What the log says of a fault of sesd's own after a batch was applied, when what ended
#: its delete (an exit, a cancellation) is what the poller raises (:meth:`Ends.applied`).
APPLIED = (
    "a fault of sesd's own after the batch was handled, while an exit or a cancellation, "
    "which ends the poller (not started again), ended the delete made first of what the "
    "batch handled: what that delete did not delete (sesd.sqs.delete_cut_off, when it "
    "was cut off before SQS answered) SQS hands out again after its visibility timeout. "
    "A fault that repeats is a bug: report it with this traceback"
)

#: What the log says of one of two errors a batch ended in: the one the poller was to
#: raise (a fault under its delete or in its judging, what ended the delete or the
#: receive beside it, the poller's own cancellation), then another giving back messages
#: at once (:meth:`Ends.either`).
GIVE_BACK = (
    "two errors ended a batch: one the poller was to raise (a fault under its delete or "
    "in its judging; an exit or a cancellation under its delete or the receive beside "
    "it; its own cancellation before or as the batch was judged), then another giving "
    "back messages at once (what that receive brought, or those after the message at "
    "fault or not yet judged): a fault, an exit, a cancellation; this one is told here, "
    "the other ends the poller. A fault that repeats is a bug: report it with this "
    "traceback"
)


class Ends:
    """The ends of one poller's batches."""

    def __init__(self, deletes: Deletes, counts: QueueCounts, metrics: Metrics, log: Any) -> None:
        self._deletes = deletes
        #: Where a fault in the judging counts (none at a moved or removed queue's old place).
        self._counts = counts
        self._metrics = metrics
        self._log = log

    async def give_back(self, in_flight: InFlight, messages: list[MessageTypeDef]) -> None:
        """Release ``messages`` at once (visibility 0), in a bound of its own
        (``in_flight``'s); told cut off by it, or by the poller's own cancellation
        through its shield (then raised), unless SQS had answered (told as it answered)."""
        released = Released()
        try:
            with in_flight.budget() as scope:
                await self._deletes.release(messages, released)
            cut = scope.cancelled_caught and not released.answered
        except BaseException as exc:
            cut = not released.answered and not is_fault(exc)
            raise
        finally:
            if cut:
                self._deletes.cut_off("release")
                self.cut_off(
                    "sesd.sqs.release_cut_off",
                    count=len(messages),
                    hint="they become visible again after their visibility timeout",
                )

    async def given_back(
        self, in_flight: InFlight, messages: list[MessageTypeDef], ended: BaseException
    ) -> BaseException:
        """:meth:`give_back` of ``messages`` before the poller ends in ``ended`` (its own
        cancellation, an exit): what it raises then, ``ended`` or the give-back's error, as
        :meth:`either` says (an exit under the give-back before the cancellation), the
        other told. The give-back's fault raised in place of the cancellation, its
        supervisor would start again a poller asked to end."""
        try:
            await self.give_back(in_flight, messages)
        except BaseException as error:  # noqa: BLE001 - one of the two raised by the poller
            return self.either(error, ended)
        return ended

    async def delete(
        self, in_flight: InFlight, done: list[MessageTypeDef], calls: Calls, limit: float
    ) -> None:
        """Delete a batch's handled messages in this task, no receive beside it (a stop
        under way), in the bound a delete has (``in_flight``'s: ``limit``, the margin
        past the grace period): ``calls.deleted`` says what SQS deleted, None if cut off (``so_far``
        then says what it had deleted). A fault of sesd's own is kept in
        ``calls.fault``, for the poller to raise; what else ends the delete, in
        ``calls.raised``, for the poller to raise once the batch is told."""
        try:
            with in_flight.scope(limit):
                calls.deleted = await self._deletes.delete(done, calls)
        except BaseException as exc:  # noqa: BLE001 - raised by the poller
            # Outside the scope, which takes its own cut. An exit, or the poller's own
            # cancellation through the shield (the event loop's close, a program
            # cancelling its task), ends the delete cut off: told so, as beside a receive.
            if is_fault(exc):
                calls.fault = exc
            else:
                calls.raised = exc

    async def misjudged(
        self,
        in_flight: InFlight,
        exc: BaseException,
        messages: list[MessageTypeDef],
        done: list[MessageTypeDef],
        left: list[MessageTypeDef],
        limit: float,
    ) -> BaseException:
        """A fault of sesd's own judging a batch (``exc``), which ends the poller for its
        supervisor to count, log and start again: the batch told first. Those judged
        to delete (``done``, counted) are deleted as any batch's are (``limit``); those
        after the message at fault, not judged (``left``), are given back at once, for
        SQS to hand out again rather than hide them, counted nowhere, until their
        visibility timeout. The message at fault is not: given back, it would end at
        once the next poller that reads it; it is said ``hidden``, as are those the
        batch judged to leave. The fault counts a processing error of the
        queue and is said, escaped (its text may quote a body), with what came of the
        batch. What to raise: the fault, or what ended the delete if it must reach
        whoever waits for it (an exit, a cancellation; the fault then counted and
        logged here); when the give-back raises in turn, the one of the two
        :meth:`either` says."""
        calls = await self._deleted(in_flight, messages, done, limit)
        # An exit or the poller's own cancellation under the delete ends the poller: the
        # judging's advice (the delete made, the poller started again) would be untrue;
        # so would "deleted" after a fault of sesd's own under the delete.
        hint = MISJUDGED if calls.fault is None else MISJUDGED_UNDELETED
        if calls.raised is not None:
            hint = MISJUDGED_ENDING
        self._counts.error("process")
        self._log.error(
            "sesd.sqs.batch_failed",
            received=len(messages),
            to_delete=len(done),
            deleted=calls.so_far if calls.deleted is None else calls.deleted,
            to_give_back=len(left),
            # Neither to delete nor given back: the message at fault, and those the batch
            # judged to leave (invalid, or failed in the pipeline), back after their
            # visibility timeout. With to_delete and to_give_back, it adds up to received.
            hidden=len(messages) - len(done) - len(left),
            error=describe_error(exc),
            hint=hint,
            **self._deletes.place(),
        )
        first = self._first(exc, calls, hint)
        try:
            await self.give_back(in_flight, left)
        except BaseException as error:  # noqa: BLE001 - one of the two raised by the poller
            # Whichever the poller ends in, the other told here: the judging's fault
            # beside the give-back's error (which the poller then raises, and which may
            # end it for good), or the give-back's error beside what ended the delete
            # (an exit, a cancellation: lost behind a fault, the supervisor would start
            # again a poller asked to end).
            return self.either(error, first)
        return first

    async def applied(
        self,
        in_flight: InFlight,
        exc: BaseException,
        messages: list[MessageTypeDef],
        done: list[MessageTypeDef],
        limit: float,
    ) -> BaseException:
        """A fault of sesd's own after a batch was judged and applied (``exc``: in what
        follows each batch), which ends the poller for its supervisor to count, log and
        start again: what the batch handled (``done``) is deleted first, as any batch's
        (``limit``), and the batch told. Left undeleted, SQS would hand it out again
        after its visibility timeout and it would count a second time: as duplicates, or
        anew in the windows once the duplicate filter had forgotten it. What to raise:
        the fault, or what ended the delete if it must reach whoever waits for it (an
        exit, a cancellation; the fault then counted and logged here)."""
        calls = await self._deleted(in_flight, messages, done, limit)
        return self._first(exc, calls, APPLIED)

    async def _deleted(
        self,
        in_flight: InFlight,
        messages: list[MessageTypeDef],
        done: list[MessageTypeDef],
        limit: float,
    ) -> Calls:
        """What a batch ending in a fault handled (``done``), deleted as any batch's is,
        and the batch told: what the delete came to."""
        calls = Calls()
        await self.delete(in_flight, done, calls, limit)
        if calls.fault is None:  # a fault under the delete is no delete cut off: told later
            self.told(len(messages), len(done), calls.deleted, calls.so_far)
        return calls

    def _first(self, exc: BaseException, calls: Calls, hint: str) -> BaseException:
        """What a poller whose batch ended in ``exc`` raises once its delete (``calls``)
        has ended: ``exc``, or what ended the delete if it must reach whoever waits for
        it (:func:`raised_first`); the other counted and logged here as a fault. A
        ``CancelledError`` nobody asked for under the delete (a library's own) is a
        fault as any other there: ``exc`` is raised, and it is told beside it. Raised
        instead, its supervisor would start the poller again, while the batch's fault
        was told as one whose poller an exit or a cancellation ends, its delete cut off
        (``sesd.sqs.delete_cut_off``, which a fault under the delete does not log)."""
        if isinstance(calls.fault, asyncio.CancelledError):
            self.fault(calls.fault, BESIDE)
            return exc
        first, other = raised_first(exc, calls.raised or calls.fault)
        if other is not None:
            self.fault(other, hint if other is exc else BESIDE)
        return first

    def either(self, exc: BaseException, first: BaseException) -> BaseException:
        """What the poller raises when the give-back it makes before it raises ``first``
        (what its batch ended in) raises ``exc``: the one :func:`raised_first` puts first.
        An exit asked for comes before all (it ends the program, whoever cancelled the
        poller included), a cancellation next (whoever cancelled the poller waits for
        it), a fault last; of two alike, the give-back's fault, else ``first``. The other
        is counted and logged here as a fault, with its own traceback, not lost: a fault,
        a ``CancelledError`` nobody asked for; not an exit, nor the poller's own
        cancellation (no faults: :func:`is_fault`)."""
        raised, other = raised_first(exc, first)
        if other is not None:
            self.fault(other, GIVE_BACK)
        return raised

    def fault(self, exc: BaseException, hint: str = BESIDE) -> None:
        """An error a batch also ended in, not the one raised: counted and logged as its supervisor
        does a fault; not an exit, nor the poller's own cancellation (:func:`is_fault`)."""
        if not is_fault(exc):
            return
        self._metrics.task_failures.labels("poller").inc()
        self._log.error("sesd.task.failed", task="poller", hint=hint, exc_info=exc)

    def told(self, received: int, to_delete: int, deleted: int | None, so_far: int = 0) -> None:
        """A batch's end: a delete cut off (``deleted`` None; what its first try deleted,
        ``so_far``, does not come back) counted failed, as one the SDK gave up on is (in
        a stall every delete ends so: the errors' series would else say none failed),
        and warned of; then the batch's line, at debug level."""
        if deleted is None:
            deleted = so_far
            self._deletes.cut_off("delete")
            self.cut_off(
                "sesd.sqs.delete_cut_off",
                count=to_delete - deleted,
                deleted=deleted,
                hint="counted, but not deleted: SQS hands them out again after their "
                "visibility timeout",
            )
        if debug_logged():  # asked first: a line dropped costs about 17,000 instructions
            self._log.debug(
                "sesd.sqs.batch", received=received, to_delete=to_delete, deleted=deleted
            )

    def cut_off(self, event: str, **fields: Any) -> None:
        """A call (a receive, a delete, a release) cut off: a warning, but at the old place
        of a queue a reload moved or removed, that place's word (``retired``, at info)."""
        if not self._deletes.retired(event, **fields):
            self._log.warning(event, **fields)
