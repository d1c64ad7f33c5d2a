"""``sesd send-test-alert``: one notification through a configured sink."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from pathlib import Path

import anyio
import pytest
from anyio import run_process

from sesd.alerting import sinks
from sesd.alerting.rules import Transition
from sesd.commands.main import main
from sesd.commands.send_test_alert import send_test_alert
from sesd.commands.send_test_alert import test_notification as notification
from sesd.config import SlackConfig, load_config, parse_config
from tests.receivers import Answer, Receiver


class _Full(io.StringIO):
    """Standard output on a full disk: every write fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


async def _sesd(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``sesd send-test-alert ARGS`` in a thread of its own (its own event loop), this
    loop serving: its exit code and standard error. No interpreter starts (half a
    second of CPU each, for a send of a few milliseconds)."""
    capsys.readouterr()
    code = await anyio.to_thread.run_sync(main, ["send-test-alert", *args])
    return code, capsys.readouterr().err


async def test_test_alert_reaches_each_sink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack gets one test message; PagerDuty a trigger and its resolve (no incident left open);
    an unknown sink exits 2, a refused one exits 1 without printing the secret."""
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        config = tmp_path / "sesd.toml"
        config.write_text(
            '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
            f'[alerts.pagerduty]\nrouting_key = "file:{tmp_path / "key"}"\n'
            f'events_url = "{pd.url}"\n'
        )
        (tmp_path / "key").write_text("pd-routing-key-4b1e\n")
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        capsys.readouterr()

        async def sesd(*args: str) -> tuple[int, str]:
            # In a thread of its own (its own event loop), this loop serving: no
            # interpreter starts (half a second of CPU each).
            command = ["send-test-alert", "--config", str(config), *args]
            code = await anyio.to_thread.run_sync(main, command)
            out, err = capsys.readouterr()
            return code, out + err

        assert (await sesd("--sink", "slack"))[0] == 0
        assert (await sesd("--sink", "pagerduty"))[0] == 0
        with monkeypatch.context() as full:
            # On a full standard output the log, on standard error, is said and ends
            # nothing: the send is made, 0. The console's alert is the result: lost, 1.
            full.setattr(sys, "stdout", _Full())
            code, output = await sesd("--sink", "slack")
            assert code == 0, output
            assert "sesd.test_alert.sent" in output
            code, output = await sesd("--sink", "console")
            assert code == 1
            assert output.endswith(
                "sesd: cannot write to standard output: No space left on device; "
                "the result is lost\n"
            )
        # A sink not configured: the table to add, or, a typo of one, the one meant.
        code, output = await sesd("--sink", "email")
        assert code == 2
        assert output == (
            "sesd: no sink named 'email' (configured: console, pagerduty, slack; "
            "add [alerts.sinks.email])\n"
        )
        code, output = await sesd("--sink", "slak")
        assert (code, output) == (
            2,
            "sesd: no sink named 'slak' (configured: console, pagerduty, slack; "
            "did you mean slack? or, for a new sink, add [alerts.sinks.slak])\n",
        )
        slack.script(Answer(404))
        code, output = await sesd("--sink", "slack")
        assert code == 1
        assert "HTTP 404" in output
        assert "planted-secret-slack" not in output
    assert len(slack.accepted) == 2
    assert "sesd-test-alert" in slack.accepted[0]["text"]
    assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve"]
    assert pd.accepted[0]["routing_key"] == "pd-routing-key-4b1e"


async def test_sinks_post_through_the_proxy_the_environment_names(tmp_path: Path) -> None:
    """A host that reaches the internet only through a proxy (``HTTPS_PROXY`` or
    ``HTTP_PROXY``, as for the AWS SDK): the post goes to the proxy, which here answers
    as Slack does, for a webhook whose host only the proxy can resolve; ``NO_PROXY``
    leaves a host out."""
    async with Receiver("slack") as proxy:
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[alerts.slack]\nwebhook_url = "http://hooks.slack.invalid{proxy.path}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        command = [sys.executable, "-m", "sesd", "send-test-alert", "--config", str(config)]
        command += ["--sink", "slack"]
        via = {**env, "HTTP_PROXY": proxy.url.removesuffix(proxy.path)}
        assert (await run_process(command, env=via, check=False)).returncode == 0
        assert len(proxy.accepted) == 1
        assert "sesd-test-alert" in proxy.accepted[0]["text"]
        bypassed = {**via, "NO_PROXY": "hooks.slack.invalid"}
        result = await run_process(command, env=bypassed, check=False)
        assert result.returncode == 1  # straight to a host no resolver knows
        assert len(proxy.accepted) == 1


async def test_a_shared_alertmanager_sink_still_resolves_the_test_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shared sink (several replicas) leaves its rules' resolves to Alertmanager; the
    test alert is this command's alone, so its resolve is posted: none stays open."""
    from tests.receivers import WebhookReceiver

    async with WebhookReceiver(path="/api/v2/alerts", status=200) as am:
        config = tmp_path / "sesd.toml"
        base = f"http://127.0.0.1:{am.port}"
        config.write_text(
            f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["{base}"]\nshared = true\n'
        )
        code, err = await _sesd(capsys, "--config", str(config), "--sink", "am")
        assert code == 0, err
    firing, resolved = am.bodies
    assert (
        firing[0]["labels"]["alertname"] == resolved[0]["labels"]["alertname"] == "sesd-test-alert"
    )
    assert resolved[0]["endsAt"] < firing[0]["endsAt"]


async def test_a_rate_limited_resolve_waits_and_leaves_no_test_incident_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PagerDuty takes the test trigger, then answers the resolve 429 (its rate per
    key, spent by a storm under way): the command waits the pause PagerDuty asks (its
    floor shortened here) and posts the resolve again, so the test incident it opened
    does not stay open on the on-call's phone; exit 0."""
    monkeypatch.setattr(sinks, "PAGERDUTY_MIN_PAUSE", 1.0)
    async with Receiver("pagerduty") as pd:
        config = parse_config(
            f'[alerts.pagerduty]\nrouting_key = "pd-routing-key-4b1e"\nevents_url = "{pd.url}"\n'
        )
        pd.script(Answer(202), Answer(429, retry_after="1"))
        assert await send_test_alert(config, "pagerduty") == 0
    assert pd.answers == [202, 429, 200]
    assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve"]


async def test_slacks_429_is_waited_out_and_the_message_posted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Slack answers the test message 429 with Retry-After: 1: the command says it
    waits, posts again after the pause and exits 0, where it ended with 'HTTP 429,
    paused 1s' and exit 1 having paused nothing."""
    async with Receiver("slack") as slack:
        config = tmp_path / "sesd.toml"
        config.write_text(f'[alerts.slack]\nwebhook_url = "{slack.url}"\n')
        slack.script(Answer(429, retry_after="1"))
        code, err = await _sesd(capsys, "--config", str(config), "--sink", "slack")
    assert code == 0, err
    assert slack.answers == [429, 200]
    assert "sesd.test_alert.rate_limited" in err


@pytest.mark.parametrize(
    ("answers", "said"),
    [
        # An hour asked (a limit a storm spent): not waited for, and said so at once.
        ([Answer(429, retry_after="3600")], "HTTP 429: asks a pause of 3600s, more than"),
        # Refused each time: given up after the third try, not waited on for ever.
        ([Answer(429, retry_after="1")] * 3, "HTTP 429 3 times in a row"),
    ],
)
async def test_a_429_the_command_will_not_wait_out_ends_it_saying_why(
    tmp_path: Path, answers: list[Answer], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Slack asks an hour's pause, or answers 429 every time: the command, run by hand
    (at 3 a.m., say), does not sit silent for the hour nor try for ever. It ends, exit
    1, with a line saying why, not "paused 3600s", a pause it never made."""
    import json

    async with Receiver("slack") as slack:
        config = tmp_path / "sesd.toml"
        config.write_text(f'[alerts.slack]\nwebhook_url = "{slack.url}"\n')
        slack.script(*answers)
        with anyio.fail_after(60):
            code, err = await _sesd(capsys, "--config", str(config), "--sink", "slack")
    assert code == 1, err
    assert slack.answers == [429] * len(answers)
    lines = [json.loads(line) for line in err.splitlines()]
    (failed,) = [line for line in lines if line["event"] == "sesd.test_alert.failed"]
    assert failed["error"].startswith(said), failed
    assert "paused" not in failed["error"]


async def test_ctrl_c_while_the_resolve_waits_says_the_test_alert_stays_open(
    tmp_path: Path,
) -> None:
    """PagerDuty took the trigger and asks 100 s before the resolve: the user presses
    Ctrl-C while the command waits. It ends (by SIGINT: status 130) saying the test alert stays
    open, rather than leaving an incident the user does not know of."""
    import json
    import signal

    from anyio.streams.buffered import BufferedByteReceiveStream

    from tests.sesd_process import hearing_ctrl_c

    async with Receiver("pagerduty") as pd:
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[alerts.pagerduty]\nrouting_key = "pd-routing-key-4b1e"\nevents_url = "{pd.url}"\n'
        )
        pd.script(Answer(202), Answer(429, retry_after="100"))
        command = [sys.executable, "-m", "sesd", "send-test-alert", "--config", str(config)]
        with hearing_ctrl_c():
            started = await anyio.open_process([*command, "--sink", "pagerduty"])
        async with started as process:
            assert process.stderr is not None
            stream = BufferedByteReceiveStream(process.stderr)
            with anyio.fail_after(30):
                while b"sesd.test_alert.rate_limited" not in await stream.receive_until(
                    b"\n", 1 << 16
                ):
                    pass
                process.send_signal(signal.SIGINT)
                rest = b""
                with contextlib.suppress(anyio.EndOfStream, anyio.IncompleteRead):
                    while True:
                        rest += await stream.receive_until(b"\n", 1 << 16) + b"\n"
                assert await process.wait() == -signal.SIGINT
    lines = rest.decode().splitlines()
    assert lines[-1] == "sesd: interrupted"
    (stopped,) = [json.loads(line) for line in lines[:-1]]
    assert stopped["event"] == "sesd.test_alert.stopped"
    assert stopped["note"] == "the test alert stays open: resolve it by hand"


async def test_testing_one_sink_needs_only_that_sink_s_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An on-call tests Slack on a host where PagerDuty's routing key, a webhook's
    secret file and Alertmanager's password are not there: Slack's test is sent (exit
    0). Testing PagerDuty there fails in one line naming its key, exit 2; a file that
    is not valid still fails, whichever sink is tested."""
    async with Receiver("slack") as slack:
        config = tmp_path / "sesd.toml"
        sinks_text = (
            '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
            '[alerts.pagerduty]\nrouting_key = "env:SESD_TEST_PD_KEY_NOT_SET"\n'
            '[alerts.sinks.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n'
            f'secret = "file:{tmp_path / "absent"}"\n'
            '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\n'
            'username = "ops"\npassword = "env:SESD_TEST_AM_PASSWORD_NOT_SET"\n'
        )
        config.write_text(sinks_text)
        for name in [k for k in os.environ if k.endswith("_NOT_SET")]:
            monkeypatch.delenv(name)
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        capsys.readouterr()

        async def sesd(sink: str) -> tuple[int, str]:
            # In a thread of its own (its own event loop), this loop serving: no
            # interpreter starts (half a second of CPU each).
            command = ["send-test-alert", "--config", str(config), "--sink", sink]
            code = await anyio.to_thread.run_sync(main, command)
            out, err = capsys.readouterr()
            return code, out + err

        code, output = await sesd("slack")
        assert code == 0, output
        assert len(slack.accepted) == 1
        code, output = await sesd("pagerduty")
        assert (code, output) == (
            2,
            f"sesd: config error: {config}: alerts.pagerduty.routing_key: "
            "environment variable SESD_TEST_PD_KEY_NOT_SET is not set\n",
        )
        code, output = await sesd("nosuch")
        assert code == 2
        assert (
            "no sink named 'nosuch' (configured: am, console, hook, pagerduty, slack; add "
            in output
        )
        config.write_text(sinks_text + "[nosuch_section]\nkey = 1\n")
        code, output = await sesd("slack")
        assert code == 2
        assert output.startswith("sesd: config error: ")
    assert len(slack.accepted) == 1


async def test_every_sink_says_first_that_the_test_alert_is_a_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An on-call's phone shows the first words of a page: Slack's fallback text and
    header, PagerDuty's summary, the console's line (after its time) and
    Alertmanager's summary begin with "[TEST]", and Alertmanager's alert carries
    ``test="true"`` to route or silence on; the resolve is a test's too."""
    from tests.receivers import WebhookReceiver

    async with (
        Receiver("slack") as slack,
        Receiver("pagerduty") as pd,
        WebhookReceiver(path="/api/v2/alerts", status=200) as am,
    ):
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[alerts.slack]\nwebhook_url = "{slack.url}"\n'
            f'[alerts.pagerduty]\nrouting_key = "pd-key-7f"\nevents_url = "{pd.url}"\n'
            f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:{am.port}"]\n'
        )
        # In a thread of its own (its own event loop), this loop serving: what it says
        # is this test's to read, and no interpreter starts (half a second of CPU each).
        command = ["send-test-alert", "--config", str(config)]
        outputs = {}
        capsys.readouterr()
        for sink in ("slack", "pagerduty", "am", "console"):
            code = await anyio.to_thread.run_sync(main, [*command, "--sink", sink])
            out, err = capsys.readouterr()
            assert code == 0, err
            outputs[sink] = out
    (message,) = slack.accepted
    assert message["text"].startswith("[TEST] ")
    assert message["blocks"][0]["text"]["text"].startswith("*[TEST] ")
    trigger, resolve = pd.accepted
    assert trigger["payload"]["summary"].startswith("[TEST] [FIRING] sesd-test-alert: ")
    assert resolve["event_action"] == "resolve"
    for (posted,) in am.bodies:
        assert posted["labels"]["test"] == "true"
        assert posted["annotations"]["summary"].startswith("[TEST] sesd-test-alert: ")
    _, _, line = outputs["console"].partition("Z ")
    assert line.startswith("[TEST] [FIRING] sesd-test-alert: "), outputs["console"]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (Answer(502), "HTTP 502"),
        (Answer(hang=True), "timed out after 0.5s"),
        (
            Answer(503, retry_after="600"),
            "HTTP 503: asks a pause of 600s, more than the 120s a test waits; send it again later",
        ),
    ],
    ids=["5xx", "timeout", "503 asking a pause"],
)
async def test_a_trigger_that_may_have_been_taken_is_resolved_all_the_same(
    tmp_path: Path, answer: Answer, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PagerDuty answers the test trigger 502, or not within the sink's timeout: the
    command cannot tell whether PagerDuty opened the incident (a timeout may follow the
    event's acceptance; a gateway's 5xx may too), so it posts the resolve with the same
    dedup key all the same (one PagerDuty takes as a no-op if nothing is open), says so,
    and exits 1: the test failed, and no test incident is left ringing unknown to the
    user."""
    import json

    async with Receiver("pagerduty") as pd:
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[alerts.pagerduty]\nrouting_key = "pd-routing-key-4b1e"\nevents_url = "{pd.url}"\n'
            'timeout = "500ms"\n'
        )
        pd.script(answer)
        with anyio.fail_after(30):
            code, err = await _sesd(capsys, "--config", str(config), "--sink", "pagerduty")
        assert pd.arrived == 2
    assert code == 1, err
    (resolve,) = pd.accepted
    assert resolve["event_action"] == "resolve"
    # The trigger's key (a hung request's body is never read: the command's own).
    key = notification(Transition.FIRING, 0.0).alerts[0].dedup_key
    assert resolve["dedup_key"] == key
    if not answer.hang:
        assert pd.requests[0]["dedup_key"] == key
    lines = [json.loads(line) for line in err.splitlines()]
    assert [(line["event"], line["kind"]) for line in lines] == [
        ("sesd.test_alert.failed", "firing"),
        ("sesd.test_alert.sent", "resolved"),
    ]
    failed, sent = lines
    assert failed["error"] == said
    assert failed["note"] == (
        "PagerDuty may have opened the incident all the same: its resolve is sent (same dedup key)"
    )
    assert "note" not in sent


async def test_a_trigger_refused_for_good_is_not_resolved(tmp_path: Path) -> None:
    """PagerDuty refuses the test trigger 400 (an event it did not take): no resolve is
    posted, the command ends at once, exit 1."""
    async with Receiver("pagerduty") as pd:
        config = parse_config(
            f'[alerts.pagerduty]\nrouting_key = "pd-routing-key-4b1e"\nevents_url = "{pd.url}"\n'
        )
        pd.script(Answer(400))
        assert await send_test_alert(config, "pagerduty") == 1
    assert [e["event_action"] for e in pd.requests] == ["trigger"]


async def test_slack_says_test_once_in_the_preview_and_once_in_the_message() -> None:
    """Slack's notification preview is the message's fallback text, and the message
    opens with its header: each says "[TEST]" once, first, where it read "[TEST]
    ... 1 domain: [TEST] [FIRING] ..." (the header and the alert's headline both
    marked), which pushed the alert's own words further out of the preview."""
    async with Receiver("slack") as slack:
        config = parse_config(f'[alerts.slack]\nwebhook_url = "{slack.url}"\n')
        assert await send_test_alert(config, "slack") == 0
    (message,) = slack.accepted
    assert message["text"].startswith("[TEST] ")
    assert message["text"].count("[TEST]") == 1, message["text"]
    assert "sesd-test-alert: example.com delay_ratio 50.0%" in message["text"]
    shown = [block["text"]["text"] for block in message["blocks"] if "text" in block]
    assert shown[0].startswith("*[TEST] ")
    assert sum(text.count("[TEST]") for text in shown) == 1, shown


async def test_the_webhooks_test_alert_says_it_is_a_test_and_is_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A webhook sink (an in-house pager, a chat bridge) gets one signed
    ``sesd.webhook.v1`` document whose alert's summary begins "[TEST] [FIRING]", as
    every sink's test alert does, so the receiver's people see a test for what it
    is; no resolve is posted (a webhook keeps no incident open); exit 0."""
    from tests.receivers import WebhookReceiver

    async with WebhookReceiver(secret="hook-secret-2c9d") as hook:
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{hook.url}"\n'
            'secret = "hook-secret-2c9d"\n'
        )
        code, err = await _sesd(capsys, "--config", str(config), "--sink", "hook")
    assert code == 0, err
    assert hook.rejected == 0
    (document,) = hook.bodies
    assert document["schema"] == "sesd.webhook.v1"
    assert document["test"] is True
    (alert,) = document["alerts"]
    assert alert["state"] == "firing"
    assert alert["summary"].startswith("[TEST] [FIRING] sesd-test-alert: example.com "), alert
    assert alert["summary"].count("[TEST]") == 1


async def test_a_429_wait_is_shown_whatever_the_daemons_log_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The config keeps the daemon's log quiet (``level = "error"``); the on-call runs
    send-test-alert from it and Slack asks a pause (429, Retry-After: 1). The command
    says it waits, how long and which try comes next, then that the message was
    sent, where it sat silent through the pause (up to two minutes, three times)
    and ended without a word: the daemon's level is not the person's at a terminal."""
    import json

    async with Receiver("slack") as slack:
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[logging]\nlevel = "error"\n[alerts.slack]\nwebhook_url = "{slack.url}"\n'
        )
        slack.script(Answer(429, retry_after="1"))
        code, err = await _sesd(capsys, "--config", str(config), "--sink", "slack")
    assert code == 0, err
    assert slack.answers == [429, 200]
    waited, sent = [json.loads(line) for line in err.splitlines()]
    assert waited["event"] == "sesd.test_alert.rate_limited"
    assert (waited["wait"], waited["kind"]) == (1.0, "firing")
    assert waited["note"] == "HTTP 429: waiting 1s as the sink asks, then try 2 of 3"
    assert (sent["event"], sent["kind"]) == ("sesd.test_alert.sent", "firing")


async def test_a_trigger_and_resolve_both_lost_say_the_alert_may_stay_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Alertmanager answers 502 to the test alert and to its resolve: the command
    cannot tell whether it took the alert, posts the resolve all the same, and when
    that fails too says the alert may stay open, to be resolved by hand; exit 1."""
    import json

    from tests.receivers import WebhookReceiver

    async with WebhookReceiver(path="/api/v2/alerts", status=502) as am:
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:{am.port}"]\n'
        )
        with anyio.fail_after(30):
            code, err = await _sesd(capsys, "--config", str(config), "--sink", "am")
    assert code == 1, err
    firing, resolved = am.bodies
    assert firing[0]["endsAt"] > resolved[0]["endsAt"]
    logged = [json.loads(line) for line in err.splitlines()]
    lines = [line for line in logged if line["event"].startswith("sesd.test_alert.")]
    assert [(line["event"], line["kind"], line["note"]) for line in lines] == [
        (
            "sesd.test_alert.failed",
            "firing",
            "Alertmanager may have taken the alert all the same: its resolve is sent",
        ),
        (
            "sesd.test_alert.failed",
            "resolved",
            "if the sink took the test alert, it stays open: resolve it by hand",
        ),
    ]


async def test_a_sink_nothing_answers_at_says_the_connection_was_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A first test of a Slack webhook whose host refuses the connection (a port wrong,
    a proxy needed): the command ends, exit 1, with a line saying it could not connect,
    not only an HTTP client's class name, and without the webhook's secret path."""
    import json
    import socket

    with socket.socket() as taken:  # bound, never listening: a connection is refused
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        config = tmp_path / "sesd.toml"
        config.write_text(
            f'[alerts.slack]\nwebhook_url = "http://127.0.0.1:{port}/services/T0/B0/s3cr3t"\n'
        )
        with anyio.fail_after(30):
            code, err = await _sesd(capsys, "--config", str(config), "--sink", "slack")
    assert code == 1, err
    (failed,) = [json.loads(line) for line in err.splitlines()]
    assert "s3cr3t" not in err
    assert "refused" in failed["error"].lower(), failed


async def test_a_name_that_does_not_resolve_is_said_by_the_resolvers_reason() -> None:
    """A host name nothing resolves (a typo in a webhook's host): the reason is the
    resolver's own text, not "Unknown error -2" (its negative errno read as the
    system's), and the URL, whose path may be a secret, stays out of it."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        with pytest.raises(sinks.Retryable) as raised:
            await sinks.post_json(
                session, "http://nothing-here.invalid/services/s3cr3t", b"{}", 10,
                ok=(200,), min_pause=1, default_pause=1,
            )  # fmt: skip
    said = str(raised.value)
    assert said.startswith("ClientConnectorDNSError: "), said
    assert "Unknown error" not in said
    assert not [word for word in ("s3cr3t", "invalid") if word in said], said


async def test_under_the_unit_s_credentials_the_secrets_are_read_as_sesd_run_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The systemd unit's config names its secrets as its header shows,
    "file:$CREDENTIALS_DIRECTORY/sesd_NAME" (LoadCredential=sesd:DIRECTORY loads each
    file there as sesd_FILENAME). Where $CREDENTIALS_DIRECTORY is set, as systemd sets
    it for the unit's processes, the test alert reads them from there, as the daemon's
    load does, and reaches Slack and PagerDuty (its trigger and resolve)."""
    unit = (Path(__file__).parent.parent / "systemd" / "sesd.service").read_text()
    (reference,) = [
        line.split("webhook_url = ", 1)[1].strip('"')
        for line in unit.splitlines()
        if "webhook_url = " in line
    ]
    assert reference == "file:$CREDENTIALS_DIRECTORY/sesd_slack_webhook_url"
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        for name, value in (("slack_webhook_url", slack.url), ("pd_key", "P" * 32)):
            (credentials / f"sesd_{name}").write_text(value + "\n")
            (credentials / f"sesd_{name}").chmod(0o400)
        config = tmp_path / "sesd.toml"
        config.write_text(
            '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
            f'[state]\npath = "{tmp_path / "state.bin"}"\n'
            f'[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "{reference}"\n'
            '[alerts.sinks.pd]\ntype = "pagerduty"\n'
            'routing_key = "file:$CREDENTIALS_DIRECTORY/sesd_pd_key"\n'
            f'events_url = "{pd.url}"\n'
            '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\n'
            'above = 0.1\nsinks = ["slack", "pd"]\n'
        )
        # The daemon's load (secrets read, as `sesd run` reads them) takes them.
        slack_sink = load_config(config, daemon=True).alerts.sinks["slack"]
        assert isinstance(slack_sink, SlackConfig)
        assert slack_sink.webhook_url.get() == slack.url
        for name in ("slack", "pd"):
            code, said = await _sesd(capsys, "--config", str(config), "--sink", name)
            assert code == 0, said
        assert len(slack.accepted) == 1
        assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve"]
