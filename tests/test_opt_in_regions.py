"""An access key AWS does not know in one region while the same credentials work in
another: the region is one the account has not enabled (an opt-in region, off until
enabled per account), and the on-call is told so rather than to rotate a key that
works. Refused everywhere, the hint stays the key's. SESv2 GetAccount on the local fake,
which refuses by the region a request is signed for, as AWS does."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiohttp import web
from botocore.exceptions import ClientError

from sesd.account.poller import AccountPoller
from sesd.account.tenants import TenantPoller
from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.accounts import Target
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from sesd.runtime.aws import AwsClients, poll_config, sqs_config, tenant_config
from sesd.runtime.health import Changes, Health
from sesd.runtime.in_flight import InFlight
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_calls import VOUCHED_FOR, hint_in
from tests import factory as f
from tests.conftest import aws_client
from tests.fake_ses import ROLE_ACCOUNT, FakeSes
from tests.test_setup_partial import passed_on
from tests.test_sqs_clock_refused import SkewedSqs

NOW = f.T0
#: An opt-in region first: its refusal is answered while the other's call is under way.
OPT_IN: Target = ("default", "ap-east-1")
ENABLED: Target = ("default", "eu-west-1")


@asynccontextmanager
async def _poller(
    fake: FakeSes, targets: list[Target], pipeline: Pipeline | None = None
) -> AsyncIterator[AccountPoller]:
    """An account poller of ``targets`` on the fake, a client per region."""
    made: dict[str, Any] = {}

    async def client_for(service: str, target: Target) -> Any:
        if target[1] not in made:
            made[target[1]] = (
                await get_session()
                .create_client(  # type: ignore[call-overload]
                    service,
                    region_name=target[1],
                    endpoint_url=fake.url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
                )
                .__aenter__()
            )
        return made[target[1]]

    pipeline = pipeline or Pipeline(core_settings(parse_config("")))
    try:
        yield AccountPoller(
            targets, client_for, pipeline.ledger.accounts, every=300,
            cloudwatch=False, clock=lambda: NOW,
        )  # fmt: skip
    finally:
        for client in made.values():
            await client.__aexit__(None, None, None)


@asynccontextmanager
async def _queue_refused(
    region: str, error: str, message: str, polled: list[Target]
) -> AsyncIterator[tuple[QueuePoller, AccountPoller, FakeSes]]:
    """A queue in ``region`` whose receives SQS refuses with ``error`` (``message``), and
    an account poller of ``polled`` on the fake SES, both over one pipeline: the queue's
    poller, the account poller and the fake."""
    url = f"https://sqs.{region}.amazonaws.com/123456789012/q"
    config = parse_config(f'[[queues]]\nurl = "{url}"\nname = "q"\n')
    pipeline = Pipeline(core_settings(config))
    async with (
        SkewedSqs(error, message) as sqs,
        aws_client("sqs", sqs, sqs_config(5, receive=True)) as client,
        FakeSes() as fake,
        _poller(fake, polled, pipeline) as account_poller,
    ):
        queue = QueuePoller(
            client, config.queues[0], pipeline=pipeline,
            metrics=Metrics(pipeline.ledger, config.queues, lambda: NOW), health=Health(["q"]),
            changes=Changes(), stopping=anyio.Event(), delete_invalid=False,
            clock=lambda: NOW, monotonic=lambda: 0.0, in_flight=InFlight(),
            region=region,
        )  # fmt: skip
        yield queue, account_poller, fake


def _hints(logs: io.StringIO) -> dict[str, str]:
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    return {r["region"]: r["hint"] for r in records if r["event"] == "sesd.account.poll_failed"}


async def test_a_key_refused_in_one_region_and_answered_in_another_names_the_region(
    json_logs: io.StringIO,
) -> None:
    """GetAccount refused with UnrecognizedClientException in ap-east-1, answered in
    eu-west-1 in the same round (same account, same key): the hint says the key works
    in eu-west-1 and ap-east-1 may not be enabled for the account, not that the key
    is not valid."""
    async with FakeSes() as fake, _poller(fake, [OPT_IN, ENABLED]) as poller:
        fake.refused_regions["ap-east-1"] = "UnrecognizedClientException"
        await poller.poll_once()
        assert poller.accounts.errors == {
            (*OPT_IN, "get_account", "UnrecognizedClientException"): 1
        }
    hints = _hints(json_logs)
    assert list(hints) == ["ap-east-1"]
    assert "work in eu-west-1" in hints["ap-east-1"]
    assert "ap-east-1 may be a region the account has not enabled" in hints["ap-east-1"]
    assert "access key is not valid" not in hints["ap-east-1"]


async def test_a_key_refused_in_every_region_is_the_keys_fault(json_logs: io.StringIO) -> None:
    """InvalidClientTokenId in both regions polled: no region vouches for the key,
    so each hint says the key is not valid and names no region. A region that answered
    the round before, refusing now, vouches no more."""
    async with FakeSes() as fake, _poller(fake, [OPT_IN, ENABLED]) as poller:
        fake.refused_regions["ap-east-1"] = "InvalidClientTokenId"
        await poller.poll_once()
        fake.refused_regions["eu-west-1"] = "InvalidClientTokenId"
        fake.refused_regions["ap-east-1"] = "UnrecognizedClientException"
        await poller.poll_once()
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    told = [
        (r["region"], r["error"], r["hint"])
        for r in records
        if r["event"] == "sesd.account.poll_failed"
    ]
    assert told[0][:2] == ("ap-east-1", "InvalidClientTokenId")
    # The second round's two, told once it ended, in no set order.
    assert sorted((region, error) for region, error, _ in told[1:]) == [
        ("ap-east-1", "UnrecognizedClientException"),
        ("eu-west-1", "InvalidClientTokenId"),
    ]
    assert "work in eu-west-1" in told[0][2]
    for _, _, hint in told[1:]:
        assert hint == "the access key is not valid: check the credentials"


async def test_a_queue_whose_region_refuses_a_key_that_works_elsewhere_says_so(
    json_logs: io.StringIO,
) -> None:
    """An SQS queue in ap-east-1 refused with InvalidClientTokenId: before anything
    answered the credentials elsewhere, the hint is the key's; once GetAccount answered
    them in eu-west-1, the next receive tells it again, at error level, as the region's,
    as the account poll's hint does."""
    message = "The security token included in the request is invalid."
    refused = _queue_refused("ap-east-1", "InvalidClientTokenId", message, [ENABLED])
    async with refused as (queue, account_poller, _fake):
        assert await queue._receive() is None
        await account_poller.poll_once()
        assert await queue._receive() is None
        assert await queue._receive() is None  # the same hint: not told a third time
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    hints = [r["hint"] for r in records if r["event"] == "sesd.sqs.queue_unusable"]
    assert len(hints) == 2
    assert hints[0] == "the access key is not valid: check the credentials"
    assert "work in eu-west-1" in hints[1]
    assert "ap-east-1 may be a region the account has not enabled" in hints[1]


class OptInRefuses(LocalServer):
    """SES's tenant API (the demo's endpoint) behind a region the account has not
    enabled: a call signed for ``region`` is refused 403 UnrecognizedClientException,
    as SESv2 words it; the others are passed on."""

    def __init__(self, upstream: str, region: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self._upstream, self._region = upstream, region

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        if f"/{self._region}/" in request.headers.get("Authorization", ""):
            return web.json_response(
                {"message": "The security token included in the request is invalid."},
                status=403,
                headers={"x-amzn-ErrorType": "UnrecognizedClientException:"},
            )
        return await passed_on(request, self._upstream, await request.read())


async def test_the_tenant_polls_name_the_region_too(json_logs: io.StringIO) -> None:
    """The tenant polls of ap-east-1 and eu-west-1, side by side: ListReputationEntities
    refused UnrecognizedClientException in ap-east-1, answered in eu-west-1: once the
    round has ended, the hint names the region, as the account polls' does."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    ledger = pipeline.ledger
    async with (
        LocalTenants(region="eu-west-1") as tenants,
        OptInRefuses(tenants.url, "ap-east-1") as refusing,
    ):
        made: dict[str, Any] = {}

        async def client_for(service: str, target: Target) -> Any:
            if target[1] not in made:
                made[target[1]] = await (
                    get_session()
                    .create_client(  # type: ignore[call-overload]
                        service, region_name=target[1], endpoint_url=refusing.url,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=tenant_config(),
                    )
                    .__aenter__()
                )  # fmt: skip
            return made[target[1]]

        poller = TenantPoller(
            [OPT_IN, ENABLED], client_for, ledger.accounts, ledger.tenant_map,
            ledger.tenant_status, every=300, recommendations=False, clock=lambda: NOW,
        )  # fmt: skip
        try:
            await poller.poll_once()
        finally:
            for client in made.values():
                await client.__aexit__(None, None, None)
    hints = _hints(json_logs)
    assert list(hints) == ["ap-east-1"]
    assert "work in eu-west-1" in hints["ap-east-1"]
    assert "ap-east-1 may be a region the account has not enabled" in hints["ap-east-1"]


async def test_a_region_that_denies_a_call_vouches_for_the_key(json_logs: io.StringIO) -> None:
    """GetAccount refused UnrecognizedClientException in ap-east-1 and
    AccessDeniedException in eu-west-1 (the role lacks ses:GetAccount there): AWS
    decides what a caller may do only once it knows who signed, so eu-west-1 knew the
    key. The hint of ap-east-1 names the region, not the key; eu-west-1's names the
    permission to grant."""
    async with FakeSes() as fake, _poller(fake, [OPT_IN, ENABLED]) as poller:
        fake.refused_regions["ap-east-1"] = "UnrecognizedClientException"
        fake.refused_regions["eu-west-1"] = "AccessDeniedException"
        await poller.poll_once()
    hints = _hints(json_logs)
    assert "work in eu-west-1" in hints["ap-east-1"]
    assert "ap-east-1 may be a region the account has not enabled" in hints["ap-east-1"]
    assert "access key is not valid" not in hints["ap-east-1"]
    assert hints["eu-west-1"].startswith("grant ses:GetAccount")


async def test_a_refusal_before_the_key_is_known_vouches_for_nothing(
    json_logs: io.StringIO,
) -> None:
    """GetAccount refused UnrecognizedClientException in ap-east-1 while eu-west-1
    refuses the request before knowing who signed it (a signature that does not match,
    an expired token, a request past its date): eu-west-1 says nothing of where the
    key is known, so ap-east-1's hint stays the key's."""
    for before_sign_in in ("SignatureDoesNotMatch", "ExpiredTokenException", "RequestExpired"):
        json_logs.seek(0)  # this refusal's lines alone
        json_logs.truncate()
        async with FakeSes() as fake, _poller(fake, [OPT_IN, ENABLED]) as poller:
            fake.refused_regions["ap-east-1"] = "UnrecognizedClientException"
            fake.refused_regions["eu-west-1"] = before_sign_in
            await poller.poll_once()
        hints = _hints(json_logs)
        assert hints["ap-east-1"] == "the access key is not valid: check the credentials"


async def test_a_queue_denied_in_another_region_vouches_for_the_key(json_logs: io.StringIO) -> None:
    """A queue in eu-west-1 refused AccessDenied (sesd may not read it) and the account
    polled only in ap-east-1, which answers UnrecognizedClientException: the receive's
    denial says eu-west-1 knew the key, so the account poll's hint names the region."""
    message = "Access to the resource is denied."
    denied = _queue_refused("eu-west-1", "AccessDenied", message, [OPT_IN])
    async with denied as (queue, account_poller, fake):
        fake.refused_regions["ap-east-1"] = "UnrecognizedClientException"
        assert await queue._receive() is None
        await account_poller.poll_once()
    hints = _hints(json_logs)
    assert "work in eu-west-1" in hints["ap-east-1"]
    assert "ap-east-1 may be a region the account has not enabled" in hints["ap-east-1"]


async def test_the_role_refused_vouches_for_no_region() -> None:
    """GetAccount of another account in eu-west-1, through its role: STS refuses
    AssumeRole (AccessDenied). That denial is of the credentials sesd runs with, not
    of the account's role, which was never had: eu-west-1 vouches for nothing a
    refusal in another region of the account could be told by."""
    target: Target = ("prod-eu", "eu-west-1")
    async with FakeSes() as fake, AsyncExitStack() as stack:
        clients = AwsClients(
            parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT), stack
        )

        async def client_for(service: str, target: Target) -> Any:
            return await clients.client(service, *target, poll_config(attempts=1), fake.url)

        accounts = Pipeline(core_settings(parse_config(""))).ledger.accounts
        poller = AccountPoller(
            [target], client_for, accounts, every=300, cloudwatch=False, clock=lambda: NOW
        )
        fake.script_sts(403)
        await poller.poll_once()
        assert accounts.errors == {(*target, "get_account", "AccessDenied"): 1}
        assert accounts.accepted_elsewhere(("prod-eu", "ap-east-1"), NOW) == []


async def test_a_refusal_told_as_the_keys_is_told_again_once_another_region_answers(
    json_logs: io.StringIO,
) -> None:
    """Round one: ap-east-1 refuses the key as unknown while eu-west-1 fails for its own
    reasons (a 500), so nothing vouches for the key and the hint is the key's. Round
    two: eu-west-1 answers, ap-east-1 refuses as before: the failure is told again, now
    as the region's (as a queue's is), not left saying to rotate a key that works;
    round three, the same again, is not told a third time. Once ap-east-1 has answered
    (enabled), a refusal there later is a new failure, told again."""
    async with FakeSes() as fake, _poller(fake, [OPT_IN, ENABLED]) as poller:
        fake.refused_regions["ap-east-1"] = "UnrecognizedClientException"
        fake.script_account(500, 500)
        await poller.poll_once()
        await poller.poll_once()
        await poller.poll_once()
        del fake.refused_regions["ap-east-1"]
        await poller.poll_once()
        fake.refused_regions["ap-east-1"] = "UnrecognizedClientException"
        await poller.poll_once()
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    told = [
        r["hint"]
        for r in records
        if r["event"] == "sesd.account.poll_failed" and r["region"] == "ap-east-1"
    ]
    assert len(told) == 3
    assert told[0] == "the access key is not valid: check the credentials"
    assert "work in eu-west-1" in told[1]
    assert "ap-east-1 may be a region the account has not enabled" in told[1]
    assert told[2] == told[1]


@pytest.mark.parametrize("step", [3600.0, -3600.0], ids=["an hour ahead", "an hour back"])
def test_where_the_key_was_answered_moves_with_a_clock_step(step: float) -> None:
    """The credentials are answered in eu-west-1 a minute before the wall clock steps an
    hour (measured); a receive in ap-east-1 is then refused InvalidClientTokenId. Nine
    minutes after the answer, the hint names the region (a step ahead does not make the
    answer an hour old), and a second past the ten minutes an answer vouches for, the
    key (a step back does not hold it an hour longer)."""
    refused: Any = {"Error": {"Code": "InvalidClientTokenId", "Message": "not known"}}
    for after, hint in (
        (VOUCHED_FOR - 60, "may be a region"),
        (VOUCHED_FOR + 1, "access key is not valid"),
    ):
        ledger = Pipeline(core_settings(parse_config(""))).ledger
        ledger.accounts.answered(ENABLED, NOW - step - 60)
        ledger.stepped(step, NOW)
        told = hint_in(
            ClientError(refused, "ReceiveMessage"), ledger.accounts, OPT_IN, NOW + after - 60
        )
        assert told is not None
        assert hint in told, (after, told)
