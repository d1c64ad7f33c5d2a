"""The local SQS server the tests and the demo use behaves as SQS does under load."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from moto.sqs.models import sqs_backends

from sesd.commands.demo.localsqs import serialise_queues


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
