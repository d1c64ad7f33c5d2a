"""moto's server as a process of its own, so a test can kill it (SIGKILL) and start
another on the same port: an SQS outage where the server itself goes away."""

from __future__ import annotations

import subprocess
import sys
import threading
from types import TracebackType

from sesd.commands.demo import localsqs
from sesd.commands.demo.localsqs import free_port


class MotoProcess:
    """moto's server on a loopback port, its queues made safe under concurrent requests as in
    :class:`~sesd.commands.demo.localsqs.LocalSqs`; :meth:`kill` and :meth:`start` it at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[str] | None = None
        self._drain: threading.Thread | None = None

    def start(self, timeout: float = 30) -> None:
        """Start the server; returns once it listens."""
        # The module's file, run as a script: `-m sesd.commands.demo.localsqs` would
        # import its package first, the demo and with it the daemon (2 s more a start).
        process = subprocess.Popen(
            [
                sys.executable,
                localsqs.__file__,
                "-H",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        listening = threading.Event()

        def drain() -> None:
            # werkzeug logs every request to stderr: read it all, or the server blocks.
            assert process.stderr is not None
            for line in process.stderr:
                if "Running on" in line:
                    listening.set()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        self._process = process
        if not listening.wait(timeout):
            self.kill()
            raise RuntimeError(f"moto_server did not listen on {self.port} in {timeout:g}s")

    def kill(self) -> None:
        """SIGKILL: every connection dies, new ones are refused, its state is gone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            if self._drain is not None:
                self._drain.join()  # the pipe is at its end once the process is gone
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None

    def __enter__(self) -> MotoProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
