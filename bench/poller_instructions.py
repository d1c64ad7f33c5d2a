"""Instructions a batch of one poller's own work, counted where no clock can move them.

The daemon's count end to end (bench/instructions.py) moves by a percent or two from
run to run on a shared machine: under valgrind a batch takes about 10 ms of a wall
clock the machine's load stretches, and the batch's turns, the timers and how the
pollers' answers bunch follow it. A change of a few thousand instructions a message
on the poller's path is lost in that. Here one real poller, made by
``sesd.runtime.pollers.queue_poller`` from a ``Daemon`` with its default settings,
reads batches of ten from an in-process client whose every call takes one turn of the
event loop (as a call on the network does), with ``Pipeline.feed`` a counter: what is
counted is the poller's own work (the receive's and the delete's scopes, the batch's
judging and counting, the delete's entries), the SDK's left out. Counted at 1,000 and
3,000 batches, the difference over 2,000.

``python -m bench poller_instructions`` (valgrind must be installed); the drain alone:
``python -m bench.poller_instructions BATCHES``.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from functools import partial
from types import SimpleNamespace
from typing import Any

import anyio

from bench.instructions import counted, per_unit
from sesd.config import parse_config
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.pipeline import Pipeline, Result
from sesd.core.tallies import Outcome
from sesd.io.logs import configure_logging
from sesd.runtime.daemon import Daemon
from sesd.runtime.pollers import queue_poller
from sesd.runtime.sqs_calls import InvalidMemory

#: The two drains; their difference is what is counted.
BATCHES = (1_000, 3_000)
_URL = "http://127.0.0.1:9/123456789012/bench"
_CONFIG = (
    f'[[queues]]\nurl = "{_URL}"\nname = "bench"\nwait_time_seconds = 0\n'
    "[account_health]\nenabled = false\n"
)
_HEADERS = {"content-type": "application/x-amz-json-1.0", "date": "Sun, 06 Dec 2026 10:00:00 GMT"}
_PROCESSED = Result(Outcome.PROCESSED, event_type="delivery")
_DELIVERY = EVENT_TYPE_INDEX["delivery"]


def _counted_feed(
    self: Pipeline, _body: bytes | str, queue: str, _now: float, _at: float | None = None
) -> Result:
    """``Pipeline.feed`` as a counter: the poller's work, not the pipeline's."""
    self.ledger.tallies.queue_counts(queue)[_DELIVERY] += 1
    return _PROCESSED


class _Client:
    """An SQS client in the process: ``batches`` batches of ten, then an empty answer
    that sets ``stop``; each call takes a turn of the event loop. No SDK hooks to take
    off or add (sesd.io.sdk_calls): its answers are already parsed."""

    meta = SimpleNamespace(
        events=SimpleNamespace(unregister=lambda *_: None, register=lambda *_, **__: None)
    )

    def __init__(self, batches: int, stop: anyio.Event) -> None:
        self._left = batches
        self._stop = stop

    async def receive_message(self, **_: Any) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        self._left -= 1
        if self._left < 0:
            self._stop.set()
            return {"ResponseMetadata": {"HTTPHeaders": _HEADERS}}
        messages = [
            {
                "MessageId": f"m{self._left}-{i}",
                "ReceiptHandle": f"r{i}",
                "Body": "{}",
                "Attributes": {"ApproximateReceiveCount": "1"},
            }
            for i in range(10)
        ]
        return {"Messages": messages, "ResponseMetadata": {"HTTPHeaders": _HEADERS}}

    async def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return {
            "Successful": [{"Id": e["Id"]} for e in kwargs["Entries"]],
            "Failed": [],
            "ResponseMetadata": {"HTTPHeaders": _HEADERS, "RetryAttempts": 0},
        }


async def drain(batches: int) -> int:
    """One poller reading ``batches`` batches; the messages it counted processed."""
    config = parse_config(_CONFIG)
    daemon = Daemon(config, console=io.StringIO())
    stop = anyio.Event()
    client = _Client(batches, stop)
    daemon.sqs = lambda queue, use="": client  # type: ignore[method-assign]
    poller = queue_poller(daemon, config.queues[0], stop, InvalidMemory(), 0)
    await poller.run()
    return daemon.ledger.tallies.messages.get(("bench", "processed"), 0)


def _instructions(batches: int) -> int:
    return counted("bench.poller_instructions", str(batches))


def main() -> None:
    """Count the drain at both sizes; print instructions a batch."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)")
        return
    a_batch = per_unit(partial(_instructions), BATCHES)
    print(
        f"one poller's own work, batches of ten, {BATCHES[1]:,} less {BATCHES[0]:,} "
        f"batches (valgrind cachegrind): {a_batch:,.0f} instructions a batch"
    )


if __name__ == "__main__":
    configure_logging("warning", "json")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "x")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "x")
    Pipeline.feed = _counted_feed  # type: ignore[method-assign,assignment]
    count = int(sys.argv[1])
    processed = anyio.run(drain, count)
    assert processed == count * 10, processed
