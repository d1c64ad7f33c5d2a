"""A webhook that answers what a receiver should not, against the real sink and
outbox: a redirect (moved behind an SSO proxy, a load balancer's login page) fails
loudly, not "sent" while the notification reached nobody; a refusal that quotes
back the URL's token (8 characters, the shortest hidden) leaves it out of the log
line."""

from __future__ import annotations

import aiohttp
import anyio
from aiohttp import web
from structlog.testing import capture_logs

from sesd.alerting.sinks import SlackSink
from sesd.alerting.webhook import WebhookSink
from sesd.commands.demo.localhttp import LocalServer
from sesd.config import WebhookConfig, parse_config
from tests.receivers import Answer, Receiver
from tests.test_sinks import Sleeps, delivering, notification, outcomes, slack_config


class SsoInFront(LocalServer):
    """A hook behind a proxy that redirects every post to its login page."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def routes(self, app: web.Application) -> None:
        async def hook(request: web.Request) -> web.Response:
            raise web.HTTPFound("/login")

        async def login(request: web.Request) -> web.Response:
            return web.Response(text="<html>Sign in</html>", content_type="text/html")

        app.router.add_post("/hook", hook)
        app.router.add_route("*", "/login", login)


class Refuses(LocalServer):
    """A hook that refuses its token, quoting it back."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/hook?token=abcd1234"

    def routes(self, app: web.Application) -> None:
        async def hook(request: web.Request) -> web.Response:
            answer = {"error": "token revoked", "token": request.query["token"]}
            return web.json_response(answer, status=403)

        app.router.add_post("/hook", hook)


def _webhook(url: str) -> WebhookConfig:
    config = parse_config(f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{url}"\n')
    sink = config.alerts.named_sinks()["hook"]
    assert isinstance(sink, WebhookConfig)
    return sink


async def test_a_redirected_webhook_is_not_counted_as_sent() -> None:
    async with SsoInFront() as server, aiohttp.ClientSession() as session:
        sink = WebhookSink(_webhook(server.url), session, "hook")
        async with delivering(sink, Sleeps()) as (box, counter):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
    assert outcomes(counter, "hook")["sent"] == 0


async def test_a_refusal_quoting_an_8_character_token_logs_no_token() -> None:
    async with Refuses() as server, aiohttp.ClientSession() as session:
        sink = WebhookSink(_webhook(server.url), session, "hook")
        with capture_logs() as logs:
            async with delivering(sink, Sleeps()) as (box, _):
                box.put(notification())
                with anyio.fail_after(10):
                    await box.wait_empty()
    errors = [e["error"] for e in logs if e["event"] == "sesd.notify.failed"]
    assert errors
    assert "abcd1234" not in errors[0]


async def test_a_refusal_that_drives_a_terminal_is_logged_escaped() -> None:
    """A proxy in front of Slack refuses with a page that clears the screen, sets the
    terminal's title, writes a line of its own and names an address: the error a log
    line (on a terminal, written as it is) says has none of it."""
    page = "denied\x1b[2J\x1b]0;owned\x07\n2026-12-04 sesd.daemon.stopped ann@victim.example"
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(400, body=page))
        sink = SlackSink(slack_config(slack.url), session)
        with capture_logs() as logs:
            async with delivering(sink, Sleeps()) as (box, _):
                box.put(notification())
                with anyio.fail_after(10):
                    await box.wait_empty()
    errors = [e["error"] for e in logs if e["event"] == "sesd.notify.failed"]
    assert errors == [
        "HTTP 400: denied\\u001b[2J\\u001b]0;owned\\u0007\\u000a2026-12-04 "
        "sesd.daemon.stopped [address]"
    ]


async def test_a_refusal_cut_in_an_address_shows_no_part_of_it() -> None:
    """Only the start of a refusal is logged: a cut that falls inside an address the
    page quotes leaves no local part to show (the address is hidden before the cut)."""
    quoted = "refused by the relay for ".ljust(95, ".") + " janedoe.private@victim.example"
    # Five long addresses first, hidden to far fewer characters: an address the answer's
    # 200th character cuts would come within the 100 shown.
    listed = " ".join(f"someone.long{i}@lists.example.org" for i in range(5))
    many = f"{listed} refused ".ljust(185, ".") + "janedoe.private@victim.example"
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(400, body=quoted), Answer(400, body=many))
        sink = SlackSink(slack_config(slack.url), session)
        with capture_logs() as logs:
            async with delivering(sink, Sleeps()) as (box, _):
                box.put(notification())
                box.put(notification())
                with anyio.fail_after(10):
                    await box.wait_empty()
    errors = [e["error"] for e in logs if e["event"] == "sesd.notify.failed"]
    assert len(errors) == 2
    assert not [error for error in errors if "jane" in error]
    assert errors[0].startswith("HTTP 400: refused by the relay for ....")
    assert errors[1].startswith("HTTP 400: [address] [address] ")
