"""Account health: SESv2 GetAccount (a local fake: moto has none) answering HEALTHY,
then PROBATION with sending paused, then throttling, then HEALTHY again; AWS's
reputation metrics read from CloudWatch (moto's server). sesd's own estimate:
test_reputation.py."""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiohttp import web
from botocore.exceptions import ClientError, EndpointConnectionError
from prometheus_client.parser import text_string_to_metric_families

from sesd.account.failures import hint
from sesd.account.poller import AccountPoller
from sesd.alerting.accounts import measure_account
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import core_settings, parse_config, read_secrets
from sesd.core.accounts import Target
from sesd.core.pipeline import Pipeline
from sesd.core.reputation import Estimate
from sesd.metrics.accounts import AccountCollector
from sesd.metrics.exposition import render
from sesd.runtime.aws import AwsClients
from sesd.runtime.aws_settings import poll_config
from tests import factory as f
from tests.conftest import log_records, sesd_logs
from tests.fake_ses import ROLE_ACCOUNT, FakeSes, healthy_account

#: The SDK's pauses before its retries cut short: these tests count the retries and
#: read what they end in, not how long they waited (conftest.quick_sdk_retries).
pytestmark = pytest.mark.usefixtures("quick_sdk_retries")

NOW = f.T0
TARGET: Target = ("default", "eu-west-1")
RULES = """
[[alerts.rules]]
name = "ses-sending-paused"
metric = "sending_paused"
window = "5m"
above = 0
severity = "critical"

[[alerts.rules]]
name = "ses-not-healthy"
metric = "enforcement_not_healthy"
window = "5m"
above = 0
severity = "critical"
"""


def _clients(fake: FakeSes, local: LocalSqs) -> Any:
    """The poller's client factory: SESv2 on the fake, CloudWatch on moto."""
    made: dict[str, Any] = {}

    async def client_for(service: str, target: Target) -> Any:
        if service not in made:
            endpoint = fake.url if service == "sesv2" else local.url
            made[service] = (
                await get_session()
                .create_client(  # type: ignore[call-overload]
                    service,
                    region_name=target[1],
                    endpoint_url=endpoint,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
                )
                .__aenter__()
            )
        return made[service]

    return client_for, made


async def _close(made: dict[str, Any]) -> None:
    for client in made.values():
        await client.__aexit__(None, None, None)


@asynccontextmanager
async def _poller(
    fake: FakeSes, local_sqs: LocalSqs, pipeline: Pipeline, *, cloudwatch: bool = False
) -> AsyncIterator[AccountPoller]:
    """An account poller of :data:`TARGET` on the fake (and moto's CloudWatch)."""
    client_for, made = _clients(fake, local_sqs)
    try:
        yield AccountPoller(
            [TARGET], client_for, pipeline.ledger.accounts, every=300,
            cloudwatch=cloudwatch, clock=lambda: NOW,
        )  # fmt: skip
    finally:
        await _close(made)


async def test_a_pause_and_probation_fire_and_resolve_through_throttling(
    local_sqs: LocalSqs,
) -> None:
    """HEALTHY: nothing. PROBATION with sending paused: both rules fire. A throttled
    poll changes nothing (the last answer holds; the failure is counted and logged
    once). HEALTHY again: both resolve."""
    logs = sesd_logs()
    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    async with FakeSes() as fake:
        client_for, made = _clients(fake, local_sqs)
        poller = AccountPoller(
            [TARGET],
            client_for,
            pipeline.ledger.accounts,
            every=300,
            cloudwatch=False,
            clock=lambda: NOW,
        )
        try:
            await poller.poll_once()
            assert evaluator.evaluate(pipeline.ledger, NOW) == []
            assert pipeline.ledger.accounts.status[TARGET].enforcement == "HEALTHY"

            fake.account = {
                **fake.account,
                "EnforcementStatus": "PROBATION",
                "SendingEnabled": False,
            }
            await poller.poll_once()
            fired = {
                (a.rule, a.domain, a.kind) for a in evaluator.evaluate(pipeline.ledger, NOW + 60)
            }
            assert fired == {
                ("ses-sending-paused", "default/eu-west-1", Transition.FIRING),
                ("ses-not-healthy", "default/eu-west-1", Transition.FIRING),
            }

            fake.script_account(429, 429)
            await poller.poll_once()
            await poller.poll_once()
            assert evaluator.evaluate(pipeline.ledger, NOW + 120) == []
            assert pipeline.ledger.accounts.errors == {
                ("default", "eu-west-1", "get_account", "TooManyRequestsException"): 2
            }

            fake.account = {**fake.account, "EnforcementStatus": "HEALTHY", "SendingEnabled": True}
            await poller.poll_once()
            resolved = {(a.rule, a.kind) for a in evaluator.evaluate(pipeline.ledger, NOW + 180)}
            assert resolved == {
                ("ses-sending-paused", Transition.RESOLVED),
                ("ses-not-healthy", Transition.RESOLVED),
            }
        finally:
            await _close(made)
    records = log_records(logs)
    events = [r["event"] for r in records if r["event"].startswith("sesd.account.")]
    assert events == [
        "sesd.account.status_changed",  # HEALTHY -> PROBATION, paused
        "sesd.account.poll_failed",  # once for two throttled polls
        "sesd.account.status_changed",  # back to HEALTHY, from the poll that answered
        "sesd.account.poll_recovered",
    ]
    failed = next(r for r in records if r["event"] == "sesd.account.poll_failed")
    assert (failed["account"], failed["region"], failed["api"]) == (
        "default",
        "eu-west-1",
        "get_account",
    )


async def test_an_enforcement_status_sesd_does_not_know_is_not_healthy(
    local_sqs: LocalSqs,
) -> None:
    """PROBATION fires the enforcement rule. Then GetAccount answers a status sesd has
    no name for (AWS adds one; its field is a string, not an enum): that is not
    HEALTHY, so the alert stays firing rather than resolve as if SES had said nothing,
    and its text names the status, cleaned and cut to a word (sesd never read it
    before). HEALTHY resolves it."""
    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        fake.account = {**fake.account, "EnforcementStatus": "PROBATION"}
        await poller.poll_once()
        fired = evaluator.evaluate(pipeline.ledger, NOW + 60)
        assert [(a.rule, a.kind) for a in fired] == [("ses-not-healthy", Transition.FIRING)]
        fake.account = {**fake.account, "EnforcementStatus": "UNDER_REVIEW\x1b[2J" + "X" * 500}
        await poller.poll_once()
        assert evaluator.evaluate(pipeline.ledger, NOW + 120) == []
        status = pipeline.ledger.accounts.status[TARGET]
        assert status.enforcement is not None
        assert status.enforcement.startswith("UNDER_REVIEW")
        assert "\x1b" not in status.enforcement
        assert len(status.enforcement) <= 64
        value, _, (line,) = measure_account("enforcement_not_healthy", status, None)
        assert value == 1.0
        assert "enforcement status: UNDER_REVIEW" in line
        fake.account = {**fake.account, "EnforcementStatus": "HEALTHY"}
        await poller.poll_once()
        resolved = evaluator.evaluate(pipeline.ledger, NOW + 180)
        assert [(a.rule, a.kind) for a in resolved] == [("ses-not-healthy", Transition.RESOLVED)]


async def test_a_getaccount_answer_without_a_field_says_nothing_of_it(
    local_sqs: LocalSqs,
) -> None:
    """GetAccount's fields are all optional in SES's schema, and an endpoint standing
    in for SES (LocalStack, a proxy) may leave one out. An answer without
    SendingEnabled is no word that sending is paused: no critical page fires on it.
    Once SES has said sending is paused (firing), an answer without the field, or
    without the enforcement status, leaves what SES said standing, as a failed poll
    does; the alerts resolve only when SES says otherwise."""
    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        fake.account = {k: v for k, v in fake.account.items() if k != "SendingEnabled"}
        await poller.poll_once()
        assert evaluator.evaluate(pipeline.ledger, NOW + 60) == []
        fake.account = {**fake.account, "SendingEnabled": False, "EnforcementStatus": "SHUTDOWN"}
        await poller.poll_once()
        assert len(evaluator.evaluate(pipeline.ledger, NOW + 120)) == 2
        fake.account = {
            k: v
            for k, v in fake.account.items()
            if k not in ("SendingEnabled", "EnforcementStatus")
        }
        await poller.poll_once()
        assert evaluator.evaluate(pipeline.ledger, NOW + 180) == []
        status = pipeline.ledger.accounts.status[TARGET]
        assert (status.sending_enabled, status.enforcement) == (False, "SHUTDOWN")


async def test_a_refusal_that_will_not_pass_is_not_told_to_wait_for_the_next_poll(
    local_sqs: LocalSqs,
) -> None:
    """GetAccount answered 404 (an endpoint that is not SES's, a region without the
    API): the log line's hint says it will not pass by itself and where to look, by the
    keys that name the endpoint (it said "the SES endpoint_url", no key of the config,
    and the endpoint was [aws]'s, a local SQS that has no SES) and the one that stops
    the polls; SES's own 500 keeps the hint that the next poll tries again."""
    logs = sesd_logs()
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        fake.script_account(404, 200, 500)
        for _ in range(3):
            await poller.poll_once()
    records = log_records(logs)
    hints = {r["error"]: r["hint"] for r in records if r["event"] == "sesd.account.poll_failed"}
    assert hints == {
        "NotFoundException": "refused (NotFoundException): the next poll will ask again but "
        "this does not pass by itself; check the region and [account_health] ses_endpoint_url "
        "(else [aws] endpoint_url or $AWS_ENDPOINT_URL), if one is set; where that endpoint "
        "has no such API (a local SQS's), [account_health] enabled = false",
        "InternalFailure": "the next poll tries again",
    }


async def test_credentials_ses_refuses_are_named_not_the_region(local_sqs: LocalSqs) -> None:
    """GetAccount refused for the credentials themselves (403): a session token that
    expired (static credentials with a token do not renew), an access key SES does not
    know, a secret that does not match it. No poll cures these, and the region or the
    endpoint is not the cause: each log line's hint names what to fix in the
    credentials, as the SQS poller's does."""
    logs = sesd_logs()
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    codes = ("ExpiredTokenException", "UnrecognizedClientException", "InvalidSignatureException")
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        fake.script_account(*((403, code) for code in codes))
        for _ in codes:
            await poller.poll_once()
    records = log_records(logs)
    hints = {r["error"]: r["hint"] for r in records if r["event"] == "sesd.account.poll_failed"}
    assert list(hints) == list(codes)
    assert "session token has expired" in hints["ExpiredTokenException"]
    assert "access key is not valid" in hints["UnrecognizedClientException"]
    assert "secret access key does not match" in hints["InvalidSignatureException"]
    assert not [hint for hint in hints.values() if "region" in hint]


async def test_a_request_expired_is_counted_and_told_as_the_clock(local_sqs: LocalSqs) -> None:
    """GetAccount refused RequestExpired (the request reached AWS more than 15 minutes
    from its date stamp: this host's clock is off): counted under its own code, not
    ``other``, and the hint names the clock, not the region or the endpoint."""
    logs = sesd_logs()
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        fake.script_account((400, "RequestExpired"))
        await poller.poll_once()
    errors = {key: n for key, n in pipeline.ledger.accounts.errors.items() if n}
    assert errors == {(*TARGET, "get_account", "RequestExpired"): 1}
    records = log_records(logs)
    hints = {r["error"]: r["hint"] for r in records if r["event"] == "sesd.account.poll_failed"}
    assert list(hints) == ["RequestExpired"]
    assert "clock" in hints["RequestExpired"]
    assert "region" not in hints["RequestExpired"]


@pytest.mark.usefixtures("no_aws_credentials")
async def test_no_credentials_is_told_where_sesd_looks_not_to_wait() -> None:
    """GetAccount with no AWS credentials anywhere (the SDK raises before calling): the
    log line's hint says where credentials come from, not that the next poll tries
    again (it would find none either)."""
    logs = sesd_logs()
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    async with FakeSes() as fake:
        client = (
            await get_session()
            .create_client("sesv2", region_name=TARGET[1], endpoint_url=fake.url)
            .__aenter__()
        )
        try:
            await _poll_once_with(client, pipeline.ledger.accounts)
        finally:
            await client.__aexit__(None, None, None)
    records = log_records(logs)
    hints = {r["error"]: r["hint"] for r in records if r["event"] == "sesd.account.poll_failed"}
    assert list(hints) == ["NoCredentialsError"]
    assert "AWS_ACCESS_KEY_ID" in hints["NoCredentialsError"]
    assert "next poll" not in hints["NoCredentialsError"]


async def _poll_once_with(client: Any, accounts: Any) -> None:
    """One poll of TARGET's account health (no CloudWatch), ``client`` for every call."""

    async def client_for(service: str, target: Target) -> Any:
        return client

    poller = AccountPoller(
        [TARGET], client_for, accounts, every=300, cloudwatch=False, clock=lambda: NOW
    )
    await poller.poll_once()


async def test_an_ses_endpoint_nothing_answers_at_is_named_with_what_chose_it() -> None:
    """[account_health] ses_endpoint_url on a port nothing listens on (a local SES not
    started, a port mistyped): the poll's warning names that endpoint and the settings
    that choose it, as the queues' does, not only that the next poll tries again."""
    logs = sesd_logs()
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    with socket.socket() as free:  # a port that was free: nothing listens on it now
        free.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{free.getsockname()[1]}"
    once = AioConfig(retries={"max_attempts": 0})
    session = get_session()
    async with session.create_client(
        "sesv2", region_name=TARGET[1], endpoint_url=closed, config=once
    ) as client:
        await _poll_once_with(client, pipeline.ledger.accounts)
    records = log_records(logs)
    (failed,) = [r for r in records if r["event"] == "sesd.account.poll_failed"]
    assert failed["hint"] == (
        f"nothing answers at {closed}, the endpoint [account_health] "
        "ses_endpoint_url "
        "(else [aws] endpoint_url, $AWS_ENDPOINT_URL_SESV2 or $AWS_ENDPOINT_URL) gives: "
        "check its host and port, and that what serves there (a local SES) runs; the "
        "next poll tries again"
    )


@pytest.mark.parametrize(
    ("api", "endpoint", "whose"),
    [
        (
            "get_account",
            "https://email.eu-west-1.amazonaws.com",
            "SES's endpoint for the account's region",
        ),
        (
            "get_account",
            "https://vpce-0a1b2c3d-4e5f.email.eu-west-1.vpce.amazonaws.com",
            "the endpoint [account_health] ses_endpoint_url (else [aws] endpoint_url, "
            "$AWS_ENDPOINT_URL_SESV2, $AWS_ENDPOINT_URL or $AWS_USE_FIPS_ENDPOINT) gives (a VPC",
        ),
        (
            "get_metric_data",
            "https://ops:PASSWORD@cloudwatch.local:4566/?token=SECRET",
            "[account_health] cloudwatch_endpoint_url (else [aws] endpoint_url, "
            "$AWS_ENDPOINT_URL_CLOUDWATCH or $AWS_ENDPOINT_URL) gives",
        ),
        (
            "get_metric_data",
            "https://monitoring-fips.us-east-1.amazonaws.com",
            "$AWS_USE_FIPS_ENDPOINT) gives (a VPC endpoint, FIPS or dual-stack)",
        ),
        (
            "get_metric_data",
            "https://monitoring.cn-north-1.api.amazonwebservices.com.cn",
            "$AWS_USE_FIPS_ENDPOINT) gives (a VPC endpoint, FIPS or dual-stack)",
        ),
        (
            "get_metric_data",
            "https://monitoring.us-iso-east-1.c2s.ic.gov",
            "CloudWatch's endpoint for the account's region",
        ),
        (
            "list_tenants",
            "http://127.0.0.1:9",
            "the endpoint [tenants] endpoint_url (else [aws] endpoint_url, "
            "$AWS_ENDPOINT_URL_SESV2 or $AWS_ENDPOINT_URL) gives",
        ),
    ],
)
def test_an_endpoint_a_poll_did_not_reach_is_told_by_who_chose_it(
    api: str, endpoint: str, whose: str
) -> None:
    """SES's or CloudWatch's own endpoint for the region is the network's to reach; a
    VPC endpoint, a FIPS or dual-stack one, or any other host, a setting's: which one,
    the API's own (the tenant poll's is [tenants]'), then [aws]'s, then botocore's
    variables. Every partition's hosts are AWS's (China's dual-stack ones are not under
    api.aws; an isolated region's are not under amazonaws.com), not a local
    CloudWatch's. A password or a token written into the endpoint is not said: the
    host and port are, not the request's path and query."""
    said = hint(api, "EndpointConnectionError", EndpointConnectionError(endpoint_url=endpoint))
    assert said.startswith("nothing answers at ")
    assert whose in said
    assert "PASSWORD" not in said
    assert "SECRET" not in said


async def test_metrics_show_the_account_and_awss_own_reputation_figures(
    local_sqs: LocalSqs,
) -> None:
    """GetAccount's answer and CloudWatch's AWS/SES Reputation.* datapoints (put on
    moto) become the sesd_ses_* families, beside sesd's estimate."""
    # A region no other test puts datapoints in: moto's server lives for the session,
    # and the latest datapoint in eu-west-1 depends on which test ran last.
    region = "ap-southeast-2"
    target: Target = ("default", region)
    async with get_session().create_client(
        "cloudwatch",
        region_name=region,
        endpoint_url=local_sqs.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as cloudwatch:
        stamp = datetime.fromtimestamp(NOW - 600, UTC)
        await cloudwatch.put_metric_data(
            Namespace="AWS/SES",
            MetricData=[
                {"MetricName": "Reputation.BounceRate", "Value": 0.031, "Timestamp": stamp},
                {"MetricName": "Reputation.ComplaintRate", "Value": 0.0004, "Timestamp": stamp},
            ],
        )
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.ledger.reputation.observe("default", region, "", "delivery", ["a@x.example"])
    async with FakeSes() as fake:
        fake.account = {**fake.account, "SendQuota": {
            "Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 12500.0,
        }}  # fmt: skip
        client_for, made = _clients(fake, local_sqs)
        poller = AccountPoller(
            [target], client_for, pipeline.ledger.accounts, every=300, cloudwatch=True,
            clock=lambda: NOW,
        )  # fmt: skip
        try:
            await poller.poll_once()
        finally:
            await _close(made)
    text = render(
        [
            *AccountCollector(
                pipeline.ledger.reputation, pipeline.ledger.accounts, polled=True
            ).collect()
        ]
    ).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    where = (("account", "default"), ("region", region))
    assert samples[("sesd_ses_sending_enabled", where)] == 1
    assert samples[("sesd_ses_enforcement_status", (*where, ("status", "HEALTHY")))] == 1
    assert samples[("sesd_ses_enforcement_status", (*where, ("status", "SHUTDOWN")))] == 0
    assert samples[("sesd_ses_quota_used_ratio", where)] == 0.25
    assert samples[("sesd_ses_max_send_rate", where)] == 14
    aws = (("account", "default"), ("configuration_set", ""), ("region", region))
    assert samples[("sesd_ses_reputation_bounce_ratio", (*aws, ("source", "aws")))] == 0.031
    assert samples[("sesd_ses_reputation_complaint_ratio", (*aws, ("source", "aws")))] == 0.0004
    assert samples[("sesd_ses_reputation_bounce_ratio", (*aws, ("source", "sesd")))] == 0.0


async def test_awss_figure_is_its_newest_datapoint_not_its_oldest(local_sqs: LocalSqs) -> None:
    """CloudWatch holds six hours of AWS's bounce rate: 1% five hours ago, 3% two hours
    ago, 6% now (stamped this very second). The metric and the alert text quote 6%."""
    region = "eu-west-1"
    async with get_session().create_client(
        "cloudwatch",
        region_name=region,
        endpoint_url=local_sqs.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as cloudwatch:
        for ago, value in ((5 * 3600, 0.01), (2 * 3600, 0.03), (0, 0.06)):
            await cloudwatch.put_metric_data(
                Namespace="AWS/SES",
                MetricData=[
                    {
                        "MetricName": "Reputation.BounceRate",
                        "Value": value,
                        "Timestamp": datetime.fromtimestamp(NOW - ago, UTC),
                    }
                ],
            )
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline, cloudwatch=True) as poller:
        await poller.poll_once()
    text = render(
        [
            *AccountCollector(
                pipeline.ledger.reputation, pipeline.ledger.accounts, polled=True
            ).collect()
        ]
    ).decode()
    assert 'sesd_ses_reputation_bounce_ratio{account="default",configuration_set="",' in text
    assert f'region="{region}",source="aws"}} 0.06\n' in text
    estimate = Estimate(sends=200, bounces=4, complaints=0, from_sends=True)
    _, _, lines = measure_account(
        "reputation_bounce_ratio", pipeline.ledger.accounts.status[TARGET], estimate
    )
    when = datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert lines[-1] == f"AWS's own figure (CloudWatch): 6.0%, its newest datapoint {when}"


async def test_the_daemon_polls_at_start_and_serves_what_it_heard(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """A running daemon polls its queue's (account, region) at start (GetAccount on the
    fake, CloudWatch on moto) and serves the answers on /metrics; an account rule fires
    on a paused account at the next evaluation."""
    import aiohttp

    from tests.conftest import make_queue, running

    url, _ = await make_queue(sqs)
    async with FakeSes() as fake:
        fake.account = {**fake.account, "SendingEnabled": False, "EnforcementStatus": "SHUTDOWN"}
        config = parse_config(
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nregion = "eu-west-1"\n'
            f'[account_health]\nses_endpoint_url = "{fake.url}"\n'
            f'cloudwatch_endpoint_url = "{local_sqs.url}"\n'
            '[alerts]\nevaluate_every = "1s"\ngroup_wait = "0s"\n' + RULES
        )
        console = io.StringIO()
        async with running(config, console=console) as daemon:
            await daemon.changes.wait_for(
                lambda: (
                    "ses-sending-paused" in console.getvalue()
                    and "ses-not-healthy" in console.getvalue()
                )
            )
            metrics = f"http://127.0.0.1:{daemon.http_port}/metrics"
            async with aiohttp.ClientSession() as http, http.get(metrics) as response:
                text = await response.text()
    assert fake.account_requests >= 1
    assert 'sesd_ses_sending_enabled{account="default",region="eu-west-1"} 0.0' in text
    assert (
        'sesd_ses_enforcement_status{account="default",region="eu-west-1",status="SHUTDOWN"} 1.0'
        in text
    )
    assert "[FIRING] ses-sending-paused: account default/eu-west-1 sending_paused 1" in (
        console.getvalue()
    )
    assert "enforcement status: SHUTDOWN" in console.getvalue()


async def test_a_polls_attempts_are_what_the_daemon_asks_not_one_more() -> None:
    """The account polls are made 2 attempts a call (the tenant polls 1: their poller
    asks again, at its pace): the SDK's max_attempts counts retries (one call more than
    asked); total_max_attempts is what the polls' clients take. A GetAccount SES
    answers 503 twice is two calls, failed."""
    from sesd.runtime.aws import poll_config

    async with FakeSes() as fake:
        fake.script_account(503, 503, 503)
        async with get_session().create_client(
            "sesv2",
            region_name="eu-west-1",
            endpoint_url=fake.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=poll_config(attempts=2),
        ) as client:
            with pytest.raises(ClientError):
                await client.get_account()
    assert fake.account_requests == 2


async def test_an_hour_of_refused_polls_shows_the_last_answer_ageing(
    local_sqs: LocalSqs,
) -> None:
    """GetAccount answers HEALTHY at T, then every call is throttled (429) for an hour.
    The status shown is T's: the metric of the last answer and the page's "answered"
    column stay at T, and the page says the polls are failing; the metric of the last
    attempt moves on to T + 1h."""
    from sesd.status.charts import when
    from sesd.status.model import build_status, read_counters
    from sesd.status.page import status_html
    from tests.status_world import world

    now = [NOW]
    w = world(now=NOW + 3600)
    accounts = w.pipeline.ledger.accounts
    async with FakeSes() as fake:
        client_for, made = _clients(fake, local_sqs)
        poller = AccountPoller(
            [TARGET], client_for, accounts, every=300, cloudwatch=False, clock=lambda: now[0]
        )
        try:
            await poller.poll_once()
            fake.script_account(*[429] * 12)
            for minutes in range(5, 65, 5):
                now[0] = NOW + 60 * minutes
                await poller.poll_once()
        finally:
            await _close(made)
    assert fake.account_requests == 13
    text = render(
        [*AccountCollector(w.pipeline.ledger.reputation, accounts, polled=True).collect()]
    ).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    where = (("account", "default"), ("region", "eu-west-1"))
    answer = (
        "sesd_ses_last_answer_timestamp_seconds",
        (where[0], ("api", "get_account"), where[1]),
    )
    assert samples[answer] == NOW
    assert samples[("sesd_ses_last_poll_timestamp_seconds", where)] == NOW + 3600
    doc = build_status(w.sources, NOW + 3600, read_counters(w.sources), (NOW, {}))
    (row,) = doc.accounts
    assert (row.answered_at, row.polled_at, row.enforcement) == (NOW, NOW + 3600, "HEALTHY")
    html = status_html(doc, 5)
    assert f'<td class="time bad">{when(NOW)} (failing)</td>' in html
    assert f"<td>{when(NOW + 3600)}</td>" not in html


async def test_sts_throttling_or_failing_is_not_a_role_to_fix() -> None:
    """GetAccount of another account, through its role (STS on the fake): STS throttles
    AssumeRole, then fails on its side (503), then refuses the role (AccessDenied),
    then lets it be assumed. Each failed poll is logged once with its hint: the first
    two say the next poll tries again, only the refusal points at role_arn and the
    trust policy; the poll after answers."""
    from contextlib import AsyncExitStack

    from structlog.testing import capture_logs

    from sesd.runtime.aws import AwsClients, poll_config

    target: Target = ("prod-eu", "eu-west-1")
    async with FakeSes() as fake, AsyncExitStack() as stack:
        clients = AwsClients(
            parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT),
            stack,
        )

        async def client_for(service: str, target: Target) -> Any:
            return await clients.client(service, *target, poll_config(attempts=2), fake.url)

        accounts = Pipeline(core_settings(parse_config(""))).ledger.accounts
        poller = AccountPoller(
            [target], client_for, accounts, every=300, cloudwatch=False, clock=lambda: NOW
        )
        # STS's own client tries 3 times: each poll below is refused 3 times.
        fake.script_sts(*[400] * 3, *[503] * 3, 403)
        with capture_logs() as logs:
            for _ in range(4):
                await poller.poll_once()
    hints = {line["error"]: line["hint"] for line in logs if line.get("error")}
    assert list(hints) == ["Throttling", "ServiceUnavailable", "AccessDenied"]
    assert hints["Throttling"] == (
        "STS throttled (AssumeRole of the account's role): the next poll tries again"
    )
    assert hints["ServiceUnavailable"] == (
        "STS unavailable (AssumeRole of the account's role): the next poll tries again"
    )
    assert "check role_arn and external_id" in hints["AccessDenied"]
    assert len(fake.assume_role) == 8
    assert fake.assume_role[0]["RoleArn"] == "arn:aws:iam::210987654321:role/sesd"
    assert accounts.status[target].answered == {"get_account": NOW}
    assert [line["event"] for line in logs][-1] == "sesd.account.poll_recovered"


class SkewedSes(FakeSes):
    """GetAccount refused as AWS refuses a signature made by a clock 10 minutes behind."""

    async def _get_account(self, request: web.Request) -> web.Response:
        self.account_requests += 1
        return web.json_response(
            {
                "message": "Signature expired: 20261204T210000Z is now earlier than "
                "20261204T210500Z (20261204T211000Z - 5 min.)"
            },
            status=403,
            headers={"x-amzn-ErrorType": "InvalidSignatureException:http://internal.amazon.com/"},
        )


async def test_a_signature_refused_for_its_time_names_the_clock(local_sqs: LocalSqs) -> None:
    """The host's clock minutes off from AWS's: SES refuses every poll for its
    signature's time. The hint sends the reader to the clock, as the queues' does,
    not to the region or the endpoint."""
    logs = sesd_logs()
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    async with SkewedSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        await poller.poll_once()
    records = log_records(logs)
    (failed,) = [r for r in records if r["event"] == "sesd.account.poll_failed"]
    assert failed["error"] == "InvalidSignatureException"
    assert "clock" in failed["hint"]
    assert "endpoint_url" not in failed["hint"]


async def test_a_region_that_does_not_answer_holds_back_no_other_regions_pause(
    local_sqs: LocalSqs,
) -> None:
    """eu-west-1's GetAccount hangs (an endpoint that does not answer: its tries run
    until they time out, a minute or more each round); us-east-1's SES has paused
    sending. Both regions are asked before either answers, in whichever order their
    requests arrive: the regions are polled side by side. One after the other, in
    either order, the second is never asked while the first waits for its answer.
    (Asserted when us-east-1's request came that eu-west-1's had, it failed one run in
    ten on a busy machine: the two start together, either may arrive first.)"""
    eu, us = ("default", "eu-west-1"), ("default", "us-east-1")
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    accounts = pipeline.ledger.accounts
    async with FakeSes() as hung, FakeSes() as paused:
        paused.account = {**healthy_account(), "SendingEnabled": False}
        hung.account_gate = gate = anyio.Event()
        paused.account_gate = both_asked = anyio.Event()
        (eu_for, eu_made), (us_for, us_made) = (
            _clients(hung, local_sqs),
            _clients(paused, local_sqs),
        )

        async def client_for(service: str, target: Target) -> Any:
            return await (eu_for if target == eu else us_for)(service, target)

        poller = AccountPoller(
            [eu, us], client_for, accounts, every=300, cloudwatch=False, clock=lambda: NOW
        )
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                with anyio.fail_after(10):
                    await hung.wait_for(lambda fake: fake.account_requests == 1)
                    await paused.wait_for(lambda fake: fake.account_requests == 1)
                both_asked.set()  # us-east-1 answers; eu-west-1 hangs on
                gate.set()
        finally:
            await _close(eu_made)
            await _close(us_made)
    assert accounts.status[us].sending_enabled is False
    assert accounts.status[eu].sending_enabled is True


async def test_a_regions_unforeseen_fault_cancels_no_other_regions_poll(
    local_sqs: LocalSqs,
) -> None:
    """us-east-1's poll meets a fault sesd did not foresee (its client asked for an
    ``[[accounts]]`` entry a reload has just removed: KeyError) while eu-west-1's
    GetAccount is still under way. eu-west-1's poll ends and its answer is kept; the
    fault is raised once the round is over, so that the task's keeper counts and
    logs it, rather than cancelling the healthy region's poll with it."""
    eu, us = ("default", "eu-west-1"), ("default", "us-east-1")
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    accounts = pipeline.ledger.accounts
    faults: list[BaseException] = []
    async with FakeSes() as slow:
        slow.account_gate = gate = anyio.Event()
        eu_for, eu_made = _clients(slow, local_sqs)
        us_asked = anyio.Event()

        async def client_for(service: str, target: Target) -> Any:
            if target == us:
                await slow.wait_for(lambda fake: fake.account_requests == 1)
                us_asked.set()
                raise KeyError("no [[accounts]] entry named 'gone'")
            return await eu_for(service, target)

        async def round_() -> None:
            try:
                await poller.poll_once()
            except Exception as exc:  # noqa: BLE001 (what the keeper would catch)
                faults.append(exc)

        poller = AccountPoller(
            [eu, us], client_for, accounts, every=300, cloudwatch=False, clock=lambda: NOW
        )
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(round_)
                with anyio.fail_after(10):
                    await us_asked.wait()
                gate.set()
        finally:
            await _close(eu_made)
    assert accounts.status[eu].sending_enabled is True
    assert len(faults) == 1
    assert isinstance(faults[0], BaseExceptionGroup)
    assert faults[0].subgroup(KeyError) is not None


async def test_a_target_a_reload_removes_mid_poll_is_asked_nothing_more(
    local_sqs: LocalSqs,
) -> None:
    """A reload removes the ``[[accounts]]`` entry of a target while its GetAccount is
    under way. Its GetMetricData is then not asked: its client, asked for an entry the
    config no longer has, would raise (KeyError, as the daemon's AwsClients does), a
    fault counted as the poller's every time an account is removed mid-round."""
    target: Target = ("prod-eu", "eu-west-1")
    pipeline = Pipeline(core_settings(parse_config(RULES)))
    accounts = pipeline.ledger.accounts
    configured = {"prod-eu"}
    async with FakeSes() as slow:
        slow.account_gate = gate = anyio.Event()
        made_for, made = _clients(slow, local_sqs)

        async def client_for(service: str, asked: Target) -> Any:
            if asked[0] not in configured:
                raise KeyError(f"no [[accounts]] entry named {asked[0]!r}")
            return await made_for(service, asked)

        poller = AccountPoller(
            [target], client_for, accounts, every=300, cloudwatch=True, clock=lambda: NOW
        )
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                with anyio.fail_after(10):
                    await slow.wait_for(lambda fake: fake.account_requests == 1)
                configured.clear()  # the reload: its config, then the poller's targets
                poller.targets = []
                gate.set()
        finally:
            await _close(made)
    assert "cloudwatch" not in made


async def test_a_reload_landing_as_a_targets_client_is_asked_costs_that_target_only() -> None:
    """A reload removes the ``reader`` account as the round asks its client, before the
    entry is read (the daemon's AWS clients then raise KeyError: no such entry). The
    default account's poll goes on and is kept, and ``reader``'s is dropped with no
    fault and no failed call counted: that KeyError failed the round as a bug of sesd's
    (the poll task restarted, counted and logged with a traceback)."""
    base = (
        '[aws]\naccess_key_id = "testing"\nsecret_access_key = "testing"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/q"\n'
    )
    reader = (
        '[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::111111111111:role/r"\n'
        'region = "eu-west-1"\n'
    )
    before = read_secrets(parse_config(base + reader + RULES))
    after = read_secrets(parse_config(base + RULES))
    accounts = Pipeline(core_settings(before)).ledger.accounts
    async with FakeSes() as ses, AsyncExitStack() as stack:
        aws = AwsClients(before, stack)

        async def client_for(service: str, target: Target) -> Any:
            if target[0] == "reader":  # the reload, as this call waits
                aws.reconfigure(after)
                poller.targets = after.health_targets()
            config = poll_config(attempts=1)
            return await aws.client(service, *target, config, ses.url, use="health")

        poller = AccountPoller(
            before.health_targets(), client_for, accounts, every=300, cloudwatch=False,
            clock=lambda: NOW,
        )  # fmt: skip
        assert ("reader", "eu-west-1") in poller.targets
        await poller.poll_once()
    assert accounts.status[("default", "us-east-1")].sending_enabled is True
    assert accounts.errors == {}
