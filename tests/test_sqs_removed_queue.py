"""A queue a reload removes while its receive is in flight: what that receive answers
afterwards no longer speaks for the queues sesd reads. A stand-in for SQS (its JSON
protocol) holds the receive until the test lets it answer."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.config import load_config
from tests.conftest import log_records, running, sesd_logs

_KIND = "application/x-amz-json-1.0"


class HeldSqs(LocalServer):
    """Every receive waits: one of queue ``gone`` until ``deny`` is set, then is refused
    (AccessDenied), the others until the server closes, then answer no messages."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gone_waiting = anyio.Event()
        self.deny = anyio.Event()
        self._closed = anyio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    def close(self) -> None:
        self.deny.set()
        self._closed.set()

    async def _answer(self, request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        if operation != "ReceiveMessage":
            return web.json_response({}, content_type=_KIND)
        if json.loads(await request.read())["QueueUrl"].endswith("/gone"):
            self.gone_waiting.set()
            await self.deny.wait()
            body = {"__type": "com.amazon.coral.service#AccessDeniedException", "message": "no"}
            headers = {"x-amzn-query-error": "AccessDenied;Sender"}
            return web.json_response(body, status=400, headers=headers, content_type=_KIND)
        await self._closed.wait()
        return web.json_response({}, content_type=_KIND)


async def test_a_refusal_after_a_reload_removed_the_queue_holds_no_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receive in flight when a reload removes its queue is refused afterwards (the
    queue was deleted, its permission revoked: why it was removed). The queue is not
    sesd's to read any more: it is not failing, and no alert's resolve waits for it
    (the evaluator would stay blind for good, every incident open), and the refusal
    brings back none of the series the reload dropped."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    logs = sesd_logs("info")
    async with HeldSqs() as sqs:
        text = (
            f'[aws]\nendpoint_url = "{sqs.url}"\nregion = "us-east-1"\n'
            f'[[queues]]\nurl = "{sqs.url}/123456789012/q"\nname = "q"\n'
            '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "1s"\n'
        )
        gone = f'[[queues]]\nurl = "{sqs.url}/123456789012/gone"\nname = "gone"\n'
        path = tmp_path / "sesd.toml"
        path.write_text(text + gone)
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await sqs.gone_waiting.wait()
            path.write_text(text)
            assert await daemon.reload()
            labels = {"queue": "gone", "account": "default", "region": "us-east-1"}

            def refused() -> bool:
                return any(r.get("retired") is True for r in log_records(logs))

            sqs.deny.set()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(refused)
            errors = daemon.metrics.registry.get_sample_value(
                "sesd_sqs_errors_total", {**labels, "operation": "receive"}
            )
            assert errors is None
            assert daemon.health.failing == set()
            assert daemon.alerting.unread() == []
