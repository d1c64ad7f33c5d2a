"""A queue's ``concurrency`` is its number of pollers; a wall-clock step under a
minute is seen."""

from __future__ import annotations

import anyio
from prometheus_client import CollectorRegistry, Counter

from sesd.config import parse_config
from sesd.runtime.clock import AnchoredClock
from sesd.runtime.consumers import Consumers
from sesd.runtime.in_flight import InFlight


class _Idle:
    """A poller that does nothing until its queue's stop."""

    def __init__(self, stop: anyio.Event) -> None:
        self.stop = stop

    async def run(self) -> None:
        await self.stop.wait()


async def test_a_queue_gets_concurrency_pollers() -> None:
    """The real Consumers, with a factory that records the pollers it is asked for."""
    config = parse_config(
        '[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "q"\nconcurrency = 4\n'
    )
    made = []

    def factory(queue, stop, memory, index):  # type: ignore[no-untyped-def]
        made.append(index)
        return _Idle(stop)

    stopping = anyio.Event()
    async with anyio.create_task_group() as tg:
        failures = Counter("failures", "test", ["task"], registry=CollectorRegistry())
        consumers = Consumers(factory, failures)
        tg.start_soon(consumers.run, config.queues, stopping, lambda: 1.0, InFlight())
        await anyio.wait_all_tasks_blocked()  # every poller made and waiting
        stopping.set()
    assert made == [0, 1, 2, 3]


def test_a_10_second_step_of_the_wall_clock_is_seen() -> None:
    """An NTP step of 10 s (a VM resumed) re-anchors sesd's clock and counts a step
    (sesd_clock_steps_total); the module says: more than TOLERANCE (1 s)."""
    wall, mono = [1.8e9], [0.0]
    steps: list[float] = []
    clock = AnchoredClock(lambda: wall[0], lambda: mono[0], on_step=steps.append)
    wall[0] += 10.0
    clock()
    assert steps == [10.0]


async def test_a_reload_that_restarts_a_queue_keeps_what_it_judged_invalid() -> None:
    """A reload changes a queue's ``concurrency`` (its pollers start anew): the new
    pollers share the invalid message ids the old ones saw, so an invalid message
    still waiting for the dead-letter queue is not counted and logged again at its
    next receive; a queue the reload removes forgets them, and so does one it moves
    under the same name to another URL (another queue: a stand-in's ids, or SQS's
    own moved to a dead-letter queue read next, are not judged there)."""
    before = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "q"\n').queues
    after = parse_config(
        '[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "q"\nconcurrency = 2\n'
    ).queues
    moved = parse_config(
        '[[queues]]\nurl = "http://127.0.0.1:9/1/dlq"\nname = "q"\nconcurrency = 2\n'
    ).queues
    memories = []

    def factory(queue, stop, memory, index):  # type: ignore[no-untyped-def]
        memories.append(memory)
        return _Idle(stop)

    stopping = anyio.Event()
    async with anyio.create_task_group() as tg:
        failures = Counter("failures", "test", ["task"], registry=CollectorRegistry())
        consumers = Consumers(factory, failures)
        tg.start_soon(consumers.run, before, stopping, lambda: 1.0, InFlight())
        await anyio.wait_all_tasks_blocked()
        consumers.change(before, after, 1.0)
        await anyio.wait_all_tasks_blocked()
        consumers.change(after, [], 1.0)
        consumers.change([], after, 1.0)
        await anyio.wait_all_tasks_blocked()
        consumers.change(after, moved, 1.0)
        await anyio.wait_all_tasks_blocked()
        stopping.set()
    assert len(memories) == 7
    assert memories[5] is memories[6]
    assert memories[5] is not memories[3]  # moved to another URL: a fresh one
    assert memories[1] is memories[0]  # the restart's pollers share the old memory
    assert memories[2] is memories[0]
    assert memories[3] is memories[4]  # removed, then added again: a fresh one
    assert memories[3] is not memories[0]
