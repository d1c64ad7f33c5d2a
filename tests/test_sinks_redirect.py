"""A sink URL that answers a redirect (moved behind an SSO proxy, a load balancer's
login page) fails loudly, not "sent" while the notification reached nobody. The real
webhook sink and outbox against an endpoint that redirects to a login page."""

from __future__ import annotations

import aiohttp
import anyio
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.outbox import Outbox
from sesd.alerting.sinks import WebhookSink
from sesd.commands.demo.localhttp import LocalServer
from sesd.config import parse_config
from tests.test_sinks import notification


class SsoInFront(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.posts = 0
        self.gets = 0

    def routes(self, app: web.Application) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.posts += 1
            raise web.HTTPFound("/login")

        async def login(request: web.Request) -> web.Response:
            self.gets += 1
            return web.Response(text="<html>Sign in</html>", content_type="text/html")

        app.router.add_post("/hook", hook)
        app.router.add_route("*", "/login", login)


async def test_a_redirected_webhook_is_not_counted_as_sent() -> None:
    async with SsoInFront() as server, aiohttp.ClientSession() as session:
        config = parse_config(f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{server.url}"\n')
        sink = WebhookSink(config.alerts.named_sinks()["hook"], session, "hook")  # type: ignore[arg-type]
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        outbox = Outbox(sink, size=10, counter=counter)
        outbox.put(notification())
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await outbox.wait_empty()
                tg.cancel_scope.cancel()
    outcomes = {o: counter.labels("hook", o)._value.get() for o in ("sent", "failed")}
    assert outcomes["sent"] == 0, outcomes
