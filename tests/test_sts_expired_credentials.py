"""An account's role assumed at an endpoint that answers AssumeRole with credentials
already expired (a stand-in for STS, a proxy replaying an old answer: STS's expire an
hour on, and refuses a request signed more than 15 minutes off its clock). The SDK
then raised a RuntimeError ("the refreshed credentials are still expired") out of each
call through the role, which no SQS or account poll error handling catches: the
poller ended as if sesd had a bug (a traceback, started again 10 s later). Such an
answer is one without credentials sesd can use: the role not assumed, as an answer
without any is."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack

import pytest
from aiohttp import web
from botocore.exceptions import ClientError

from sesd.config import parse_config
from sesd.config.aws import ROLE_NOT_ASSUMED
from sesd.io.aws_errors import NO_CREDENTIALS_IN_ANSWER, assume_role_failure, error_code
from sesd.runtime.aws import AwsClients, poll_config
from sesd.runtime.sqs_calls import hint_for
from tests.fake_ses import ROLE_ACCOUNT, FakeSes

pytestmark = pytest.mark.timeout(30)


class ExpiredSts(FakeSes):
    """Answers each AssumeRole with credentials that expired in 2001."""

    async def _sts(self, request: web.Request) -> web.Response:
        answer = await super()._sts(request)
        assert answer.text is not None
        past = "<Expiration>2001-01-01T00:00:00Z</Expiration>"
        text = re.sub("<Expiration>[^<]*</Expiration>", past, answer.text)
        return web.Response(text=text, content_type="text/xml")


async def test_credentials_already_expired_are_a_role_not_assumed() -> None:
    """Two SQS calls through the role: each fails with AssumeRole's error of an answer
    without usable credentials (a role not assumed, with its hint), not a RuntimeError,
    and each asks STS again."""
    async with ExpiredSts() as fake, AsyncExitStack() as stack:
        config = parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT)
        sqs = await AwsClients(config, stack).client(
            "sqs", "prod-eu", "eu-west-1", poll_config(attempts=1)
        )
        for _ in range(2):
            with pytest.raises(ClientError) as raised:
                await sqs.list_queues()
            failure = raised.value
            assert error_code(failure) == NO_CREDENTIALS_IN_ANSWER
            assert (assume_role_failure(failure), hint_for(failure)) == (
                "refused",
                ROLE_NOT_ASSUMED,
            )
        assert len(fake.assume_role) == 2
