"""A poller's failed receives: each counted on the queue's series; the queue marked
failing after a run of them (at once for one no retry cures or one that timed out);
each said (a lone passing failure at debug level, one in a run of them or on a
failing queue as a warning; a permanent error once at error level, again when its
hint changes, its retries at debug level); and how long the poller waits before it
asks again (a growing backoff, or a slow retry for a permanent error). A receive SQS
answers ends the run and, after more than a blip, says the queue recovered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from sesd.config import QueueConfig
from sesd.core.pipeline import Pipeline
from sesd.io.aws_errors import error_code
from sesd.io.backoff import backoff_delay, spread
from sesd.metrics.sqs import QueueCounts
from sesd.runtime.health import Changes, Health
from sesd.runtime.sqs_calls import describe_error, hint_in, said_code, unreached

__all__ = ["FAILING_AFTER", "PERMANENT_RETRY", "ReceiveFailures"]

#: How long a poller waits between tries after a permanent error.
PERMANENT_RETRY = 60.0
#: Consecutive failed receives after which a queue counts as failing (the first few
#: are a network's blip, a throttle), as one no retry cures does at once, and one that
#: timed out: a stalled SQS fails a receive only every read timeout (30 s), and three
#: of those would outlast a short window, which would resolve its alerts as empty.
FAILING_AFTER = 3
#: A receive that got no answer in time.
_STALLED = (ReadTimeoutError, ConnectTimeoutError, asyncio.TimeoutError)


class ReceiveFailures:
    """The run of failed receives of one poller, and what it makes of each."""

    def __init__(
        self,
        queue: QueueConfig,
        *,
        pipeline: Pipeline,
        health: Health,
        changes: Changes,
        counts: QueueCounts,
        log: Any,
        place: Callable[[], dict[str, bool]],
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        region: str,
        account: str,
        rand: Callable[[], float],
    ) -> None:
        self._queue = queue
        self._label = queue.label
        self._pipeline = pipeline
        self._health = health
        self._changes = changes
        self._counts = counts
        self._log = log
        #: The ``retired`` field of a line said at a place a reload moved or removed.
        self._place = place
        self._clock = clock
        self._monotonic = monotonic
        self._region = region
        self._account = account
        #: The jitter's uniform draw; a test may pin it to see the backoff grow.
        self.rand = rand
        #: How long to wait before the next receive, after a failed one.
        self.delay = 0.0
        self._errors = 0
        self._permanent: str | None = None  # the code of a permanent error being waited out
        self._told: str | None = None  # and the hint its log line gave

    def answered(self) -> None:
        """A receive answered: the queue reads (again)."""
        if self._errors:
            if (
                self._errors > 1
                or self._permanent is not None
                or self._label in self._health.failing
            ):
                self._log.info(
                    "sesd.sqs.receive_recovered", after_errors=self._errors, after=self._permanent
                )
            self._errors = 0
            self._permanent = None
        self._health.received(self._label, self._monotonic())
        # Where the credentials work: a key refused in another region is that region's.
        self._pipeline.ledger.accounts.answered((self._account, self._region), self._clock())

    def failed(self, exc: BaseException, *, in_force: bool) -> None:
        """A receive failed: counted; a permanent error logged once, at error level.
        ``in_force``: whether the poller reads the queue in force (its consumer says)."""
        self._errors += 1
        self._changes.notify()
        # Not on the series of a queue a reload moved or removed (sesd.metrics.sqs).
        self._counts.error("receive")
        if not in_force:
            # A reload replaced the poller: its successors judge the queue in force and
            # the credentials, not it (a place the queue left refusing is why it was
            # moved, often). ``retired`` only if the place moved or went: a change of
            # how the queue is read retires nothing.
            self._log.info("sesd.sqs.receive_failed", error=describe_error(exc), **self._place())
            return
        # As said (here, and as what the receive recovered ``after``): escaped and cut, an
        # STS refusal's code is the endpoint's text.
        code = said_code(error_code(exc) or type(exc).__name__)
        accounts = self._pipeline.ledger.accounts
        hint = hint_in(exc, accounts, (self._account, self._region), self._clock())
        # Not a queue a reload removed meanwhile: no poller of it would clear it again.
        failing = hint is not None or isinstance(exc, _STALLED) or self._errors >= FAILING_AFTER
        if failing and self._label in self._health.queues:
            self._health.failing.add(self._label)
        if hint is None:
            self._permanent = None
            self.delay = backoff_delay(self._errors, rand=self.rand())
            # A lone passing failure (a throttle now and then) is counted, not warned
            # of: at 30% throttling that was a hundred lines a minute.
            lone = self._errors == 1 and self._label not in self._health.failing
            (self._log.debug if lone else self._log.warning)(
                "sesd.sqs.receive_failed",
                error=describe_error(exc),
                consecutive=self._errors,
                retry_in_seconds=round(self.delay, 3),
                **unreached(exc, self._queue.url),
            )
            return
        # Retrying soon would not help: slowly, so a fixed queue is found again.
        self.delay = spread(PERMANENT_RETRY, 0.1, rand=self.rand())
        # Told again when the hint changes: another region answering the credentials
        # since makes a key AWS does not know here the region's fault.
        if self._permanent != code or self._told != hint:
            self._permanent, self._told = code, hint
            self._log.error(
                "sesd.sqs.queue_unusable",
                error=describe_error(exc),
                url=self._queue.url,
                region=self._region,
                account=self._account,
                hint=hint,
                retry_every_seconds=PERMANENT_RETRY,
            )
        else:
            self._log.debug("sesd.sqs.still_unusable", error=code, consecutive=self._errors)
