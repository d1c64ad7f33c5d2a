"""The start's read of the config file and the files it names, on a share that stopped
answering (an NFS mount hard-mounted, a volume gone), is given up within its bound:
``sesd run`` says why in one line and exits 2, which the shipped unit starts again,
instead of waiting without a word until systemd's TimeoutStartSec kills it.

The hang is real: the routing key's file is a FIFO no one writes, whose open waits
until a writer comes (the test lets one come once it is done). Run by ``main()``: it
ends before the daemon is made; a stop or a reload during the imports, by a ``sesd
run`` process that the test signals as it loads its modules."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import sesd.io.hung
from sesd.commands import run as run_command
from sesd.commands.common import load_placed
from sesd.commands.main import main
from sesd.runtime import early
from tests.dns_server import hermetic_text
from tests.fifo_gates import open_for_writing
from tests.long_paths import long_path, named

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
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 0.5)
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


def test_the_start_s_read_refuses_a_config_no_daemon_can_run_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read in its thread, the config is still read for a daemon: one without a queue
    (which ``sesd check-config`` refuses too) fails the start in one line, exit 2; not
    a daemon started that consumes nothing."""
    path = tmp_path / "sesd.toml"
    path.write_text(hermetic_text('[aws]\nendpoint_url = "http://127.0.0.1:9"\n'))
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if not line.startswith("{")] == [
        f"sesd: config error: {path}: queues: at least one [[queues]] is needed"
    ]


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
@pytest.mark.parametrize(
    ("kind", "length"),
    [(signal.SIGTERM, 0), (signal.SIGINT, 0), (signal.SIGTERM, 501)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-long-path"],
)
def test_a_stop_while_the_start_read_hangs_ends_sesd_at_once(
    kind: signal.Signals,
    length: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """systemd's SIGTERM (or a Ctrl-C) while the routing key's read hangs: sesd ends at
    once, as a stop while it starts does (exit 0), saying what it was waiting on (a
    config path of 501 characters cut at 500); not once the bound is out, as a failed
    start (exit 2)."""
    fifo = tmp_path / "routing_key"
    os.mkfifo(fifo)
    path = long_path(tmp_path, length, ".toml") if length else tmp_path / "sesd.toml"
    path.write_text(QUEUE + f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{fifo}"\n')
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 10.0)

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
        f"sesd: stopped as it started: reading {named(path)} and the files it names had "
        "not returned (a file on a hung mount?)"
    )


#: ``sesd run`` whose command's imports wait at the FIFO given first, until the test
#: lets them through: its stop signals are held then (sesd.runtime.early), as in the
#: second or so its modules take to load. The start's read bound is 20 s: well above
#: what the rest of the start takes on a loaded machine (six seconds seen), so a stop
#: that waited it out is told by the time as by the line.
HELD_IN_ITS_IMPORTS = """
import sys
from sesd.commands import main as entry
from sesd.io import hung
gate = sys.argv.pop(1)
hung.READ_BOUND = 20.0
parser = entry._parser
def importing(command):
    with open(gate, "rb") as held:
        held.read()
    return parser(command)
entry._parser = importing
sys.exit(entry.main())
"""


async def test_a_stop_during_the_imports_ends_sesd_before_its_read(tmp_path: Path) -> None:
    """systemd's SIGTERM while ``sesd run`` loads its modules, before it reads its
    config, on a share that hangs: held until then, it ends sesd before the read, exit 0
    (a Ctrl-C is held and acted on alike); it waited out the read's bound, and sesd
    failed its start (exit 2)."""
    fifo = tmp_path / "routing_key"
    os.mkfifo(fifo)
    path = tmp_path / "sesd.toml"
    path.write_text(QUEUE + f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{fifo}"\n')
    code, err, took = await _signalled_in_its_imports(
        tmp_path, path, signal.SIGTERM, 25, lambda: _let_go(fifo)
    )
    assert (code, err.splitlines()) == (0, ["sesd: stopped as it started"])
    assert took < 15  # not the bound's 20 s


async def test_a_reload_during_the_imports_leaves_the_start_to_read_its_config(
    tmp_path: Path,
) -> None:
    """A SIGHUP while ``sesd run`` loads its modules (``systemctl reload`` as sesd
    restarts) is held for a reload once started: the start goes on to read its config
    (here one it refuses: exit 2, the error said), not ended as by a stop, exit 0."""
    path = tmp_path / "sesd.toml"
    path.write_text("bogus = 1\n" + QUEUE)
    code, err, _ = await _signalled_in_its_imports(tmp_path, path, signal.SIGHUP, 20)
    assert (code, err.splitlines()) == (2, [f"sesd: config error: {path}:1: bogus: unknown key"])


async def _signalled_in_its_imports(
    tmp_path: Path,
    path: Path,
    kind: signal.Signals,
    within: float,
    then: Callable[[], None] = lambda: None,
) -> tuple[int, str, float]:
    """``sesd run --config path`` sent ``kind`` while held in its imports (``then``
    once it ended, or was killed past ``within`` seconds): its exit code, its standard
    error, and the seconds from the signal to the end."""
    gate = tmp_path / "imports"
    os.mkfifo(gate)
    command = [sys.executable, "-c", HELD_IN_ITS_IMPORTS, str(gate), "run", "--config", str(path)]
    async with await anyio.open_process(command, stderr=subprocess.PIPE) as process:
        try:
            with anyio.fail_after(within):
                async with open_for_writing(gate):  # held in its imports, signals held
                    process.send_signal(kind)
                began = time.monotonic()
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
            then()
        assert process.stderr is not None
        err = b"".join([chunk async for chunk in process.stderr]).decode()
    took = time.monotonic() - began
    return code, err, took
