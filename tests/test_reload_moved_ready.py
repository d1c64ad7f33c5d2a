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
from tests.conftest import log_records, make_queue, running, sesd_logs
from tests.dns_server import hermetic_text
from tests.test_alerting_e2e import Clock
from tests.test_reload_calls_in_flight import _until

#: The line that says a queue has no dead-letter queue.
_NO_DLQ = "sesd.sqs.no_redrive_policy"
#: The request headers an SQS call needs on its way to moto (its protocol, its signature).
_PASSED = ("Content-Type", "X-Amz-Target", "X-Amz-Date", "Authorization", "X-Amz-Json-1.0")


class HoldingFront(LocalServer):
    """moto's SQS behind a front: every call goes through, but one of a queue whose
    URL ends in a name of ``held`` (each, or only those of the action ``only``: a
    place that hangs, or one whose long polls are out) waits until that name's event
    in ``releases`` is set (or the server closes); ``holding`` is set at the first."""

    def __init__(self, upstream: str, *held: str, only: str = "") -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.held = held
        self.only = only
        self.holding = anyio.Event()
        self.releases = {name: anyio.Event() for name in held}
        self._upstream = upstream
        self._session = aiohttp.ClientSession()

    @property
    def release(self) -> anyio.Event:
        """The first held queue's release."""
        return self.releases[self.held[0]]

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await super().__aexit__(*exc)
        finally:
            await self._session.close()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._pass)

    def close(self) -> None:
        for release in self.releases.values():
            release.set()

    async def _pass(self, request: web.Request) -> web.Response:
        body = await request.read()
        action = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        named = [name for name in self.held if f'/{name}"'.encode() in body]
        if self.only in ("", action) and named:
            self.holding.set()
            await self.releases[named[0]].wait()
        headers = {k: v for k, v in request.headers.items() if k in _PASSED}
        async with self._session.post(self._upstream, data=body, headers=headers) as answer:
            return web.Response(
                body=await answer.read(),
                status=answer.status,
                content_type=answer.content_type,
            )


def _config(front: HoldingFront, url: str, wait: int = 0) -> str:
    return hermetic_text(
        f'[aws]\nendpoint_url = "{front.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = {wait}\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "1s"\n'
    )


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1]


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
    whose every call hangs. From the move on ``q`` is not ready (/readyz 503 naming it)
    until the new place answers, though its old place answered a moment ago; held
    ``READY_WITHIN``, it is unread (its alerts' resolves wait). Before, /readyz said
    ready for up to a minute after the move while sesd read nothing of ``q``."""
    old, _ = await make_queue(sqs, dlq=False)
    new, _ = await make_queue(sqs, dlq=False)
    clock = Clock(f.T0)  # the daemon's wall and monotonic time: it moves when told
    path = tmp_path / "sesd.toml"
    async with HoldingFront(local_sqs.url, _name(new)) as front:
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


async def test_a_moved_queue_is_ready_once_its_new_place_answers_a_call(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """``q`` reads an empty queue; a reload moves it to another, long-polled (20 s),
    whose receive goes out and is held there (its long poll under way). The queue check's
    GetQueueAttributes at the new place answers: ``q`` is ready from then (/readyz
    200), not once the first receive has come back empty. Before, /readyz said 503
    for up to a long poll after every move, while the new place answered."""
    old, _ = await make_queue(sqs, dlq=False)
    new, _ = await make_queue(sqs, dlq=False)
    path = tmp_path / "sesd.toml"
    async with HoldingFront(local_sqs.url, _name(new), only="ReceiveMessage") as front:
        path.write_text(_config(front, old, wait=1))
        async with running(load_config(str(path)), config_path=path) as daemon:

            def ready() -> bool:
                return daemon.health.ready(daemon.monotonic())[0]

            with anyio.fail_after(20):
                await daemon.changes.wait_for(ready)
            path.write_text(_config(front, new, wait=20))
            assert await daemon.reload()
            with anyio.fail_after(20):
                await front.holding.wait()
                await daemon.changes.wait_for(ready)
            assert not front.release.is_set()  # its receive is still out
            assert await _readyz(daemon.http_port) == (200, "ready\n")
            front.release.set()


async def test_a_queue_is_ready_at_start_once_its_check_answers(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """At start alike: ``q``'s first receive (a long poll of an empty queue) is held
    out there, its check answers: ready, not a long poll later."""
    url, _ = await make_queue(sqs, dlq=False)
    path = tmp_path / "sesd.toml"
    async with HoldingFront(local_sqs.url, _name(url), only="ReceiveMessage") as front:
        path.write_text(_config(front, url, wait=20))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(20):
                await front.holding.wait()
                await daemon.changes.wait_for(lambda: daemon.health.ready(daemon.monotonic())[0])
            assert not front.release.is_set()  # its receive is still out
            front.release.set()


async def test_an_answer_of_a_place_the_queue_left_again_does_not_count(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload moves ``q`` to ``b``, whose every call hangs; another moves it on to
    ``c``, which hangs too. Then ``b`` answers its check (and the receive left there):
    that place is not where ``q`` is read, and ``q`` stays not ready until ``c``
    answers. Nor is ``b``'s missing dead-letter queue ``q``'s: told at info, ``retired``,
    without the hint to add one (a warning, as ``a``'s was at the start, read as the
    queue in force's)."""
    logs = sesd_logs("info")
    a, b, c = [(await make_queue(sqs, dlq=False))[0] for _ in range(3)]
    path = tmp_path / "sesd.toml"
    async with HoldingFront(local_sqs.url, _name(b), _name(c)) as front:
        path.write_text(_config(front, a, wait=1))
        async with running(load_config(str(path)), config_path=path) as daemon:

            def ready() -> bool:
                return daemon.health.ready(daemon.monotonic())[0]

            with anyio.fail_after(20):
                await daemon.changes.wait_for(ready)
            for place in (b, c):
                path.write_text(_config(front, place, wait=1))
                assert await daemon.reload()
            front.releases[_name(b)].set()
            # b's check has its answer once it warns of b's missing dead-letter queue
            # (a's did at the start).
            await _until(lambda: logs.getvalue().count("sesd.sqs.no_redrive_policy") == 2)
            assert not ready()
            front.releases[_name(c)].set()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(ready)
    told = [r for r in log_records(logs) if r["event"] == _NO_DLQ]
    said = [(r["level"], r.get("retired", False), "hint" in r) for r in told]
    assert said[:2] == [("warning", False, True), ("info", True, False)]


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


def test_a_checks_answer_counts_as_a_receive_but_clears_no_failure() -> None:
    """The check's answer at a queue's place counts for readiness as a receive does, even
    when it comes before the pollers begin (their start does not take it for an answer
    from before them), and is no receive the status page would name; it does not clear
    a failing receive (GetQueueAttributes may be allowed where ReceiveMessage is
    denied): that is a receive's to clear."""
    health = Health(["q"])
    health.answered("q", 1000.0)
    health.polling("q", 1000.5)
    assert health.ready(1001.0) == (True, [])
    assert health.last_receive == {}
    assert health.unread(1000.0 + READY_WITHIN) == []
    assert health.unread(1001.0 + READY_WITHIN) == ["q"]
    health.failing.add("q")
    health.answered("q", 1002.0)
    assert health.ready(1002.0) == (False, ["q"])
    assert health.unread(1002.0) == ["q"]
