"""Configs that are valid stay valid: each check that refuses what would fail at first
use (a URL with a line break, an address SES refuses) is held to the values that do
work, written the ways operators write them, so that a reload of a config that ran is
not refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.config import (
    AlertmanagerConfig,
    ConsoleConfig,
    SlackConfig,
    WebhookConfig,
    parse_config,
    read_secrets,
)
from sesd.config.checks import config_warnings

pytestmark = pytest.mark.timeout(30)

Q = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n'
CAN = '[canary]\nfrom = "a@b.example"\nconfiguration_set = "cs"\n'
RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]:9093",
        "http://[fe80::1%25eth0]:9093/",
        "https://bücher.example/x",
        "https://xn--bcher-kva.example/x",
        "https://h.example/a%20b/c",
        "https://u:p%40ss@h.example:8443/x",
        "https://u:p%23ss@h.example:8443/x",
        "https://u:a%2Fb%3Fc@h.example/x",
        "https://h.example/x?token=a&b=c",
        "http://am.example:9093/alertmanager",
        "http://10.0.0.1:9093/",
    ],
)
def test_a_url_a_request_can_be_sent_to_is_taken(url: str) -> None:
    """IPv6 and IDN hosts, percent-encoded paths, a user and password, a query string,
    a path prefix: every sink's URL and every endpoint takes them."""
    am = url if "?" not in url else "http://am.example:9093/alertmanager"
    config = parse_config(
        f'{Q}[aws]\nendpoint_url = "{url}"\n[tenants]\nendpoint_url = "{url}"\n'
        f'{CAN}endpoint_url = "{url}"\n'
        f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{url}"\n'
        f'[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "{url}"\n'
        f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "env:X"\nevents_url = "{url}"\n'
        f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["{am}"]\n'
    )
    assert config.aws.endpoint_url == url


def test_a_secret_file_ending_in_a_newline_is_a_url_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret's file or variable is read with the line break an editor or ``echo``
    leaves at its end left off: the URL in it is taken, and sent to without it."""
    (tmp_path / "hook").write_text("https://hooks.example/T/B/x\n", encoding="utf-8")
    monkeypatch.setenv("SESD_TEST_HOOK", "https://hooks.example/T/B/y\n")
    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "0123456789abcdef0123456789abcdef\n")
    config = parse_config(
        f'[alerts.sinks.a]\ntype = "slack"\nwebhook_url = "file:{tmp_path / "hook"}"\n'
        '[alerts.sinks.b]\ntype = "webhook"\nurl = "env:SESD_TEST_HOOK"\n'
        '[alerts.sinks.c]\ntype = "pagerduty"\nrouting_key = "env:SESD_TEST_ROUTING_KEY"\n'
    )
    read_secrets(config)
    sink = config.alerts.sinks["a"]
    assert isinstance(sink, SlackConfig)
    assert sink.webhook_url.get() == "https://hooks.example/T/B/x"


def test_a_canary_sender_with_a_display_name_is_taken() -> None:
    """SES takes a From with a display name, spaces in it: the canary's is not refused."""
    config = parse_config(Q + CAN.replace("a@b.example", "SES Canary <canary@b.example>"))
    assert config.canary is not None
    assert config.canary.from_ == "SES Canary <canary@b.example>"
    assert not [w for w in config_warnings(config) if w.startswith("canary")]


def test_a_password_with_a_space_is_taken(tmp_path: Path) -> None:
    """A password or an HMAC key may hold a space (a key sent to an API may not): the
    check of secrets refuses control characters in them, not spaces."""
    (tmp_path / "pw").write_text("correct horse battery\n", encoding="utf-8")
    config = parse_config(
        f'{Q}[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://am:9093"]\n'
        f'username = "u"\npassword = "file:{tmp_path / "pw"}"\n'
        '[alerts.sinks.hook]\ntype = "webhook"\nurl = "https://h.example/x"\nsecret = "s p"\n'
    )
    read_secrets(config)
    sink = config.alerts.sinks["am"]
    assert isinstance(sink, AlertmanagerConfig)
    assert sink.password is not None
    assert sink.password.get() == "correct horse battery"


def test_a_url_with_what_the_http_client_drops_still_loads() -> None:
    """A line break pasted at a URL's end, a tab, a space before it: the HTTP client
    drops them and sends to the URL meant, so a config that ran on one loads again at a
    reload or a restart (check-config warns of each)."""
    config = parse_config(
        f'{Q}[alerts.sinks.s]\ntype = "slack"\nwebhook_url = "https://h.example/x\\n"\n'
        '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "k"\n'
        'events_url = " https://events.example/v2/enqueue\\t"\n'
    )
    assert len([w for w in config_warnings(config) if "the HTTP client drops" in w]) == 2


def test_a_secret_url_with_a_line_break_inside_is_warned_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL read from a file or a variable with a line break inside (a file of two
    lines, a wrapped paste) is sent without it, so it loads; check-config warns of it,
    naming the reference and not the value, as of a line break in a URL in the file."""
    (tmp_path / "hook").write_text("https://hooks.example/T/\nB/x\n", encoding="utf-8")
    monkeypatch.setenv("SESD_TEST_HOOK", "https://hooks.example/T/B/y\tz")
    config = parse_config(
        f'{Q}[alerts.sinks.a]\ntype = "slack"\nwebhook_url = "file:{tmp_path / "hook"}"\n'
        '[alerts.sinks.b]\ntype = "webhook"\nurl = "env:SESD_TEST_HOOK"\n'
    )
    read_secrets(config)
    said = [w for w in config_warnings(config) if "the HTTP client drops" in w]
    assert said == [
        f"alerts.sinks.a.webhook_url: the URL read from 'file:{tmp_path / 'hook'}' has a line "
        "break at character 25 of 28, which the HTTP client drops: write it without",
        "alerts.sinks.b.url: the URL read from 'env:SESD_TEST_HOOK' has a tab at character "
        "28 of 29, which the HTTP client drops: write it without",
    ]
    assert not [w for w in said if "hooks.example" in w]


def test_a_webhook_s_hmac_key_of_any_text_is_taken(tmp_path: Path) -> None:
    """A webhook's HMAC key is never sent: the receiver computes the same HMAC with its
    own copy, of whatever text, a line break or a tab inside (a key file of two lines)
    included. It is taken as read, as it was before keys sent to an API were checked."""
    (tmp_path / "key").write_text("first half\nsecond\thalf\n", encoding="utf-8")
    config = parse_config(
        f'{Q}[alerts.sinks.hook]\ntype = "webhook"\nurl = "https://h.example/x"\n'
        f'secret = "file:{tmp_path / "key"}"\n'
        '[alerts.sinks.lit]\ntype = "webhook"\nurl = "https://h.example/y"\nsecret = "a\\u0000b"\n'
    )
    read_secrets(config)
    sink = config.alerts.sinks["hook"]
    assert isinstance(sink, WebhookConfig)
    assert sink.secret is not None
    assert sink.secret.get() == "first half\nsecond\thalf"


def test_a_label_value_in_a_script_joining_its_letters_is_taken() -> None:
    """Alertmanager takes any UTF-8 in a label's value: a Persian team name holds a
    zero-width non-joiner, an emoji a zero-width joiner. Neither splits a line or drives
    a terminal; a config that ran with one loads again."""
    for value in ("\u062a\u06cc\u0645\u200c\u0647\u0627", "\U0001f469\u200d\U0001f4bb"):
        config = parse_config(f'{Q}{RULE}labels = {{ team = "{value}" }}\n')
        assert config.alerts.rules[0].labels == {"team": value}


@pytest.mark.parametrize("timeout", ["100ms", "1s", "5m"])
def test_a_sinks_timeout_at_its_bounds_is_taken(timeout: str) -> None:
    """A timeout of exactly 100 ms or 5 minutes, and of a second, is taken for every
    sink type: the bounds refuse none (0) and hours, not the values at them."""
    config = parse_config(
        f'[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "https://h.example/x"\n'
        f'timeout = "{timeout}"\n'
        f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "{"k" * 32}"\n'
        f'timeout = "{timeout}"\n'
        f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://am:9093"]\n'
        f'timeout = "{timeout}"\n'
        f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "https://h.example/x"\n'
        f'timeout = "{timeout}"\n'
    )
    timeouts = {
        name: sink.timeout.text
        for name, sink in config.alerts.sinks.items()
        if not isinstance(sink, ConsoleConfig)
    }
    assert timeouts == dict.fromkeys(["slack", "pd", "am", "hook"], timeout)
