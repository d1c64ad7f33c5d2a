"""A queue read through an account's role that STS refuses with a code of its own
choosing (a proxy or a stand-in in front of STS: botocore passes the code on as it
comes, of any length): the queue is unusable, said once at error level, then at each
slow try at debug level; both lines say the code escaped and cut, as an SQS error's."""

from __future__ import annotations

import io
from contextlib import AsyncExitStack

import anyio
import pytest
from aiohttp import web

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from sesd.runtime.aws import AwsClients, poll_config
from sesd.runtime.health import Changes, Health
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs import QueuePoller
from tests.conftest import said_in
from tests.fake_ses import ROLE_ACCOUNT, FakeSes

pytestmark = pytest.mark.timeout(30)

QUEUE = 'name = "q"\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/q"\n'
#: A code no AWS service gives: a line break to forge a log line with, and 4,000 more.
CODE = "Refused\nsesd.sqs.receive_recovered forged " + "x" * 4000


class CodedSts(FakeSes):
    """Refuses each AssumeRole (403) with :data:`CODE`."""

    async def _sts(self, request: web.Request) -> web.Response:
        self.assume_role.append({k: str(v) for k, v in (await request.post()).items()})
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{CODE}</Code><Message>no</Message></Error></ErrorResponse>"
        )
        return web.Response(text=body, status=403, content_type="text/xml")


async def test_the_code_of_a_role_refused_is_said_escaped_and_cut_at_each_try(
    json_logs: io.StringIO,
) -> None:
    """Two receives through the role, each refused so: the error line and the debug
    line of the try after it both say the code escaped and at most 64 characters."""
    async with CodedSts() as fake, AsyncExitStack() as stack:
        config = parse_config(
            f'[aws]\nendpoint_url = "{fake.url}"\n{ROLE_ACCOUNT}[[queues]]\n{QUEUE}'
            'account = "prod-eu"\nwait_time_seconds = 0\n'
        )
        sqs = await AwsClients(config, stack).client(
            "sqs", "prod-eu", "eu-west-1", poll_config(attempts=1)
        )
        pipeline = Pipeline(core_settings(config))
        poller = QueuePoller(
            sqs, config.queues[0], pipeline=pipeline,
            metrics=Metrics(pipeline.ledger, config.queues, lambda: 0.0),
            health=Health(["q"]), changes=Changes(), stopping=anyio.Event(),
            delete_invalid=False, clock=lambda: 0.0, monotonic=lambda: 0.0,
            in_flight=InFlight(),
        )  # fmt: skip
        for _ in range(2):
            assert await poller._receive() is None
        assert len(fake.assume_role) == 2
    said = said_in(json_logs)
    for event in ("sesd.sqs.queue_unusable", "sesd.sqs.still_unusable"):
        error = said[event]["error"]
        assert "\n" not in error, event
        assert "forged" in error, event
        assert len(error) <= len("ClientError: ") + 64, event
