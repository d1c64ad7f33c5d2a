"""The check of each queue the daemon begins to read (at start, and each one a reload
adds or changes): its redrive policy read with GetQueueAttributes, advice only, never
holding up the start or a reload (sesd.runtime.sqs_calls), in the daemon's task group.
Its answer says the place is there and may be asked: it counts for readiness as a
receive does, while the place is where the queue in force under its name is read.
Which place that is has one owner, the gate of the queues' SQS series
(sesd.metrics.sqs): what a check at a place a reload left answers counts for
neither."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import anyio.abc

from sesd.config import QueueConfig
from sesd.metrics.sqs import QueueCounts
from sesd.runtime.health import Health
from sesd.runtime.sqs_calls import check_held
from sesd.runtime.supervise import run_once

if TYPE_CHECKING:
    from sesd.runtime.parts import Parts

__all__ = ["start_check"]


def start_check(tasks: anyio.abc.TaskGroup, daemon: Parts, queue: QueueConfig) -> None:
    """Check ``queue`` in ``tasks`` (:func:`check_held`), its client held meanwhile (a
    reload that retires it closes it once the check has its answer). A fault in it ends
    it alone (:func:`run_once`)."""
    assert daemon.aws is not None
    client, where = daemon.sqs(queue), daemon.ledger.where(queue.label)
    counts = daemon.metrics.sqs_counts(queue)
    answered = partial(_answered, counts, daemon.health, queue.label, daemon.monotonic)
    held = (daemon.aws.holding(client), client, queue, *where, answered)
    check = partial(check_held, *held, counts.in_force)
    failures = daemon.metrics.task_failures
    tasks.start_soon(partial(run_once, "queue_check", check, failures, queue=queue.label))


def _answered(counts: QueueCounts, health: Health, label: str, now: Callable[[], float]) -> None:
    """SQS answered the check: told to ``health`` (:meth:`Health.answered`) while the
    place checked is the queue's in force (:meth:`QueueCounts.in_force`), not once a
    reload removed the queue or moved it again (that place speaks for nothing read)."""
    if counts.in_force():
        health.answered(label, now())
