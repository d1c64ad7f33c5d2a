"""A local SQS endpoint: moto's server in a thread, on a free loopback port.

Used by ``sesd demo`` and by the tests. Needs the ``demo`` extra (moto).
``python -m sesd.commands.demo.localsqs -H HOST -p PORT`` runs the same server as a
process of its own (the tests kill and restart it).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["LocalSqs", "free_port", "quick_clock", "serialise_queues"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serialise_queues() -> None:
    """Make moto's SQS receives and deletes safe under concurrent requests, as real
    SQS's are.

    moto's server answers each request in a thread of its own, and neither call
    locks its queue. ``Queue.delete_message`` rebuilds the queue's message list and
    assigns it back: two ``DeleteMessageBatch`` calls at once (several pollers)
    bring back messages whose delete was acknowledged, and a send in between can
    be lost. ``receive_message`` picks the visible messages and then marks them
    received: two receives at once can hand one message to both. Real SQS does
    neither (beyond its rare at-least-once repeats). Each call runs here under
    the queue's own lock, the one moto's sends already take; a long poll's wait
    releases it (a ``Condition`` over a re-entrant lock). Idempotent.
    """
    from moto.sqs.models import Queue, SQSBackend

    delete: Callable[..., None] = Queue.delete_message
    if getattr(delete, "_sesd_serialised", False):
        return
    receive: Callable[..., Any] = SQSBackend.receive_message

    @functools.wraps(delete)
    def locked_delete(queue: Any, receipt_handle: str) -> None:
        with queue._messages_lock:
            delete(queue, receipt_handle)

    @functools.wraps(receive)
    def locked_receive(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with backend.get_queue(queue_name)._messages_lock:
            return receive(backend, queue_name, *args, **kwargs)

    locked_delete._sesd_serialised = True  # type: ignore[attr-defined]
    Queue.delete_message = locked_delete  # type: ignore[method-assign,assignment]
    SQSBackend.receive_message = locked_receive  # type: ignore[method-assign,assignment]


def quick_clock() -> None:
    """Make moto's SQS read the time as cheaply as ``time.time()``, the same value.

    moto asks every message of a queue whether it is visible and whether it is
    delayed on every receive, and on every send; each asks the clock through
    datetime objects (``unix_time_millis``: a ``now``, an epoch built afresh, two
    ``replace`` calls). With 600 messages in a queue that made a receive take
    0.2-7 s and sending them a quadratic 2-100 s, depending on the load: the
    time the pollers, the demo and the tests spent waiting on moto. A call with a
    datetime keeps moto's own conversion. Idempotent.
    """
    from moto.sqs import models

    # Names moto's module imported from moto.core.utils (not re-exported).
    millis: Callable[..., float] = models.unix_time_millis  # type: ignore[attr-defined]
    if getattr(millis, "_sesd_quick", False):
        return
    seconds: Callable[..., float] = models.unix_time  # type: ignore[attr-defined]

    @functools.wraps(seconds)
    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else seconds(dt)

    @functools.wraps(millis)
    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else millis(dt)

    unix_time_millis._sesd_quick = True  # type: ignore[attr-defined]
    models.unix_time = unix_time  # type: ignore[attr-defined]
    models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]


class LocalSqs:
    """moto's server mode, started and stopped as a context manager."""

    def __init__(self, port: int | None = None) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            from sesd.runtime.http import StartError

            # Not PyPI's "sesd": another project. The demo's locked tree is in the checkout.
            raise StartError(
                "the demo's local SQS needs moto, which this install lacks: in sesd's "
                "checkout, run `make demo`, or install requirements/demo.txt "
                "(pip install --require-hashes -r requirements/demo.txt)"
            ) from None
        serialise_queues()
        quick_clock()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        # moto accepts any credentials; botocore still wants some.
        for name, value in (
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ):
            os.environ.setdefault(name, value)

    def __enter__(self) -> LocalSqs:
        # werkzeug logs every request at INFO; the demo's console is for sesd.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()


def main(argv: list[str] | None = None) -> None:
    """moto's server (``moto_server``'s arguments), its queues made safe under
    concurrent requests (:func:`serialise_queues`) and its clock cheap (:func:`quick_clock`)."""
    serialise_queues()
    quick_clock()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
