"""The input edge: long-polling SQS consumers that feed the pipeline.

Each queue gets ``concurrency`` pollers. A poller receives up to 10 messages
with a 20 s long poll, runs them through the pipeline (in order, the other tasks
given a turn whenever the batch has held the event loop a while:
sesd.runtime.sqs_judge), and deletes what was handled in one batch. A short-polled
queue (``wait_time_seconds = 0``) is asked again a second after an empty answer,
at once after one that brought messages.
Invalid messages are left alone so the queue's redrive policy moves them to
the dead-letter queue. A failed receive is counted and logged, and the next waits
out a backoff (sesd.runtime.sqs_failures).

Stopping: the daemon sets ``stopping``; a poller finishes the receive in
flight, handles and deletes what it brought, and returns. A receive is not
cut off while the grace period lasts (SQS would hide the messages it had
already taken until their visibility timeout): it is shielded, and what it
brings after its pollers are cancelled (those of a queue a reload removed) is
released at once (visibility 0). At the end of a stop's grace period a receive
still waiting is abandoned, that moment, not later (:class:`InFlight`): with
a grace period longer than the long poll, the network has stalled and no
answer would come in time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import anyio

from sesd.config import QueueConfig
from sesd.core.accounts import DEFAULT_ACCOUNT
from sesd.core.pipeline import Pipeline
from sesd.io.logs import get_logger
from sesd.io.sdk_blame import answer_too_deep, sesds_own
from sesd.metrics.registry import Metrics
from sesd.runtime.clock import compare_with_aws
from sesd.runtime.health import Changes, Health
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs_beside import (
    NOT_ASKED,
    Asked,
    Calls,
    Received,
    delete_and_receive,
    is_fault,
    raised_after,
    raised_first,
)
from sesd.runtime.sqs_calls import SQS_ERRORS, InvalidMemory, foreign_answer
from sesd.runtime.sqs_deletes import Deletes
from sesd.runtime.sqs_ends import Ends
from sesd.runtime.sqs_failures import ReceiveFailures
from sesd.runtime.sqs_judge import Judge, empty_speaks

if TYPE_CHECKING:
    from types_aiobotocore_sqs.client import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef, ReceiveMessageResultTypeDef
else:
    SQSClient = Any
    MessageTypeDef = Any
    ReceiveMessageResultTypeDef = Any

__all__ = ["NOT_ASKED", "QueuePoller"]

#: How long a poller of a short-polled queue (``wait_time_seconds = 0``) waits after an
#: empty answer before it asks again. SQS answers a short poll at once, empty or not, and
#: bills each answer: asked again at once, one poller made 182 receives a second on
#: loopback (some $6 a day at SQS's prices). 1 s is the shortest long poll SQS allows: a
#: short-polled queue costs no more than one long-polled for 1 s, and a message waits no
#: longer for it (a receive that brought messages is followed at once).
SHORT_POLL_PAUSE = 1.0
#: How long a batch's delete may take, its SDK retries included, outside a stop: a
#: network that stalls holds it no longer (what it could not delete comes back after its
#: visibility timeout, a duplicate), and the poller reads on.
DELETE_LIMIT = 15.0


class QueuePoller:
    """One long-polling loop on one queue."""

    def __init__(
        self,
        client: SQSClient,
        queue: QueueConfig,
        *,
        pipeline: Pipeline,
        metrics: Metrics,
        health: Health,
        changes: Changes,
        stopping: anyio.Event,
        delete_invalid: bool,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        in_flight: InFlight,
        invalid_memory: InvalidMemory | None = None,
        region: str = "",
        account: str = DEFAULT_ACCOUNT,
        rand: Callable[[], float] = random.random,
        poller: int = 0,
        after_batch: Callable[[], None] | None = None,
        receiver: SQSClient | None = None,
    ) -> None:
        self._client = client
        #: The client of ReceiveMessage (one the SDK does not retry), else ``client``.
        self._receiver = receiver or client
        self._queue = queue
        self._label = queue.label
        self._pipeline = pipeline
        #: Called after each batch is handled (the DNS task looks at what it wants).
        self._after_batch = after_batch or (lambda: None)
        self._metrics = metrics
        self._health = health
        self._changes = changes
        self._stopping = stopping
        self._clock = clock
        #: The message ids judged invalid (a reload's successor keeps them).
        self._invalid = invalid_memory if invalid_memory is not None else InvalidMemory()
        #: Shared with every poller of the daemon: what a stop bounds and a forced exit
        #: cuts (one of the poller's own would be out of their reach).
        self._in_flight = in_flight
        self._log = get_logger(queue=self._label, poller=poller)
        #: What its calls count on the queue's SQS series: nothing once a reload moved
        #: (another URL, region or account) or removed the queue; the old place's
        #: receipts and errors are not the place in force's (sesd.metrics.sqs).
        self._counts = metrics.sqs_counts(queue)
        #: What the poller gives back to SQS: deletes and releases.
        self._deletes = Deletes(client, queue, self._counts, self._log)
        #: How its batches end: a stop's delete, a give-back, each end told.
        self._ends = Ends(self._deletes, self._counts, metrics, self._log)
        #: What each message of a batch comes to: fed to the pipeline, deleted or not.
        self._judge = Judge(
            pipeline,
            self._label,
            delete_invalid=delete_invalid,
            invalid=self._invalid,
            counts=self._counts,
            log=self._log,
            place=self._deletes.place,
            monotonic=monotonic,
            empty_speaks=empty_speaks(queue),
        )
        #: The run of failed receives: counted, logged, the wait before the next.
        self._failures = ReceiveFailures(
            queue,
            pipeline=pipeline,
            health=health,
            changes=changes,
            counts=self._counts,
            log=self._log,
            place=self._deletes.place,
            clock=clock,
            monotonic=monotonic,
            region=region,
            account=account,
            rand=rand,
        )
        #: Bound once: called at each receive answered.
        self._answered = self._failures.answered
        #: The Date header of the latest answer compared with this host's clock.
        self._date: str | None = None
        #: Whether this poller reads the queue in force (its consumer says): once a
        #: reload removed or replaced the queue (another URL, region, account or pool),
        #: what the old one answers no longer speaks for what is read now.
        self.in_force: Callable[[], bool] = lambda: True
        # From now the queue is being read: one that answers nothing counts as hung.
        health.polling(self._label, monotonic())

    async def run(self) -> None:
        """Poll until ``stopping`` is set; SQS errors back off, never end the loop. A
        batch's delete and the next receive are made together (:meth:`_handle`)."""
        answer: Asked = NOT_ASKED
        while True:
            if answer is NOT_ASKED:
                if self._stopping.is_set():
                    return
                answer = await self._receive()
            messages, answer = answer, NOT_ASKED
            if messages is None:
                await self._pause(self._failures.delay)
            elif messages:
                answer = await self._handle(messages, ask=True)
            elif self._queue.wait_time_seconds == 0:
                # A short poll answers at once: without a pause an empty queue is asked
                # again, and billed, as fast as SQS answers (SHORT_POLL_PAUSE).
                await self._pause(SHORT_POLL_PAUSE)
            else:
                # Where a cancellation that came during the (shielded) long poll is taken:
                # without it, an empty queue's poller went from one shielded receive to
                # the next, and a daemon cancelled (not stopped) never ended.
                await anyio.lowlevel.checkpoint_if_cancelled()

    async def _receive(self) -> Received:
        """One receive in a bound of its own: the messages it brought, None if it failed
        or was cut off."""
        answer: ReceiveMessageResultTypeDef | BaseException | None = None
        # Not cut off mid-request while the grace period lasts (module docstring).
        with self._in_flight.scope(margin=False):
            answer = await self._ask()
        return self._read(answer)

    async def _ask(self) -> ReceiveMessageResultTypeDef | BaseException:
        """SQS's answer to a receive, or the error it ended in (only the call in the try:
        the answer's faults, not sesd's)."""
        kwargs: dict[str, Any] = {
            "QueueUrl": self._queue.url,
            "MaxNumberOfMessages": self._queue.max_messages,
            "WaitTimeSeconds": self._queue.wait_time_seconds,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }
        if self._queue.visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = self._queue.visibility_timeout
        try:
            return await self._receiver.receive_message(**kwargs)
        except SQS_ERRORS as exc:
            if sesds_own(exc):  # a bug of sesd's: a fault, its supervisor's (sdk_blame)
                raise
            return exc
        except RecursionError as exc:
            failure = answer_too_deep(exc)
            if failure is None:  # sesd's own: a fault, its supervisor's (sdk_blame)
                raise
            return failure

    def _read(self, answer: ReceiveMessageResultTypeDef | BaseException | None) -> Received:
        """What a receive's answer brought (:meth:`_receive`); None (counted, logged) for
        a failure and for a receive the stop's bound cut off (``None``)."""
        if isinstance(answer, BaseException):
            self._failures.failed(answer, in_force=self.in_force())
            return None
        if answer is None:
            # The grace period ended with the receive still waiting: the network stalled.
            self._ends.cut_off("sesd.sqs.receive_abandoned", reason="grace period over")
            return None
        response = answer
        wrong = foreign_answer(response)
        if wrong is not None:
            # A 200 that is not SQS's (a captive proxy's login page): the SDK reads a body
            # it cannot parse as no messages, which would pass for a healthy, empty queue.
            self._failures.failed(wrong, in_force=self.in_force())
            return None
        if self.in_force():
            self._answered()
        date = response["ResponseMetadata"].get("HTTPHeaders", {}).get("date")
        if date != self._date:  # to the second: a busy poller's answers share one
            self._date = date
            compare_with_aws(
                date, self._clock(), self._health, self._metrics.clock_offset, self._log
            )
        # A null in the list (botocore keeps a list's nulls: a stand-in's answer) is no
        # message: nothing to handle, delete or release.
        messages = [m for m in response.get("Messages", []) if isinstance(m, dict)]
        if messages:
            # A moved queue's old place's last batch is handled (its events count), but
            # it is no receipt of the place in force, whose series these are: not counted.
            self._counts.received(len(messages))
        else:
            self._changes.notify()
            # How far behind the queue is read (Judge.empty): not by a moved or removed
            # queue's old place, whose emptiness says nothing of the place in force.
            if self.in_force():
                self._judge.empty(self._clock())
        return messages

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` before the next receive, or until a stop begins."""
        with anyio.move_on_after(seconds):
            await self._stopping.wait()

    async def _judged(self, messages: list[MessageTypeDef]) -> list[MessageTypeDef]:
        """A batch judged: those to delete. What ends the judging is raised once the batch
        is told: a fault of sesd's own (:meth:`Ends.misjudged`), the poller's own
        cancellation through the shield."""
        received_at = self._clock()
        done: list[MessageTypeDef] = []
        left: list[MessageTypeDef] = []
        try:  # no stop cuts it short: a stop waits for the batch and its delete (sqs_judge)
            await self._judge.batch(messages, received_at, done, left)
        except BaseException as exc:
            if is_fault(exc):  # sesd's own: told, then raised for its supervisor
                ends, in_flight = self._ends, self._in_flight
                first = await ends.misjudged(in_flight, exc, messages, done, left, DELETE_LIMIT)
                if first is exc:
                    raise
                raise first from exc  # an exit, a cancellation under the delete
            # The poller's own cancellation through the shield (the loop's close, a program
            # cancelling its task): the judged (counted) told cut off, the rest given back.
            self._ends.told(len(messages), len(done), None if done else 0)
            await self._given_back(left, exc)  # (none at an exit: no call made)
        return done

    async def _given_back(self, messages: list[MessageTypeDef], exc: BaseException) -> NoReturn:
        """Give ``messages`` back at once, then raise ``exc`` (the poller's own
        cancellation, an exit), or the give-back's error where that must come first (an
        exit asked for: :meth:`Ends.either`)."""
        first = await self._ends.given_back(self._in_flight, messages, exc)
        if first is exc:
            raise exc
        raise first from exc

    async def _applied(self, messages: list[MessageTypeDef], done: list[MessageTypeDef]) -> None:
        """What follows a batch's judging: the DNS task told the domains it wants, what
        waits for a change told one came. A fault of sesd's own there is raised once what
        the batch handled (``done``) is deleted, not handed out again by SQS after its
        visibility timeout to count a second time (:meth:`Ends.applied`)."""
        try:
            self._after_batch()
            self._changes.notify()
        except Exception as exc:
            first = await self._ends.applied(self._in_flight, exc, messages, done, DELETE_LIMIT)
            if first is exc:
                raise
            raise first from exc

    async def _handle(self, messages: list[MessageTypeDef], *, ask: bool = False) -> Asked:
        """Judge a batch and delete what it handled. ``ask``: then, unless a stop has
        begun, receive again while the delete is in flight, and return what that
        receive brought; :data:`NOT_ASKED` where none was made."""
        try:
            # Where a cancellation that came while the (shielded) receive was in flight
            # is taken; not a turn of the event loop (25,000 instructions a batch): the
            # receive's answer was read in one a moment ago.
            await anyio.lowlevel.checkpoint_if_cancelled()
        except anyio.get_cancelled_exc_class() as exc:
            # Cancelled while the receive was in flight: give the messages back now. A
            # fault under the give-back is told, not raised in the cancellation's place.
            await self._given_back(messages, exc)
        done = await self._judged(messages)
        await self._applied(messages, done)
        # Handled messages are deleted even if a cancellation arrives meanwhile:
        # otherwise they would be counted again after their visibility timeout.
        if ask and not self._stopping.is_set():
            # The next receive made while the delete is in flight (sqs_beside).
            calls = await delete_and_receive(
                self._in_flight, self._deletes, done, self._ask, DELETE_LIMIT
            )
        else:
            calls = Calls()
            await self._ends.delete(self._in_flight, done, calls, DELETE_LIMIT)
        # The batch told first (a fault's end is its supervisor's to tell): a second
        # cancellation may cut off the give-back below, and would leave it untold.
        if calls.fault is None:
            self._ends.told(len(messages), len(done), calls.deleted, calls.so_far)
        # What the batch ended in but is not raised, told before the give-back below,
        # which may raise in turn.
        if calls.other is not None:
            self._ends.fault(calls.other)
        first = calls.raised  # what the receive raised, or ended a stop's delete
        if calls.fault is not None:
            first, other = raised_first(calls.fault, calls.raised)
            if other is not None:
                self._ends.fault(other)
        answer = raised_after(calls)
        if answer is not None and first is not None:
            # The poller ends in what was raised: what the receive beside the delete brought
            # is given back now, not hidden from every poller until its visibility timeout.
            try:
                brought = self._read(answer)
                if brought:
                    await self._ends.give_back(self._in_flight, brought)
            except BaseException as exc:
                instead = self._ends.either(exc, first)  # the other told, not lost
                if instead is exc:
                    raise
                raise instead from exc
        if first is not None:
            raise first
        return calls.answer if calls.answer is NOT_ASKED else self._read(calls.answer)
