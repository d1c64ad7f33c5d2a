"""What a security review signs off on: a sink's credentials and tokens appear in no
log line, error or ``check-config`` output, even when the receiver (or a relay, a
proxy, a login page in front of it) quotes the request in its answer; an
Alertmanager behind basic auth takes its password as a secret."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.sinks import Permanent, Retryable, SlackSink, answer
from sesd.commands.main import main
from sesd.config import AlertmanagerConfig, Secret, SlackConfig, parse_config, shown_url
from sesd.config.urls import check_http_url, urls_shown
from tests.conftest import log_records
from tests.receivers import WebhookReceiver
from tests.status_world import world
from tests.test_sinks import notification
from tests.test_status_page import serving

TOKEN = "T0000/B0000/XyzSecretToken123"


class _Echoing(WebhookReceiver):
    """A relay in front of a receiver that, refusing, quotes the request: Express's 404
    (``Cannot POST /path``), a login page; behind basic auth (``ops``/``s3cret-pass``)."""

    def __init__(self, refuse: int, path: str = "/services/" + TOKEN) -> None:
        super().__init__(path=path, status=200)
        self.refuse = refuse

    async def _handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != aiohttp.encode_basic_auth("ops", "s3cret-pass"):
            return web.Response(status=self.refuse, text=f"Cannot POST {request.path_qs}")
        return await super()._handle(request)


def test_a_url_s_password_is_never_shown() -> None:
    assert shown_url("http://am:pa55word@10.0.0.1:9093/x") == "http://am:***@10.0.0.1:9093/x"
    assert shown_url("http://10.0.0.1:9093") == "http://10.0.0.1:9093"
    # A user name alone may be a token (https://TOKEN@host): masked as a password is.
    assert shown_url("http://tok3n@host/x@y") == "http://***@host/x@y"
    assert shown_url("http://host/x@y") == "http://host/x@y"
    # A slash too many or backslashes leave the parser no host, the password in the text;
    # an '@' percent-encoded leaves it in the parser's port.
    assert shown_url("http:///am:pa55word@host") == "http:///am:***@host"
    assert shown_url("http:\\\\am:pa55word@host") == "http:\\\\am:***@host"
    assert shown_url("http://am:pa55word%40host:9093") == "http://am:***@host:9093"
    # A token as the user, its '@' percent-encoded, is the parser's host (accepted).
    assert shown_url("http://tok3n%40host:9093") == "http://***@host:9093"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("am:pa55word@host:9093", "am:***@host:9093"),
        ("am:pa55word@[::1]:9093", "am:***@[::1]:9093"),
        ("http:am:pa55word@host", "http:***@host"),
        ("https:am:pa55word@host:9093/x", "https:***@host:9093/x"),
        ("http//am:pa55word@host", "http//***@host"),
        ("//am:pa55word@host", "***@host"),
        ("mailto:am:pa55word@host", "mailto:***@host"),
        # A full-width '@', an '@' once NFKC-normalised: the parser refuses the URL.
        ("http://am:pa55word\uff20host", "http://am:***@host"),
    ],
)
def test_a_url_without_its_scheme_s_slashes_is_named_without_its_password(
    url: str, named: str
) -> None:
    """A URL typed without a scheme, or with its '://' mistyped, is refused: named in
    the error, and in check-config's output, without its password (it was named whole)."""
    assert shown_url(url) == named
    assert urls_shown({"urls": [url]}) == {"urls": [named]}  # check-config's output
    with pytest.raises(ValueError, match="is not an http") as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert "pa55word" not in str(refused.value)


@pytest.mark.parametrize("url", ["http:///am:pa55word@host:9093", "http://am:pa55word%40host:9093"])
def test_a_url_refused_is_named_without_its_password(url: str) -> None:
    """An Alertmanager URL the config refuses (no host, in the parser's view, or a port
    that is none) is named in the error without its password: it was named whole."""
    with pytest.raises(ValueError, match="am:\\*\\*\\*@host") as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert "pa55word" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        # No '@' the parser sees (its host forgotten, or the '@' percent-encoded twice):
        # the password is the parser's port, of a host named as the user.
        ("http://ops:pa55word", "http://ops:***"),
        # Digits alone: told from a port by their length (none has six).
        ("http://ops:123456", "http://ops:***"),
        ("http://ops:123456/x", "http://ops:***/x"),
        ("http://ops:pa55word%2540host:9093/x", "http://ops:***/x"),
        ("http://host:pa55word", "http://host:***"),
        ("http://[::1]:pa55word/", "http://[::1]:***/"),
        ("http://ops:s3cret@host:pa55word", "http://ops:***@host:***"),
        ("http://ops:s3c/ret@host:pa55word", "http://ops:***@host:***"),
    ],
)
def test_a_port_that_is_no_number_is_not_shown(url: str, named: str) -> None:
    """A port that is not a number may be a password the URL parser reads as one: the
    refusal named the URL whole, password and all. It is ``***`` there and in
    check-config's output."""
    assert shown_url(url) == named
    assert urls_shown({"urls": [url]}) == {"urls": [named]}  # check-config's output
    with pytest.raises(ValueError, match="its port is not a number") as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert str(refused.value) == (
        f"alerts.sinks.am.urls[0]: '{named}': its port is not a number from 1 to 65535"
    )


@pytest.mark.parametrize(
    "url",
    ["http://host:99999", "http://host:0", "http://[::1]:9093/x", "http://[fe80::1%25eth0]:1"],
)
def test_a_numeric_port_and_a_bracketed_host_are_shown_as_written(url: str) -> None:
    """A port that is a number is no password's, nor are an IPv6 address's colons."""
    assert shown_url(url) == url
    assert urls_shown({"urls": [url]}) == {"urls": [url]}


#: The refusal of a host with text before its IPv6 address's bracket.
_BEFORE_BRACKET = "its host has text before its IPv6 address's '['"


@pytest.mark.parametrize(
    ("url", "named", "fault"),
    [
        ("http://t0ken%40host:9093", "http://***@host:9093", "its host holds a '%'"),
        # Before an IPv6 address, the parser drops the token and reads the address (its
        # zone too): accepted, each send was refused by the HTTP client.
        ("http://t0ken%40[::1]:9093", "http://***@[::1]:9093", _BEFORE_BRACKET),
        ("http://t0ken%40[fe80::1%40]:1", "http://***@[fe80::1%40]:1", _BEFORE_BRACKET),
        ("http://ops:t0ken%2540[::1]:9093/x", "http://ops:***/x", _BEFORE_BRACKET),
    ],
)
def test_a_token_whose_at_is_percent_encoded_is_refused(url: str, named: str, fault: str) -> None:
    """``https://TOKEN%40host``: the parser reads no user, its host the token and the
    host: accepted, each send looked that up in DNS, the token with it. No host name
    holds a '%' (an IPv6 address's zone aside): it is refused, the token masked. So is a
    token before an IPv6 address: the parser drops it and reads the address, which the
    HTTP client refused at each send."""
    with pytest.raises(ValueError, match=re.escape(f"'{named}': {fault}")) as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert "t0ken" not in str(refused.value)
    check_http_url("http://[fe80::1%25eth0]:9093", "alerts.sinks.am.urls[0]")
    check_http_url("http://ops:s3cr3t@[fe80::1%25eth0]:9093", "alerts.sinks.am.urls[0]")


@pytest.mark.parametrize(
    "url", ["http://host[::1]:9093", "http://ops:s3cr3t@junk[::1]:9093/x", "http://x%2F[::1]"]
)
def test_text_before_an_ipv6_address_that_is_no_token_is_told_as_such(url: str) -> None:
    """``http://host[::1]``: text before an IPv6 address's '[' that holds no '@'
    percent-encoded was refused with the advice for a token's '@', which it has none
    of. It is told to write the host alone, the address in its brackets."""
    with pytest.raises(ValueError, match=re.escape(_BEFORE_BRACKET)) as refused:
        check_http_url(url, "alerts.sinks.am.urls[0]")
    assert "write the host alone, an IPv6 address in its brackets" in str(refused.value)
    assert "token" not in str(refused.value)
    assert "s3cr3t" not in str(refused.value)


def test_an_answer_quoting_the_request_loses_the_url_s_secrets() -> None:
    url = f"https://hooks.example/services/{TOKEN}?token=AnotherSecret99"
    said = answer(f"Cannot POST /services/{TOKEN}?token=AnotherSecret99 (key R0UT1NGKEY)", url,
                  ("R0UT1NGKEY",))  # fmt: skip
    assert "XyzSecretToken123" not in said
    assert "AnotherSecret99" not in said
    assert "R0UT1NGKEY" not in said
    assert said.startswith("Cannot POST ***")
    assert answer("no_service", url) == "no_service"  # Slack's own words are kept


async def test_a_relay_quoting_a_slack_webhook_s_path_logs_no_token() -> None:
    """A relay in front of Slack answers 404 quoting the path, or 200 with a login
    page: the error says what it said, without the webhook's token."""
    for status in (404, 200):
        async with _Echoing(status) as relay, aiohttp.ClientSession() as session:
            sink = SlackSink(SlackConfig(webhook_url=Secret(relay.url)), session)
            with pytest.raises(Permanent) as refused:
                await sink.send(notification())
        assert "XyzSecretToken123" not in str(refused.value)
        assert "Cannot POST" in str(refused.value)


async def test_an_alertmanager_behind_basic_auth_gets_its_password_from_a_secret(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    json_logs: io.StringIO,
) -> None:
    """``username`` and ``password = "env:NAME"`` reach an Alertmanager behind basic
    auth; a member that refuses or is down is logged without a password, whether it
    came from the secret or from the URL (which check-config shows masked, and warns
    of)."""
    async with _Echoing(401, "/api/v2/alerts") as am, aiohttp.ClientSession() as session:
        base = am.url.removesuffix("/api/v2/alerts")
        good = AlertmanagerConfig(urls=[base], username="ops", password=Secret("s3cret-pass"))
        await AlertmanagerSink(good, session, "am").send(notification())
        assert len(am.bodies) == 1
        in_url = base.replace("http://", "http://ops:wrong-pass@")
        down = "http://ops:s3cret-pass@127.0.0.1:9"
        sink = AlertmanagerSink(AlertmanagerConfig(urls=[in_url, down]), session, "am")
        with pytest.raises(Retryable):
            await sink.send(notification())
    said = json_logs.getvalue()
    assert "s3cret-pass" not in said
    assert "wrong-pass" not in said
    assert "http://ops:***@127.0.0.1:9" in said

    monkeypatch.setenv("AM_PASSWORD", "s3cret-pass")
    path = tmp_path / "sesd.toml"
    path.write_text(
        '[[queues]]\nurl = "http://127.0.0.1:9/123456789012/q"\n'
        '[alerts.sinks.am]\ntype = "alertmanager"\nusername = "ops"\n'
        'password = "env:AM_PASSWORD"\nurls = ["http://ops:wrong-pass@127.0.0.1:9093"]\n'
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
        'sinks = ["am"]\n'
    )
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "s3cret-pass" not in out + err
    assert "wrong-pass" not in out + err
    assert '"password": "env:AM_PASSWORD"' in out
    assert "http://ops:***@127.0.0.1:9093" in out
    assert "alerts.sinks.am.urls: a password or a user name (a token) in a URL is a literal" in err


def test_username_and_password_go_together() -> None:
    with pytest.raises(Exception, match="username and password go together"):
        parse_config(
            '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9093"]\n'
            'username = "ops"\n'
        )


async def test_a_malformed_request_is_one_debug_line_not_an_error_with_its_bytes(
    caplog: pytest.LogCaptureFixture, json_logs: io.StringIO
) -> None:
    """A client's malformed request (a control byte in a header) is refused before
    sesd's middleware sees it: no error line, no traceback, none of its bytes."""
    async with serving(world()) as (_, base):
        port = int(base.rsplit(":", 1)[1])
        with caplog.at_level(logging.DEBUG):
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /metrics HTTP/1.1\r\nX-Bad\x01Header: ClientSecret\r\n\r\n")
                await writer.drain()
                assert (await reader.readline()).split()[1] == b"400"
                writer.close()
                await writer.wait_closed()
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == []
    assert "ClientSecret" not in caplog.text + json_logs.getvalue()
    assert [entry["event"] for entry in log_records(json_logs)].count("sesd.http.refused") == 3
