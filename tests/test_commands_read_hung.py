"""The commands that read a config besides ``sesd run`` and ``check-config`` (``silence``,
``send-test-alert``, ``replay``, ``status``, ``setup``), the config file or a file it
names on a share that stopped answering (an NFS mount hard-mounted, a volume gone):
each gives the read up within its bound, one line naming the file and the bound, exit
1, as ``check-config`` does. Waited for, the command hung without a word until a
Ctrl-C.

The hang is real: the file is a FIFO no one writes, whose open waits until a writer
comes (the test lets one come once it is done). Run by ``main()``."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import sesd.io.hung
from sesd.commands.main import main
from tests.long_paths import long_path, named
from tests.test_run_start_read_hung import QUEUE, _let_go

pytestmark = pytest.mark.timeout(30)

BOUND = 0.2

#: Each command's words after the config file, what its line says it cannot do, and
#: the thread its read is left in.
COMMANDS = {
    "silence-add": (
        ["silence", "add", "--domain", "example.com", "--for", "1h", "--comment", "x"],
        "add the silence",
        "sesd-silence-read",
    ),
    "silence-list": (["silence", "list"], "list the silences", "sesd-silence-read"),
    "silence-expire": (["silence", "expire", "0123"], "expire the silence", "sesd-silence-read"),
    "send-test-alert": (
        ["send-test-alert", "--sink", "console"],
        "send the test alert",
        "sesd-test-alert-read",
    ),
    "replay": (["replay", "EVENTS"], "replay", "sesd-replay-read"),
    "status": (["status"], "ask the daemon", "sesd-status-read"),
    # An endpoint that answers nothing: no call leaves the machine, were the read waited.
    "setup": (
        ["setup", "--dry-run", "--endpoint-url", "http://127.0.0.1:9"],
        "set up",
        "sesd-setup-read",
    ),
}


def _run_hung(fifo: Path, argv: list[str], thread: str) -> int:
    """``sesd ARGV`` while ``fifo``'s read hangs; the read then let go, and its thread
    seen to end. Without a bound the test's own thread waits: let go a while after."""
    later = threading.Timer(10, _let_go, (fifo,))
    later.start()
    try:
        code = main(argv)
        (held,) = [t for t in threading.enumerate() if t.name == thread]
        assert held.daemon  # the exit does not wait for it
    finally:
        later.cancel()
        _let_go(fifo)
    held.join(10)
    assert not held.is_alive()
    return code


def _argv(words: list[str], config: Path, tmp_path: Path) -> list[str]:
    """The command's words, ``--config`` given after the command's own (``silence``'s
    after its subcommand), a replay's input an empty file."""
    events = tmp_path / "events.json"
    events.write_text("")
    at = 2 if words[0] == "silence" else 1
    words = [str(events) if word == "EVENTS" else word for word in words]
    return [*words[:at], "--config", str(config), *words[at:]]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_config_file_whose_read_hangs_ends_the_command_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """The config file itself on a share that hangs: the command ends within the bound,
    exit 1, one line on stderr naming the file and the bound, nothing on stdout; the
    read left in a daemon thread."""
    words, doing, thread = COMMANDS[command]
    path = tmp_path / "sesd.toml"
    os.mkfifo(path)
    monkeypatch.delenv("SESD_HTTP_LISTEN", raising=False)
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    code = _run_hung(path, _argv(words, path, tmp_path), thread)
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"sesd: cannot {doing}: reading {path} and the files it names took over 0.2 s (a "
        "file on a hung mount?)"
    ]


def test_a_sink_s_secret_file_that_hangs_ends_the_test_alert_naming_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """send-test-alert reads the chosen sink's secrets: the routing key's file hangs,
    not the config file, and the line names the config file (a path of 501 characters
    cut at 500), as the start's and check-config's do."""
    fifo = tmp_path / "routing_key"
    os.mkfifo(fifo)
    path = long_path(tmp_path, 501, ".toml")
    path.write_text(QUEUE + f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{fifo}"\n')
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    argv = ["send-test-alert", "--config", str(path), "--sink", "pd"]
    code = _run_hung(fifo, argv, "sesd-test-alert-read")
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"sesd: cannot send the test alert: reading {named(path)} and the files it names "
        "took over 0.2 s (a file on a hung mount?)"
    ]


def test_a_web_config_that_hangs_ends_status_naming_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """status reads the config's [http] web_config to learn whether the daemon serves
    TLS: that file hangs, and status ends within the bound, naming the config file,
    before asking any daemon."""
    fifo = tmp_path / "web.yml"
    os.mkfifo(fifo)
    path = tmp_path / "sesd.toml"
    path.write_text(QUEUE + f'[http]\nlisten = "127.0.0.1:9"\nweb_config = "{fifo}"\n')
    monkeypatch.delenv("SESD_HTTP_LISTEN", raising=False)
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    code = _run_hung(fifo, ["status", "--config", str(path)], "sesd-status-read")
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"sesd: cannot ask the daemon: reading {path} and the files it names took over "
        "0.2 s (a file on a hung mount?)"
    ]
