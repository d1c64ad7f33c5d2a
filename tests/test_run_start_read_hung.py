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
import threading
from pathlib import Path

import pytest

from sesd.commands import run as run_command
from sesd.commands.main import main
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
