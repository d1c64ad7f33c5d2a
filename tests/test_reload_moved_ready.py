"""A queue a reload moves (another URL, region or account) is judged by its new place
alone: what its old place answered says nothing of whether sesd reads the queue in
force. moto's SQS behind a front that holds the receives of the new place until the
test lets them through (a queue whose endpoint hangs), a real daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import anyio
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from sesd.runtime.health import READY_WITHIN, Health
from tests import factory as f
from tests.conftest import make_queue, running
from tests.dns_server import hermetic_text
from tests.test_alerting_e2e import Clock

#: The request headers an SQS call needs on its way to moto (its protocol, its signature).
_PASSED = ("Content-Type", "X-Amz-Target", "X-Amz-Date", "Authorization", "X-Amz-Json-1.0")


class HoldingFront(LocalServer):
    """moto's SQS behind a front: every call goes through, but a receive of the queue
    whose URL ends in ``held`` waits until ``release`` is set (or the server closes)."""

    def __init__(self, upstream: str, held: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.held = held
        self.holding = anyio.Event()
        self.release = anyio.Event()
        self._upstream = upstream
        self._session = aiohttp.ClientSession()

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await super().__aexit__(*exc)
        finally:
            await self._session.close()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._pass)

    def close(self) -> None:
        self.release.set()

    async def _pass(self, request: web.Request) -> web.Response:
        body = await request.read()
        receive = request.headers.get("X-Amz-Target", "").endswith(".ReceiveMessage")
        if receive and self.held.encode() in body:
            self.holding.set()
            await self.release.wait()
        headers = {k: v for k, v in request.headers.items() if k in _PASSED}
        async with self._session.post(self._upstream, data=body, headers=headers) as answer:
            return web.Response(
                body=await answer.read(),
                status=answer.status,
                content_type=answer.content_type,
            )


def _config(front: HoldingFront, url: str) -> str:
    return hermetic_text(
        f'[aws]\nendpoint_url = "{front.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "1s"\n'
    )


async def _readyz(port: int | None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/readyz") as response,
    ):
        return response.status, await response.text()


async def test_a_queue_moved_to_a_place_that_hangs_is_not_ready(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """``q`` reads at its first URL (ready), then a reload moves it to another queue
    whose receives hang. From the move on ``q`` is not ready (/readyz 503 naming it)
    until the new place answers, though its old place answered a moment ago; held
    ``READY_WITHIN``, it is unread (its alerts' resolves wait). Before, /readyz said
    ready for up to a minute after the move while sesd read nothing of ``q``."""
    old, _ = await make_queue(sqs, dlq=False)
    new, _ = await make_queue(sqs, dlq=False)
    clock = Clock(f.T0)  # the daemon's wall and monotonic time: it moves when told
    path = tmp_path / "sesd.toml"
    async with HoldingFront(local_sqs.url, held=new.rsplit("/", 1)[1]) as front:
        path.write_text(_config(front, old))
        async with running(load_config(str(path)), clock=clock, config_path=path) as daemon:

            def ready() -> bool:
                return daemon.health.ready(clock())[0]

            with anyio.fail_after(20):
                await daemon.changes.wait_for(ready)
            path.write_text(_config(front, new))
            assert await daemon.reload()
            assert daemon.health.ready(clock()) == (False, ["q"])
            status, text = await _readyz(daemon.http_port)
            assert (status, "q" in text) == (503, True)
            with anyio.fail_after(20):
                await front.holding.wait()
            clock.now += READY_WITHIN - 1
            assert daemon.alerting.unread() == []
            clock.now += 2
            assert daemon.alerting.unread() == ["q"]
            front.release.set()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(ready)
            assert await _readyz(daemon.http_port) == (200, "ready\n")


def test_a_moved_queue_is_not_held_failing_for_its_old_place() -> None:
    """``q`` failing at its old place (deleted, denied: why it was moved), then moved:
    its new place is judged from its new pollers' start, as a queue added is, not
    failing for what the old place refused. (Resolves already held stay held for a
    window after the last evaluation that found ``q`` unread.)"""
    health = Health(["q", "kept"])
    health.polling("q", 1000.0)
    health.polling("kept", 1000.0)
    health.failing |= {"q", "kept"}
    health.follow(["q", "kept"], moved=["q"])
    assert health.failing == {"kept"}
    assert health.unread(1001.0) == ["kept"]
    assert health.ready(1001.0) == (False, ["q", "kept"])  # q: no answer from its new place
    health.polling("q", 1001.0)
    assert health.unread(1001.0 + READY_WITHIN) == ["kept"]
    assert health.unread(1002.0 + READY_WITHIN) == ["q", "kept"]
