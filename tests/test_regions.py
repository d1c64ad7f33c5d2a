"""Queues in several regions and accounts, consumed at once: one SQS client per
(account, region), the account's role assumed through STS (moto's server: an
assumed role's credentials act in the role's account), the queue families
labelled with each queue's account and region."""

from __future__ import annotations

from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import ConfigError, core_settings, parse_config, region_of_url
from sesd.config.aws import endpoint_of_url
from sesd.runtime.sqs_calls import hint_for
from tests import factory as f
from tests.conftest import running

OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/sesd-reader"


def _client(local: LocalSqs, service: str, region: str, **keys: str) -> Any:
    return get_session().create_client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=local.url,
        aws_access_key_id=keys.get("key", "testing"),
        aws_secret_access_key=keys.get("secret", "testing"),
        aws_session_token=keys.get("token"),
    )


async def _queue_with_events(sqs: Any, name: str, domain: str, n: int) -> str:
    url = str((await sqs.create_queue(QueueName=name))["QueueUrl"])
    for i in range(n):
        await sqs.send_message(QueueUrl=url, MessageBody=f.raw(f.delivery([f"u{i}@{domain}"])))
    return url


async def test_queues_in_two_regions_and_another_account_are_consumed_at_once(
    local_sqs: LocalSqs,
) -> None:
    """us-east-1 and eu-west-1 queues of the default account, and a queue of another
    account read through its role: all drained, each counted under its account and
    region."""
    async with _client(local_sqs, "sqs", "us-east-1") as us:
        us_url = await _queue_with_events(us, "regions-us", "us.example", 3)
    async with _client(local_sqs, "sqs", "eu-west-1") as eu:
        eu_url = await _queue_with_events(eu, "regions-eu", "eu.example", 4)
    async with _client(local_sqs, "sts", "us-east-1") as sts:
        assumed = (await sts.assume_role(RoleArn=ROLE, RoleSessionName="test"))["Credentials"]
    keys = {
        "key": assumed["AccessKeyId"],
        "secret": assumed["SecretAccessKey"],
        "token": assumed["SessionToken"],
    }
    async with _client(local_sqs, "sqs", "eu-west-1", **keys) as theirs:
        their_url = await _queue_with_events(theirs, "regions-theirs", "their.example", 5)
    assert f"/{OTHER_ACCOUNT}/" in their_url
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[accounts]]\nname = "prod-eu"\nrole_arn = "{ROLE}"\nregion = "eu-west-1"\n'
        f'[[queues]]\nurl = "{us_url}"\nname = "us"\nwait_time_seconds = 0\n'
        f'[[queues]]\nurl = "{eu_url}"\nname = "eu"\nregion = "eu-west-1"\n'
        "wait_time_seconds = 0\n"
        f'[[queues]]\nurl = "{their_url}"\nname = "theirs"\naccount = "prod-eu"\n'
        "wait_time_seconds = 0\n"
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    assert [config.region_of(q) for q in config.queues] == ["us-east-1", "eu-west-1", "eu-west-1"]
    async with running(config) as daemon:

        def drained() -> bool:
            messages = daemon.ledger.tallies.messages
            return all(
                messages.get((queue, "processed"), 0) == n
                for queue, n in (("us", 3), ("eu", 4), ("theirs", 5))
            )

        await daemon.changes.wait_for(drained)
        received = {
            labels: daemon.metrics.registry.get_sample_value(
                "sesd_sqs_messages_received_total",
                dict(zip(("queue", "account", "region"), labels, strict=True)),
            )
            for labels in (
                ("us", "default", "us-east-1"),
                ("eu", "default", "eu-west-1"),
                ("theirs", "prod-eu", "eu-west-1"),
            )
        }
        assert received == {
            ("us", "default", "us-east-1"): 3,
            ("eu", "default", "eu-west-1"): 4,
            ("theirs", "prod-eu", "eu-west-1"): 5,
        }
        assert daemon.aws is not None
        # Two clients per (account, region), receives apart (no SDK retries), each
        # with room for the three pollers (and four more), and one for STS to assume
        # the role.
        at = local_sqs.url
        assert sorted(daemon.aws._clients) == [
            ("sqs", "default", "eu-west-1", ":7", at),
            ("sqs", "default", "eu-west-1", "receive:7", at),
            ("sqs", "default", "us-east-1", ":7", at),
            ("sqs", "default", "us-east-1", "receive:7", at),
            ("sqs", "prod-eu", "eu-west-1", ":7", at),
            ("sqs", "prod-eu", "eu-west-1", "receive:7", at),
            ("sts", "default", "eu-west-1", "", at),
        ]


def test_a_queues_region_comes_from_its_url_then_its_own_then_its_account() -> None:
    assert region_of_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q") == "eu-west-1"
    assert region_of_url("https://ap-southeast-2.queue.amazonaws.com/123456789012/q") == (
        "ap-southeast-2"
    )
    assert region_of_url("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q") == ("cn-north-1")
    assert region_of_url("http://127.0.0.1:9324/queue/q") is None
    # The oldest form is us-east-1's; a VPC endpoint, FIPS and dual-stack name theirs,
    # and are where the queue's calls go (a network may reach SQS only there).
    assert region_of_url("https://queue.amazonaws.com/123456789012/q") == "us-east-1"
    vpce = "https://vpce-0abc-xyz.sqs.ap-southeast-2.vpce.amazonaws.com"
    for url, region in (
        (vpce, "ap-southeast-2"),
        ("https://sqs-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("https://sqs.eu-west-1.api.aws", "eu-west-1"),
        ("https://vpce-0abc-xyz.sqs.cn-north-1.vpce.amazonaws.com.cn", "cn-north-1"),
    ):
        assert region_of_url(f"{url}/123456789012/q") == region
        assert endpoint_of_url(f"{url}/123456789012/q") == url
    for url in ("https://sqs.eu-west-1.amazonaws.com", "https://queue.amazonaws.com"):
        assert endpoint_of_url(f"{url}/123456789012/q") is None
    config = parse_config(
        '[aws]\nregion = "us-east-2"\n'
        f'[[accounts]]\nname = "eu"\nrole_arn = "{ROLE}"\nregion = "eu-central-1"\n'
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/1/a"\n'
        '[[queues]]\nurl = "http://127.0.0.1:9324/1/b"\nregion = "eu-north-1"\n'
        '[[queues]]\nurl = "http://127.0.0.1:9324/1/c"\naccount = "eu"\n'
        '[[queues]]\nurl = "http://127.0.0.1:9324/1/d"\n'
    )
    assert [config.region_of(q) for q in config.queues] == [
        "eu-west-1",
        "eu-north-1",
        "eu-central-1",
        "us-east-2",
    ]
    assert [q.account_label for q in config.queues] == ["default", "default", "eu", "default"]
    # check-config shows where each queue is read, not the `region` left out.
    shown = [queue["region"] for queue in config.to_display()["queues"]]
    assert shown == [config.region_of(q) for q in config.queues]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[[queues]]\nurl = "http://h/1/q"\naccount = "nope"\n', "is not one of [[accounts]]"),
        ('[[accounts]]\nname = "a"\nrole_arn = "arn:aws:iam::1:role/x"\n', "is not a role ARN"),
        (f'[[accounts]]\nname = "default"\nrole_arn = "{ROLE}"\n', "'default' is"),
        (
            f'[[accounts]]\nname = "a"\nrole_arn = "{ROLE}"\n' * 2,
            "accounts[1].name: 'a' is accounts[0]'s name too",
        ),
        ('[[queues]]\nurl = "http://h/1/q"\nregion = "europe"\n', "is not an AWS region"),
        # A template's trailing space: the SDK refused it only when the client was made.
        ('[aws]\nregion = "us-east-1 "\n', "aws.region: 'us-east-1 ' is not an AWS region"),
        ('[aws]\nregion = "us-east1"\n', "is not an AWS region"),
        (
            '[canary]\nfrom = "c@example.com"\nconfiguration_set = "x"\nregion = "eu-west-1 "\n',
            "canary.region: 'eu-west-1 ' is not an AWS region",
        ),
    ],
)
def test_accounts_and_regions_are_checked(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert error in str(raised.value)


def test_a_role_that_cannot_be_assumed_has_its_own_hint() -> None:
    """Access denied by STS (the role) reads differently from access denied by SQS (the
    queue's policy)."""
    denied: Any = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}
    role = hint_for(ClientError(denied, "AssumeRole"))
    queue = hint_for(ClientError(denied, "ReceiveMessage"))
    assert role is not None
    assert "role_arn" in role
    assert queue is not None
    assert "sqs:ReceiveMessage" in queue
    throttled: Any = {"Error": {"Code": "Throttling"}}
    assert hint_for(ClientError(throttled, "ReceiveMessage")) is None
    # STS throttling or failing while credentials refresh is no role to fix: it passes,
    # and is backed off like any passing error (not retried once a minute).
    assert hint_for(ClientError(throttled, "AssumeRole")) is None
    unavailable: Any = {
        "Error": {"Code": "ServiceUnavailable"},
        "ResponseMetadata": {"HTTPStatusCode": 503},
    }
    assert hint_for(ClientError(unavailable, "AssumeRole")) is None
    odd: Any = {"Error": {"Code": "Whatever"}, "ResponseMetadata": {"HTTPStatusCode": 502}}
    assert hint_for(ClientError(odd, "AssumeRole")) is None
    # STS refusing the credentials sesd asks with (their session token expired) is
    # theirs to fix, not the role's.
    expired: Any = {"Error": {"Code": "ExpiredToken"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    said = hint_for(ClientError(expired, "AssumeRole"))
    assert said is not None
    assert "role_arn" not in said
    assert "the session token has expired" in said
    # STS refusing a signature for its time is this host's clock, not the role.
    skewed: Any = {"Error": {"Code": "SignatureDoesNotMatch", "Message": "Signature expired: ..."}}
    assert "clock" in (hint_for(ClientError(skewed, "AssumeRole")) or "")


def test_an_alert_names_the_accounts_and_regions_of_its_sending_identities() -> None:
    from sesd.alerting.evaluator import Evaluator
    from sesd.alerting.render import describe
    from sesd.core.pipeline import Pipeline

    rule = '[[alerts.rules]]\nname = "r"\nmetric = "delayed_recipients"\nwindow = "5m"\nabove = 0\n'
    config = parse_config(rule)
    pipeline = Pipeline(core_settings(config))
    body = f.delay(["u@gmail.com"])
    body["mail"]["sourceArn"] = f"arn:aws:ses:eu-central-1:{OTHER_ACCOUNT}:identity/example.com"
    pipeline.feed(f.raw(body), "q", f.T0)
    pipeline.feed(f.raw(f.delay(["v@gmail.com"])), "q", f.T0)  # eu-west-1, 123456789012
    (alert,) = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs]).evaluate(
        pipeline.ledger, f.T0
    )
    assert alert.regions == ["eu-central-1", "eu-west-1"]
    assert alert.accounts == ["123456789012", OTHER_ACCOUNT]
    assert f"accounts: 123456789012, {OTHER_ACCOUNT}" in describe(alert)


async def test_an_accounts_credentials_are_asked_for_again_before_they_expire() -> None:
    """The role is assumed at the first use of the account's credentials, and again once
    they are within the SDK's refresh window of expiring (not before)."""
    from contextlib import AsyncExitStack
    from datetime import UTC, datetime, timedelta

    from sesd.runtime.aws import AwsClients

    config = parse_config(f'[[accounts]]\nname = "prod-eu"\nrole_arn = "{ROLE}"\n')
    asked: list[str] = []
    lifetime = [timedelta(hours=1)]

    async def assume(account: Any) -> dict[str, str]:
        asked.append(account.name)
        return {
            "access_key": f"AKIA{len(asked)}",
            "secret_key": "secret",
            "token": "token",
            "expiry_time": (datetime.now(UTC) + lifetime[0]).isoformat(),
        }

    async with AsyncExitStack() as stack:
        clients = AwsClients(config, stack)
        clients._assume = assume  # type: ignore[method-assign]
        credentials: Any = await clients._session("prod-eu").get_credentials()
        assert asked == []  # nothing asked until the credentials are used
        first = await credentials.get_frozen_credentials()
        again = await credentials.get_frozen_credentials()
        assert asked == ["prod-eu"]
        assert first.access_key == again.access_key == "AKIA1"
        lifetime[0] = timedelta(minutes=5)  # inside the SDK's mandatory refresh window
        credentials._expiry_time = datetime.now(UTC) + timedelta(minutes=5)
        refreshed = await credentials.get_frozen_credentials()
        assert asked == ["prod-eu", "prod-eu"]
        assert refreshed.access_key == "AKIA2"


async def test_an_account_poll_whose_role_cannot_be_assumed_says_so() -> None:
    """A poll of another account fails when STS refuses its role (the client's first
    call assumes it): the log line points at the role, not at the SES permission that
    the API's own AccessDenied would name."""
    from structlog.testing import capture_logs

    from sesd.account.poller import AccountPoller
    from sesd.core.accounts import Accounts

    denied: Any = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}

    async def client_for(service: str, target: tuple[str, str]) -> Any:
        raise AssertionError("not asked for")

    poller = AccountPoller(
        [("prod-eu", "eu-west-1")], client_for, Accounts(), every=60, cloudwatch=False,
        clock=lambda: 0.0,
    )  # fmt: skip
    for operation in ("AssumeRole", "GetAccount"):

        async def refused(operation: str = operation) -> None:
            raise ClientError(denied, operation)

        with capture_logs() as logs:
            await poller._call(("prod-eu", "eu-west-1"), "get_account", refused)
        poller._failing.clear()
        (line,) = logs
        if operation == "AssumeRole":
            assert "could not assume the account's role" in line["hint"]
        else:
            assert (
                line["hint"] == "grant ses:GetAccount to the credentials (or role) sesd uses here"
            )
