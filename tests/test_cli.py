"""The first minutes with sesd, tried as a new user would: start-up errors are one line
and exit 2, never a traceback; check-config takes its file either way, can leave the
secrets alone, and refuses what run would refuse; every command explains itself."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sesd import __version__
from sesd.commands import run as run_command
from sesd.commands.main import main
from sesd.config.checks import NO_RULES
from sesd.config.reading import CONFIG_BOUND
from sesd.io.logs import configure_logging, flush_logs
from tests import factory as f
from tests.conftest import log_records, sesd_logs
from tests.dns_server import hermetic_text
from tests.test_web_config import tls_files


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def _sesd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    environ = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sesd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environ,
    )


#: ``sesd run`` by ``main()`` in this process: its exit code and what it wrote to stderr.
SesdRun = Callable[..., tuple[int, str]]


@pytest.fixture
def sesd_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SesdRun]:
    """``sesd run`` whose start fails, run by ``main()`` in the test's process: a new
    interpreter costs about a second of CPU for a start that fails in milliseconds.
    What the command does to its process is left as a test worker needs it: the
    exit's bound it arms is disarmed as it is armed (its timer would end the worker as
    it ends sesd; the bound's code is checked against the exit code instead), the
    open-files limit it raises and the descriptor watch it adds are put back, and so
    is its signal handling: the command leaves it to the process's exit (a stop signal
    then ends the exit at once), and a later test in this worker that sent itself a
    SIGTERM was ended with the exit code 130."""
    bounds: list[run_command._ExitBound] = []

    class Disarmed(run_command._ExitBound):
        def __call__(self, after: str, why: BaseException | None) -> None:
            super().__call__(after, why)
            assert self.timer is not None
            self.timer.cancel()
            if self not in bounds:
                bounds.append(self)

    monkeypatch.setattr(run_command, "_ExitBound", Disarmed)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    watched = logging.getLogger("asyncio")
    filters = list(watched.filters)

    def sesd_run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        with _signals_put_back():
            code = main(["run", *args])
        flush_logs()
        # A start that failed in the daemon's run armed the bound, which says the same.
        assert [bound.code() for bound in bounds] in ([], [code])
        return code, capsys.readouterr().err

    try:
        yield sesd_run
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limit)
        watched.filters[:] = filters
        configure_logging("debug", "json")  # the daemon's log writer stopped


@contextlib.contextmanager
def _signals_put_back() -> Iterator[None]:
    """The stop and reload signals' handlers and the wakeup file as they were before;
    the wakeup file sesd left closed, which ends the thread that reads it."""
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    handlers = [signal.getsignal(signum) for signum in stops]
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    try:
        yield
    finally:
        for signum, handler in zip(stops, handlers, strict=True):
            signal.signal(signum, handler)
        left = signal.set_wakeup_fd(wakeup)
        if left not in (-1, wakeup):
            os.close(left)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sesd.toml"
    path.write_text(text)
    return path


QUEUE = hermetic_text(
    '[aws]\nendpoint_url = "http://127.0.0.1:9"\n[[queues]]\nurl = "http://127.0.0.1:9/q"\n'
)
#: The line after QUEUE's: a warning names the file and its key's line.
AFTER = len(QUEUE.splitlines()) + 1


@pytest.mark.parametrize("how", ["config", "listen flag", "environment", "flag over environment"])
def test_a_port_in_use_is_one_line_and_exit_2(
    tmp_path: Path, taken_port: int, how: str, sesd_run: SesdRun
) -> None:
    listen = f"127.0.0.1:{taken_port}"
    if how == "config":
        code, err = sesd_run(
            "--config", str(_config(tmp_path, QUEUE + f'[http]\nlisten = "{listen}"\n'))
        )
    elif how == "listen flag":
        code, err = sesd_run("--config", str(_config(tmp_path, QUEUE)), "--listen", listen)
    elif how == "flag over environment":
        # The flag is over the variable: the address bound, and the one named, is its.
        code, err = sesd_run(
            "--config",
            str(_config(tmp_path, QUEUE)),
            "--listen",
            listen,
            env={"SESD_HTTP_LISTEN": "127.0.0.1:0"},
        )
    else:
        code, err = sesd_run(
            "--config", str(_config(tmp_path, QUEUE)), env={"SESD_HTTP_LISTEN": listen}
        )
    assert code == 2
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    assert line.startswith(f"sesd: cannot start: cannot listen on {listen}: ")
    # Where the address in force is given: the flag, the variable, or the config.
    given = {"config": "[http] listen", "environment": "$SESD_HTTP_LISTEN"}.get(how, "--listen")
    assert line.endswith(f"; give sesd another address with {given}")
    assert "Traceback" not in err


def test_a_bad_listen_address_in_the_environment_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SESD_HTTP_LISTEN that is no HOST:PORT fails the start in one line, exit 2,
    naming the variable (a unit's or a pod's, which the person reading has not typed
    and would not look for as --listen). Run by ``main()``, no interpreter started: it
    stops before the daemon is made."""
    monkeypatch.setenv("SESD_HTTP_LISTEN", "garbage")
    assert main(["run", "--config", str(_config(tmp_path, QUEUE))]) == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    # The variable, then the reason, as a config's key is said (not "listen" again).
    assert line == "sesd: config error: SESD_HTTP_LISTEN: must be HOST:PORT, got 'garbage'"


@pytest.mark.parametrize("listen", ["garbage", "", "127.0.0.1:99999"])
@pytest.mark.parametrize("config", ["given", "missing"])
def test_a_bad_listen_flag_is_a_usage_error(
    tmp_path: Path,
    listen: str,
    config: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``sesd run --listen bogus`` is the command line's mistake, not the config's: a
    usage error naming --listen, exit 2, as ``sesd demo --listen`` and every other flag
    that takes no such value, where it said "config error" (and only once the config
    had been read: a config missing too was named instead). An empty one (a variable
    unset in a unit's command line) is refused as the demo refuses it, not read as
    none given; SESD_HTTP_LISTEN set does not stand in for it."""
    monkeypatch.setenv("SESD_HTTP_LISTEN", "127.0.0.1:0")
    path = str(_config(tmp_path, QUEUE)) if config == "given" else str(tmp_path / "none.toml")
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--config", path, "--listen", listen])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "config error" not in err
    assert err.splitlines()[-1].startswith("sesd run: error: argument --listen: ")
    assert "--listen: listen" not in err  # the flag, then the reason
    assert repr(listen) in err.splitlines()[-1]


def test_a_config_without_rules_is_warned_of_by_check_config_and_at_start(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str], sesd_run: SesdRun
) -> None:
    """Only [[queues]] is required: a config that stops there is valid, but sesd will
    never alert. check-config says so on stderr and `sesd run` logs it as it starts
    (here it then stops, its port taken); with a rule, neither says it."""
    path = str(_config(tmp_path, QUEUE))
    assert main(["check-config", path]) == 0
    err = capsys.readouterr().err
    assert "sesd: warning: alerts.rules: none configured, so sesd will never alert" in err
    _, err = sesd_run("--config", path, "--listen", f"127.0.0.1:{taken_port}")
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [
        (line["level"], line["warning"])
        for line in logged
        if line["event"] == "sesd.config.warning"
    ] == [("warning", NO_RULES)]
    rule = (
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        f'above = 0.1\n[state]\npath = "{tmp_path}/sesd.state"\n'
    )
    assert main(["check-config", str(_config(tmp_path, QUEUE + rule))]) == 0
    assert "alerts.rules" not in capsys.readouterr().err


def test_a_literal_secret_is_warned_of_by_check_config_not_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret written into the file is read by whoever reads the file: check-config
    says so (as the start and a reload do, from the same warnings), naming the key and
    never the secret; one read from the environment is not warned of."""
    monkeypatch.setenv("SESD_TEST_HOOK", "https://hooks.example/from-env")
    sinks = (
        '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "R0UT1NGKEY0123456789ABCDEFGHIJKL"\n'
        '[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "env:SESD_TEST_HOOK"\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.1\nsinks = ["pd", "chat"]\n'
    )
    path = _config(tmp_path, QUEUE + sinks)
    assert main(["check-config", "--quiet", str(path)]) == 0
    err = capsys.readouterr().err
    assert (
        f"sesd: warning: {path}:{AFTER + 2}: alerts.sinks.pd.routing_key: a literal secret in "
        'this file; prefer "env:NAME" or "file:/path"'
    ) in err.splitlines()
    assert "chat" not in err
    assert "R0UT1NGKEY0123456789ABCDEFGHIJKL" not in err


@pytest.mark.parametrize("which", ["file: secret", "TLS key"])
def test_a_secret_file_every_user_may_read_is_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    """A ``file:`` secret, or the TLS private key ``[http] web_config`` names, left
    readable by every user (an editor's or `echo >`'s 0644): whoever has a shell on the
    host can page as sesd, or serve as it. check-config says so, naming the key, the
    file and its mode, never the secret (as the start and a reload do, from the same
    warnings); a file of mode 0600 or 0640 is not warned of, nor one --no-secrets
    leaves unread. A warning, not an error: a config that ran loads again."""
    if which == "TLS key":
        tls_files(tmp_path)
        key = tmp_path / "tls.key"
        (tmp_path / "web.yml").write_text(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
        )
        text = f'[http]\nweb_config = "{tmp_path}/web.yml"\n'
        named = f"{AFTER + 1}: http.web_config: tls_server_config.key_file: private key file {key}"
        secret = key.read_text().splitlines()[1]
    else:
        key = tmp_path / "routing_key"
        key.write_text("R0UT1NGKEY0123456789ABCDEFGHIJKL\n")
        text = (
            f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{key}"\n'
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.1\nsinks = ["pd"]\n'
        )
        named = f"{AFTER + 2}: alerts.sinks.pd.routing_key: secret file {key}"
        secret = "R0UT1NGKEY0123456789ABCDEFGHIJKL"
    path = str(_config(tmp_path, QUEUE + text))
    said = (
        f"sesd: warning: {path}:{named} is readable by every user (mode 0644): "
        "chmod o-r it (0600, or 0640 for a group sesd is in)"
    )
    for mode, warned in ((0o644, True), (0o604, True), (0o640, False), (0o600, False)):
        key.chmod(mode)
        assert main(["check-config", "--quiet", path]) == 0
        err = capsys.readouterr().err
        assert (said.replace("0644", f"{mode:04o}") in err.splitlines()) is warned, err
        assert secret not in err
    key.chmod(0o644)
    assert main(["check-config", "--quiet", "--no-secrets", path]) == 0
    assert "readable" not in capsys.readouterr().err


def test_a_relative_silences_file_is_warned_of_at_start(
    tmp_path: Path, taken_port: int, sesd_run: SesdRun
) -> None:
    """``sesd run`` on a config whose silences file is relative (which ``sesd silence``
    refuses): the start logs the warning naming the key, as check-config prints it
    (here the start then stops, its port taken)."""
    path = str(_config(tmp_path, QUEUE + '[alerts]\nsilences_path = "silences.json"\n'))
    _, err = sesd_run("--config", path, "--listen", f"127.0.0.1:{taken_port}")
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    warned = [line["warning"] for line in logged if line["event"] == "sesd.config.warning"]
    assert [w for w in warned if w.startswith(f"{path}:{AFTER + 1}: alerts.silences_path: 'sil")]


def test_a_silences_file_in_a_directory_that_does_not_exist_is_warned_of(
    tmp_path: Path, taken_port: int, sesd_run: SesdRun, capsys: pytest.CaptureFixture[str]
) -> None:
    """[alerts] silences_path in a directory that does not exist (a typo in it): the
    daemon reads no file there as no silences, so nothing said it until the first
    `sesd silence add`, in an incident, failed. check-config on this host and the start
    warn of it, naming the key (here the start then stops, its port taken); a CI box's
    check-config --no-secrets is not the host, and says nothing."""
    missing = tmp_path / "no-such-directory"
    text = QUEUE + f'[alerts]\nsilences_path = "{missing}/silences.json"\n'
    path = str(_config(tmp_path, text))
    said = (
        f"{path}:{AFTER + 1}: alerts.silences_path: directory {missing} does not exist: the "
        "daemon reads no "
        "silences there, and `sesd silence add` cannot write one (create it, or give "
        "another path)"
    )
    assert main(["check-config", "--quiet", path]) == 0
    assert f"sesd: warning: {said}\n" in capsys.readouterr().err
    assert main(["check-config", "--quiet", "--no-secrets", path]) == 0
    assert "silences_path" not in capsys.readouterr().err
    _, err = sesd_run("--config", path, "--listen", f"127.0.0.1:{taken_port}")
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    warned = [line["warning"] for line in logged if line["event"] == "sesd.config.warning"]
    assert said in warned
    missing.mkdir()
    assert main(["check-config", "--quiet", path]) == 0
    assert "silences_path" not in capsys.readouterr().err


def test_thousands_of_warnings_are_said_as_the_first_twenty_and_a_count(
    tmp_path: Path, taken_port: int, sesd_run: SesdRun, capsys: pytest.CaptureFixture[str]
) -> None:
    """A generated config that lists one domain 1,000 times warns of each repeat: check-
    config and the start say the first 20, each on its line, and how many more there
    are, not a thousand lines (a reload the same, tests/test_reload.py). What this host
    adds, one of a kind (the silences file's directory missing), comes first, never
    among those not shown."""
    track = ", ".join(['"a.example"'] * 1000)
    silences = f'[alerts]\nsilences_path = "{tmp_path}/none/s.json"\n'
    path = str(_config(tmp_path, QUEUE + silences + f"[domains]\ntrack = [{track}]\n"))
    first = f"{path}:{AFTER + 1}: alerts.silences_path: directory {tmp_path}/none does not exist"
    second = (
        f"{path}:{AFTER + 3}: domains.track[1]: 'a.example', listed at domains.track[0] too: "
        "it counts once (another domain meant?)"
    )
    # The directory, 999 repeats and no rule: 1,001 warnings.
    more = "and 981 more warnings not shown (the first 20 are): fix those, then check again"
    assert main(["check-config", "--quiet", path]) == 0
    warned = capsys.readouterr().err.splitlines()
    assert len(warned) == 21
    assert warned[0].startswith(f"sesd: warning: {first}: ")
    assert (warned[1], warned[-1]) == (f"sesd: warning: {second}", f"sesd: warning: {more}")
    _, err = sesd_run("--config", path, "--listen", f"127.0.0.1:{taken_port}")
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    said = [line["warning"] for line in logged if line["event"] == "sesd.config.warning"]
    assert [line.removeprefix("sesd: warning: ") for line in warned] == said


def test_a_state_file_sesd_run_would_refuse_is_said_before_thousands_of_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config on the daemon's host says that sesd run would not start there (the
    state file's directory missing) first: never one of the warnings not shown, where
    a generated file gives a thousand before it."""
    track = ", ".join(['"a.example"'] * 1000)
    state = f'[state]\npath = "{tmp_path}/none/state.bin"\n'
    path = str(_config(tmp_path, QUEUE + state + f"[domains]\ntrack = [{track}]\n"))
    assert main(["check-config", "--quiet", path]) == 0
    warned = capsys.readouterr().err.splitlines()
    assert len(warned) == 21
    assert warned[0].endswith(
        f"state.path: directory {tmp_path}/none does not exist (sesd run would not start on "
        "this host)"
    ), warned[0]


@pytest.mark.parametrize("key", ["state.path", "alerts.silences_path"])
@pytest.mark.parametrize("names", ["the config file", "a secret's file"])
def test_a_state_or_silences_file_that_is_a_file_the_config_reads_is_refused(
    tmp_path: Path, sesd_run: SesdRun, capsys: pytest.CaptureFixture[str], key: str, names: str
) -> None:
    """[state] path or [alerts] silences_path written as the config file's own path, or
    a ``file:`` secret's (a path line pasted into the wrong key): each save or `sesd
    silence add` would write over it, and the next start or reload find no config (or
    no key). check-config and run refuse it alike, in one line naming the key."""
    secret = tmp_path / "routing_key"
    secret.write_text("R0UT1NGKEY0123456789ABCDEFGHIJKL\n")
    secret.chmod(0o600)
    config = tmp_path / "sesd.toml"
    named = config if names == "the config file" else secret
    section, _, name = key.rpartition(".")
    text = QUEUE + (
        f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{secret}"\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.1\nsinks = ["pd"]\n'
    )
    # Its table written after the rule's, so the line is the table's own.
    text += f'[{section}]\n{name} = "{tmp_path}/./{named.name}"\n'
    config.write_text(text)
    what = (
        "the config file itself"
        if names == "the config file"
        else "the file of alerts.sinks.pd.routing_key"
    )
    said = (
        f"sesd: config error: {config}:{len(text.splitlines())}: {key}: "
        f"'{tmp_path}/./{named.name}' is {what}: each "
        "write would replace it; give it a file of its own\n"
    )
    assert main(["check-config", "--quiet", str(config)]) == 2
    assert capsys.readouterr().err == said
    code, err = sesd_run("--config", str(config))
    assert code == 2
    assert err.endswith(said)


def test_a_state_file_that_could_never_be_saved_stops_the_start(
    tmp_path: Path, sesd_run: SesdRun
) -> None:
    """[state] path in a directory that does not exist: one line at start, exit 2, not
    a save_failed line at the first save, after the windows it was to keep are lost."""
    missing = tmp_path / "no-such-directory"
    text = QUEUE + f'[http]\nlisten = "127.0.0.1:0"\n[state]\npath = "{missing}/state.bin"\n'
    code, err = sesd_run("--config", str(_config(tmp_path, text)))
    assert code == 2
    assert "Traceback" not in err
    assert f"sesd: cannot start: state.path: directory {missing} does not exist" in err


def test_a_save_s_leftover_sesd_cannot_remove_stops_the_start_in_one_line(
    tmp_path: Path, sesd_run: SesdRun
) -> None:
    """A directory named as a cut-off save's copy beside the state file: `sesd run`
    says what is in the way in one line, exit 2, where it ended with a traceback."""
    state = tmp_path / "state"
    (state / ".state.bin.x.tmp").mkdir(parents=True)
    text = QUEUE + f'[http]\nlisten = "127.0.0.1:0"\n[state]\npath = "{state}/state.bin"\n'
    code, err = sesd_run("--config", str(_config(tmp_path, text)))
    assert code == 2
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    assert line == (
        f"sesd: cannot start: state.path: cannot remove {state}/.state.bin.x.tmp, where a "
        "save cut off leaves its copy: Is a directory (move it out of the way)"
    )


def test_the_demo_with_its_port_taken_is_one_line_and_exit_2(
    taken_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's `make demo` where something already listens on 9585: one line, exit
    2, naming the address and how to give the demo another (the flag, through make
    too), where it named the address only. Run by ``main()``, no interpreter started:
    the demo stops at its port, before its local servers start."""
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the demo sets its AWS_* own
    code = main(["demo", "--listen", f"127.0.0.1:{taken_port}", "--duration", "5"])
    flush_logs()
    err = capsys.readouterr().err
    configure_logging("debug", "json")  # the demo's log writer stopped
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "cannot start" in line]
    assert lines == [
        f"sesd: cannot start: cannot listen on 127.0.0.1:{taken_port}: Address already in use; "
        "give the demo another address with --listen (127.0.0.1:0: any free port; "
        "make demo ARGS='--listen 127.0.0.1:0')"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--config", "/nonexistent/sesd.toml"], "cannot read config file"),
        (["check-config", "/nonexistent/sesd.toml"], "cannot read config file"),
        # `-` as replay and cause take it (`git show HEAD:sesd.toml | sesd check-config
        # -` in a CI job): "No such file or directory" alone did not say what works.
        *(
            (args, "cannot read config file -: No such file or directory (a config is read "
             "from a file: for standard input, name /dev/stdin)")
            for args in (["check-config", "-"], ["replay", "--config", "-", "events.jsonl"])
        ),
        # Not /dev/stdin where that cannot work: a daemon reads its config again at each
        # reload (a pipe gives nothing the second time), and a replay of `-` reads its
        # events there.
        (["run", "--config", "-"], "cannot read config file -: No such file or directory "
         "(sesd run reads its config again at each reload (SIGHUP): name its file)"),
        (["replay", "--config", "-", "-"], "cannot read config file -: No such file or "
         "directory (standard input holds the events this replay reads: name the config's "
         "file)"),
    ],
)  # fmt: skip
def test_bad_input_at_start_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    ("tail", "said"),
    [
        (b"# caf\xe9\n", "config file {path} is not UTF-8 text (byte"),
        # No TOML: where tomllib stopped, as every other message names its line.
        (b"[alerts]\nrepeat_interval = 4h\n", "{path}:{line}:20: not valid TOML: Expected newline"),
        (b'[alerts]\ndashboard_url = "https://g', "{path}:{line}:27: not valid TOML: Unterminated "
         "string"),
    ],
)  # fmt: skip
def test_a_config_file_not_in_utf8_or_toml_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tail: bytes, said: str
) -> None:
    """A config saved in Latin-1 (an accent in a comment) is a config error, not a
    traceback; so is one that is no TOML, said as ``PATH:LINE:COLUMN:``, as an editor
    jumps to it."""
    path = tmp_path / "sesd.toml"
    path.write_bytes(QUEUE.encode() + tail)
    said = said.format(path=path, line=len(QUEUE.splitlines()) + 2)
    for args in (["check-config", str(path)], ["run", "--config", str(path)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith(f"sesd: config error: {said}"), err


def test_a_file_too_large_for_a_config_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config naming a log, a dump or a device (/dev/zero, read for ever) by mistake:
    a config error saying so, for check-config and run alike, not a traceback (a
    MemoryError) after the host's memory went into the read. A file says its size, and
    is refused before a read; the device is read to a byte past the bound."""
    log = tmp_path / "sesd.log"
    with log.open("wb") as handle:
        handle.truncate(CONFIG_BOUND + 1)
    for path in (log, Path("/dev/zero")):
        for args in (["check-config", str(path)], ["run", "--config", str(path)]):
            assert main(args) == 2
            err = capsys.readouterr().err
            assert err == (
                f"sesd: config error: cannot read config file {path}: larger than 8 MiB, "
                "which no config is (a log, a dump or a device named?)\n"
            )


def test_a_config_error_quoting_control_characters_is_one_safe_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key written with escapes (`"bad\\u001b]0;x\\u0007\\nkey" = 1`, from a config
    repository many write to): the error names it with its control characters escaped,
    in one line, where the escape retitled the terminal and the line break split the
    one line a log collector or ExecReload's journal reads."""
    path = _config(tmp_path, QUEUE + '"bad\\u001b]0;x\\u0007\\nkey" = 1\n')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "\x1b" not in err
    # Quoted, as the file writes a key that is not bare (its escapes read as TOML's).
    assert '."bad\\u001b]0;x\\u0007\\u000akey": unknown key' in err


def test_a_config_file_with_a_byte_order_mark_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Windows editor or PowerShell's Out-File starts a UTF-8 file with a byte-order
    mark: the config loads as without it."""
    path = tmp_path / "sesd.toml"
    path.write_bytes(b"\xef\xbb\xbf" + QUEUE.encode())
    assert main(["check-config", str(path)]) == 0
    assert '"queues"' in capsys.readouterr().out


def test_check_config_takes_the_file_as_an_argument_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_config(tmp_path, QUEUE))
    assert main(["check-config", path]) == 0
    positional = capsys.readouterr().out
    assert main(["check-config", "--config", path]) == 0
    assert capsys.readouterr().out == positional
    # Two files named: which one was meant cannot be told, so neither is checked.
    other = tmp_path / "other.toml"
    other.write_text(QUEUE)
    assert main(["check-config", path, "--config", str(other)]) == 2
    assert f"two config files, {path} and --config {other}: give one" in capsys.readouterr().err
    assert main(["check-config", path, "--config", path]) == 0  # the same one twice
    capsys.readouterr()


def test_no_config_file_is_told_each_way_the_command_takes_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file named and no SESD_CONFIG: check-config's line names its PATH argument
    too (its usage's first form); run's, --config and the variable alone."""
    monkeypatch.delenv("SESD_CONFIG", raising=False)
    assert main(["check-config"]) == 2
    assert capsys.readouterr().err == (
        "sesd: config error: no config file: give it as PATH, --config PATH or set SESD_CONFIG\n"
    )
    assert main(["run"]) == 2
    assert capsys.readouterr().err == (
        "sesd: config error: no config file: pass --config PATH or set SESD_CONFIG\n"
    )


def test_no_secrets_checks_a_config_whose_secrets_are_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config repository's CI has none of the secrets: --no-secrets checks the rest,
    and check-config and replay refused for a secret alone say so in one wording
    (check-config for a secret not on this host, replay, which never sends, for any); a
    config wrong elsewhere too is not told to try it."""
    monkeypatch.delenv("SESD_CI_MISSING", raising=False)
    path = str(_config(tmp_path, QUEUE + '[alerts.slack]\nwebhook_url = "env:SESD_CI_MISSING"\n'))
    assert main(["check-config", path]) == 2
    assert capsys.readouterr().err.endswith(
        "SESD_CI_MISSING is not set (sesd run needs it where it runs: --no-secrets checks "
        "everything else without reading the secrets)\n"
    )
    assert main(["check-config", path, "--no-secrets"]) == 0
    assert '"webhook_url": "env:SESD_CI_MISSING"' in capsys.readouterr().out
    events = tmp_path / "events.jsonl"
    events.write_text(f.raw(f.delivery(["ann@example.com"])) + "\n")
    assert main(["replay", "--config", path, str(events)]) == 2
    assert "replay sends nothing to any sink: --no-secrets" in capsys.readouterr().err
    assert main(["replay", "--config", path, "--no-secrets", str(events)]) == 0
    assert capsys.readouterr().err == ""
    # A CI job given a secret its repository does not hold gets it as "": not here too.
    monkeypatch.setenv("SESD_CI_MISSING", " ")
    for command in (["check-config", path], ["replay", "--config", path, str(events)]):
        assert main(command) == 2
        assert "SESD_CI_MISSING is empty (" in capsys.readouterr().err
    # A secret read and refused (a placeholder): the fault to fix for run, while
    # replay, which never sends, goes on without it.
    monkeypatch.setenv("SESD_CI_MISSING", "change me")
    assert main(["check-config", path]) == 2
    assert "--no-secrets" not in capsys.readouterr().err
    assert main(["replay", "--config", path, str(events)]) == 2
    assert "replay sends nothing to any sink: --no-secrets" in capsys.readouterr().err
    monkeypatch.delenv("SESD_CI_MISSING")
    # Wrong elsewhere too: that is the fault to fix; a reference that names nothing is
    # for run, not replay.
    written = Path(path).read_text()
    for wrong, replay_told in (
        (written.replace("[alerts.slack]", "[alerts.slack]\nchanel = 1"), False),
        (written.replace("env:SESD_CI_MISSING", "env:"), True),
    ):
        Path(path).write_text(wrong)
        assert main(["check-config", path]) == 2
        assert "--no-secrets" not in capsys.readouterr().err
        assert main(["replay", "--config", path, str(events)]) == 2
        assert ("--no-secrets" in capsys.readouterr().err) is replay_told


def test_check_config_warns_of_a_state_path_run_cannot_save_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A [state] path naming a directory, or in a directory that does not exist, stops
    `sesd run` at start on this host: check-config says so (a warning: a CI box, with
    --no-secrets, is not the host; systemd creates a StateDirectory= at start)."""
    (tmp_path / "state").mkdir()
    cases = {
        str(tmp_path / "state"): "is a directory; name a file in it",
        str(tmp_path / "missing" / "sesd.state"): "does not exist",
    }
    for state, problem in cases.items():
        path = str(_config(tmp_path, QUEUE + f'[state]\npath = "{state}"\n'))
        assert main(["check-config", path]) == 0
        err = capsys.readouterr().err
        assert f"sesd: warning: {path}:{AFTER + 1}: state.path: " in err
        assert problem in err
        assert main(["check-config", path, "--no-secrets"]) == 0
        assert "state.path: " not in capsys.readouterr().err
    fine = str(_config(tmp_path, QUEUE + f'[state]\npath = "{tmp_path}/state/sesd.state"\n'))
    assert main(["check-config", fine]) == 0
    assert "[state]" not in capsys.readouterr().err


def test_check_config_shows_a_queue_name_with_an_escape_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A queue named with an escape (`name = "q\\u001b[2Jx"`), which the queue label
    would carry to every metric and log line: check-config refuses it in one line
    showing the name's control characters escaped, rather than clearing the terminal
    of the reviewer running it. (Such a name was once valid, and its warnings showed
    it escaped; it is now refused as any config error, escaped the same way.)"""
    queue = '[[queues]]\nurl = "http://127.0.0.1:9/q"\nname = "q\\u001b[2Jx"\n'
    path = _config(tmp_path, hermetic_text(queue + "wait_time_seconds = 0\n"))
    assert main(["check-config", "--quiet", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert err.startswith(f"sesd: config error: {path}:3: queues[0].name: 'q\\u001b[2Jx': a ")


def test_check_config_refuses_a_config_that_run_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, "")
    assert main(["check-config", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"sesd: config error: {path}: queues: at least one [[queues]] is needed\n"
    )


def test_every_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    commands = ["run", "check-config", "send-test-alert", "silence", "replay", "setup", "demo"]
    for command in commands:
        (line,) = [line for line in top.splitlines() if line.strip().startswith(f"{command} ")]
        assert len(line.split(None, 1)[1]) > 10, command
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert capsys.readouterr().out.count("\n") > 3, command
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 127.0.0.1:9585)" in text
    # As README's first lines: the address is the status page's (opened first), and
    # the demo runs until Ctrl-C unless --duration says otherwise.
    assert "--listen LISTEN HOST:PORT of the status page and /metrics" in text
    assert "--duration DURATION stop after N seconds (without it: run until Ctrl-C)" in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--listen LISTEN HOST:PORT of /metrics, the probes and the status page" in text
    with pytest.raises(SystemExit):
        main(["send-test-alert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a sink's name: console, slack, pagerduty, or one of [alerts.sinks]" in text
    assert "(default: None)" not in text
    # README: a silence's --domain also names a provider, a tenant or an account (what
    # the alert is about); a help saying "domain" alone sends a user to another way.
    with pytest.raises(SystemExit):
        main(["silence", "add", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--domain DOMAIN what the alert is about: a domain, group, provider, tenant or" in text


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["status", "--json=x"], "sesd status: error: argument --json: takes no value: --json=x"),
        (["status", "--js=x"], "sesd status: error: argument --json: takes no value: --js=x"),
        (["status", "-h=x"], "sesd status: error: argument -h/--help: takes no value: -h=x"),
        (["status", "-hx"], "sesd status: error: argument -h/--help: takes no value: -hx"),
        (["--version=x"], "sesd: error: argument --version: takes no value: --version=x"),
        (
            ["check-config", "--no-secrets=1"],
            "sesd check-config: error: argument --no-secrets: takes no value: --no-secrets=1",
        ),
        (
            ["replay", "--no-secrets=", "-"],
            "sesd replay: error: argument --no-secrets: takes no value: --no-secrets=",
        ),
        (
            ["silence", "list", "--json=x"],
            "sesd silence list: error: argument --json: takes no value: --json=x",
        ),
        # A switch of a group of options one of which is to be given.
        (
            ["silence", "add", "--until-resolved=yes", "--comment", "c"],
            "sesd silence add: error: argument --until-resolved: takes no value: "
            "--until-resolved=yes",
        ),
        # Not a value: argparse's own words stay.
        (
            ["silence", "add", "--for", "4h", "--until-resolved", "--comment", "c"],
            "sesd silence add: error: argument --until-resolved: not allowed with argument --for",
        ),
        (
            ["cause", "--delay-type=x", "550"],
            "sesd cause: error: argument --delay-type: 'x' is not one of SES's delay types: ",
        ),
    ],
)
def test_a_switch_given_a_value_is_said_to_take_none_by_every_command(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    """`sesd status --json=x`: a switch given a value was argparse's "ignored explicit
    argument 'x'" though the command ended and nothing was ignored (`sesd cause` alone
    said otherwise). Every command says it takes no value, quoting the word, with its
    own usage; an error of another kind (two options of which one is taken, a value
    refused) keeps its words."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(said)
    assert err[0].startswith(f"usage: {said.partition(':')[0]} [")


def test_an_option_s_help_gives_its_default_once_and_only_a_real_one() -> None:
    """Each option of every command (and of ``silence``'s) states its default at most
    once, and not an empty one: ``--set``'s list of none is no default, and an option
    whose own text says its default is not told it again."""
    import argparse

    from sesd.commands.main import COMMANDS, _parser

    def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        found = parser._subparsers._group_actions if parser._subparsers else []
        return dict(found[0].choices or {}) if found else {}

    parsers = [subcommands(_parser(name))[name] for name in COMMANDS]
    parsers += subcommands(parsers[list(COMMANDS).index("silence")]).values()
    wrong = []
    for parser in parsers:
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.help in (None, argparse.SUPPRESS):
                continue
            text = formatter._expand_help(action)
            if text.count("default") > 1 or "(default: [])" in text:
                wrong.append(f"{parser.prog} {action.dest}: {text}")
    assert wrong == []


def test_a_default_of_zero_is_shown_as_any_other() -> None:
    """``0 == False`` in Python: an option whose default is 0 or 0.0 (a count, a
    threshold) was taken for a switch's False and its default hidden, as if it had
    none. It is shown; a switch's False, None and an empty list still are not."""
    import argparse

    from sesd.commands.common import Help

    parser = argparse.ArgumentParser(prog="sesd x", formatter_class=Help)
    parser.add_argument("--retries", type=int, default=0, help="tries again")
    parser.add_argument("--above", type=float, default=0.0, help="a threshold")
    parser.add_argument("--verbose", action="store_true", help="says more")
    parser.add_argument("--name", help="a name")
    parser.add_argument("--set", action="append", default=[], help="a key")
    text = " ".join(parser.format_help().split())
    assert "tries again (default: 0)" in text
    assert "a threshold (default: 0.0)" in text
    assert "says more (default" not in text
    assert "a name (default" not in text
    assert "a key (default" not in text


def test_every_log_line_is_one_json_object_libraries_included() -> None:
    """botocore, aiohttp and asyncio log through the standard library; their warnings
    and errors come out as JSON objects like sesd's own lines, a traceback inside."""
    import logging

    from sesd.io.logs import get_logger

    stream = sesd_logs("info")
    get_logger().info("sesd.test.own", n=1)
    logging.getLogger("botocore.retryhandler").warning("retry %d of %s", 2, "receive")
    logging.getLogger("aiohttp.access").info("below the libraries' level: dropped")
    try:
        raise ZeroDivisionError
    except ZeroDivisionError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    lines = log_records(stream)
    assert [(r["event"], r["level"], r.get("logger")) for r in lines] == [
        ("sesd.test.own", "info", None),
        ("retry 2 of receive", "warning", "botocore.retryhandler"),
        ("Task exception was never retrieved", "error", "asyncio"),
    ]
    assert "ZeroDivisionError" in lines[2]["exception"]
    assert all("timestamp" in r for r in lines)


def test_logging_goes_on_quietly_when_the_streams_reader_is_gone() -> None:
    """The reader of sesd's log stream went away (a log shipper restarted, `| tee`
    killed): a line logged then, by sesd or a library, raises nothing in whichever
    task logged it, and neither does any line after it."""
    import logging

    from sesd.io.logs import configure_logging, get_logger

    read, write = os.pipe()
    os.close(read)
    stream = os.fdopen(write, "w")
    configure_logging("info", "json", stream)
    get_logger().info("sesd.alert.firing", rule="r")
    get_logger().error("sesd.daemon.failed")
    logging.getLogger("botocore.retryhandler").warning("retry")
    configure_logging("info", "json", io.StringIO())  # nothing writes to the pipe again
    with contextlib.suppress(BrokenPipeError):  # what its buffer still holds
        stream.close()


async def test_a_failed_credential_refresh_is_one_line_without_a_traceback() -> None:
    """While STS fails, the SDK warns at each refresh of assumed-role credentials it
    tries, with the exception's traceback: one line each, naming the error."""
    import datetime

    from aiobotocore.credentials import AioRefreshableCredentials

    stream = sesd_logs("info")

    async def refresh() -> dict[str, str]:
        raise ConnectionError("sts.example: connection reset")

    expired = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).isoformat()
    credentials = AioRefreshableCredentials.create_from_metadata(
        {"access_key": "a", "secret_key": "s", "token": "t", "expiry_time": expired},
        refresh_using=refresh,
        method="assume-role",
    )
    with pytest.raises(ConnectionError):
        await credentials.get_frozen_credentials()
    lines = log_records(stream)
    assert [(r["level"], r["logger"]) for r in lines] == [("warning", "aiobotocore.credentials")]
    assert "ConnectionError: sts.example: connection reset" in lines[0]["event"]
    assert "exception" not in lines[0]
    assert "Traceback" not in stream.getvalue()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`sesd --version` prints the version and the commit built, and exits 0."""
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert capsys.readouterr().out.strip() == f"sesd {__version__} ({head})"


def test_the_revision_comes_from_the_image_or_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image says its commit ($SESD_REVISION, from its build argument; anything but
    a commit is not shown); a checkout's HEAD is read as git keeps it: a branch's loose
    ref, a packed one, a detached HEAD, a worktree's."""
    from sesd.io import build

    monkeypatch.setenv("SESD_REVISION", "0123456789ABCDEF0123456789abcdef01234567")
    build.revision.cache_clear()
    assert build.revision() == "0123456789ab"
    monkeypatch.setenv("SESD_REVISION", "not a commit")
    build.revision.cache_clear()
    assert build.revision() == ""
    monkeypatch.delenv("SESD_REVISION")
    build.revision.cache_clear()
    commit = "f" * 40
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(commit + "\n")
    assert build._head(git) == "f" * 12
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs\n{'e' * 40} refs/heads/main\n")
    assert build._head(git) == "e" * 12
    (git / "HEAD").write_text("d" * 40 + "\n")
    assert build._head(git) == "d" * 12
    worktree = tmp_path / "repo" / ".git" / "worktrees" / "wt"
    worktree.mkdir(parents=True)
    (worktree / "HEAD").write_text("ref: refs/heads/main\n")
    (worktree / "commondir").write_text("../..\n")
    checkout = tmp_path / "wt" / ".git"
    checkout.parent.mkdir()
    checkout.write_text(f"gitdir: {worktree}\n")
    assert build._head(checkout) == "e" * 12
    assert build._head(tmp_path / "nowhere" / ".git") == ""
    build.revision.cache_clear()


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """`sesd cause - | head -1`: once the reader of standard output has gone, sesd ends
    with the status a shell gives a command ended by SIGPIPE (141), without a
    traceback."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "sesd", "cause", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stdin is not None
    reader.stdin.write(b"451 4.7.1 try again later\n" * 1000)
    reader.stdin.flush()
    assert reader.stdout.readline()
    reader.stdout.close()  # the reader goes away
    with contextlib.suppress(BrokenPipeError):  # sesd may have ended already
        reader.stdin.write(b"451 4.7.1 try again later\n" * 50_000)
    with contextlib.suppress(BrokenPipeError):
        reader.stdin.close()
    assert reader.wait(timeout=60) == 141
    assert reader.stderr is not None
    assert b"Traceback" not in reader.stderr.read()
    reader.stderr.close()


class _Refusing(io.StringIO):
    """Standard output on a full disk: its writes fail (``at="write"``, as a device's
    or a large result's do), or only the flush of what it buffered (``at="flush"``, as
    a file's small result does, at exit)."""

    def __init__(self, at: str) -> None:
        super().__init__()
        self.at = at

    def write(self, text: str) -> int:
        if self.at == "write":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(text)

    def flush(self) -> None:
        if self.at == "flush" and self.getvalue():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("at", ["write", "flush"])
@pytest.mark.parametrize("command", ["cause", "replay", "check-config", "digest", "silence"])
def test_a_result_standard_output_refuses_is_said_not_a_success(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    at: str,
) -> None:
    """`sesd replay --json > november.json` on a full disk: the report is lost. It
    ended in a traceback (a write that failed) or, for a result held in the file's
    buffer until exit, a bare "Exception ignored" line and status 120, or none at
    all. One line says standard output refused it, status 1. With standard output
    closed (`>&-`), where Python drops what is printed without a word and the status
    was 0 (or a traceback, for replay), it ends as with a reader gone: 141, quietly."""
    silences = tmp_path / "silences.json"
    config = _config(tmp_path, QUEUE + f'[alerts]\nsilences_path = "{silences}"\n')
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(f.delivery(["a@x.example"])) + "\n")
    missing = tmp_path / "2026-11-02.jsonl"  # a day short: stderr says so all the same
    argv = {
        "cause": ["cause", "451 4.7.1 try again later"],
        "replay": ["replay", "--config", str(config), "--json", str(events), str(missing)],
        "check-config": ["check-config", str(config)],
        "digest": ["check-config", "--digest", str(config)],
        # A command that prints as it goes (`sesd silence list` in a container, whose
        # PYTHONUNBUFFERED=1 has each print write at once): a traceback, and with
        # standard output closed, status 0.
        "silence": ["silence", "list", "--config", str(config)],
    }[command]
    # What goes to standard error, which still takes it, is said whatever became of
    # the result: check-config's warnings (none configured, here), replay's inputs
    # skipped.
    warned = {
        "replay": f"sesd: replay skipped {missing}: no such file or directory",
        "cause": "no line of standard error",
        "silence": "no line of standard error",
    }.get(command, "sesd: warning: alerts.rules: none configured")
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", _Refusing(at))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "sesd: cannot write to standard output: No space left on device; the result is lost"
    )
    assert (warned in err) == (command not in ("cause", "silence"))
    monkeypatch.setattr(sys, "stdout", None)
    assert main(argv) == 141
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (warned in err) == (command not in ("cause", "silence"))


@pytest.mark.parametrize("at", ["write", "flush"])
@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["--version"]])
def test_help_standard_output_refuses_is_said_not_a_success(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    at: str,
    argv: list[str],
) -> None:
    """``sesd status --help > /dev/full``: argparse drops a write of its help (or of the
    version) that fails, without a word, and exits 0; a help that waited in the file's
    buffer ended in Python's bare "Exception ignored" line and status 120. It is said
    as a command's result refused is: one line, status 1."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", _Refusing(at))
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "sesd: cannot write to standard output: No space left on device; the result is lost\n"
    )


def test_a_line_that_is_not_utf8_gets_its_answer_in_its_place() -> None:
    """`sesd cause - < diagnostics.txt` where a receiver wrote Latin-1 (``î`` as the one
    byte 0xEE), under a UTF-8 locale that decodes standard input strictly (en_US.UTF-8;
    ``PYTHONIOENCODING`` says so here, where no such locale is installed): each line
    gets its answer, the lines after it too, and no traceback."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        [sys.executable, "-m", "sesd", "cause", "-"],
        input=b"452 4.2.2 bo\xeete pleine\n421 4.4.1 connection timed out\n",
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert b"Traceback" not in done.stderr
    assert done.returncode == 0
    assert [line.split(b" ")[0] for line in done.stdout.splitlines()] == [
        b"mailbox_full",
        b"connection",
    ]


def test_cause_with_standard_input_closed_says_so_in_one_line() -> None:
    """`sesd cause -` started with no standard input at all (``<&-``, a job runner that
    closes it): a usage error naming what to give, status 2, not a traceback."""
    done = subprocess.run(
        ["/bin/sh", "-c", f'exec "{sys.executable}" -m sesd cause - <&-'],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode() == (
        "sesd: cause -: standard input is closed: give the diagnostic as an argument, "
        "or one a line on standard input\n"
    )


def test_ctrl_c_ends_a_command_with_one_line_and_status_130() -> None:
    """Ctrl-C at `sesd cause -` while it waits for the next line on standard input: one
    line on standard error and an end by SIGINT (a shell's status 128 + 2), not a
    traceback from wherever the command was."""
    from tests.sesd_process import hearing_ctrl_c

    with hearing_ctrl_c():
        reader = subprocess.Popen(
            [sys.executable, "-m", "sesd", "cause", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    assert reader.stdin is not None
    assert reader.stdout is not None
    reader.stdin.write(b"451 4.7.1 try again later\n")
    reader.stdin.flush()
    assert reader.stdout.readline()  # answered: it waits for the next line now
    reader.send_signal(signal.SIGINT)
    _, err = reader.communicate(timeout=60)
    assert reader.returncode == -signal.SIGINT
    assert err.decode() == "sesd: interrupted\n"


def test_ctrl_c_at_a_command_a_shell_script_runs_stops_the_script() -> None:
    """A script runs `sesd cause -` and goes on after it; the user presses Ctrl-C (the
    terminal sends SIGINT to the whole group) while the command waits. sesd says its
    one line and the script stops there too: a shell goes on after a child that exited
    130 (it took the Ctrl-C as handled), and stops after one that died of SIGINT, as
    sesd now ends. It went on to the next command."""
    from tests.sesd_process import hearing_ctrl_c

    script = f"{shlex.quote(sys.executable)} -m sesd cause -; echo went on"
    with hearing_ctrl_c():
        shell = subprocess.Popen(
            ["bash", "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a group of its own, as a terminal's job
        )
    assert shell.stdin is not None
    assert shell.stdout is not None
    shell.stdin.write(b"451 4.7.1 try again later\n")
    shell.stdin.flush()
    assert shell.stdout.readline()  # answered: it waits for the next line now
    os.killpg(shell.pid, signal.SIGINT)
    out, err = shell.communicate(timeout=60)
    assert err.decode() == "sesd: interrupted\n"
    assert b"went on" not in out
    assert shell.returncode == -signal.SIGINT


def test_ctrl_c_while_a_command_loads_is_one_line_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C pressed at once, while the command's modules still load (`setup` brings
    the AWS SDK, most of a second): the same one line and 130, not a traceback from
    the import machinery."""
    import importlib

    from sesd.commands import main as entry

    def interrupted(name: str) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib, "import_module", interrupted)
    try:
        code = entry.main(["setup", "--dry-run"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped main while the command loaded")
    assert code == 130
    assert capsys.readouterr().err == "sesd: interrupted\n"


#: Runs `sesd cause -` on a line of argv[1] MiB then a diagnostic; prints its answers,
#: then its peak resident memory in MiB (this wrapper's only child: its figure alone).
_CAUSE_PEAK = """
import resource, subprocess, sys
cause = subprocess.Popen([sys.executable, "-m", "sesd", "cause", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
mib = b"x" * (1 << 20)
for _ in range(int(sys.argv[1])):
    cause.stdin.write(mib)
cause.stdin.write(b"\\n451 4.7.1 try again later\\n")
cause.stdin.close()
sys.stdout.write(cause.stdout.read().decode())
cause.wait()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def test_a_line_of_megabytes_costs_cause_no_more_than_a_short_one() -> None:
    """`sesd cause - < dump` where one line is 64 MiB (a JSON dump on one line, a binary
    file): it is answered from its head, as every diagnostic is, and the next line
    keeps its own answer; memory stays near a short line's (it held the whole line,
    2.5 times its size)."""
    done = subprocess.run(
        [sys.executable, "-c", _CAUSE_PEAK, "64"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    *answers, peak = done.stdout.splitlines()
    assert [line.split(" ")[0] for line in answers] == ["unknown:", "greylisted,"]
    assert int(peak) < 64, f"peak {peak} MiB"


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SDK's config file, with one profile (``ops``), and no credentials file."""
    path = tmp_path / "aws-config"
    path.write_text("[profile ops]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_PROFILE", raising=False)
    return path


@pytest.mark.parametrize("variable", ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
def test_a_profile_the_sdk_files_lack_stops_the_start_in_one_line(
    tmp_path: Path, aws_files: Path, sesd_run: SesdRun, variable: str
) -> None:
    """AWS_PROFILE (or the older AWS_DEFAULT_PROFILE) naming a profile ~/.aws has not:
    every client sesd makes fails on it. One line at start naming the variable and
    what to do, exit 2, where the first poller's client ended sesd with the SDK's
    traceback, after it had said it was listening."""
    text = QUEUE + '[http]\nlisten = "127.0.0.1:0"\n'
    code, err = sesd_run("--config", str(_config(tmp_path, text)), env={variable: "opps"})
    assert code == 2
    assert "Traceback" not in err
    assert (
        f"sesd: cannot start: {variable} names the AWS profile 'opps', which the SDK's "
        "config and credentials files do not have: name one they have (aws configure "
        f"list-profiles), or unset {variable}"
    ) in err.splitlines()
    assert "sesd.http.listening" not in err


def test_a_profile_the_sdk_files_have_is_not_said(
    aws_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sesd.runtime.aws_making import aws_files_fault

    assert aws_files_fault() == ""
    monkeypatch.setenv("AWS_PROFILE", "ops")
    assert aws_files_fault() == ""
    monkeypatch.setenv("AWS_PROFILE", "ops\x1b[2J")  # said as a terminal may show it
    assert "'ops\\u001b[2J'" in aws_files_fault()


def test_a_replay_of_s3_inputs_with_a_profile_the_sdk_files_lack_is_one_line(
    tmp_path: Path, aws_files: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Replay's S3 client would fail on it with the SDK's traceback: said before
    anything is read, exit 2."""
    monkeypatch.setenv("AWS_PROFILE", "opps")
    code = main(["replay", "--config", str(_config(tmp_path, QUEUE)), "s3://archive/events/"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("sesd: AWS_PROFILE names the AWS profile 'opps'")
    assert "Traceback" not in err


@pytest.mark.parametrize("which", ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"])
def test_an_sdk_file_that_cannot_be_parsed_stops_the_start_without_its_lines(
    tmp_path: Path, aws_files: Path, sesd_run: SesdRun, monkeypatch: pytest.MonkeyPatch,
    which: str,
) -> None:  # fmt: skip
    """~/.aws/config or ~/.aws/credentials that the SDK cannot parse fails every client
    as a missing profile does: one line naming the file, exit 2, where it was the SDK's
    traceback. The parser's lines that quote the file are not shown: a credentials
    file's lines hold keys."""
    broken = tmp_path / "aws-broken"
    broken.write_text("aws_secret_access_key = SECRETKEY\n[default]\n")
    monkeypatch.setenv(which, str(broken))
    text = QUEUE + '[http]\nlisten = "127.0.0.1:0"\n'
    code, err = sesd_run("--config", str(_config(tmp_path, text)))
    assert code == 2
    assert "Traceback" not in err
    assert "SECRETKEY" not in err
    assert (
        f"sesd: cannot start: the AWS SDK cannot parse {broken} (File contains no section "
        "headers.): mend it, or point AWS_CONFIG_FILE or AWS_SHARED_CREDENTIALS_FILE at "
        "another file"
    ) in err.splitlines()
