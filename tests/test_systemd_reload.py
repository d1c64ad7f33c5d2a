"""`systemctl reload sesd` runs the unit's ExecReload= lines in turn and fails at the
first that fails. Here they run as systemd would run them, against a real daemon: a
file sesd refuses where the check before the signal cannot see it (a secret's file
gone) fails the reload, instead of reporting success while the old config runs on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.reload_report import REPORT_NAME, read_report
from tests.conftest import make_queue
from tests.fifo_gates import open_for_writing
from tests.sesd_process import SesdProcess, config_file, sesd_process
from tests.test_systemd import _values

SESD = str((Path(sys.executable).parent / "sesd").resolve())


async def _reload(
    sesd: SesdProcess, config: Path, runtime: Path, event: str | None
) -> list[subprocess.CompletedProcess[bytes]]:
    """Each ExecReload= line, $MAINPID the daemon's, until one fails (as systemd runs
    them); the daemon's log read meanwhile, up to ``event`` (none: no signal sent)."""
    done: list[subprocess.CompletedProcess[bytes]] = []
    env = {**os.environ, "RUNTIME_DIRECTORY": str(runtime)}

    async def run_lines() -> None:
        for line in _values("ExecReload"):
            command = (
                line.replace("/opt/sesd/bin/sesd", SESD)
                .replace("/etc/sesd/sesd.toml", str(config))
                .replace("$MAINPID", str(sesd.process.pid))
            )
            done.append(await anyio.run_process(command.split(), env=env, check=False))
            if done[-1].returncode != 0:
                return

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tasks:
            if event is not None:
                tasks.start_soon(sesd.wait_for_event, event)
            await run_lines()
    return done


@pytest.mark.timeout(120)
async def test_a_reload_sesd_refuses_fails_systemctl_reload(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A file the check passes and sesd takes: every line exits 0, quietly. The file
    again, its Slack secret's file gone: the check, without secrets, passes it, sesd
    refuses it, and the last line fails (exit 2) saying where the reason is; sesd runs
    on. Mended, the reload passes again."""
    url, _ = await make_queue(sqs)
    secret = tmp_path / "slack_webhook_url"
    secret.write_text("http://127.0.0.1:9/slack\n")
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n[[queues]]\nurl = "{url}"\nname = "q"\n'
        f'wait_time_seconds = 1\n[state]\npath = "{tmp_path / "state.bin"}"\n'
        f'[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "file:{secret}"\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.1\n'
        'sinks = ["slack"]\n',
    )
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    async with sesd_process(config, env={"RUNTIME_DIRECTORY": str(runtime)}) as sesd:
        told = read_report(runtime / REPORT_NAME)
        assert told is not None
        assert (told.pid, told.begun, told.ended, told.ok) == (sesd.process.pid, 0, 0, True)

        fine = await _reload(sesd, config, runtime, "sesd.config.reloaded")
        assert [(r.returncode, r.stdout, r.stderr) for r in fine] == [(0, b"", b"")] * 2

        secret.unlink()
        refused = await _reload(sesd, config, runtime, "sesd.config.reload_failed")
        assert [r.returncode for r in refused] == [0, 2]
        assert refused[-1].stderr.decode() == (
            "sesd reload: sesd refused the config file and runs on the config it had: its "
            "log line sesd.config.reload_failed says why (journalctl -u sesd)\n"
        )
        assert sesd.process.returncode is None

        secret.write_text("http://127.0.0.1:9/slack\n")
        again = await _reload(sesd, config, runtime, "sesd.config.reloaded")
        assert [r.returncode for r in again] == [0, 0]
        told = read_report(runtime / REPORT_NAME)
        assert told is not None
        assert (told.begun, told.ended, told.ok) == (3, 3, True)


@pytest.mark.timeout(120)
async def test_a_reload_that_leaves_settings_for_a_restart_fails_systemctl_reload(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A file that changes what only a restart changes (the listen address, the state
    file) beside a rule added: sesd takes the rule and runs on with the address and the
    state file it had. The reload fails (exit 3, not the refusal's 2) naming both and
    saying the rest is in force, instead of passing while the operator believes the
    address changed; typed by hand with the runtime directory, `sesd reload` says the
    same. The address and the state file put back as they run, the reload passes again."""
    url, _ = await make_queue(sqs)
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n[[queues]]\nurl = "{url}"\nname = "q"\n'
        f'wait_time_seconds = 1\n[state]\npath = "{tmp_path / "state.bin"}"\n',
    )
    running = config.read_text()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    async with sesd_process(config, env={"RUNTIME_DIRECTORY": str(runtime)}) as sesd:
        rule = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.1\n'
        config.write_text(
            running.replace('"127.0.0.1:0"', '"127.0.0.1:9"').replace("state.bin", "moved.bin")
            + rule
        )
        said = (
            "sesd reload: the config file is in force except what only a restart changes, "
            "which runs on as it was: http.listen, state.path (sesd.config.reload_ignored "
            "in its log); restart sesd to apply it\n"
        )
        left = await _reload(sesd, config, runtime, "sesd.config.reloaded")
        assert [(r.returncode, r.stderr.decode()) for r in left] == [(0, ""), (3, said)]
        ignored = [r["key"] for r in sesd.records if r["event"] == "sesd.config.reload_ignored"]
        assert ignored == ["http.listen", "state.path"]
        assert (await sesd.logged("sesd.config.reloaded"))["rules_added"] == ["r"]
        told = read_report(runtime / REPORT_NAME)
        assert told is not None
        assert (told.ended, told.ok, told.restart, told.restart_count) == (
            1, True, ("http.listen", "state.path"), 2,
        )  # fmt: skip

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(sesd.wait_for_event, "sesd.config.reloaded")
                by_hand = await anyio.run_process(
                    [SESD, "reload", str(sesd.process.pid)],
                    env={**os.environ, "RUNTIME_DIRECTORY": str(runtime)},
                    check=False,
                )
        assert (by_hand.returncode, by_hand.stderr.decode()) == (3, said)
        assert sesd.process.returncode is None

        config.write_text(running + rule)
        again = await _reload(sesd, config, runtime, "sesd.config.reloaded")
        assert [(r.returncode, r.stderr) for r in again] == [(0, b"")] * 2


#: A stand-in for the daemon's side, told with sesd's own ReloadReport: the command's
#: SIGHUP begins a reload. What follows in the script ends it, or the stand-in ends.
_BEGINS = """\
import json, signal, sys
from pathlib import Path

import anyio

from sesd.runtime.reload_report import ReloadReport

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
report = ReloadReport(Path(sys.argv[1]))
anyio.run(report.started)
print("ready", flush=True)
signal.sigwait({signal.SIGHUP})
anyio.run(report.begin)
"""

#: The reload ends in force, leaving the keys given (JSON) for a restart.
_LEFT = (
    _BEGINS
    + """\
anyio.run(report.end, True, json.loads(sys.argv[2]))
sys.stdin.read()
"""
)


def _left(tmp_path: Path, keys: list[str]) -> subprocess.CompletedProcess[str]:
    """`sesd reload` of a stand-in whose reload leaves ``keys`` for a restart."""
    return _reloaded_stand_in(_LEFT, tmp_path, json.dumps(keys))


def _reloaded_stand_in(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`sesd reload` of a stand-in running ``script`` (its report in ``tmp_path``, then
    ``args``), put down once the command is done."""
    held = _stand_in(script, str(tmp_path / REPORT_NAME), *args)
    try:
        return _sesd_reload(held.pid, tmp_path)
    finally:
        _put_down(held)


def test_what_waits_for_a_restart_is_listed_up_to_a_bound(tmp_path: Path) -> None:
    """A config of many accounts, each moved to another role: the line names the first
    20 settings and counts the rest, as does the outcome's file, which grows no more."""
    done = _left(tmp_path, [f"accounts.a{n:02}" for n in range(25)])
    listed = ", ".join(f"accounts.a{n:02}" for n in range(20))
    assert (done.returncode, done.stderr) == (
        3,
        "sesd reload: the config file is in force except what only a restart changes, "
        f"which runs on as it was: {listed} and 5 more (sesd.config.reload_ignored in "
        "its log); restart sesd to apply it\n",
    )
    told = json.loads((tmp_path / REPORT_NAME).read_text())
    assert (len(told["restart"]), told["restart_count"]) == (20, 25)


def test_a_key_left_for_a_restart_is_said_escaped_and_bounded(tmp_path: Path) -> None:
    """The command reads the keys back from a file (sesd names none with a line break,
    but nothing holds the file to that): one with a line break or a terminal's escape
    stays on the command's one line in the journal, shown, and a long one is cut at
    100 characters."""
    done = _left(tmp_path, ["accounts.a\nb\x1b[2J", "accounts." + "x" * 150])
    assert (done.returncode, done.stderr) == (
        3,
        "sesd reload: the config file is in force except what only a restart changes, "
        "which runs on as it was: accounts.a\\u000ab\\u001b[2J, accounts."
        + "x" * 90
        + "… (sesd.config.reload_ignored in its log); restart sesd to apply it\n",
    )


#: The reload faults once its config was switched.
_PART_WAY = (
    _BEGINS
    + """\
anyio.run(lambda: report.end(False, [], part_way=True))
sys.stdin.read()
"""
)


def test_a_reload_that_faulted_part_way_is_not_said_to_have_changed_nothing(
    tmp_path: Path,
) -> None:
    """A reload that faulted once its config was switched changed part of what runs:
    the command does not say sesd runs on the config it had (exit 2, which a script
    takes for nothing changed), but what it runs and to restart, exit 1."""
    done = _reloaded_stand_in(_PART_WAY, tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        "sesd reload: a reload faulted part way (a bug in sesd, not in the file): sesd "
        "runs neither the config it had nor the file whole, and refuses reloads; restart "
        "sesd, which applies the file whole, and report the traceback of its log line "
        "sesd.config.reload_failed (journalctl -u sesd)\n",
    )
    told = read_report(tmp_path / REPORT_NAME)
    assert told is not None
    assert (told.ok, told.part_way) == (False, True)


#: The reload faults in a step after its config was switched: the new one in force whole.
_NEW_WHOLE = (
    _BEGINS
    + """\
anyio.run(lambda: report.end(False, [], part_way=True, new_whole=True))
sys.stdin.read()
"""
)


def test_a_reload_that_faulted_with_its_config_whole_says_so(tmp_path: Path) -> None:
    """A reload that faulted in a step after its config was switched (its metrics and
    line, the silences it ended written, the clients it no longer needs closed) left
    that config in force whole, as its log line says: the command says so too, not
    that sesd runs neither config whole, and still to restart, exit 1."""
    done = _reloaded_stand_in(_NEW_WHOLE, tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        "sesd reload: a reload faulted once its config was in force whole (a bug in "
        "sesd, not in the file): sesd runs that config, but what the reload left undone "
        "waits for a restart, and reloads are refused; restart sesd, and report the "
        "traceback of its log line sesd.config.reload_failed (journalctl -u sesd)\n",
    )
    told = read_report(tmp_path / REPORT_NAME)
    assert told is not None
    assert (told.ok, told.part_way, told.new_whole) == (False, True, True)


#: An older sesd's report of a reload that faulted once its config was switched: it
#: said no more than ``part_way``, its line saying neither config whole.
_OLDER_PART_WAY = (
    _BEGINS
    + """\
import os
older = {
    "pid": os.getpid(), "begun": 1, "ended": 1, "ok": False, "restart": [],
    "restart_count": 0, "read_after": 1, "part_way": True,
}
Path(sys.argv[1]).write_text(json.dumps(older))
sys.stdin.read()
"""
)


def test_a_part_way_report_of_an_older_sesd_says_neither_config_whole(tmp_path: Path) -> None:
    """A sesd from before it told a config in force whole (the command upgraded, the
    daemon not restarted) writes ``part_way`` alone: the command says what that sesd's
    log line said, neither config whole."""
    done = _reloaded_stand_in(_OLDER_PART_WAY, tmp_path)
    assert done.returncode == 1
    assert "sesd runs neither the config it had nor the file whole" in done.stderr
    told = read_report(tmp_path / REPORT_NAME)
    assert told is not None
    assert (told.part_way, told.new_whole) == (True, False)


def test_the_report_of_a_sesd_from_before_part_way_is_read(tmp_path: Path) -> None:
    """A sesd started before the command was upgraded writes no ``part_way``: its report
    is still read (not taken for one that tells no outcome, exit 0), as not part way."""
    path = tmp_path / REPORT_NAME
    older = {
        "pid": 7, "begun": 2, "ended": 2, "ok": False, "restart": [], "restart_count": 0,
        "read_after": 2,
    }  # fmt: skip
    path.write_text(json.dumps(older))
    told = read_report(path)
    assert told is not None
    assert (told.ended, told.ok, told.part_way) == (2, False, False)


def test_outside_the_unit_reload_says_to_send_the_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Typed in a shell, where systemd set no runtime directory, nothing is sent: the
    line says where the command belongs and what to do instead."""
    from sesd.commands.main import main

    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    assert main(["reload", "4242"]) == 2
    assert capsys.readouterr().err == (
        "sesd reload: $RUNTIME_DIRECTORY is not set: systemd sets it for the unit's own "
        "processes (RuntimeDirectory=sesd), where sesd tells each reload's outcome; "
        "elsewhere send the signal (kill -HUP 4242) and read the log (sesd.config.reloaded, "
        "or sesd.config.reload_failed; sesd.config.reload_ignored names what waits for a "
        "restart)\n"
    )


def test_a_sesd_that_tells_no_outcome_is_signalled_as_before(tmp_path: Path) -> None:
    """A sesd started before the unit had its runtime directory (the unit replaced, the
    daemon not restarted) writes no outcome: the signal is sent, the reload passes as
    it did, and the line says how to have the outcome waited for."""
    held = _stand_in(
        "import signal, sys\n"
        "signal.signal(signal.SIGHUP, lambda *_: print('heard', flush=True))\n"
        "print('ready', flush=True)\nsys.stdin.read()\n"
    )
    try:
        done = _sesd_reload(held.pid, tmp_path)
        assert done.returncode == 0, done.stderr
        assert held.stdout is not None
        assert held.stdout.readline() == "heard\n"
        assert done.stderr == (
            f"sesd reload: SIGHUP sent; process {held.pid} tells no reload's outcome in "
            f"{tmp_path} (started before the unit had RuntimeDirectory=, or an older sesd: a "
            "restart mends it; or it cannot write there: sesd.config.reload_report_failed in "
            "its log): its log says whether the file is in force (sesd.config.reloaded, or "
            "sesd.config.reload_failed; sesd.config.reload_ignored names what waits for a "
            "restart)\n"
        )
    finally:
        _put_down(held)


#: A stand-in for a daemon that says each SIGHUP it hears, and a look (SIGUSR1) after:
#: a SIGHUP sent before the look is said before it (pending together, the lower
#: signal's handler runs first).
_HEARS = """\
import signal, sys
signal.signal(signal.SIGHUP, lambda *_: print('heard', flush=True))
signal.signal(signal.SIGUSR1, lambda *_: print('looked', flush=True))
print('ready', flush=True)
sys.stdin.read()
"""


def test_each_exit_2_leaves_the_config_as_it_was(tmp_path: Path) -> None:
    """A script acting on `sesd reload`'s status learns from a 2 that the config in force
    is as it was, whatever the cause: sesd refused the file (above), or nothing was
    sent: a usage error (a mistyped ExecReload= line), no $RUNTIME_DIRECTORY, a process
    that is not there. A 1 is kept for a signal sent whose outcome is not known."""
    held = _stand_in(_HEARS)
    try:
        mistyped = _sesd_reload(held.pid, tmp_path, "--timeout", "0")
        assert mistyped.returncode == 2
        assert mistyped.stderr.startswith("usage: sesd reload ")
        outside = subprocess.run(
            [SESD, "reload", str(held.pid)],
            env={k: v for k, v in os.environ.items() if k != "RUNTIME_DIRECTORY"},
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert outside.returncode == 2
        assert outside.stderr.startswith("sesd reload: $RUNTIME_DIRECTORY is not set")
        # Above any pid_max (2**22 at most), so that no process has it: the number of one
        # reaped a moment ago may be handed on meanwhile, and the SIGHUP, sent as root,
        # would reach whatever process took it.
        gone = 2**31 - 1
        absent = _sesd_reload(gone, tmp_path)
        assert (absent.returncode, absent.stderr) == (
            2,
            f"sesd reload: cannot signal process {gone}: No such process; nothing was sent\n",
        )
        held.send_signal(signal.SIGUSR1)
        assert held.stdout is not None
        assert held.stdout.readline() == "looked\n"  # no SIGHUP before it
    finally:
        _put_down(held)


#: `sesd reload` as another user than the test's: its modules loaded first, as the
#: interpreter may lie where only the test's user reaches.
_AS_NOBODY = """\
import os, sys

import sesd.commands.reload
from sesd.commands.main import main

os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a command of another user as root")
def test_another_user_s_process_is_not_signalled(tmp_path: Path) -> None:
    """A process of another user (a mistyped number, another user's sesd) is said at
    once with nothing changed (2): anyone may open a pidfd on it, only the signal
    through it is refused."""
    held = _stand_in(_HEARS)
    try:
        refused = subprocess.run(
            [sys.executable, "-c", _AS_NOBODY, "reload", str(held.pid)],
            env={**os.environ, "RUNTIME_DIRECTORY": str(tmp_path)},
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert (refused.returncode, refused.stderr) == (
            2,
            f"sesd reload: cannot signal process {held.pid}: Operation not permitted; "
            "nothing was sent\n",
        )
        held.send_signal(signal.SIGUSR1)
        assert held.stdout is not None
        assert held.stdout.readline() == "looked\n"  # no SIGHUP before it
    finally:
        _put_down(held)


#: A stand-in for the daemon's side, told with sesd's own ReloadReport: a reload is
#: under way (begun, not ended) as the command looks; the command's SIGHUP ends it,
#: in force, and begins none (the reload it asked for waits behind it).
_UNDER_WAY = """\
import signal, sys
from pathlib import Path

import anyio

from sesd.runtime.reload_report import ReloadReport

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
report = ReloadReport(Path(sys.argv[1]))
anyio.run(report.started)
anyio.run(report.begin)
print("ready", flush=True)
signal.sigwait({signal.SIGHUP})
anyio.run(report.end, True)
print("ended", flush=True)
sys.stdin.read()
"""


def test_a_reload_under_way_as_it_looks_is_not_the_one_waited_for(tmp_path: Path) -> None:
    """Two edits in a row, two reloads: the second `systemctl reload` looks while the
    first edit's reload is still under way, which read the file before the second
    edit. Its end, in force, is no word on the file as the second left it: the command
    waits for a reload begun after it looked, and says none came."""
    held = _stand_in(_UNDER_WAY, str(tmp_path / REPORT_NAME))
    try:
        done = _sesd_reload(held.pid, tmp_path, "--timeout", "2")
        assert held.stdout is not None
        assert held.stdout.readline() == "ended\n"
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(f"sesd reload: no outcome from process {held.pid} within 2 s")
    finally:
        _put_down(held)


@pytest.mark.timeout(120)
async def test_a_runtime_directory_sesd_cannot_write_to_is_said_at_each_reload(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A runtime directory sesd cannot write to (here a path under a file; /run full,
    in life) leaves no outcome to wait for: the signal is sent and the reload passes as
    before, the line naming that cause with the others, and sesd's log says so again
    beside the reload it could not tell of, not only once at the start."""
    url, _ = await make_queue(sqs)
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n[[queues]]\nurl = "{url}"\nname = "q"\n'
        f'wait_time_seconds = 1\n[state]\npath = "{tmp_path / "state.bin"}"\n',
    )
    (tmp_path / "file").write_text("")
    runtime = tmp_path / "file" / "run"
    async with sesd_process(config, env={"RUNTIME_DIRECTORY": str(runtime)}) as sesd:
        assert (await sesd.logged("sesd.config.reload_report_failed"))["path"] == str(
            runtime / REPORT_NAME
        )
        done = await _reload(sesd, config, runtime, "sesd.config.reloaded")
        assert [r.returncode for r in done] == [0, 0]
        assert done[-1].stderr.decode() == (
            f"sesd reload: SIGHUP sent; process {sesd.process.pid} tells no reload's outcome "
            f"in {runtime} (started before the unit had RuntimeDirectory=, or an older sesd: "
            "a restart mends it; or it cannot write there: sesd.config.reload_report_failed "
            "in its log): its log says whether the file is in force (sesd.config.reloaded, "
            "or sesd.config.reload_failed; sesd.config.reload_ignored names what waits for "
            "a restart)\n"
        )
        said = [r for r in sesd.records if r["event"] == "sesd.config.reload_report_failed"]
        assert len(said) == 2  # at the start, and as the reload began


@pytest.mark.timeout(120)
async def test_the_reload_under_way_as_sesd_reload_looks_is_not_its_outcome(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload begins (in the file) before it reads the config file: one still reading
    as `sesd reload` looks read it before the edit the command is for. Here that read
    is held (the config file a FIFO, its text written when the test says) while the
    command looks and signals; it then ends, in force, and the reload the command
    asked for is held in its turn: the command says no outcome came, instead of
    passing on the first one's."""
    url, _ = await make_queue(sqs)
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n[[queues]]\nurl = "{url}"\nname = "q"\n'
        f'wait_time_seconds = 1\n[state]\npath = "{tmp_path / "state.bin"}"\n',
    )
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    async with sesd_process(config, env={"RUNTIME_DIRECTORY": str(runtime)}) as sesd:
        taken = config.read_text()
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo, 0o600)
        fifo.replace(config)
        with anyio.fail_after(90):
            os.kill(sesd.process.pid, signal.SIGHUP)
            # Open once the reload opens the file to read it (its begin in the file), and
            # held: the reload reads on until the text is written and the writer closes.
            async with open_for_writing(config, "w", encoding="utf-8") as writer:
                await sesd.wait_for_event("sesd.daemon.signal")
                command = await anyio.open_process(
                    [SESD, "reload", "--timeout", "3", str(sesd.process.pid)],
                    env={**os.environ, "RUNTIME_DIRECTORY": str(runtime)},
                )
                # Its look and signal made, the reload under way reads what sesd takes.
                await sesd.wait_for_event("sesd.daemon.signal")
                writer.write(taken)
            await sesd.wait_for_event("sesd.config.reloaded")
            assert await command.wait() == 1
            assert command.stderr is not None
            said = (await command.stderr.receive()).decode()
            await command.aclose()
            # The reload it asked for, begun (in the file) as it opens the file, read at last.
            async with open_for_writing(config, "w", encoding="utf-8") as writer:
                told = read_report(runtime / REPORT_NAME)
                writer.write(taken)
            await sesd.wait_for_event("sesd.config.reloaded")
        assert said.startswith(f"sesd reload: no outcome from process {sesd.process.pid} "), said
        assert told is not None
        assert (told.begun, told.ended, told.ok) == (2, 1, True)


#: The start of a stand-in whose report is written through a link to its runtime
#: directory (argv[1]), as sesd's own ReloadReport writes it; its log on standard error.
_BY_LINK = """\
import signal, sys
from pathlib import Path

import anyio
import structlog

from sesd.runtime.reload_report import ReloadReport

structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
link = Path(sys.argv[1])
report = ReloadReport(link / "reload.json")
anyio.run(report.started)
"""


#: A stand-in for the daemon's side, told with sesd's own ReloadReport: the write as a
#: reload begins fails (its runtime directory gone a moment, through the link it writes
#: by; the command reads by the directory itself), then the directory is back; the
#: command looks, and its SIGHUP ends that reload, in force. Its log on standard error.
_BEGUN_UNTOLD = (
    _BY_LINK
    + """\
directory = link.readlink()
link.unlink()
anyio.run(report.begin)
link.symlink_to(directory)
print("ready", flush=True)
signal.sigwait({signal.SIGHUP})
anyio.run(report.end, True)
print("ended", flush=True)
sys.stdin.read()
"""
)


def _linked_runtime(tmp_path: Path) -> tuple[Path, Path]:
    """A runtime directory, as systemd makes it, and a link to it for a stand-in to
    write its report by (the command reads by the directory itself)."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(runtime)
    return runtime, link


def test_a_reload_whose_begin_went_untold_is_not_the_one_waited_for(tmp_path: Path) -> None:
    """A reload whose begin sesd could not write (/run full for a moment) may have read
    the config file before the command looked, the file showing no reload under way:
    its end, in force, is no word on the file as the operator left it. The command says
    it cannot tell, at once, instead of passing on that outcome or waiting out its time
    for another that may not come."""
    runtime, link = _linked_runtime(tmp_path)
    held = _stand_in(_BEGUN_UNTOLD, str(link), stderr=True)
    try:
        told = read_report(runtime / REPORT_NAME)
        assert told is not None
        assert (told.begun, told.ended) == (0, 0)  # the reload under way unseen
        done = _sesd_reload(held.pid, runtime, "--timeout", "3600")
        assert held.stdout is not None
        assert held.stdout.readline() == "ended\n"
        assert (done.returncode, done.stderr) == (
            1,
            f"sesd reload: process {held.pid} could not write as its last reload began "
            "(sesd.config.reload_report_failed in its log): that reload may have read the "
            "config file before this command looked, and its outcome is not told as this "
            "one's; reload again, or read its log (sesd.config.reloaded, or "
            "sesd.config.reload_failed; sesd.config.reload_ignored names what waits for a "
            "restart)\n",
        )
        assert held.stderr is not None
        assert "sesd.config.reload_report_failed" in held.stderr.readline()
    finally:
        _put_down(held)


#: As _BEGUN_UNTOLD, after a reload told whole (its begin and end written): the one
#: whose begin went untold ends at the first command's SIGHUP, and the next SIGHUP's
#: reload is told whole again. Its log on standard error.
_UNTOLD_AFTER_TOLD = (
    _BY_LINK
    + """\
anyio.run(report.begin)
anyio.run(report.end, True)
directory = link.readlink()
link.unlink()
anyio.run(report.begin)
link.symlink_to(directory)
print("ready", flush=True)
signal.sigwait({signal.SIGHUP})
anyio.run(report.end, True)
signal.sigwait({signal.SIGHUP})
anyio.run(report.begin)
anyio.run(report.end, True)
sys.stdin.read()
"""
)


def test_after_a_begin_went_untold_the_next_reload_is_waited_for(tmp_path: Path) -> None:
    """An untold begin after reloads told whole: the file then shows the last told one
    ended, and the reload under way unseen. Its end is not taken for the command's
    (exit 1, reload again); the reload again, its begin written, is (exit 0)."""
    runtime, link = _linked_runtime(tmp_path)
    held = _stand_in(_UNTOLD_AFTER_TOLD, str(link), stderr=True)
    try:
        told = read_report(runtime / REPORT_NAME)
        assert told is not None
        assert (told.begun, told.ended, told.read_after) == (1, 1, 1)
        first = _sesd_reload(held.pid, runtime, "--timeout", "3600")
        assert first.returncode == 1, first.stderr
        assert first.stderr.startswith(
            f"sesd reload: process {held.pid} could not write as its last reload began "
        )
        again = _sesd_reload(held.pid, runtime, "--timeout", "3600")
        assert (again.returncode, again.stderr) == (0, "")
        told = read_report(runtime / REPORT_NAME)
        assert told is not None
        assert (told.begun, told.ended, told.read_after) == (3, 3, 3)
        assert held.stderr is not None
        assert "sesd.config.reload_report_failed" in held.stderr.readline()
    finally:
        _put_down(held)


#: A stand-in for a daemon that ends as the command waits (a stop, a fault): its reload
#: begun, never ended.
_ENDS = _BEGINS


def test_a_daemon_that_ends_mid_reload_is_said_at_once(tmp_path: Path) -> None:
    """The daemon ends while the command waits for its reload: the command says so as
    soon as it is gone, instead of waiting out its time for an outcome that cannot
    come."""
    held = subprocess.Popen(
        [sys.executable, "-c", _ENDS, str(tmp_path / REPORT_NAME)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert held.stdout is not None
        assert held.stdout.readline() == "ready\n"
        command = subprocess.Popen(
            [SESD, "reload", "--timeout", "3600", str(held.pid)],
            env={**os.environ, "RUNTIME_DIRECTORY": str(tmp_path)},
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # Gone but not reaped while the command waits (a zombie, which its number alone
        # still answers for), then reaped: its number may go to another process.
        _, said = command.communicate(timeout=60)
        assert command.returncode == 1
        assert said == f"sesd reload: process {held.pid} ended before the reload did\n"
        assert held.wait(timeout=60) == 0
    finally:
        held.kill()
        held.wait(timeout=30)
        assert held.stdout is not None
        held.stdout.close()


#: A stand-in for a daemon that tells it has started, then ends at once.
_GONE = """\
import sys
from pathlib import Path

import anyio

from sesd.runtime.reload_report import ReloadReport

anyio.run(ReloadReport(Path(sys.argv[1])).started)
"""


def test_a_daemon_ended_before_the_command_is_not_signalled(tmp_path: Path) -> None:
    """The daemon has ended, not yet reaped by its parent, when the command runs: no
    signal can reach it, said at once with nothing changed (2), not a wait of the
    whole timeout for the outcome of a reload that was never asked of anyone."""
    gone = subprocess.Popen([sys.executable, "-c", _GONE, str(tmp_path / REPORT_NAME)])
    try:
        # Ended (its report closed), left unreaped: a zombie its number still names.
        os.waitid(os.P_PID, gone.pid, os.WEXITED | os.WNOWAIT)
        command = subprocess.run(
            [SESD, "reload", "--timeout", "3600", str(gone.pid)],
            env={**os.environ, "RUNTIME_DIRECTORY": str(tmp_path)},
            stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
        assert command.returncode == 2
        assert command.stderr == (
            f"sesd reload: cannot signal process {gone.pid}: No such process; nothing was sent\n"
        )
    finally:
        assert gone.wait(timeout=30) == 0


#: `sesd reload` on a system that gives no pidfd (Linux before 5.3, or not Linux).
_NO_PIDFD = """\
import os, sys

del os.pidfd_open

from sesd.commands.main import main

sys.exit(main(sys.argv[1:]))
"""


def test_without_a_pidfd_a_daemon_reaped_mid_reload_is_said_at_once(tmp_path: Path) -> None:
    """Where the system gives no pidfd, the command follows the daemon by its number:
    once the daemon has ended and been reaped, no process answers for that number, and
    the command says at once that it ended, as it does through a pidfd."""
    held = subprocess.Popen(
        [sys.executable, "-c", _ENDS, str(tmp_path / REPORT_NAME)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert held.stdout is not None
        assert held.stdout.readline() == "ready\n"
        command = subprocess.Popen(
            [sys.executable, "-c", _NO_PIDFD, "reload", "--timeout", "3600", str(held.pid)],
            env={**os.environ, "RUNTIME_DIRECTORY": str(tmp_path)},
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # Gone, and reaped: its number alone no longer answers.
        assert held.wait(timeout=60) == 0
        _, said = command.communicate(timeout=60)
        assert command.returncode == 1
        assert said == f"sesd reload: process {held.pid} ended before the reload did\n"
    finally:
        held.kill()
        held.wait(timeout=30)
        assert held.stdout is not None
        held.stdout.close()


def _stand_in(script: str, *args: str, stderr: bool = False) -> subprocess.Popen[str]:
    """A stand-in for the daemon running ``script`` with ``args``, once it says it is
    ready (put down if it does not: its pipes closed)."""
    held = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr else None, text=True,
    )  # fmt: skip
    try:
        assert held.stdout is not None
        assert held.stdout.readline() == "ready\n"
    except BaseException:
        _put_down(held)
        raise
    return held


def _sesd_reload(pid: int, runtime: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`sesd reload` of process ``pid``, as the unit runs it (``$RUNTIME_DIRECTORY``)."""
    return subprocess.run(
        [SESD, "reload", *options, str(pid)],
        env={**os.environ, "RUNTIME_DIRECTORY": str(runtime)},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def _put_down(held: subprocess.Popen[str]) -> None:
    """End a stand-in for the daemon and close its pipes (left open, a warning)."""
    held.kill()
    held.wait(timeout=30)
    assert held.stdin is not None
    assert held.stdout is not None
    held.stdin.close()
    held.stdout.close()
    if held.stderr is not None:
        held.stderr.close()
