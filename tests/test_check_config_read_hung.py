"""``sesd check-config`` whose read of the config file, or of a file it names, does not
return (a share that stopped answering): given up within its bound, one line naming
the file and the bound, and an exit status of its own (1, not a refused file's 2).
The shipped unit runs it first at each reload: waited for, `systemctl reload sesd`
hung until systemd's timeout killed it, with no reason in the journal.

The hang is real: the file is a FIFO no one writes, whose open waits until a writer
comes (the test lets one come once it is done). Run by ``main()``."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import sesd.io.hung
from sesd.commands import check_config
from sesd.commands.main import main
from tests.long_paths import long_path, named
from tests.test_run_start_read_hung import QUEUE, _let_go

pytestmark = pytest.mark.timeout(30)


def _checked_hung(fifo: Path, argv: list[str]) -> int:
    """``sesd ARGV`` while ``fifo``'s read hangs, with a bound of 0.2 s; the read then let
    go. Without a bound the test's own thread waits: let go a while after."""
    later = threading.Timer(10, _let_go, (fifo,))
    later.start()
    try:
        code = main(argv)
        (held,) = [t for t in threading.enumerate() if t.name == "sesd-check-read"]
        assert held.daemon  # the exit does not wait for it
    finally:
        later.cancel()
        _let_go(fifo)
    return code


@pytest.mark.parametrize("length", [0, 501], ids=["path", "long-path"])
def test_a_config_file_whose_read_hangs_fails_the_reload_s_check_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    length: int,
) -> None:
    """The unit's check before a reload (``--quiet --no-secrets``), its config file on a
    share that hangs: exit 1 within the bound, one line naming the file (a path of 501
    characters cut at 500) and the bound."""
    path = long_path(tmp_path, length, ".toml") if length else tmp_path / "sesd.toml"
    os.mkfifo(path)
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 0.2)
    code = _checked_hung(path, ["check-config", "--quiet", "--no-secrets", "--config", str(path)])
    assert code == check_config.EXIT_UNREAD == 1
    assert capsys.readouterr().err.splitlines() == [
        f"sesd: cannot check the config: reading {named(path)} and the files it names took "
        "over 0.2 s (a file on a hung mount?)"
    ]


def test_a_secret_file_whose_read_hangs_fails_the_check_naming_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check on the host (secrets read): the routing key's file hangs, not the config
    file, and the line names the config file, as the start's does."""
    fifo = tmp_path / "routing_key"
    os.mkfifo(fifo)
    path = tmp_path / "sesd.toml"
    path.write_text(QUEUE + f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{fifo}"\n')
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 0.2)
    code = _checked_hung(fifo, ["check-config", str(path)])
    assert code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"sesd: cannot check the config: reading {path} and the files it names took over "
        "0.2 s (a file on a hung mount?)"
    ]
