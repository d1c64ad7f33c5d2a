"""A throttle now and then, each followed by a good receive, never makes the queue
"failing" (which blinds the rules). The real poller and client against an SQS
stand-in whose every other receive is a 500."""

from __future__ import annotations

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from tests.test_sqs_edges import poller


class SometimesThrottled(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.n = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        self.n += 1
        if self.n % 2 == 1:  # every other receive: a passing error
            error = {"__type": "InternalError", "message": "We encountered an internal error."}
            return web.json_response(error, status=500, content_type="application/x-amz-json-1.0")
        return web.json_response({}, content_type="application/x-amz-json-1.0")


async def test_isolated_failures_never_make_the_queue_failing() -> None:
    async with SometimesThrottled() as sqs:
        config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
        async with get_session().create_client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=sqs.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        ) as client:
            p, _ = poller(client, f"{sqs.url}/123456789012/q")
            states: list[tuple[str, list[str], float]] = []
            for _ in range(10):  # fail, ok, fail, ok, ... : never two in a row
                result = await p._receive()
                states.append(
                    (
                        "fail" if result is None else "ok",
                        sorted(p._health.failing),
                        round(p._delay, 2),
                    )
                )
    # Every failure is a lone one: the queue never counts as failing.
    assert all(not failing for _, failing, _ in states), states
