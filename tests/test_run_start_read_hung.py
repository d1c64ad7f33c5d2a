"""The start's read of the config file and the files it names, on a share that stopped
answering (an NFS mount hard-mounted, a volume gone), is given up within its bound:
``sesd run`` says why in one line and exits 2, which the shipped unit starts again,
instead of waiting without a word until systemd's TimeoutStartSec kills it.

The hang is real: the routing key's file is a FIFO no one writes, whose open waits
until a writer comes (the test lets one come once it is done). Run by ``main()``: it
ends before the daemon is made."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sesd.commands import run as run_command
from sesd.commands.common import load_placed
from sesd.commands.main import main
from sesd.runtime import early
from tests.dns_server import hermetic_text

pytestmark = pytest.mark.timeout(30)

QUEUE = hermetic_text(
    '[aws]\nendpoint_url = "http://127.0.0.1:9"\n[[queues]]\nurl = "http://127.0.0.1:9/q"\n'
)


def _let_go(fifo: Path) -> None:
    """A writer comes and goes: the read held on ``fifo`` returns (empty)."""
    with contextlib.suppress(OSError):  # ENXIO: no read held there (any more)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_file_whose_read_hangs_at_the_start_fails_it_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's read does not return: the start fails within the bound, exit
    2, one line naming the config file and the hang, the read left in a daemon thread
    (the exit does not wait for it)."""
    fifo = tmp_path / "routing_key"
    os.mkfifo(fifo)
    path = tmp_path / "sesd.toml"
    path.write_text(QUEUE + f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{fifo}"\n')
    monkeypatch.setattr(run_command, "READ_BOUND", 0.5)
    # Without a bound the test's own thread waits here: let it go, a while after.
    later = threading.Timer(10, _let_go, (fifo,))
    later.start()
    try:
        code = main(["run", "--config", str(path)])
        (held,) = [t for t in threading.enumerate() if t.name == "sesd-start-read"]
        assert held.daemon
    finally:
        later.cancel()
        _let_go(fifo)
    assert code == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    assert line == (
        f"sesd: cannot start: reading {path} and the files it names took over 0.5 s "
        "(a file on a hung mount?)"
    )


@pytest.fixture
def held_signals() -> Iterator[None]:
    """SIGTERM, SIGINT and SIGHUP held as ``sesd run`` holds them from its first line
    (sesd.runtime.early), put back as they were after the test."""
    kinds = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    before = {kind: signal.getsignal(kind) for kind in kinds}
    early.hold()
    try:
        yield
    finally:
        for kind, handler in before.items():
            signal.signal(kind, handler)
        early.taken()


@pytest.mark.usefixtures("held_signals")
@pytest.mark.parametrize("kind", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_the_start_read_hangs_ends_sesd_at_once(
    kind: signal.Signals,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """systemd's SIGTERM (or a Ctrl-C) while the routing key's read hangs: sesd ends at
    once, as a stop while it starts does (exit 0), saying what it was waiting on; not
    once the bound is out, as a failed start (exit 2)."""
    fifo = tmp_path / "routing_key"
    os.mkfifo(fifo)
    path = tmp_path / "sesd.toml"
    path.write_text(QUEUE + f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{fifo}"\n')
    monkeypatch.setattr(run_command, "READ_BOUND", 10.0)

    def stopped_as_it_reads(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), kind)  # the stop comes while the read hangs
        return load_placed(*args, **kwargs)

    monkeypatch.setattr(run_command, "load_placed", stopped_as_it_reads)
    began = time.monotonic()
    try:
        code = main(["run", "--config", str(path)])
    finally:
        _let_go(fifo)
    assert time.monotonic() - began < 5  # not the bound's 10 s
    assert code == 0
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    assert line == (
        f"sesd: stopped as it started: reading {path} and the files it names had not "
        "returned (a file on a hung mount?)"
    )
