"""Receives that keep failing (SQS down) back off exponentially towards the 30 s cap,
not once a fraction of a second. The real poller and client against a stand-in that
answers 500."""

from __future__ import annotations

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiohttp import web

from tests.test_sqs_edges import poller
from tests.test_sqs_errors_reset import SometimesThrottled


class AlwaysDown(SometimesThrottled):
    async def _answer(self, request: web.Request) -> web.Response:
        self.n = 0  # the next is odd: always the 500
        return await super()._answer(request)


async def test_failed_receives_back_off_to_the_cap() -> None:
    async with AlwaysDown() as sqs:
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
            p._rand = lambda: 0.999  # the jitter's top: the bound itself
            delays = []
            for _ in range(10):
                assert await p._receive() is None
                delays.append(round(p._delay, 2))
    assert delays[-1] > 25, delays
