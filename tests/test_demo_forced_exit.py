"""``sesd demo``'s temporary directory (its config and silences file) at a second
Ctrl-C, which ends the process at once: no ``with`` block's end runs then."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sesd_process import hearing_ctrl_c


@pytest.mark.timeout(90)
def test_a_second_ctrl_c_leaves_no_demo_directory_behind(tmp_path: Path) -> None:
    """The demo runs (its second line printed: the daemon started, reading the config
    in its temporary directory), and Ctrl-C is pressed twice: the second cuts the
    drain short and exits 130 at once. The directory, config and silences file, goes
    with it, as at one Ctrl-C."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with (
        hearing_ctrl_c(),
        subprocess.Popen(
            [sys.executable, "-m", "sesd", "demo", "--listen", "127.0.0.1:0", "--duration", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "TMPDIR": str(temporary)},
        ) as process,
    ):
        try:
            _read_to(process, "sesd demo: local SQS at")
            assert [p.name for p in (next(temporary.iterdir())).iterdir()] == ["config.toml"]
            process.send_signal(signal.SIGINT)
            # The second once the first is taken: two at once are one to the kernel.
            _read_to(process, "sesd.daemon.stopping")
            process.send_signal(signal.SIGINT)
            _read_to(process, "sesd.daemon.forced_exit")
            process.wait(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 130
    assert list(temporary.iterdir()) == []


def _read_to(process: subprocess.Popen[str], text: str) -> None:
    """Read the demo's output and log until a line holds ``text``."""
    assert process.stdout is not None
    for line in process.stdout:
        if text in line:
            return
    raise AssertionError(f"the demo ended without {text!r}")
