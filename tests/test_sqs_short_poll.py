"""Short polling (``wait_time_seconds = 0``) against moto's server: an empty answer
comes back at once, so a poller that asked again at once would spin (182 receives a
second each on loopback, every one billed). After an empty short poll the poller
waits ``SHORT_POLL_PAUSE`` first; a receive that brought messages is followed at
once, and a stop cuts the wait short."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import sesd.runtime.sqs as sqs_module
from sesd.runtime.sqs import SHORT_POLL_PAUSE, QueuePoller
from tests.conftest import make_queue, send_bodies
from tests.test_sqs_edges import poller


class CountingReceiver:
    """The moto client's receives, each one's start time noted; ``answered(n)`` is set
    once the ``n``-th has its answer."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.starts: list[float] = []
        self._answers = 0
        self._waiting: dict[int, anyio.Event] = {}

    def answered(self, n: int) -> anyio.Event:
        event = self._waiting.setdefault(n, anyio.Event())
        if self._answers >= n:
            event.set()
        return event

    async def receive_message(self, **kwargs: Any) -> Any:
        self.starts.append(anyio.current_time())
        response = await self._client.receive_message(**kwargs)
        self._answers += 1
        self.answered(self._answers)
        return response


def _short_poller(sqs: Any, url: str, settings: str = "") -> tuple[QueuePoller, CountingReceiver]:
    p, _ = poller(sqs, url, settings="wait_time_seconds = 0\n" + settings)
    receiver = CountingReceiver(sqs)
    p._receiver = receiver  # type: ignore[assignment]
    return p, receiver


async def test_an_empty_short_polled_queue_is_asked_once_a_pause_not_at_once(sqs: Any) -> None:
    """An empty queue polled with wait_time_seconds = 0: the third receive starts no
    sooner than two pauses after the first (without them it came some 10 ms later)."""
    url, _ = await make_queue(sqs)
    p, receiver = _short_poller(sqs, url)
    with anyio.fail_after(10 * SHORT_POLL_PAUSE):
        async with anyio.create_task_group() as tg:
            tg.start_soon(p.run)
            await receiver.answered(3).wait()
            p._stopping.set()
    first, _, third = receiver.starts[:3]
    assert third - first >= 2 * SHORT_POLL_PAUSE, receiver.starts


async def test_a_receive_that_brought_messages_is_followed_at_once(
    sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three messages taken one a receive: the receives that bring them follow each
    other without a pause; only the empty one after them waits. The pause is an hour
    here, so a pause where none belongs shows as a receive that never starts, not as
    receives a few milliseconds slower than the machine's load makes them anyway."""
    monkeypatch.setattr(sqs_module, "SHORT_POLL_PAUSE", 3600.0)
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["a", "b", "c"])
    p, receiver = _short_poller(sqs, url, "max_messages = 1\n")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(p.run)
            # Receives 1-3 brought a message each, the 4th none: it alone is paused
            # after (a 5th receive, had it begun, would be noted before its answer).
            await receiver.answered(4).wait()
            await anyio.wait_all_tasks_blocked()
            started = len(receiver.starts)
            p._stopping.set()
    assert started == 4, receiver.starts


async def test_a_stop_cuts_the_pause_short(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop that begins while a poller pauses after an empty short poll ends the
    poller then, not after the pause (an hour here)."""
    monkeypatch.setattr(sqs_module, "SHORT_POLL_PAUSE", 3600.0)
    url, _ = await make_queue(sqs)
    p, receiver = _short_poller(sqs, url)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(p.run)
            await receiver.answered(1).wait()
            # The poller went on with the empty answer to its next wait (there is no
            # checkpoint on its way): the stop comes during it.
            await anyio.wait_all_tasks_blocked()
            p._stopping.set()
    assert len(receiver.starts) == 1
