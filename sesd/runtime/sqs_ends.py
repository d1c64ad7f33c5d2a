"""How a poller's batch ends (sesd.runtime.sqs): its delete made alone (a stop under
way: no receive beside it), what a cancellation gives back, and each end told: the
batch's line, a call cut off, a fault beside the error the poller raises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sesd.io.logs import debug_logged
from sesd.metrics.registry import Metrics
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs_beside import BESIDE, Calls, is_fault
from sesd.runtime.sqs_deletes import Deletes

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef
else:
    MessageTypeDef = Any

__all__ = ["Ends"]


class Ends:
    """The ends of one poller's batches."""

    def __init__(self, deletes: Deletes, metrics: Metrics, log: Any) -> None:
        self._deletes = deletes
        self._metrics = metrics
        self._log = log

    async def give_back(self, in_flight: InFlight, messages: list[MessageTypeDef]) -> None:
        """Release ``messages`` at once (visibility 0), in a bound of its own
        (``in_flight``'s); told cut off by it, or by the poller's own cancellation
        through its shield (then raised)."""
        try:
            with in_flight.budget() as scope:
                await self._deletes.release(messages)
            cut = scope.cancelled_caught
        except BaseException as exc:
            cut = not is_fault(exc)
            raise
        finally:
            if cut:
                self._deletes.cut_off("release")
                self.cut_off(
                    "sesd.sqs.release_cut_off",
                    count=len(messages),
                    hint="they become visible again after their visibility timeout",
                )

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

    def fault(self, exc: BaseException) -> None:
        """An error a batch also ended in, not the one raised: counted and logged as its supervisor
        does a fault; not an exit, nor the poller's own cancellation (:func:`is_fault`)."""
        if not is_fault(exc):
            return
        self._metrics.task_failures.labels("poller").inc()
        self._log.error("sesd.task.failed", task="poller", hint=BESIDE, exc_info=exc)

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
