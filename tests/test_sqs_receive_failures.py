"""Receives that fail, through the real poller and the receive client sesd makes
(no SDK retries), against an SQS stand-in speaking SQS's JSON protocol: a throttle
now and then never makes the queue "failing" (which blinds the rules); receives
that keep failing back off exponentially towards the 30 s cap, not once a fraction
of a second."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.runtime.aws import sqs_config
from sesd.runtime.sqs import QueuePoller
from tests.conftest import aws_client
from tests.test_sqs_edges import poller


class SometimesThrottled(LocalServer):
    """Every other receive answers 500 (a passing error), the others nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.n = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        self.n += 1
        if self.n % 2 == 1:
            error = {"__type": "InternalError", "message": "We encountered an internal error."}
            return web.json_response(error, status=500, content_type="application/x-amz-json-1.0")
        return web.json_response({}, content_type="application/x-amz-json-1.0")


class AlwaysDown(SometimesThrottled):
    """Every receive answers 500."""

    async def _answer(self, request: web.Request) -> web.Response:
        self.n = 0  # the next is odd: always the 500
        return await super()._answer(request)


@asynccontextmanager
async def _receiving(sqs: SometimesThrottled) -> AsyncIterator[QueuePoller]:
    """A poller of a queue at ``sqs``, with the receive client sesd makes."""
    async with aws_client("sqs", sqs, sqs_config(5, receive=True)) as client:
        yield poller(client, f"{sqs.url}/123456789012/q")[0]


async def test_isolated_failures_never_make_the_queue_failing() -> None:
    states: list[tuple[str, list[str], float]] = []
    async with SometimesThrottled() as sqs, _receiving(sqs) as p:
        for _ in range(10):  # fail, ok, fail, ok, ... : never two in a row
            result = await p._receive()
            states.append(
                (
                    "fail" if result is None else "ok",
                    sorted(p._health.failing),
                    round(p._failures.delay, 2),
                )
            )
    # Every failure is a lone one: the queue never counts as failing.
    assert all(not failing for _, failing, _ in states), states


class DeepErrors(SometimesThrottled):
    """Every receive answers 500 with a body nested thousands deep (a proxy's, not SQS's):
    the SDK's loader raises RecursionError on it while it reads the error."""

    async def _answer(self, request: web.Request) -> web.Response:
        body = b"[" * 5_000 + b"]" * 5_000
        return web.Response(status=500, body=body, content_type="application/x-amz-json-1.0")


@pytest.mark.parametrize("endpoint", [AlwaysDown, DeepErrors])
async def test_failed_receives_back_off_to_the_cap(
    endpoint: type[SometimesThrottled],
) -> None:
    """Receives that keep failing, an error SQS gives or one it never does (an answer the
    SDK cannot read: no fault of the poller's), back off towards the cap."""
    delays = []
    async with endpoint() as sqs, _receiving(sqs) as p:
        p._failures.rand = lambda: 0.999  # the jitter's top: the bound itself
        for _ in range(10):
            assert await p._receive() is None
            delays.append(round(p._failures.delay, 2))
    assert delays[-1] > 25, delays
