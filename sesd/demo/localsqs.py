"""A local SQS endpoint: moto's server in a thread, on a free loopback port.

Used by ``sesd demo`` and by the tests. Needs the ``demo`` extra (moto).
"""

from __future__ import annotations

import logging
import os
import socket
from types import TracebackType

__all__ = ["LocalSqs", "free_port"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalSqs:
    """moto's server mode, started and stopped as a context manager."""

    def __init__(self, port: int | None = None) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the local SQS endpoint needs moto: pip install 'sesd[demo]'"
            ) from exc
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
