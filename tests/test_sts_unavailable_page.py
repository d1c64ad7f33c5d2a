"""An account's role assumed through a proxy (or at an endpoint in front of STS) that
answers AssumeRole with a 5xx and a body that is not XML: an Envoy's "upstream connect
error", a load balancer's page. botocore reads a 5xx whose body is empty or begins
``<html>`` as STS unavailable (its code the status); any other such body fails its
parser. Either is STS (or the way to it) in trouble for a while, backed off like any
passing error: not a role refused, for a person to fix, with the queue failing for good
until it is."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
from aiohttp import web
from botocore.exceptions import ClientError

from sesd.config import parse_config
from sesd.config.aws import ROLE_NOT_ASSUMED
from sesd.io.aws_errors import assume_role_failure, error_code
from sesd.runtime.aws import AwsClients, poll_config
from sesd.runtime.sqs_calls import describe_error, hint_for
from tests.conftest import log_records, sesd_logs
from tests.fake_ses import ROLE_ACCOUNT, FakeSes

#: The SDK's pauses before its retries of STS cut short: these tests read what the
#: retries end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("quick_sdk_retries")]

BODIES = {
    "a proxy's text": ("upstream connect error or disconnect/reset before headers", "text/plain"),
    "a load balancer's page": ("<html><body>503 Service Unavailable</body></html>", "text/html"),
}


class UnavailableSts(FakeSes):
    """Answers each AssumeRole with the next of :attr:`answers` (a status, a body and its
    type), the last one again once they are used."""

    answers: list[tuple[int, str, str]] = []

    async def _sts(self, request: web.Request) -> web.Response:
        self.assume_role.append({k: str(v) for k, v in (await request.post()).items()})
        status, text, kind = self.answers[min(len(self.assume_role), len(self.answers)) - 1]
        return web.Response(status=status, text=text, content_type=kind)


async def _failure(fake: UnavailableSts, stack: AsyncExitStack, calls: int) -> ClientError:
    """The error of the last of ``calls`` SQS calls through the role, each refused for
    want of the role's credentials."""
    config = parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT)
    sqs = await AwsClients(config, stack).client(
        "sqs", "prod-eu", "eu-west-1", poll_config(attempts=1)
    )
    for _ in range(calls):
        with pytest.raises(ClientError) as raised:
            await sqs.list_queues()
    return raised.value


@pytest.mark.parametrize("body", list(BODIES))
async def test_a_5xx_answered_to_assume_role_is_sts_unavailable(body: str) -> None:
    """A queue's SQS call through the role fails with an error whose role failure is
    ``unavailable`` and that no hint calls permanent, whatever the 503's body (a text
    body was a refused role: the queue failing, the role's hint, a minute per try)."""
    async with UnavailableSts() as fake, AsyncExitStack() as stack:
        fake.answers = [(503, *BODIES[body])]
        failure = await _failure(fake, stack, 1)
    assert (assume_role_failure(failure), hint_for(failure)) == ("unavailable", None)


async def test_a_200_after_an_unreadable_5xx_is_read_by_its_own_status() -> None:
    """An AssumeRole answered 503 with a text, then one answered 200 with a text (no
    credentials in it): the second is a role refused, read by its own status."""
    async with UnavailableSts() as fake, AsyncExitStack() as stack:
        fake.answers = [(503, *BODIES["a proxy's text"]), (200, "Sign in", "text/plain")]
        failure = await _failure(fake, stack, 2)
        assert len(fake.assume_role) == 2
    assert (assume_role_failure(failure), hint_for(failure)) == ("refused", ROLE_NOT_ASSUMED)


#: Pages a proxy or a gateway answers with, read as XML by botocore (which tells a 5xx
#: page by its status only when it begins ``<html>``) but naming no error code.
PAGES = {
    **BODIES,
    "a page with a doctype": ("<!DOCTYPE html><html><body>Busy</body></html>", "text/html"),
}


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("body", list(PAGES))
async def test_an_assume_role_refused_by_a_page_is_told_by_its_status(
    status: int, body: str
) -> None:
    """AssumeRole answered 429 or 503 with a text or a page that names no code (not
    STS's XML): the error's code is the status, as its log lines and the account
    poll's ``error`` label say it (a page read as XML named none: "ClientError: ?" in
    the queue's lines, ``error="ClientError"`` in the poll's counts)."""
    async with UnavailableSts() as fake, AsyncExitStack() as stack:
        fake.answers = [(status, *PAGES[body])]
        failure = await _failure(fake, stack, 1)
    assert (error_code(failure), describe_error(failure)) == (str(status), f"ClientError: {status}")


@pytest.mark.parametrize("body", list(BODIES))
async def test_a_429_answered_to_assume_role_is_sts_throttled(body: str) -> None:
    """A proxy or a gateway in front of STS that limits its rate answers 429 (STS's own
    throttle is a 400 that says ``Throttling``): throttled, backed off like any passing
    error, whatever the body (it was a refused role: the queue failing with the role's
    hint, a minute per try, for what passes within seconds)."""
    async with UnavailableSts() as fake, AsyncExitStack() as stack:
        fake.answers = [(429, *BODIES[body])]
        failure = await _failure(fake, stack, 1)
    assert (assume_role_failure(failure), hint_for(failure)) == ("throttled", None)


async def test_the_sdk_s_refresh_warning_says_sts_s_error_escaped_and_cut() -> None:
    """An endpoint in front of STS refuses AssumeRole with a code of 5,000 characters
    and a message with a line break (STS's are a word and a sentence): the SDK's
    refresh warning, which folds the error's text in, says it escaped and cut (it
    said both whole, the line break a line of its own in the console format)."""
    stream = sesd_logs("info")
    error = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code>"
        "<Message>refused\nsesd.forged line</Message></Error></ErrorResponse>"
    ).format("E" * 5000)
    async with UnavailableSts() as fake, AsyncExitStack() as stack:
        fake.answers = [(403, error, "text/xml")]
        await _failure(fake, stack, 1)
    records = log_records(stream)
    (said,) = [r["event"] for r in records if r.get("logger") == "aiobotocore.credentials"]
    assert "Refreshing temporary credentials failed" in said
    assert "\n" not in said
    assert len(said) < 600
