"""The local SQS server the tests and the demo use behaves as SQS does under load."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import moto.core.utils
import pytest
from moto.sqs.models import sqs_backends

from sesd.commands.demo.localsqs import quick_clock, serialise_queues


@contextmanager
def _racy() -> Iterator[None]:
    """Thread switches as often as CPython allows: a race shows up at once."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _at_once(work: Callable[[list[str]], None], shares: list[list[str]]) -> None:
    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    with _racy():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def test_deletes_from_eight_threads_at_once_leave_nothing_behind() -> None:
    """200 messages received, then deleted by eight threads at once (moto's server runs
    each request in a thread, and several pollers delete at once): every acknowledged
    delete holds, as on SQS. Without the lock most of them came back."""
    serialise_queues()
    serialise_queues()  # twice is once
    backend = sqs_backends["000000000042"]["us-east-1"]
    queue = backend.create_queue("deletes-at-once")
    for i in range(200):
        backend.send_message("deletes-at-once", f"m{i}")
    # Received as a receive marks them (moto's own receive is slow at this count).
    for message in queue._messages:
        message.mark_received(visibility_timeout=300)
    handles = [str(message.receipt_handle) for message in queue._messages]
    assert len(set(handles)) == 200

    def delete(share: list[str]) -> None:
        for handle in share:
            queue.delete_message(handle)

    _at_once(delete, [handles[i::8] for i in range(8)])
    assert not queue._messages, f"{len(queue._messages)} deleted messages came back"


def test_receives_from_eight_threads_at_once_hand_each_message_out_once() -> None:
    """Eight pollers receive at once from a queue of 120 messages: each message goes to
    one of them (moto picked, then marked, without a lock: two receives could both
    take it)."""
    serialise_queues()
    backend = sqs_backends["000000000042"]["us-east-1"]
    backend.create_queue("receives-at-once")
    for i in range(120):
        backend.send_message("receives-at-once", f"m{i}")
    got: list[str] = []

    def receive(_: list[str]) -> None:
        while batch := backend.receive_message(
            "receives-at-once", count=10, wait_seconds_timeout=0, visibility_timeout=300
        ):
            got.extend(message.body for message in batch)

    _at_once(receive, [[] for _ in range(8)])
    assert sorted(got) == sorted(f"m{i}" for i in range(120))


def _datetime_reads(monkeypatch: pytest.MonkeyPatch, queue: str, messages: int) -> int:
    """How often moto builds a datetime to read the clock while ``messages`` are sent
    to ``queue`` and ten of them received."""
    reads = 0
    utcnow = moto.core.utils.utcnow

    def counted() -> Any:
        nonlocal reads
        reads += 1
        return utcnow()

    backend = sqs_backends["000000000042"]["us-east-1"]
    backend.create_queue(queue)
    with monkeypatch.context() as patched:
        patched.setattr(moto.core.utils, "utcnow", counted)
        for i in range(messages):
            backend.send_message(queue, f"m{i}")
        assert len(backend.receive_message(queue, 10, 0, 300)) == 10
    return reads


def test_a_queue_of_600_messages_is_read_as_cheaply_as_one_of_10(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto asks each message whether it is visible and whether it is delayed, on every
    send and receive, and built datetimes each time to read the clock: 600 messages
    made a receive take seconds on a busy machine, and sending them quadratic time.
    With the quick clock, sending 600 and receiving 10 builds no more datetimes than
    sending and receiving 10 does; the clock still says the time moto's did, and a datetime given
    to moto's conversion is converted as before."""
    from moto.sqs import models

    quick_clock()
    quick_clock()  # twice is once
    few = _datetime_reads(monkeypatch, "clock-few", 10)
    many = _datetime_reads(monkeypatch, "clock-many", 600)
    assert many <= few, f"{many} datetimes for 600 messages, {few} for 10"
    before = time.time()
    # The names moto's module imported from moto.core.utils, as its code calls them.
    seconds, millis = vars(models)["unix_time"], vars(models)["unix_time_millis"]
    assert before - 1 <= seconds() <= time.time() + 1
    assert before * 1000 - 1000 <= millis() <= time.time() * 1000 + 1000
    epoch_plus_a_day = moto.core.utils.utcfromtimestamp(86400)  # naive, as moto has them
    assert seconds(epoch_plus_a_day) == 86400
    assert millis(epoch_plus_a_day) == 86400 * 1000
