"""systemd: the unit verifies, and the notify protocol speaks over a real datagram socket."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import socket
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.common import EXIT_CONFIG, EXIT_START
from sesd.commands.reload import TIMEOUT as RELOAD_WAIT
from sesd.config import ConfigError, load_config, parse_config
from sesd.io.hung import READ_BOUND
from sesd.runtime.descriptors import WANTED
from sesd.runtime.systemd import Notifier
from tests.conftest import UNIT_VARIABLES, make_queue, require_tool, running

UNIT = Path(__file__).parent.parent / "systemd" / "sesd.service"


def test_unit_verifies(tmp_path: Path) -> None:
    """systemd-analyze verify accepts the unit (ExecStart pointed at this install)."""
    tool = require_tool("systemd-analyze")
    # The sesd script installed beside the interpreter running the tests: whichever
    # environment that is, not one named by $VIRTUAL_ENV or found by the working directory.
    sesd = Path(sys.executable).parent / "sesd"
    assert sesd.exists(), f"no sesd script beside {sys.executable}"
    unit = tmp_path / "sesd.service"
    unit.write_text(UNIT.read_text().replace("/opt/sesd/bin/sesd", str(sesd.resolve())))
    result = subprocess.run(
        [tool, "verify", str(unit)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "sesd.service" not in result.stderr, result.stderr


def test_unit_exposure_is_low(tmp_path: Path) -> None:
    """systemd-analyze security rates the unit's exposure at 2.0 or under ("OK")."""
    tool = require_tool("systemd-analyze")
    sesd = Path(sys.executable).parent / "sesd"
    unit = tmp_path / "sesd.service"
    unit.write_text(UNIT.read_text().replace("/opt/sesd/bin/sesd", str(sesd.resolve())))
    result = subprocess.run(
        [tool, "security", "--offline=true", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    score = float(result.stdout.split("Overall exposure level for sesd.service:")[1].split()[0])
    assert score <= 2.0, result.stdout


def test_unit_is_hardened_and_matched_to_the_drain() -> None:
    """Type=notify, its own user, nothing writable but its state, no capabilities, and a stop
    timeout longer than the default grace period."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["Type"] == "notify"
    assert service["DynamicUser"] == "yes"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert service["StateDirectory"] == "sesd"
    assert service["ExecStart"].endswith("run --config /etc/sesd/sesd.toml")
    # systemctl reload checks the file, then sends SIGHUP, which re-reads the config
    # (tests/test_reload.py), and waits for sesd's outcome, told in its runtime
    # directory, its own (tests/test_systemd_reload.py runs them); the check is run below.
    assert _values("ExecReload")[-1] == "/opt/sesd/bin/sesd reload $MAINPID"
    assert service["RuntimeDirectory"] == "sesd"
    assert service["RuntimeDirectoryMode"] == "0700"
    # A directory of credentials: a file no configured secret uses need not exist.
    assert service["LoadCredential"] == "sesd:/etc/sesd/credentials"
    # The whole stop fits: the grace period, the last state save and the exit.
    longest = parse_config("").shutdown.longest_stop(saves=True)
    assert int(service["TimeoutStopSec"].rstrip("s")) >= longest
    assert int(service["WatchdogSec"].rstrip("s")) >= 10
    # /proc/stat stays readable: prometheus_client needs it for every process_* metric.
    assert "ProcSubset" not in service


def test_the_unit_gives_the_open_files_sesd_would_raise_its_limit_to() -> None:
    """sesd raises its soft limit on open files to WANTED as it starts, a setrlimit the
    unit's system-call filter (~@resources) forbids: where libc makes that call as the
    setrlimit system call rather than prlimit64 (an older glibc), it would fail and
    sesd run with fewer files than it means to. The unit sets the limit itself, so sesd
    finds it in force and makes no call."""
    assert "~@privileged @resources" in _values("SystemCallFilter")
    assert _values("LimitNOFILE") == [str(WANTED)]


def test_a_call_the_filter_forbids_fails_instead_of_killing() -> None:
    """`sesd reload` (ExecReload, under the unit's filter) follows the daemon through
    pidfd_open and pidfd_send_signal, calls a systemd older than them leaves out of
    @system-service; by default the filter kills a process making a call it forbids,
    and every `systemctl reload` would fail. With EPERM the call fails, and the command
    follows the daemon by its number."""
    assert _values("SystemCallErrorNumber") == ["EPERM"]


def test_the_install_steps_make_the_credentials_directory() -> None:
    """systemd refuses to start a unit whose LoadCredential= directory is missing, even
    when no secret is kept there: the steps in the unit's header and in README make it."""
    (credential,) = _values("LoadCredential")
    directory = credential.split(":", 1)[1]
    made = f"install -d -m 0700 {directory}"
    header = UNIT.read_text().split("[Unit]")[0]
    assert f"#   {made}\n#   systemctl enable --now sesd" in header
    assert made in (UNIT.parent.parent / "README.md").read_text()


def _values(key: str) -> list[str]:
    """Every value of ``key`` in the unit's [Service], in order (systemd runs a list of
    ExecReload= lines one after the other; configparser keeps only the last)."""
    return [
        line.split("=", 1)[1]
        for line in UNIT.read_text().split("[Service]")[1].split("\n[")[0].splitlines()
        if line.startswith(f"{key}=")
    ]


def test_each_reload_command_ends_within_systemd_s_timeout_saying_why() -> None:
    """systemd gives each ExecReload= line TimeoutStartSec of its own, then kills it
    with no reason said: the check's read bound and `sesd reload`'s wait are inside it."""
    (timeout,) = _values("TimeoutStartSec")
    assert READ_BOUND < RELOAD_WAIT < int(timeout.removesuffix("s"))
    assert [line.split()[1] for line in _values("ExecReload")] == ["check-config", "reload"]


def test_a_reload_of_an_invalid_config_fails_before_the_signal(tmp_path: Path) -> None:
    """`systemctl reload` runs the check before the SIGHUP: a file sesd would refuse
    fails the reload (exit 2, the error for the journal) and the signal is never sent;
    a valid one passes quietly, even with its secrets' files out of reach."""
    check, signal = _values("ExecReload")
    assert signal == "/opt/sesd/bin/sesd reload $MAINPID"
    sesd = str((Path(sys.executable).parent / "sesd").resolve())
    config = tmp_path / "sesd.toml"
    command = check.replace("/opt/sesd/bin/sesd", sesd).replace("/etc/sesd/sesd.toml", str(config))
    assert command.startswith(sesd)
    assert command.endswith(str(config))

    def reload_check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command.split(), capture_output=True, text=True, check=False, timeout=60
        )

    config.write_text(
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
        + f'[state]\npath = "{tmp_path / "state.bin"}"\n'
        + '[alerts.sinks.slack]\ntype = "slack"\n'
        + 'webhook_url = "file:$CREDENTIALS_DIRECTORY/sesd_slack_webhook_url"\n'
        + '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\n'
        + 'above = 0.1\nsinks = ["slack"]\n'
    )
    fine = reload_check()
    assert (fine.returncode, fine.stdout, fine.stderr) == (0, "", "")
    config.write_text(config.read_text().replace('window = "15m"', 'window = "15 minutes"'))
    refused = reload_check()
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(
        f"sesd: config error: {config}:11: alerts.rules[0] (r).window:"
    )
    assert refused.stdout == ""


def test_a_credential_read_in_a_shell_says_the_unit_alone_has_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit's config names its secrets "file:$CREDENTIALS_DIRECTORY/...", which
    systemd sets for the unit's own processes alone. `sesd check-config` or `sesd
    send-test-alert` typed in a shell said "cannot read secret file
    $CREDENTIALS_DIRECTORY/sesd_slack_webhook_url: No such file or directory", a path
    with a dollar in it, and left the operator to guess why. The line says the variable
    is not set here and who sets it. A path whose variables are set says nothing more."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = tmp_path / "sesd.toml"
    config.write_text(
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
        '[alerts.sinks.slack]\ntype = "slack"\n'
        'webhook_url = "file:$CREDENTIALS_DIRECTORY/sesd_slack_webhook_url"\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_config(str(config))
    assert str(refused.value).endswith(
        "alerts.sinks.slack.webhook_url: cannot read secret file "
        "$CREDENTIALS_DIRECTORY/sesd_slack_webhook_url: No such file or directory; "
        "$CREDENTIALS_DIRECTORY is not set here: systemd sets $CREDENTIALS_DIRECTORY only "
        "for the unit's own processes (LoadCredential=), not for a command typed in a shell"
    )
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(ConfigError) as refused:
        load_config(str(config))
    assert str(refused.value).endswith(
        f"cannot read secret file {tmp_path}/sesd_slack_webhook_url: No such file or directory"
    )


def test_a_failed_start_is_tried_again() -> None:
    """Exit 2 (a config error, a failed start) is restarted like any failure: at boot
    its cause may pass by itself (a secret another unit writes, an address not up
    yet), and a unit left failed would stay down until someone restarts it."""
    assert _values("Restart") == ["on-failure"]
    assert _values("RestartPreventExitStatus") == []
    assert EXIT_START == EXIT_CONFIG == 2


def _listener(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path if not path.startswith("@") else "\0" + path[1:])
    sock.settimeout(20)
    return sock


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notifier_speaks_the_protocol(tmp_path: Path, abstract: bool) -> None:
    """Messages arrive as one datagram each, on a path or an abstract socket."""
    path = f"@sesd-test-{os.getpid()}" if abstract else str(tmp_path / "notify")
    with _listener(path) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
        assert notifier.notify("READY=1", "STATUS=ok")
        assert sock.recv(4096) == b"READY=1\nSTATUS=ok"
        assert notifier.watchdog_interval == 15.0
        notifier.close()


def test_notifier_is_silent_outside_systemd() -> None:
    """Without NOTIFY_SOCKET nothing is sent and nothing fails."""
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.notify("READY=1")
    assert notifier.watchdog_interval is None
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_interval is None


@pytest.mark.usefixtures("short_polls")  # no long poll to wait for: STATUS comes at once
async def test_daemon_reports_ready_watchdog_and_stopping(
    local_sqs: Any, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under systemd the daemon sends READY=1 once it runs, WATCHDOG=1 pings at half of
    WatchdogSec, STATUS= when its queues start answering, and STOPPING=1 when it drains."""
    path = str(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # 0.2 s: pings every 0.1 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    url, _ = await make_queue(sqs)
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n[[queues]]\nurl = "{url}"\nname = "q"\n'
        'wait_time_seconds = 0\n[http]\nlisten = "127.0.0.1:0"\n'
    )
    with _listener(path) as sock:
        async with running(config):
            messages = [await anyio.to_thread.run_sync(sock.recv, 4096)]
            while b"STATUS=consuming q" not in messages[-1]:
                messages.append(await anyio.to_thread.run_sync(sock.recv, 4096))
            messages.append(await anyio.to_thread.run_sync(sock.recv, 4096))
        while b"STOPPING=1" not in messages[-1]:
            messages.append(await anyio.to_thread.run_sync(sock.recv, 4096))
    assert messages[0].startswith(b"READY=1\nSTATUS=")
    assert all(m.startswith(b"WATCHDOG=1") for m in messages[1:-1])
    assert messages[-2] == b"WATCHDOG=1"
    assert messages[-1] == b"STOPPING=1\nSTATUS=draining"


async def test_ready_does_not_wait_for_an_unreachable_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS unreachable at boot (nothing listens at the endpoint): READY=1 still comes,
    with a STATUS that names the queue, so systemd does not restart sesd over it;
    /readyz says the rest."""
    path = str(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    config = parse_config(
        f'[aws]\nendpoint_url = "{endpoint}"\n[[queues]]\nurl = "{endpoint}/1/q"\nname = "q"\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    with _listener(path) as sock:
        async with running(config):
            ready = await anyio.to_thread.run_sync(sock.recv, 4096)
    assert ready == b"READY=1\nSTATUS=running; no receive lately, or failing: q (see /readyz)"


def test_no_test_sees_the_unit_that_runs_the_suite() -> None:
    """A suite run by a service unit (a CI runner's, a timer's) has what systemd gives
    the unit's processes in its environment: a daemon a test runs in-process wrote
    its reloads' outcome (reload.json) in that unit's runtime directory, and would
    notify its manager. No test sees them unless it sets them itself."""
    from sesd.runtime.reload_report import report_path

    assert [name for name in UNIT_VARIABLES if name in os.environ] == []
    assert report_path(os.environ) is None
    assert not Notifier().enabled


def test_readme_s_test_alert_on_a_systemd_host_is_given_what_the_unit_gives_sesd() -> None:
    """A command typed in a shell has no $CREDENTIALS_DIRECTORY, and the files on disk
    are not named as the config refers to them (LoadCredential=sesd:DIR gives each
    file sesd_FILENAME): README's `sesd send-test-alert` for a systemd host runs it in
    a transient service of systemd's, given the unit's own LoadCredential= and
    EnvironmentFile= (the secrets named env:), waited for, its output and status the
    command's; the sesd and the config the unit runs, and a command sesd takes."""
    from sesd.commands.main import _parser

    readme = (UNIT.parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    (line,) = [
        line
        for block in blocks
        for line in block.replace("\\\n", " ").splitlines()
        if "systemd-run" in line
    ]
    words = shlex.split(line, comments=True)
    assert words[:2] == ["sudo", "systemd-run"]
    program = _values("ExecStart")[0].split()[0]
    options, command = words[2 : words.index(program)], words[words.index(program) + 1 :]
    given = [value for flag, value in pairwise(options) if flag == "-p"]
    unit = [
        f"{key}={value}" for key in ("LoadCredential", "EnvironmentFile") for value in _values(key)
    ]
    assert sorted(given) == sorted(unit)
    # Waited for, standard input, output and error the command's (and its status).
    assert {"--pipe", "--wait"} <= set(options)
    assert command[0] == "send-test-alert"
    config = _values("ExecStart")[0].split("--config ", 1)[1]
    assert command[command.index("--config") + 1] == config
    _parser(command[0]).parse_args(command)
