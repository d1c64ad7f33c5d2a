"""An account's role assumed at an endpoint that is not quite STS's (a proxy, an
``[aws] endpoint_url`` set wrong) that answers AssumeRole with 200 and no credentials.
The SDK's parser does not hold such an answer to the members STS promises: it passes
an ``AssumeRoleResult`` without ``Credentials`` on, and one of another shape (a proxy's
page) raises a ``KeyError`` of its own. Either is told as any role not assumed is
(the poll's failure line and counter, the role's hint), never a fault that ends the
poll round (every account's poll, for a task restarted every ten seconds). A bug in
sesd's own hooks on the answer is sesd's fault, not the role's."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiohttp import web
from botocore.exceptions import ClientError
from structlog.testing import capture_logs

from sesd.account.poller import AccountPoller
from sesd.account.tenants import TenantPoller
from sesd.config import core_settings, parse_config
from sesd.config.aws import ROLE_NOT_ASSUMED
from sesd.core.accounts import Target
from sesd.core.pipeline import Pipeline
from sesd.io import aws_errors
from sesd.io.aws_errors import assume_role_failure
from sesd.io.sdk_blame import sesds_own
from sesd.runtime.aws import AwsClients, poll_config
from sesd.runtime.sqs_calls import hint_for
from tests.fake_ses import _STS_XML, ROLE_ACCOUNT, FakeSes

pytestmark = pytest.mark.timeout(30)

TARGET: Target = ("prod-eu", "eu-west-1")
_ENVELOPE = (
    f'<AssumeRoleResponse xmlns="{_STS_XML}"><AssumeRoleResult>{{}}</AssumeRoleResult>'
    "<ResponseMetadata><RequestId>fake-sts</RequestId></ResponseMetadata></AssumeRoleResponse>"
)
ANSWERS = {
    "no Credentials": _ENVELOPE.format(""),
    "no SessionToken": _ENVELOPE.format(
        "<Credentials><AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
    ),
    "a proxy's page": "<html><body><p>Sign in to continue</p></body></html>",
    # A figure past any date: botocore's timestamp parser gives up with RuntimeError.
    "an expiry past any date": _ENVELOPE.format(
        "<Credentials><AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        "<SessionToken>t</SessionToken><Expiration>1e300</Expiration></Credentials>"
    ),
}


class NotQuiteSts(FakeSes):
    """Answers every AssumeRole with 200 and :attr:`answer`."""

    answer = ""

    async def _sts(self, request: web.Request) -> web.Response:
        self.assume_role.append({k: str(v) for k, v in (await request.post()).items()})
        return web.Response(text=self.answer, content_type="text/xml")


@pytest.mark.parametrize("answer", list(ANSWERS))
async def test_a_role_answered_without_credentials_is_a_role_not_assumed(answer: str) -> None:
    """The account poller logs the failure once with the role's hint and counts it; a
    queue's SQS call through the role fails with what its hint names the same way."""
    async with NotQuiteSts() as fake, AsyncExitStack() as stack:
        fake.answer = ANSWERS[answer]
        clients = AwsClients(
            parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT), stack
        )

        async def client_for(service: str, target: Target) -> Any:
            return await clients.client(service, *target, poll_config(attempts=2), fake.url)

        accounts = Pipeline(core_settings(parse_config(""))).ledger.accounts
        poller = AccountPoller(
            [TARGET], client_for, accounts, every=300, cloudwatch=False, clock=lambda: 0.0
        )
        with capture_logs() as logs:
            await poller.poll_once()
        sqs = await clients.client("sqs", *TARGET, poll_config(attempts=1), fake.url)
        with pytest.raises(ClientError) as raised:
            await sqs.list_queues()
    (line,) = [line for line in logs if line["event"] == "sesd.account.poll_failed"]
    assert (line["api"], line["error"], line["hint"]) == (
        "get_account",
        "NoCredentialsInAnswer",
        ROLE_NOT_ASSUMED,
    )
    # Counted under its own code (sesd_ses_poll_errors_total), not as "other".
    assert accounts.errors == {(*TARGET, "get_account", "NoCredentialsInAnswer"): 1}
    assert (assume_role_failure(raised.value), hint_for(raised.value)) == (
        "refused",
        ROLE_NOT_ASSUMED,
    )
    assert fake.assume_role[0]["RoleArn"].endswith(":role/sesd")


class _Status:
    """Where sesd's hook notes an answer's status, its ``set`` a slip of sesd's."""

    def __init__(self, slip: Callable[[Any], Any]) -> None:
        self.set = slip

    def get(self) -> int:
        return 200


#: What a slip in sesd's own code raises that the SDK's parser raises too on an answer
#: of another shape.
_BUGS: dict[type[BaseException], Callable[[Any], Any]] = {
    TypeError: lambda status: status + "",
    KeyError: lambda status: {}[status],
    AttributeError: lambda status: status.no_such_attribute,
    ValueError: lambda status: int(str(status) + "x"),
    OverflowError: lambda status: float(10**400),
}


async def _sqs_call(clients: AwsClients, fake: FakeSes) -> None:
    """A queue's SQS call through the role (what a queue's poller makes)."""
    sqs = await clients.client("sqs", *TARGET, poll_config(attempts=1), fake.url)
    await sqs.list_queues()


async def _account_poll(clients: AwsClients, fake: FakeSes) -> None:
    """A round of the account poller (GetAccount) through the role."""
    accounts = Pipeline(core_settings(parse_config(""))).ledger.accounts
    await _poll(AccountPoller, clients, fake, accounts, every=300, cloudwatch=False)


async def _tenant_poll(clients: AwsClients, fake: FakeSes) -> None:
    """A round of the tenant poller (ListReputationEntities first) through the role."""
    ledger = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n"))).ledger
    await _poll(
        TenantPoller, clients, fake, ledger.accounts, ledger.tenant_map,
        ledger.tenant_status, every=300, recommendations=False,
    )  # fmt: skip


async def _poll(kind: Any, clients: AwsClients, fake: FakeSes, *args: Any, **kwargs: Any) -> None:
    """One round of a poller of ``kind`` over :data:`TARGET`: a fault it met, not a
    failed call, raised (as to the poll task's supervisor), and no failed call counted."""

    async def client_for(service: str, target: Target) -> Any:
        return await clients.client(service, *target, poll_config(attempts=1), fake.url)

    poller = kind([TARGET], client_for, *args, clock=lambda: 0.0, **kwargs)
    with capture_logs() as logs:
        try:
            await poller.poll_once()
        except ExceptionGroup as group:  # (side by side: each target's fault, together)
            (fault,) = group.exceptions
            raise fault from None
        finally:
            assert not poller.accounts.errors
            assert not [line for line in logs if line["event"].endswith("poll_failed")]


#: What calls through the role: each raises what sesd's own code under it raised.
_CALLERS = {"sqs-call": _sqs_call, "account-poll": _account_poll, "tenant-poll": _tenant_poll}


@pytest.mark.parametrize("caller", list(_CALLERS))
@pytest.mark.parametrize("bug", list(_BUGS), ids=lambda bug: bug.__name__)
async def test_a_bug_of_sesds_own_sts_hooks_is_sesds_fault(
    bug: type[BaseException], caller: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in sesd's own hook on AssumeRole's answers (sesd.io.aws_errors), though it
    raises what the SDK's parser raises on an answer of another shape, is a fault of
    sesd's: the call needing the role's credentials raises it, with its traceback, not a
    role not assumed (a ``NoCredentialsInAnswer`` sending the operator to the role). So
    in an account's and its tenants' polls: raised to the poll task's supervisor, which
    counts and logs it, not a failed poll (``UnreadableAnswer``, counted as the
    endpoint's and asked again at every round, with no traceback)."""
    monkeypatch.setattr(aws_errors, "_STATUS", _Status(_BUGS[bug]))
    async with FakeSes() as fake, AsyncExitStack() as stack:
        clients = AwsClients(
            parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT), stack
        )
        with pytest.raises(bug) as raised:
            await _CALLERS[caller](clients, fake)
    assert fake.assume_role  # answered: the fault is sesd's reading of it
    assert sesds_own(raised.value)  # what a poller raises to its supervisor
