"""The certificate and its key, read with the config, are read again as sesd starts to
make the port's context. A share that stopped answering between the two reads (an NFS
mount hard-mounted, a volume gone) holds that second read for ever: the start gives it
up within its bound and fails with a line saying why (``sesd run`` exits 2, and a
supervisor starts it again), instead of holding the event loop, where no stop signal
is heard, until the supervisor's SIGKILL.

The hang is real: the load waits, in the thread that makes it, until the test lets it
go on."""

from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

import sesd.config.web
import sesd.io.hung
import sesd.runtime.web
from sesd.config import load_config
from sesd.runtime.daemon import Daemon, StartError
from tests.dns_server import hermetic
from tests.test_web_lock import _certificate, _files, _tls

pytestmark = pytest.mark.timeout(30)

BOUND = 0.5


class Hung:
    """The port's load of the certificate and key, held until :meth:`answer`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._answers = threading.Event()
        #: Set once a load is held.
        self.entered = threading.Event()
        #: The threads held there.
        self.held: list[threading.Thread] = []
        #: When the last load began to hang (monotonic).
        self.at = 0.0
        monkeypatch.setattr(sesd.runtime.web, "server_context", self._load)

    def _load(self, *args: Any) -> Any:
        self.held.append(threading.current_thread())
        self.at = time.monotonic()
        self.entered.set()
        self._answers.wait(20)  # the hang: until the test lets it answer
        return sesd.config.web.server_context(*args)

    def answer(self) -> None:
        self._answers.set()


async def test_a_certificate_whose_read_hangs_at_the_start_fails_it_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config read the certificate and key; their second read, the port's, hangs:
    the start fails within the bound, naming the files, the read left in a daemon
    thread (the exit does not wait for it)."""
    _certificate(tmp_path, "tls")
    config = load_config(_files(tmp_path, _tls("tls")))
    hung = Hung(monkeypatch)
    held = hung.held
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    try:
        with pytest.raises(StartError) as caught, anyio.fail_after(10 * BOUND):
            await Daemon(hermetic(config)).run(handle_signals=False)
        assert [thread.daemon for thread in held] == [True]
    finally:
        hung.answer()
    crt, key = tmp_path / "tls.crt", tmp_path / "tls.key"  # web.yml makes them absolute
    assert str(caught.value) == (
        f"http.web_config: tls_server_config: {crt}, {key} not read within 0.5 s "
        "(a file on a hung mount?)"
    )


async def test_a_stop_while_the_certificate_read_hangs_ends_the_start_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (systemd's SIGTERM) while the port's read of the certificate hangs is
    heard at once, not once the read is given up: the start ends, and the run with it."""
    _certificate(tmp_path, "tls")
    config = load_config(_files(tmp_path, _tls("tls")))
    hung = Hung(monkeypatch)
    daemon = Daemon(hermetic(config))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(daemon.run, handle_signals=False))
            assert await anyio.to_thread.run_sync(hung.entered.wait, 5)
            daemon.stop()
    finally:
        hung.answer()
    # Measured from the hang, not a deadline: a load on the event loop would hold the
    # deadline, and the stop, with it.
    assert time.monotonic() - hung.at < 5
