"""Account health: SESv2 GetAccount (a local fake: moto has none) answering HEALTHY,
then PROBATION with sending paused, then throttling, then HEALTHY again; AWS's
reputation metrics read from CloudWatch (moto's server); and sesd's own estimate
of AWS's arithmetic against hand-computed figures."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from prometheus_client.parser import text_string_to_metric_families

from sesd.account.metrics import AccountCollector
from sesd.account.poller import AccountPoller, AccountStatus, Target
from sesd.account.reputation import Reputation
from sesd.account.rules import measure_account
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import describe
from sesd.alerting.rules import Transition
from sesd.config import ConfigError, parse_config
from sesd.demo.localsqs import LocalSqs
from sesd.exposition import render
from sesd.logs import configure_logging
from sesd.pipeline import Pipeline
from tests import factory as f
from tests.fake_ses import FakeSes

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


async def test_a_pause_and_probation_fire_and_resolve_through_throttling(
    local_sqs: LocalSqs,
) -> None:
    """HEALTHY: nothing. PROBATION with sending paused: both rules fire. A throttled
    poll changes nothing (the last answer holds; the failure is counted and logged
    once). HEALTHY again: both resolve."""
    logs = io.StringIO()
    configure_logging("debug", "json", stream=logs)
    config = parse_config(RULES)
    pipeline = Pipeline(config)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.specs])
    async with FakeSes() as fake:
        client_for, made = _clients(fake, local_sqs)
        poller = AccountPoller(
            [TARGET],
            client_for,
            every=300,
            cloudwatch=False,
            clock=lambda: NOW,
            status=pipeline.accounts,
        )
        try:
            await poller.poll_once()
            assert evaluator.evaluate(pipeline, NOW) == []
            assert pipeline.accounts[TARGET].enforcement == "HEALTHY"

            fake.account = {
                **fake.account,
                "EnforcementStatus": "PROBATION",
                "SendingEnabled": False,
            }
            await poller.poll_once()
            fired = {(a.rule, a.domain, a.kind) for a in evaluator.evaluate(pipeline, NOW + 60)}
            assert fired == {
                ("ses-sending-paused", "default/eu-west-1", Transition.FIRING),
                ("ses-not-healthy", "default/eu-west-1", Transition.FIRING),
            }

            fake.script_account(429, 429)
            await poller.poll_once()
            await poller.poll_once()
            assert evaluator.evaluate(pipeline, NOW + 120) == []
            assert poller.errors == {
                ("default", "eu-west-1", "get_account", "TooManyRequestsException"): 2
            }

            fake.account = {**fake.account, "EnforcementStatus": "HEALTHY", "SendingEnabled": True}
            await poller.poll_once()
            resolved = {(a.rule, a.kind) for a in evaluator.evaluate(pipeline, NOW + 180)}
            assert resolved == {
                ("ses-sending-paused", Transition.RESOLVED),
                ("ses-not-healthy", Transition.RESOLVED),
            }
        finally:
            await _close(made)
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
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


async def test_metrics_show_the_account_and_awss_own_reputation_figures(
    local_sqs: LocalSqs,
) -> None:
    """GetAccount's answer and CloudWatch's AWS/SES Reputation.* datapoints (put on
    moto) become the sesd_ses_* families, beside sesd's estimate."""
    region = "eu-west-1"
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
    pipeline = Pipeline(parse_config(""))
    pipeline.reputation.observe("default", region, "", "delivery", ["a@x.example"])
    async with FakeSes() as fake:
        fake.account = {**fake.account, "SendQuota": {
            "Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 12500.0,
        }}  # fmt: skip
        client_for, made = _clients(fake, local_sqs)
        poller = AccountPoller(
            [TARGET], client_for, every=300, cloudwatch=True, clock=lambda: NOW,
            status=pipeline.accounts,
        )  # fmt: skip
        try:
            await poller.poll_once()
        finally:
            await _close(made)
    text = render([*AccountCollector(pipeline.reputation, poller).collect()]).decode()
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


def test_the_estimate_matches_hand_computed_figures_on_a_replayed_stream() -> None:
    """Send events are published here. 40 sends (4 to the simulator, left out: 36
    eligible), 3 hard bounces, 2 transient bounces (not counted), 1 complaint, 1
    simulator bounce (left out): bounce 3/36, complaint 1/36. With a window of 20
    sends, 20 more sends push the first 36 out and what arrived before them."""
    config = parse_config("[reputation]\nwindow_sends = 100\n")
    pipeline = Pipeline(config)
    bodies: list[str] = []
    for i in range(40):
        to = "success@simulator.amazonses.com" if i % 10 == 0 else f"u{i}@x.example"
        bodies.append(f.raw(f.simple("Send", [to])))
    bodies += [f.raw(f.bounce([f"h{i}@x.example"])) for i in range(3)]
    bodies += [f.raw(f.bounce([f"t{i}@x.example"], kind="Transient")) for i in range(2)]
    bodies.append(f.raw(f.complaint(["c@x.example"])))
    bodies.append(f.raw(f.bounce(["bounce@simulator.amazonses.com"])))
    for body in bodies:
        assert pipeline.feed(body, "replay", NOW).outcome == "processed"
    key = ("default", "us-east-1", "")
    estimate = pipeline.reputation.estimate(key)
    assert estimate is not None
    assert (estimate.sends, estimate.bounces, estimate.complaints) == (36, 3, 1)
    assert estimate.from_sends
    assert estimate.bounce_ratio == pytest.approx(3 / 36)
    assert estimate.complaint_ratio == pytest.approx(1 / 36)
    # The configuration set of the factory's mail ("ConfigSet") has its own figures.
    by_set = pipeline.reputation.estimate(("default", "us-east-1", "ConfigSet"))
    assert by_set == estimate
    # 5% review level: 3 of 36 is past it already; 1 complaint of 36 is past 0.1%.
    assert estimate.to_review("bounce") == 0

    small = Reputation(20)
    for i in range(20):
        small.observe("a", "r", "", "send", [f"u{i}@x.example"])
    small.observe("a", "r", "", "bounce", ["u1@x.example"], hard=True)
    assert small.estimate(("a", "r", "")) == small.estimate(("a", "r", ""))
    first = small.estimate(("a", "r", ""))
    assert first is not None
    assert (first.sends, first.bounces) == (20, 1)
    for i in range(20):
        small.observe("a", "r", "", "send", [f"v{i}@x.example"])
    later = small.estimate(("a", "r", ""))
    assert later is not None
    assert (later.sends, later.bounces) == (20, 0)


def test_without_send_events_the_denominator_is_delivered_and_bounced() -> None:
    """No Send events: 95 deliveries and 5 hard bounces: 5/100; the alert text says so
    and how many more bounces would reach AWS's review level (5% of 100: none more,
    it is there; with 200 recipients, 5 more)."""
    reputation = Reputation(1000)
    for i in range(95):
        reputation.observe("a", "r", "", "delivery", [f"u{i}@x.example"])
    reputation.observe("a", "r", "", "bounce", [f"b{i}@x.example" for i in range(5)], hard=True)
    estimate = reputation.estimate(("a", "r", ""))
    assert estimate is not None
    assert (estimate.sends, estimate.bounces, estimate.from_sends) == (100, 5, False)
    value, volume, notes = measure_account("reputation_bounce_ratio", None, estimate)
    assert (value, volume) == (0.05, 100)
    assert "over the last 100 delivered + bounced recipients" in notes[0]
    for i in range(100):
        reputation.observe("a", "r", "", "delivery", [f"w{i}@x.example"])
    estimate = reputation.estimate(("a", "r", ""))
    assert estimate is not None
    assert estimate.to_review("bounce") == 5
    assert (
        "5 more hard bounces among these would reach AWS's review level (5.0%)"
        in (measure_account("reputation_bounce_ratio", None, estimate)[2][1])
    )


def test_a_reputation_rule_has_a_volume_floor_and_says_what_to_expect() -> None:
    """One hard bounce in 13 sends does not page below the floor; past it the alert
    names the account and region and what AWS does at which level."""
    rule = (
        '[[alerts.rules]]\nname = "bounce-estimate"\nmetric = "reputation_bounce_ratio"\n'
        'window = "1h"\nabove = 0.04\nmin_events = 100\nseverity = "critical"\n'
    )
    config = parse_config(rule)
    pipeline = Pipeline(config)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.specs])
    for i in range(12):
        pipeline.reputation.observe("default", "us-east-1", "", "send", [f"u{i}@x.example"])
    pipeline.reputation.observe("default", "us-east-1", "", "send", ["z@x.example"])
    pipeline.reputation.observe("default", "us-east-1", "", "bounce", ["z@x.example"], hard=True)
    assert evaluator.evaluate(pipeline, NOW) == []
    for i in range(200):
        pipeline.reputation.observe("default", "us-east-1", "", "send", [f"v{i}@x.example"])
    pipeline.reputation.observe(
        "default", "us-east-1", "", "bounce", [f"v{i}@x.example" for i in range(10)], hard=True
    )
    (alert,) = evaluator.evaluate(pipeline, NOW)
    assert (alert.scope, alert.domain, alert.regions, alert.accounts) == (
        "account",
        "default/us-east-1",
        ["us-east-1"],
        ["default"],
    )
    text = describe(alert)
    assert text.startswith("account default/us-east-1: reputation_bounce_ratio 5.2%")
    assert "11 hard bounces over the last 213 sends" in text
    assert "would reach AWS's review level (5.0%); AWS may pause sending at 10.0%" in text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('domains = ["a.example"]', "sending_paused watches accounts"),
        ('providers = ["google"]', "sending_paused watches accounts"),
    ],
)
def test_account_rules_take_no_domains(text: str, error: str) -> None:
    rule = '[[alerts.rules]]\nname = "r"\nmetric = "sending_paused"\nwindow = "5m"\nabove = 0\n'
    with pytest.raises(ConfigError, match=error):
        parse_config(rule + text + "\n")


def test_targets_are_each_account_and_region_with_a_queue_or_an_account_entry() -> None:
    config = parse_config(
        '[aws]\nregion = "us-east-1"\n'
        '[[accounts]]\nname = "eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        'region = "eu-west-1"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/a"\n'
        '[[queues]]\nurl = "https://sqs.ap-south-1.amazonaws.com/1/b"\n'
        '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/c"\n'
    )
    assert config.health_targets() == [
        ("default", "ap-south-1"),
        ("default", "us-east-1"),
        ("eu", "eu-west-1"),
    ]
    assert AccountStatus().quota_used_ratio is None


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
