"""What a new user types first, and gets wrong, in-process: each mistake is one line
that says what to write instead, with the exit status a script can act on."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import free_port
from sesd.commands.main import main

pytestmark = pytest.mark.timeout(30)


def test_status_url_with_another_scheme_is_named_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An address with a scheme other than http(s) is not one without a scheme: the
    line does not tell the user to write ``http://ftp://...``."""
    assert main(["status", "--url", "ftp://127.0.0.1:9585"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --url 'ftp://127.0.0.1:9585' is not an http(s) address: give it as "
        "http://HOST:PORT or https://HOST:PORT\n"
    )


def test_status_url_scheme_in_capitals_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    """A scheme is the same in any case (``HTTP://``, as some tools write it): the
    daemon is asked there, and the line names the address as written in lower case."""
    assert main(["status", "--url", "HTTP://127.0.0.1:1"]) == 1
    assert (
        capsys.readouterr().err
        == "sesd: cannot reach sesd at http://127.0.0.1:1: Connection refused\n"
    )


def test_status_at_the_default_address_says_no_address_was_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sesd status` typed bare, beside a daemon whose config listens elsewhere, asks
    the default address: the line said only "Connection refused", as if the daemon
    were down. It says that no address was named, and what names the daemon's; and,
    as the line of a config's address does, asks whether sesd runs at all: typed by a
    newcomer with none started, the line spoke only of a config. (The default is a
    port nothing listens on here: 9585 may be another test's.)"""
    from sesd.commands import status

    monkeypatch.delenv("SESD_CONFIG", raising=False)
    monkeypatch.delenv("SESD_HTTP_LISTEN", raising=False)
    monkeypatch.setattr(status, "DEFAULT_URL", "http://127.0.0.1:1")
    assert main(["status"]) == 1
    assert capsys.readouterr().err == (
        "sesd: cannot reach sesd at http://127.0.0.1:1: Connection refused (no --config, "
        "--url nor $SESD_HTTP_LISTEN named the daemon's address, so http://127.0.0.1:1 "
        "was asked: is sesd running? If it is, give the config it runs with)\n"
    )


def test_status_at_a_configs_address_says_a_reload_does_not_move_the_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sesd status --config FILE` asks the address FILE's [http] listen gives. After
    that line was edited and the daemon reloaded (which leaves its port where it was),
    the line said only "Connection refused", as if the daemon were down while it ran
    on at the old address. It asks whether sesd runs, and says where one started
    before the edit listens, and how to ask it there."""
    monkeypatch.delenv("SESD_HTTP_LISTEN", raising=False)
    port = free_port()
    path = tmp_path / "sesd.toml"
    path.write_text(BASE + f'[http]\nlisten = "127.0.0.1:{port}"\n', encoding="utf-8")
    assert main(["status", "--config", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at http://127.0.0.1:{port}: Connection refused (the "
        f"address {path}'s [http] listen gives: is sesd running? One started before that "
        "line changed listens where it did then, which a reload does not move: give that "
        "address as --url)\n"
    )
    # An address given otherwise is not the file's: nothing is said of it.
    assert main(["status", "--config", str(path), "--url", f"http://127.0.0.1:{port}"]) == 1
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at http://127.0.0.1:{port}: Connection refused\n"
    )


#: A config check-config passes: one queue, one rule (its sink the console).
BASE = """\
[[queues]]
url = "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"

[[alerts.rules]]
name = "delay-ratio-high"
metric = "delay_ratio"
window = "15m"
above = 0.05
sinks = ["console"]
"""


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``sesd check-config --quiet`` on ``text``: its exit status and what it printed."""
    path = tmp_path / "sesd.toml"
    path.write_text(text, encoding="utf-8")
    code = main(["check-config", "--no-secrets", "--quiet", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err.replace(str(path), "sesd.toml")


def test_a_sink_without_its_type_says_type_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A named sink with no ``type`` says the key is missing, not ``got None`` (a
    word TOML does not have)."""
    text = BASE + '[alerts.sinks.ops]\nwebhook_url = "https://hooks.slack.com/x"\n'
    assert check(tmp_path, text, capsys) == (
        2,
        "sesd: config error: sesd.toml: alerts.sinks.ops.type: give one of "
        "slack, pagerduty, alertmanager, webhook, console (the key is missing)\n",
    )


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ('Type = "slack"', "11: alerts.sinks.ops.Type: unknown key (did you mean type? keys are "
         "case-sensitive)"),
        ('typ = "slack"', "11: alerts.sinks.ops.typ: unknown key (did you mean type?)"),
        ('type = "slack"\nWebhook_URL = "https://hooks.slack.com/x"',
         "12: alerts.sinks.ops.Webhook_URL: unknown key (did you mean webhook_url? keys are "
         "case-sensitive)"),
        ('type = "slack"\nwebhook_ur = "https://hooks.slack.com/x"',
         "12: alerts.sinks.ops.webhook_ur: unknown key (did you mean webhook_url?)"),
    ],
)  # fmt: skip
def test_a_sink_key_mistyped_is_named_with_the_key_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, said: str
) -> None:
    """``Type = "slack"`` (keys are case-sensitive) was told that ``type`` is missing,
    leaving the reader to stare at the key they wrote; a sink's other keys mistyped
    were named unknown with no key suggested, as every other table's are. Each is
    named with the key it is closest to."""
    text = BASE + f"[alerts.sinks.ops]\n{written}\n"
    assert check(tmp_path, text, capsys) == (
        2,
        f"sesd: config error: sesd.toml:{said}\n",
    )


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("Slack", "got 'Slack'; did you mean slack? the type is case-sensitive"),
        ("PagerDuty", "got 'PagerDuty'; did you mean pagerduty? the type is case-sensitive"),
        ("slak", "got 'slak'; did you mean slack?"),
        ("email", "got 'email'"),
    ],
)
def test_a_sink_type_mistyped_is_named_with_the_type_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, said: str
) -> None:
    """``type = "Slack"`` (as the product spells it) was told to give one of slack, ...
    and left the reader to see that the list is in lower case alone: the type meant is
    named, as a key in another case or mistyped is."""
    text = BASE + f'[alerts.sinks.ops]\ntype = "{written}"\n'
    assert check(tmp_path, text, capsys) == (
        2,
        "sesd: config error: sesd.toml:11: alerts.sinks.ops.type: give one of slack, "
        f"pagerduty, alertmanager, webhook, console ({said})\n",
    )


def test_a_sink_written_outside_alerts_sinks_is_told_where_it_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[alerts.chat]`` with a sink's ``type`` (a sink of one's own naming written as
    ``[alerts.slack]`` is) was named an unknown key and no more: the line says where a
    sink so named goes."""
    text = BASE + '[alerts.chat]\ntype = "slack"\nwebhook_url = "https://hooks.slack.com/x"\n'
    assert check(tmp_path, text, capsys) == (
        2,
        "sesd: config error: sesd.toml:10: alerts.chat: unknown key (a sink named chat is"
        " [alerts.sinks.chat])\n",
    )


def test_a_key_in_another_case_is_suggested_in_any_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key written in capitals (``LISTEN``) is too far from ``listen`` for a typo's
    likeness: it is named with the key meant, and why it is not that key."""
    text = BASE + '[http]\nLISTEN = "127.0.0.1:9585"\n'
    assert check(tmp_path, text, capsys) == (
        2,
        "sesd: config error: sesd.toml:11: http.LISTEN: unknown key (did you mean listen? keys "
        "are case-sensitive)\n",
    )


class Refusing(LocalServer):
    """An endpoint that refuses every call as IAM refuses one the policy lacks."""

    def routes(self, app: web.Application) -> None:
        async def refuse(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=403, text=_DENIED, content_type="text/xml")

        app.router.add_route("*", "/{tail:.*}", refuse)


#: What SNS answers a call the caller's IAM policy does not allow.
_DENIED = (
    '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error>'
    "<Type>Sender</Type><Code>AuthorizationError</Code><Message>not authorized to "
    "perform: SNS:ListTopics</Message></Error><RequestId>r</RequestId></ErrorResponse>"
)


async def test_a_dry_run_that_stops_says_nothing_was_changed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run refused a look (a read-only identity lacking one permission) made
    nothing: its report says so, not that setup made part of it and running setup
    again finishes it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    async with Refusing() as refusing:
        url = f"http://127.0.0.1:{refusing.port}"
        args = ["setup", "--dry-run", "--region", "eu-west-1", "--endpoint-url", url]
        code = await anyio.to_thread.run_sync(main, args)
    out, err = capsys.readouterr()
    assert code == 1
    stopped = "# eu-west-1: the dry run stopped part-way (nothing was changed); seen so far:"
    assert out == f"\n{stopped}\n(nothing)\n"
    assert err.startswith("sesd: setup failed in eu-west-1: AuthorizationErrorException: ")


@pytest.mark.parametrize(
    ("field", "why"),
    [
        # An attribute of the value: the link would read https://.../<class 'str'>.
        ("{rule.__class__}", "'{rule.__class__}' is no field"),
        # A width: every alert's link (and the Slack message carrying it) padded to it.
        ("{rule:>5000}", "'{rule:>5000}' has a format"),
        ("{domain!r}", "'{domain!r}' has a conversion"),
    ],
)
def test_a_link_template_takes_its_fields_plain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, why: str
) -> None:
    """``runbook_url`` and ``dashboard_url`` fill in ``{domain}``, ``{rule}``,
    ``{window}`` and ``{scope}``; Python's format language beyond them (attributes, indexes,
    conversions, widths) is refused, naming the field, not sent out in every link."""
    text = BASE.replace(
        'sinks = ["console"]', f'sinks = ["console"]\nrunbook_url = "https://rb.example/{field}"'
    )
    code, printed = check(tmp_path, text, capsys)
    assert code == 2
    assert printed == (
        "sesd: config error: sesd.toml:10: alerts.rules[0] (delay-ratio-high).runbook_url: "
        f"'https://rb.example/{field}' is not a template of "
        f"{{domain}}, {{rule}}, {{window}}, {{scope}} ({why}: write each alone)\n"
    )
    text = f'[alerts]\ndashboard_url = "https://grafana.example/d/x?var-domain={field}"\n' + BASE
    code, printed = check(tmp_path, text, capsys)
    assert code == 2
    assert f"({why}: write each alone)" in printed


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('[domains]\ngroups = { ms = "outlook.com" }', "domains.groups.ms: Expected `array`"),
        (
            '[domains]\ngroups = { ms = ["outlook.com"], y = ["yahoo.com", 5] }',
            "domains.groups.y[1]: Expected `str`, got `int`",
        ),
        ('[providers]\nmx = { google = "google.com" }', "providers.mx.google: Expected `array`"),
    ],
)
def test_a_wrong_value_in_a_table_of_names_names_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, key: str
) -> None:
    """A group (or provider) whose members are not a list of names is named: in a file
    of twenty groups ``domains.groups[...]`` says which table, not which line."""
    code, printed = check(tmp_path, table + "\n" + BASE, capsys)
    assert code == 2
    # The table of names sits on the file's second line.
    assert printed.startswith(f"sesd: config error: sesd.toml:2: {key}"), printed


def test_a_domain_in_two_groups_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A domain counts under one label: listed in two groups (in any spelling), it
    counted under the last alone, and the first group's rules never saw it."""
    table = '[domains]\ngroups = { microsoft = ["outlook.com"], consumer = ["Outlook.com."] }'
    assert check(tmp_path, table + "\n" + BASE, capsys) == (
        2,
        "sesd: config error: sesd.toml:2: domains.groups.consumer[0]: 'Outlook.com.' is "
        "outlook.com, already in domains.groups.microsoft[0]: a domain counts under one "
        "group\n",
    )


@pytest.mark.parametrize("rate", ["1e9", "1001"])
def test_the_demo_refuses_a_rate_its_local_sqs_cannot_take(
    capsys: pytest.CaptureFixture[str], rate: str
) -> None:
    """``--rate 1e9`` built a billion bodies in one step: 10 GB and rising within
    seconds, the event loop held, so neither ``--duration`` nor SIGTERM stopped it.
    A rate past what the local SQS takes (a few hundred a second) is a usage error."""
    with pytest.raises(SystemExit) as stopped:
        main(["demo", "--rate", rate])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"sesd demo: error: argument --rate: {rate!r}: give a number from 0.1 to 1000\n"
    )


def test_sesd_alone_lists_the_commands_and_silence_alone_its_three(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A first try, `sesd` with nothing after it, is the help (the commands and what
    each does), not "the following arguments are required: command", status 2; and
    `sesd silence` alone names its choices, not the attribute argparse keeps them in."""
    from sesd.commands.main import main

    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Watch Amazon SES delivery in real time." in err
    assert "demo local SQS, synthetic traffic, a delay spike" in " ".join(err.split())
    assert "required" not in err
    with pytest.raises(SystemExit) as exited:
        main(["silence"])
    assert exited.value.code == 2
    *_, line = capsys.readouterr().err.splitlines()
    assert line == "sesd silence: error: the following arguments are required: {add,list,expire}"


def test_each_command_is_a_line_or_two_in_sesd_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sesd --help` is where a new user picks a command: reload's line there held its
    every exit code, nine lines among one-line neighbours. Each command takes at most
    two lines there; reload's exit codes are in its own --help, for a script's author."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    listing = out.split("\n  {", 1)[1].split("\noptions:", 1)[0].splitlines()[1:]
    starts = [i for i, line in enumerate(listing) if re.match(r"    [a-z]", line)]
    assert len(starts) == 10, listing
    for start, end in zip(starts, [*starts[1:], len(listing)], strict=True):
        assert len([line for line in listing[start:end] if line.strip()]) <= 2, listing[start]
    with pytest.raises(SystemExit):
        main(["reload", "--help"])
    assert "3 when in force but for settings only a restart changes" in " ".join(
        capsys.readouterr().out.split()
    )
