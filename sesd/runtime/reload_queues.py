"""The queues a reload adds, moves or removes: the clients of those it adds made before
anything changes (what can fail must fail first), then each started or stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.config import Config
from sesd.runtime.aws import Made, QueueClients
from sesd.runtime.reload_keys import moved_queues

if TYPE_CHECKING:
    from sesd.runtime.parts import Parts

__all__ = ["open_added", "requeue"]


async def open_added(daemon: Parts, old: Config, new: Config, made: Made) -> QueueClients:
    """The SQS clients of the queues ``new`` adds (or changes), not yet in use; those
    made anew told to ``made``."""
    opened: QueueClients = {}
    if daemon.stopping.is_set() or daemon.aws is None:
        return opened
    for queue in new.queues:
        if queue not in old.queues:
            opened.update(await daemon.aws.queue_clients(queue, new, made))
    return opened


def requeue(daemon: Parts, old: Config, new: Config, opened: QueueClients) -> None:
    """Start the queues a reload added (or changed), with their clients ``opened``;
    stop those it removed."""
    labels = [q.label for q in new.queues]
    daemon.health.follow(labels, moved_queues(old.queues, new.queues))
    daemon.metrics.set_queues(new.queues)
    if daemon.stopping.is_set():
        # A stop begun meanwhile starts no queue; those moved or removed are no
        # longer in force (Consumers.change).
        daemon.restart_queues(old, new, start=False)
        return
    if daemon.aws is not None:
        daemon.aws.keep(opened, new)
    for queue in daemon.restart_queues(old, new):
        daemon.check(queue)
