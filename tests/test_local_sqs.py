"""The local SQS server the tests and the demo use behaves as SQS does under load."""

from __future__ import annotations

import sys
import threading

from moto.sqs.models import sqs_backends

from sesd.demo.localsqs import serialise_deletes


def test_deletes_from_eight_threads_at_once_leave_nothing_behind() -> None:
    """200 messages received, then deleted by eight threads at once (moto's server runs
    each request in a thread, and several pollers delete at once): every acknowledged
    delete holds, as on SQS. Without the lock most of them came back."""
    serialise_deletes()
    serialise_deletes()  # twice is once
    backend = sqs_backends["000000000042"]["us-east-1"]
    queue = backend.create_queue("deletes-at-once")
    for i in range(200):
        backend.send_message("deletes-at-once", f"m{i}")
    # Received as a receive marks them (moto's own receive is slow at this count).
    for message in queue._messages:
        message.mark_received(visibility_timeout=300)
    handles = [message.receipt_handle for message in queue._messages]
    assert len(set(handles)) == 200

    def delete(share: list[str]) -> None:
        for handle in share:
            queue.delete_message(handle)

    threads = [threading.Thread(target=delete, args=(handles[i::8],)) for i in range(8)]
    # Thread switches as often as CPython allows: the race shows up at once.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(before)
    assert not queue._messages, f"{len(queue._messages)} deleted messages came back"
