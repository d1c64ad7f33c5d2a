"""A refusal that quotes back the URL's token (8 characters, the shortest hidden)
leaves it out of the log line. The real webhook sink and outbox against an endpoint
answering 403."""

from __future__ import annotations

import aiohttp
import anyio
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from sesd.alerting.outbox import Outbox
from sesd.alerting.sinks import WebhookSink
from sesd.commands.demo.localhttp import LocalServer
from sesd.config import parse_config
from tests.test_sinks import notification


class Refuses(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/hook?token=abcd1234"

    def routes(self, app: web.Application) -> None:
        async def hook(request: web.Request) -> web.Response:
            return web.json_response(
                {"error": "token revoked", "token": request.query["token"]}, status=403
            )

        app.router.add_post("/hook", hook)


async def test_a_refusal_quoting_an_8_character_token_logs_no_token() -> None:
    async with Refuses() as server, aiohttp.ClientSession() as session:
        config = parse_config(f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{server.url}"\n')
        sink = WebhookSink(config.alerts.named_sinks()["hook"], session, "hook")  # type: ignore[arg-type]
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        outbox = Outbox(sink, size=10, counter=counter)
        with capture_logs() as logs:
            outbox.put(notification())
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(outbox.run)
                    await outbox.wait_empty()
                    tg.cancel_scope.cancel()
    errors = [e["error"] for e in logs if e["event"] == "sesd.notify.failed"]
    assert errors
    assert "abcd1234" not in errors[0]
