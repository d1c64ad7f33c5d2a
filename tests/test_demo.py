"""``sesd demo``: local SQS, synthetic traffic, the spike visible on the console."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.commands.demo import plan
from sesd.commands.demo.localsqs import free_port
from sesd.config import load_config
from tests.sesd_process import hearing_ctrl_c

#: The --duration of a demo that a test stops (Ctrl-C) once it printed what the test
#: waits for: only a bound, reached when that never comes. A test that let the demo run
#: for a fixed few seconds lost it on a loaded machine (the canary's round trip alone
#: took more than 3 s); it takes 2 to 10 s from the daemon's start there.
_BOUND = "45"
#: The spike's test's: it runs each alert's mute line while the demo runs, three
#: processes started at once, which took 14 s on a loaded machine after the alerts came
#: at 26 s (past the other tests' bound, the lines would find the demo's files gone).
_SPIKE_BOUND = "90"
#: A summary's canary line once a canary came back.
_CANARY_BACK = re.compile(r"canary: [1-9]\d* sent, [1-9]\d* back")


def _while_it_fires(process: subprocess.Popen[str]) -> tuple[list[str], str]:
    """Read the demo's output until the spike's alert is printed; then read the status
    page and its JSON, the alert still firing. Returns the lines read and the page."""
    assert process.stdout is not None
    lines = [process.stdout.readline()]
    found = re.match(r"sesd demo: the status page is at (http://127\.0\.0\.1:\d+/)$", lines[0])
    assert found, lines[0]
    page = found.group(1)
    while "[FIRING] delay-ratio-high: outlook.com" not in lines[-1]:
        line = process.stdout.readline()
        assert line, "the demo ended before the spike's alert"
        lines.append(line)
    with urllib.request.urlopen(page + "api/v1/status", timeout=10) as response:
        status = json.load(response)
    alert = next(a for a in status["alerts"]["items"] if a["name"] == "outlook.com")
    assert (alert["rule"], alert["state"]) == ("delay-ratio-high", "firing")
    assert alert["cause"]["name"] == "ip_reputation"
    assert status["scopes"][0]["items"][0]["name"] == "outlook.com"
    assert any(v is not None for v in status["scopes"][0]["items"][0]["sparkline"])
    # A domain's page counts what was sent, and how much of it was delivered.
    with urllib.request.urlopen(page + "api/v1/domain/gmail.com", timeout=10) as response:
        minute = json.load(response)["windows"][0]
    assert minute["sent"] > 0
    assert minute["delivery_ratio"] is not None
    with urllib.request.urlopen(page, timeout=10) as response:
        html = response.read().decode()
    return lines, html


def _read_until(
    process: subprocess.Popen[str], lines: list[str], seen: Callable[[str], bool]
) -> None:
    """Read the demo's output into ``lines`` until ``seen`` holds for all it printed,
    or to its end (its ``--duration`` up: what was waited for never came)."""
    assert process.stdout is not None
    while not seen("".join(lines)):
        line = process.stdout.readline()
        if not line:
            return
        lines.append(line)


def _ctrl_c(process: subprocess.Popen[str]) -> str:
    """Stop the demo as its second line says (Ctrl-C); what it printed from here to its
    end (the last summary, after the daemon drained)."""
    assert process.stdout is not None
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()
    process.wait(timeout=30)
    return rest


def _spike_shown(text: str) -> bool:
    """All that the spike's test looks for that takes a while, printed: the alerts on
    the provider and on the paused tenant, and a summary with a domain wider than
    fourteen characters, both company providers, the tenant paused and a canary back."""
    return all(
        re.search(pattern, text)
        for pattern in (
            r"\[FIRING\] provider-delay-ratio-high: provider microsoft",
            r"\[FIRING\] tenant-paused: tenant globex",
            r"\n  [a-z.]{15,} +\d",
            r"delay% by provider: .*google.*mimecast",
            r"delay% by tenant: .*globex [^,]* PAUSED",
            r"canary: [1-9]\d* sent, [1-9]\d* back, 0 missing in the last hour; last canary back",
        )
    )


#: The rules whose alerts the spike's test waits for, each with its mute line.
_SPIKE_RULES = {"delay-ratio-high", "provider-delay-ratio-high", "tenant-paused"}


def _mute_lines(text: str) -> dict[str, str]:
    """Each alert's mute line as the console printed it, by the rule it names: the
    line under the alert, among those indented below it, that begins ``mute:``."""
    found: dict[str, str] = {}
    alert = False
    for line in text.splitlines():
        if re.search(r"Z \[(FIRING|RESOLVED)\] ", line):
            alert = True
        elif alert and line.startswith("    mute: "):
            command = line.removeprefix("    mute: ")
            words = shlex.split(command)
            found[words[words.index("--rule") + 1]] = command
        elif not line.startswith("    "):
            alert = False
    return found


def _spike_and_mutes_shown(text: str) -> bool:
    """:func:`_spike_shown`, and the mute line of each of the alerts it waits for."""
    return _spike_shown(text) and _mute_lines(text).keys() >= _SPIKE_RULES


def _muted_as_printed(text: str) -> tuple[list[tuple[str, int, str, str]], str, list[Silence]]:
    """Run the mute line of each alert the demo printed, as an on-call engineer pastes
    it, while the demo runs (all at once: each is a process's start, seconds on a
    loaded machine, and the demo's time is bounded); then read the silences file of the
    config the lines name. Returns each line with its status, output and errors, that
    config, and the silences."""
    commands = list(_mute_lines(text).values())
    assert commands, "no alert printed a mute line"
    started = [
        (command, subprocess.Popen(shlex.split(command), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True))
        for command in commands
    ]  # fmt: skip
    ran = []
    for command, process in started:
        with process:
            out, err = process.communicate(timeout=30)
        ran.append((command, process.returncode, out, err))
    words = shlex.split(commands[0])
    config = words[words.index("--config") + 1]
    silences = load_config(config, resolve_secrets=False).silences_path
    assert silences is not None
    return ran, config, SilenceFile(silences).read()


@pytest.mark.timeout(120)
def test_demo_shows_the_delay_spike(tmp_path: Path) -> None:
    """The demo prints its status page's address first; the page shows the spike on
    outlook.com and its alert while it fires. The demo runs the real pipeline on local
    SQS, shows per-domain summaries, flags the spiking domain, prints the alerts it
    raises (on the domain and on its provider, with the cause), counts each tenant and
    alerts when SES pauses one, times the canary, and at Ctrl-C drains, prints a last
    summary and exits 0 (the test presses it once all that was printed). Each alert
    ends in its mute line, which run as printed while the demo runs mutes it in the
    demo's own silences file (with no silences file it had none). On a machine
    whose time zone is not UTC, each summary's time is UTC and says so, as the alerts
    printed between the summaries do."""
    errors = tmp_path / "stderr"
    with (
        hearing_ctrl_c(),
        errors.open("w") as stderr,
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sesd",
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--duration",
                _SPIKE_BOUND,
                "--spike-after",
                "1",
                "--every",
                "1",
                "--rate",
                "80",
                "--pause-after",
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            # Five and a half hours east of UTC (a POSIX rule: no zone database read).
            env={**os.environ, "TZ": "IST-5:30"},
        ) as process,
    ):
        try:
            lines, html = _while_it_fires(process)
            _read_until(process, lines, _spike_and_mutes_shown)
            muted, config, silences = _muted_as_printed("".join(lines))
            out = _ctrl_c(process)
        finally:
            process.kill()
    result = subprocess.CompletedProcess(
        process.args, process.returncode, "".join(lines) + out, errors.read_text()
    )
    assert 'href="domain/outlook.com">domain outlook.com</a>' in html
    assert result.returncode == 0, result.stderr[-2000:]
    assert "metrics at http://127.0.0.1:" in result.stdout
    assert "gmail.com" in result.stdout
    spike_lines = [line for line in result.stdout.splitlines() if "<- delays" in line]
    assert spike_lines
    assert all("outlook.com" in line for line in spike_lines)
    # Each summary's rows line up under its header, whatever the longest domain
    # (fabrikam.example is wider than the fourteen characters once kept for it).
    header, widths = 0, set()
    for line in result.stdout.splitlines():
        if line.startswith("  domain "):
            header = len(line)
        elif header and line.startswith("  ") and line[2:3] not in (" ", ""):
            if line.startswith(("  delay% by", "  canary:")):
                header = 0
                continue
            assert len(line.removesuffix("  <- delays")) == header, line
            widths.add(len(line.split()[0]))
    assert max(widths) > 14
    # Each summary's time is UTC, marked Z as the alerts' are: a wall-clock time of the
    # machine's zone, unmarked, read beside them was hours off.
    stamps = re.findall(r"^(\d\d:\d\d:\d\d)Z?  window ", result.stdout, re.MULTILINE)
    assert stamps
    assert re.findall(r"^\d\d:\d\d:\d\dZ  window ", result.stdout, re.MULTILINE) == [
        f"{stamp}Z  window " for stamp in stamps
    ]
    hour, minute = map(int, stamps[-1].split(":")[:2])
    now = datetime.now(UTC)
    apart = (now.hour * 60 + now.minute - hour * 60 - minute) % 1440  # minutes, mod a day
    assert min(apart, 1440 - apart) <= 2, (stamps[-1], now)
    assert (
        "[FIRING] delay-ratio-high: outlook.com (provider microsoft) delay_ratio" in result.stdout
    )
    assert "where: SES -> recipient MTA; delay types: RecipientServerError" in result.stdout
    assert "cause: ip_reputation" in result.stdout
    # The demo's DNS gave its company domains their provider; the spike raises Microsoft.
    providers = [line for line in result.stdout.splitlines() if "delay% by provider:" in line]
    assert providers
    assert "google" in providers[-1]
    assert "mimecast" in providers[-1]
    assert "[FIRING] provider-delay-ratio-high: provider microsoft delay_ratio" in result.stdout
    assert "top domains: outlook.com" in result.stdout
    # SES paused globex: its status event reached the queue, the alert says who and why.
    assert "[FIRING] tenant-paused: tenant globex tenant_sending_paused 1" in result.stdout
    assert "SES paused tenant globex in us-east-1" in result.stdout
    tenants = [line for line in result.stdout.splitlines() if "delay% by tenant:" in line]
    assert "acme" in tenants[-1]
    assert "globex" in tenants[-1]
    assert "PAUSED" in tenants[-1]
    # The canary went out through the local SES and came back with its stage timings;
    # its counts say they are the last hour's, not the 1m window's of the table above.
    canary = re.findall(
        r"canary: (\d+) sent, (\d+) back, 0 missing in the last hour; last canary back",
        result.stdout,
    )
    assert canary
    assert int(canary[-1][0]) >= 1
    assert int(canary[-1][1]) >= 1
    assert "sesd.daemon.stopped" in result.stderr
    assert "Traceback" not in result.stderr
    # Each alert says how to mute it, on the demo's own config and silences file: the
    # line, run as printed while the demo runs, adds the silence (its id printed) to
    # the demo's silences file, matching what the alert names. The files go with the
    # demo.
    assert _mute_lines(result.stdout).keys() >= _SPIKE_RULES
    added = {}
    for command, status, said, err in muted:
        assert status == 0, (command, err)
        assert re.fullmatch(r"[0-9a-f]{12}\n", said), said
        assert f" --config {shlex.quote(config)} " in command
        words = shlex.split(command)
        added[said.strip()] = (words[words.index("--rule") + 1], words[words.index("--domain") + 1])
    assert {s.id: (s.rule, s.domain) for s in silences} == added
    assert "--domain outlook.com --for 4h --comment REASON" in result.stdout
    assert not Path(config).exists()
    # The last summary, printed once the daemon stopped, names no page: its address,
    # the last on the screen, led to a port that no longer answers.
    headers = re.findall(r"^\d\d:\d\d:\d\dZ  window .*$", result.stdout, re.MULTILINE)
    assert headers[-1].endswith("the last summary: the demo stopped, and its status page with it")
    assert all("  status page: http://127.0.0.1:" in header for header in headers[:-1])


@pytest.mark.parametrize("value", ["0", "-1", "inf", "soon", "1e-300", "0.09"])
def test_a_rate_under_one_message_in_ten_seconds_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--rate 0 sent anyway; --rate 1e-300 was taken and sent nothing, its first
    message due 1e300 s in (at 0.01 a second, 100 s in: after the spike and the pause
    it is to show). The least rate sends its first message 10 s in."""
    from sesd.commands.main import main

    with pytest.raises(SystemExit) as exited:
        main(["demo", "--rate", value])
    assert exited.value.code == 2
    assert f"{value!r}: give a number from 0.1 to 1000" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "rate"), [("0.1", 0.1), ("1e3", 1000.0), ("60", 60.0)])
def test_a_rate_from_one_message_in_ten_seconds_to_a_thousand_is_taken(
    value: str, rate: float
) -> None:
    from sesd.commands.demo import _rate

    assert _rate(value) == rate


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "soon", "1e-6", "0.19"])
def test_a_summary_period_under_a_fifth_of_a_second_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--every 0 printed 50,000 summaries a second and starved the demo; --every 1e-6
    did the same, any number above 0 being taken: a summary is several lines, and one
    faster than `sesd status --watch` redraws (0.2 s) scrolls each away unread. The
    least is said as status says its own (a period taken runs a demo of a second)."""
    from sesd.commands.main import main

    monkeypatch.setattr(os, "environ", dict(os.environ))  # the demo sets its AWS_* own
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--every", value, "--duration", "1", "--listen", "127.0.0.1:0"])
    assert exited.value.code == 2
    assert f"argument --every: {value!r}: give a number of seconds, at least 0.2" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("option", "least"),
    [
        ("--duration", "above 0"),
        ("--spike-after", "of 0 or more"),
        ("--pause-after", "of 0 or more"),
    ],
)
@pytest.mark.parametrize("value", ["-1", "inf", "nan", "soon"])
def test_a_time_that_is_no_number_of_seconds_ahead_is_a_usage_error(
    option: str, least: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--spike-after -3 ran a demo whose spike "starts -3 s in", and --duration nan
    one that never stopped: the times the demo takes are seconds from its start, a
    number of 0 or more (the duration above 0), else a usage error."""
    from sesd.commands.main import main

    with pytest.raises(SystemExit) as exited:
        main(["demo", option, value])
    assert exited.value.code == 2
    assert f"{value!r}: give a number {least}" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-0", "-0.0", "-0e5"])
def test_minus_zero_seconds_in_is_zero(value: str) -> None:
    """-0 is a time of 0 or more, and the demo took it for --spike-after and
    --pause-after; its line then said the spike "starts -0 s in". It says 0."""
    from sesd.commands.demo import _from_start

    at = _from_start(value)
    assert plan(at, at, None) == (
        "A delay spike on outlook.com starts 0 s in; SES pauses tenant globex 0 s in. Ctrl-C stops."
    )


@pytest.mark.parametrize("after", [0.0, 30.0, 120.0, 200.0, 1000.0])
def test_the_spike_comes_when_asked_and_again_every_three_minutes(after: float) -> None:
    """The spike lasts 75 s and comes again every 3 minutes. Its cycle was counted from
    the demo's start, so a --spike-after later in it than 105 s was cut short at 180 s
    (120 s), or never came at all (200 s), while the demo's line said it "starts 200 s
    in". It comes when asked, whole, and again 3 minutes after each start."""
    import random

    from sesd.commands.demo.traffic import Traffic

    traffic = Traffic(random.Random(7), spike_start=after)
    for start in (after, after + 180):
        assert not traffic.phase(start - 0.5).spiking
        assert all(traffic.phase(start + s).spiking for s in (0.0, 30.0, 74.5))
        assert not traffic.phase(start + 75).spiking
        assert not traffic.phase(start + 179.5).spiking


def test_each_demo_message_is_sent_as_ses_publishes_it_then_delivered_or_not() -> None:
    """A domain's page showed "sent 0" and its delivery ratio "-", its first table
    unfilled: the demo published no Send event but the canary's. Each message it sends
    comes with SES's Send event, in all three forms as its other events, so the page
    counts what was sent and how much of it was delivered."""
    import random

    from sesd.commands.demo.traffic import Traffic
    from sesd.core.decode import Event, decode_body

    traffic = Traffic(random.Random(7), spike_start=0.0)
    now = 1_800_000_000.0
    events = [decode_body(body) for body in traffic.bodies(now, 10.0, 400)]
    assert all(isinstance(event, Event) for event in events), events[:3]
    by_type: dict[str, set[str]] = {}
    for event in events:
        assert isinstance(event, Event)
        by_type.setdefault(event.type, set()).add(event.message_id)
    assert len(by_type["send"]) == 400
    outcomes = set().union(*(ids for kind, ids in by_type.items() if kind != "send"))
    assert outcomes == by_type["send"]
    assert by_type["delivery_delay"]  # outlook.com's spike, 0 s in
    # The spike's delays are delivered later; no Send again for them.
    later = [decode_body(body) for body in traffic.bodies(now + 100, 110.0, 0)]
    assert later
    assert {e.type for e in later if isinstance(e, Event)} == {"delivery"}


def test_without_moto_the_demo_says_how_to_get_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A runtime install (the wheel, no demo extras) lists ``demo`` too: it fails to
    start in one line, exit 2, pointing at the checkout's locked demo tree (PyPI's
    "sesd" is another project), not with a traceback."""
    from sesd.commands.main import main

    monkeypatch.setitem(sys.modules, "moto.server", None)  # the import fails, as uninstalled
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the demo sets its AWS_* own
    assert main(["demo", "--duration", "1", "--listen", "127.0.0.1:0"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "sesd: cannot start: the demo's local SQS needs moto, which this install lacks: "
        "in sesd's checkout, run `make demo`, or install requirements/demo.txt "
        "(pip install --require-hashes -r requirements/demo.txt)"
    )
    assert "Traceback" not in err
    assert "sesd[demo]" not in err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bad", "argument --listen: must be HOST:PORT, got 'bad'"),
        ("127.0.0.1:99999", "argument --listen: '127.0.0.1:99999': port 99999 is over 65535"),
    ],
)
def test_a_listen_address_that_is_none_is_a_usage_error(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sesd demo --listen bad` printed a traceback and exited 1, where `sesd run
    --listen bad` says it in one line: a usage error, exit 2."""
    from sesd.commands.main import main

    with pytest.raises(SystemExit) as exited:
        main(["demo", "--listen", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.timeout(120)
def test_the_demo_reads_none_of_the_machines_aws_setup(tmp_path: Path) -> None:
    """An SRE's box: AWS_PROFILE names a profile of their own (here one this box's
    config lacks), the default profile gets its keys from a credential process,
    AWS_ENDPOINT_URL and a region point elsewhere, and a proxy (which nothing answers)
    carries HTTP. The demo traced back on the profile, and sent its local calls to the
    proxy: it talks to its own loopback servers only, with its own keys, and runs as
    on a bare machine: its mail delivered and its canary back (the test waits for that,
    then presses Ctrl-C)."""
    ran = tmp_path / "credential-process-ran"
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = sh -c 'touch {ran}; echo {{}}'\n")
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    env |= {
        "AWS_CONFIG_FILE": str(config),
        "AWS_PROFILE": "prod",
        "AWS_ENDPOINT_URL": nowhere,
        "AWS_REGION": "eu-west-1",
        "HTTP_PROXY": nowhere,
        "HTTPS_PROXY": nowhere,
    }
    demo = ["demo", "--listen", "127.0.0.1:0", "--duration", _BOUND, "--every", "1"]
    later = ["--spike-after", "1000", "--pause-after", "1000"]
    errors = tmp_path / "stderr"
    lines: list[str] = []
    with (
        hearing_ctrl_c(),
        errors.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "sesd", *demo, *later],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        try:
            # Until a summary shows a canary back (or the demo's time is up).
            _read_until(process, lines, lambda text: bool(_CANARY_BACK.search(text)))
            lines.append(_ctrl_c(process))
        finally:
            process.kill()
    err, out = errors.read_text(), "".join(lines)
    assert "Traceback" not in err, err[-3000:]
    assert process.returncode == 0
    delivered = re.findall(r"^  gmail\.com +(\d+) ", out, re.MULTILINE)
    assert delivered
    assert int(delivered[-1]) > 0
    assert _CANARY_BACK.search(out)
    assert not ran.exists()


def _a_second_of_the_demo(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """A run of ``sesd demo`` for a second, its log and its output on one pipe, as on a
    newcomer's terminal; it exited 0."""
    done = subprocess.run(
        [sys.executable, "-m", "sesd", "demo", "--listen", "127.0.0.1:0", "--duration", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=50,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return done


@pytest.mark.timeout(60)
def test_the_status_pages_address_is_the_first_line_on_the_terminal() -> None:
    """Output and log lines share a newcomer's terminal: the daemon's first log lines
    (listening, started) came before the page's address, which README says the demo
    prints first. It is the first line of both streams together now. The line that
    says what the demo shows says that a run of a second stops before the spike and
    the pause: it promised both ("starts 30 s in") and a Ctrl-C the run did not need."""
    done = _a_second_of_the_demo(os.environ)
    first = done.stdout.splitlines()[0]
    assert re.fullmatch(r"sesd demo: the status page is at http://127\.0\.0\.1:\d+/", first)
    said = next(line for line in done.stdout.splitlines() if "local SQS at" in line)
    # Between the two, on the terminal, the daemon's start as logged: README says so
    # (it said "the line after", and a newcomer looked at a log line for the times).
    between = done.stdout.splitlines()[1 : done.stdout.splitlines().index(said)]
    events = [json.loads(line)["event"] for line in between]
    assert events[:2] == ["sesd.http.listening", "sesd.daemon.started"]
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert (
        "Its next line on standard output, after the daemon's `sesd.http.listening` and "
        "`sesd.daemon.started` on standard error, says when the spike and the pause come"
    ) in readme
    assert said.endswith(
        "/metrics. It stops 1 s in (or at Ctrl-C), before the delay spike on outlook.com "
        "(30 s in) and the pause of tenant globex (45 s in): a longer --duration shows them."
    ), said
    # What it shows before the stop, as sentences of their own too (it read "metrics;
    # It stops" once nothing came before the stop).
    assert plan(30, 45, None) == (
        "A delay spike on outlook.com starts 30 s in; SES pauses tenant globex 45 s in. "
        "Ctrl-C stops."
    )


@pytest.mark.timeout(60)
def test_a_slow_standard_error_still_shows_the_start_before_the_plan(tmp_path: Path) -> None:
    """The log and the output are written by two threads: the daemon's start, logged
    a moment before the line that says the plan, reached a shared terminal after it
    when the log's thread was slower (once in a few hundred runs). Here it is slow
    every time: a standard error that takes a quarter second over the start's line."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys, time\n"
        "class _Slow:\n"
        "    def __init__(self, stream):\n"
        "        self._stream = stream\n"
        "    def write(self, text):\n"
        "        if 'sesd.daemon.started' in text:\n"
        "            time.sleep(0.25)\n"
        "        return self._stream.write(text)\n"
        "    def __getattr__(self, name):\n"
        "        return getattr(self._stream, name)\n"
        "sys.stderr = _Slow(sys.stderr)\n"
    )
    done = _a_second_of_the_demo({**os.environ, "PYTHONPATH": str(tmp_path)})
    lines = done.stdout.splitlines()
    said = next(i for i, line in enumerate(lines) if "local SQS at" in line)
    started = next(i for i, line in enumerate(lines) if "sesd.daemon.started" in line)
    assert started < said, done.stdout[-3000:]


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:9585", "http://127.0.0.1:9585/"),
        ("[::1]:9585", "http://[::1]:9585/"),
        ("0.0.0.0:9585", "http://127.0.0.1:9585/"),
        ("[::]:9585", "http://[::1]:9585/"),
        ("localhost:9585", "http://localhost:9585/"),
    ],
)
def test_the_pages_address_is_one_a_browser_opens(listen: str, url: str) -> None:
    """`--listen [::1]:9585` printed http://::1:9585/ (no URL), and every summary
    named 127.0.0.1, where nothing listened: the address the demo prints, first and in
    each summary, is a URL of the page, on loopback when it listens on every address."""
    from sesd.commands.demo.summary import page_url
    from sesd.config import HttpConfig

    assert page_url(HttpConfig(listen=listen), 9585) == url


def test_the_demos_alerts_reach_the_console_at_the_tick_they_fire() -> None:
    """README promises an alert within a second of SES pausing a tenant: the status page
    had it, but the console printed it two seconds later, held for the group wait (the
    spike's alerts too). The demo has one console and alerts a few at a time: it waits
    for none."""
    from sesd.commands.demo.resources import demo_config

    local = "http://127.0.0.1:9"
    config = demo_config(local, f"{local}/q", "127.0.0.1:0", "127.0.0.1:53", local)
    assert config.alerts.group_wait.seconds == 0
    assert config.alerts.evaluate_every.seconds <= 1
