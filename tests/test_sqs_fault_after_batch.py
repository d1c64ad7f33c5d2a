"""A fault of sesd's own after a batch was applied (in what the poller does once each
batch is handled: tell the DNS task the domains it wants, and what waits for a change
that one came)
ends the poller, for its supervisor to count, log and start again, as any fault. What
the batch handled is deleted first: left undeleted, SQS handed it out again after its
visibility timeout and sesd counted its messages a second time (duplicates, and anew
in the windows once the duplicate filter had forgotten them). moto's SQS, a real
redelivery (a visibility timeout of 1 s), the real poller."""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest

import sesd.io.sqs_answers as answers_module
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.tallies import Outcome
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_beside import BESIDE
from sesd.runtime.sqs_ends import APPLIED
from tests import factory as f
from tests.conftest import make_queue, queue_counts, said_in, send_bodies
from tests.test_sqs_edges import poller
from tests.test_sqs_receive_beside_delete import (
    _raising,
    _read_faults,
    _releases_read_by_the_sdk,
)

_DELIVERED = EVENT_TYPE_INDEX["delivery"]


class _Slip(Exception):
    """A bug of sesd's own in what follows a batch."""


def _slips() -> None:
    raise _Slip("after the batch")


async def _read_until_quiet(p: QueuePoller) -> None:
    """Receive (each a long poll of 2 s, past the queue's visibility timeout) and handle
    what comes, until a receive brings nothing: what SQS hands out again is handled."""
    with anyio.fail_after(15):
        while messages := await p._receive():
            await p._handle(messages)


async def _one_received(sqs: Any) -> tuple[QueuePoller, list[Any]]:
    """A queue with one delivery (visibility 30 s), and a poller that received it."""
    url, _ = await make_queue(sqs, visibility=30)
    await send_bodies(sqs, url, [f.raw(f.delivery(["u1@one.example"]))])
    p, _ = poller(sqs, url, settings="wait_time_seconds = 2")
    with anyio.fail_after(10):
        messages: list[Any] = []
        while not messages:
            messages = await p._receive() or []
    return p, messages


#: The duplicate filter at its smallest (it keeps a key or two): as one is on a busy
#: queue once the events of a visibility timeout outnumber half its entries.
_FORGETFUL = "[ingest]\ndedup_max_entries = 2"


@pytest.mark.parametrize("memory", ["remembered", "forgotten"])
async def test_a_fault_after_a_batch_deletes_it_and_its_events_count_once(
    sqs: Any, json_logs: io.StringIO, memory: str
) -> None:
    """Two deliveries handled, then a fault of sesd's own in what follows the batch: the
    fault is raised (the supervisor counts and logs it, and starts the poller again);
    the two messages are deleted, nothing comes back once their visibility timeout has
    passed, and each counts once: processed, no duplicate, once in its domain's
    counts. Also when the duplicate filter has forgotten them meanwhile (another
    poller's events, a small memory): handed out again, they would count anew in the
    windows."""
    url, _ = await make_queue(sqs, visibility=1)
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in (1, 2)])
    settings = "wait_time_seconds = 2\nmax_messages = 10\n"
    p, _ = poller(sqs, url, settings=settings + (_FORGETFUL if memory == "forgotten" else ""))
    with anyio.fail_after(10):
        messages: list[Any] = []
        while len(messages) < 2:
            messages += await p._receive() or []
    p._after_batch = _slips
    with anyio.fail_after(10), pytest.raises(_Slip):
        await p._handle(messages)
    p._after_batch = lambda: None  # the poller started again, the fault gone
    # Another poller's event meanwhile: the only one a small filter then remembers.
    p._pipeline.feed(f.raw(f.delivery(["other@two.example"])), "q", 0.0)
    await _read_until_quiet(p)
    assert await queue_counts(sqs, url) == (0, 0)
    ledger = p._pipeline.ledger
    assert ledger.by_domain.recipients["one.example"][_DELIVERED] == 2
    assert ledger.tallies.messages == {("q", Outcome.PROCESSED): 3}
    line = said_in(json_logs)["sesd.sqs.batch"]
    assert (line["received"], line["to_delete"], line["deleted"]) == (2, 2, 2)


@pytest.mark.parametrize("kind", [KeyError, KeyboardInterrupt], ids=lambda k: k.__name__)
async def test_what_ends_the_delete_after_a_fault_after_a_batch_is_told_too(
    sqs: Any, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch, kind: type[BaseException]
) -> None:
    """The delete made before a fault after the batch ends the poller meets a bug of
    sesd's own (KeyError), or an exit asked for: the fault after the batch is raised and
    the delete's counted and logged, or the exit raised (it must reach whoever waits for
    it) and the fault counted and logged, with what came of it: each told once."""
    p, messages = await _one_received(sqs)
    _releases_read_by_the_sdk(sqs)
    monkeypatch.setattr(answers_module, "_entry", _raising(kind, "Id"))
    p._after_batch = _slips
    raised, told = (_Slip, "KeyError") if kind is KeyError else (kind, "_Slip")
    with anyio.fail_after(10), pytest.raises(raised):
        await p._handle(messages)
    said = _read_faults(p, json_logs)
    assert [(task, name.rpartition(".")[2]) for task, name in said] == [("poller", told)]
    hint = said_in(json_logs)["sesd.task.failed"]["hint"]
    assert hint == (BESIDE if kind is KeyError else APPLIED)
