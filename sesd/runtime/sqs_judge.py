"""What a poller's batch comes to: each message run through the pipeline, in order,
and whether it is to be deleted. An invalid message is said once (its id
remembered) and left to the queue's redrive policy unless ``delete_invalid``; a bug
while one is handled is logged and counted, and the message left for SQS to deliver
again. An empty answer may say the queue is caught up (:func:`empty_speaks`).

The batch holds the event loop while it is judged, up to :data:`HOLD` at a time:
then the loop's other tasks (the watchdog, health, the other pollers) have a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from itertools import dropwhile, islice
from operator import is_not
from typing import TYPE_CHECKING, Any

import anyio

from sesd.config import QueueConfig
from sesd.config.queue_checks import is_fifo
from sesd.core.pipeline import Pipeline
from sesd.core.tallies import Outcome
from sesd.core.text import clean_once
from sesd.metrics.sqs import QueueCounts
from sesd.runtime.sqs_calls import InvalidMemory, body_no_text, text_member

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef
else:
    MessageTypeDef = Any

__all__ = ["HOLD", "Judge", "empty_speaks"]

#: Read once: an enum member read through its class at each message cost about 820
#: instructions more (cachegrind).
_INVALID = Outcome.INVALID

#: How long a batch's messages may hold the event loop before the other tasks have a
#: turn: a fifth of the 50 ms that a scrape or an evaluation may hold it, far below a
#: watchdog's or a health check's patience. A batch of ordinary events takes well
#: under a millisecond.
HOLD = 0.01


def empty_speaks(queue: QueueConfig) -> bool:
    """Whether an empty answer from ``queue`` says that no message waits there: a long
    poll's (``wait_time_seconds`` of 1 or more) of a standard queue, which asks every one
    of SQS's servers and waits for a message. A short poll asks a sample of them and can
    come back empty while a backlog waits; a FIFO queue's long poll comes back empty
    while each message group that waits is held back behind one in flight."""
    return queue.wait_time_seconds >= 1 and not is_fifo(queue)


class Judge:
    """The messages of one poller's batches, run through the pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        label: str,
        *,
        delete_invalid: bool,
        invalid: InvalidMemory,
        counts: QueueCounts,
        log: Any,
        place: Callable[[], dict[str, bool]],
        monotonic: Callable[[], float],
        empty_speaks: bool = False,
    ) -> None:
        self._pipeline = pipeline
        self._label = label
        self._delete_invalid = delete_invalid
        #: The message ids judged invalid, so each is counted and logged once.
        self._invalid = invalid
        #: Where a bug counts (none at the old place of a queue a reload moved or removed).
        self._counts = counts
        self._log = log
        #: What a line says of the queue's place (``retired`` at an old one).
        self._place = place
        self._monotonic = monotonic
        #: Whether an empty answer says the queue is caught up (:func:`empty_speaks`).
        self._empty_speaks = empty_speaks

    def empty(self, at: float) -> None:
        """A receive answered at ``at`` brought nothing: where that says no message
        waits (:func:`empty_speaks`), sesd reads the queue caught up (Tallies.caught_up),
        else the receive says nothing of how far behind it is."""
        if self._empty_speaks:
            self._pipeline.ledger.tallies.caught_up(self._label, at)

    async def batch(
        self,
        messages: list[MessageTypeDef],
        received_at: float,
        done: list[MessageTypeDef],
        left: list[MessageTypeDef],
    ) -> None:
        """Run a batch's messages through the pipeline, in order; the event loop's other
        tasks have their turn whenever the batch has held the loop for :data:`HOLD`
        seconds: ten costly messages are ten short stalls, not one long one. Never
        cancelled (a stop waits for the batch's end and its delete: a message counted
        but not deleted would come back and count twice): its turns, its only awaits,
        are shielded. Those to delete are added to ``done`` as each is judged: what the
        shield does not hold off (the task's own cancellation, the event loop's close)
        leaves there those counted so far, and in ``left`` those it came before, not
        judged, for the poller to give back; so does a fault of sesd's own in the
        judging, in ``left`` those after the message at fault (not that one).

        Not a turn before every message: a turn is a trip round the event loop (a
        selector poll, a task switch), about 25,000 instructions, a quarter of what the
        pipeline spends on a delivery; and a batch judged in one go finds the
        pipeline's code and data still in the caches from the message before, where
        other pollers' SDK calls in between would have evicted them. A message is
        never cut in two, so a hold is at most HOLD and one message (the receive's
        answer, read a moment before in a turn of the loop, is parsed in far less).

        One shielded scope a turn, not one round the batch: a scope costs about as much
        as a turn, and a batch of ordinary events takes none."""
        monotonic = self._monotonic
        since = monotonic()
        # The wall clock's steps measured so far (sesd.core.canary.CanaryTracker.stepped):
        # one measured at a turn (another task read the clock) moved every time the
        # ledger holds of that clock; the receive's time, read before it, moves as far.
        canary = self._pipeline.ledger.canary
        shifted = canary.shifted
        for message in messages:
            if monotonic() - since >= HOLD:
                try:
                    await anyio.lowlevel.cancel_shielded_checkpoint()
                except asyncio.CancelledError:
                    # Counted nowhere, hidden by SQS until their visibility timeout: the
                    # poller gives them back (not at an exit, which ends the loop at once).
                    left += dropwhile(partial(is_not, message), messages)
                    raise
                since = monotonic()
                received_at += canary.shifted - shifted
                shifted = canary.shifted
            try:
                if self._judge(message, received_at):
                    done.append(message)
            except Exception:
                # A fault of sesd's own (a message's, the pipeline's, is caught in _judge):
                # those after this message, not judged, for the poller to give back. This
                # one stays hidden until its visibility timeout, as any not deleted: one
                # that meets the fault each time, given back at once, would go to the
                # next poller of the queue, end it too, and keep every poller restarting
                # in turn (a queue without a redrive policy, for good).
                left += islice(dropwhile(partial(is_not, message), messages), 1, None)
                raise

    def _judge(self, message: MessageTypeDef, received_at: float) -> bool:
        """Run one message through the pipeline. True when it is to be deleted."""
        # Text, as SQS's are ("" for a stand-in's list or object: no key; a body so is
        # an invalid message). A message without an id is judged by its own body, never
        # by the verdict on another without one.
        # (text_member(), inline: its call cost about 500 instructions a message.)
        message_id = message.get("MessageId", "")
        if not isinstance(message_id, str):
            message_id = ""
        if message_id and message_id in self._invalid:
            return self._delete_invalid
        body = message.get("Body")  # read once: the member's two helpers in one step
        try:
            if body is None or isinstance(body, str):  # none is an empty body (not JSON)
                result = self._pipeline.feed(body or "", self._label, received_at, received_at)
            else:
                invalid = body_no_text(body)
                result = self._pipeline.apply(invalid, self._label, received_at, received_at)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the queue
            # Not deleted: SQS delivers it again. A bug before its event was applied
            # (decoding, say) is tried again, then moves it to the dead-letter queue, to
            # redrive once fixed; one while it was applied left what it wrote, and the
            # redelivery is a duplicate (deleted then), never counted twice.
            #
            # A bug, wherever the message came from: logged at error, ``retired`` at the
            # old place of a queue a reload moved or removed (as its other lines say).
            # One there counts no ``process`` error: the series are the place in force's
            # (its account and region), and the same bug counts there on the new
            # place's messages.
            self._log.error(
                "sesd.pipeline.failed",
                sqs_message_id=clean_once(message_id),
                error=type(exc).__name__,
                # Told cleaned (sesd.io.logs): the error may quote the body (an address).
                exc_info=exc,
                **self._place(),
            )
            self._counts.error("process")
            return False
        if result.outcome is not _INVALID:
            return True
        if message_id:
            self._invalid.add(message_id)
        attributes = message.get("Attributes", {})  # a map: botocore reads no other
        receive_count = clean_once(text_member(attributes, "ApproximateReceiveCount"))
        self._log.warning(  # ``retired`` at a moved or removed queue's old place, as above
            "sesd.message.invalid",
            sqs_message_id=clean_once(message_id),
            reason=result.reason,
            detail=result.detail,
            receive_count=receive_count,
            deleted=self._delete_invalid,
            **self._place(),
        )
        return self._delete_invalid
