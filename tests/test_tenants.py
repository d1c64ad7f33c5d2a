"""SES tenants: every recipient counted under its tenant (named by the event, or found
through its configuration set or identity), what SES says of each tenant polled from a
local SESv2 endpoint through the real aiobotocore client, SES's status events read
from the queue, and suppressed recipients counted apart from bounces."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from aiobotocore.session import get_session

from sesd.account.failures import THROTTLED_TRIES
from sesd.account.tenants import TenantPoller
from sesd.alerting.alert import Notification
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import console_text, describe, details
from sesd.alerting.rules import Transition
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import ConfigError, core_settings, parse_config
from sesd.core.decode import decode_body
from sesd.core.events import EVENT_TYPE_INDEX, Invalid
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice, TenantStatus
from sesd.metrics.exposition import render
from sesd.metrics.registry import Metrics
from sesd.runtime.aws import tenant_config
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.test_tenant_passes import tenant_poller

NOW = f.T0 + 10
ACCOUNT = "123456789012"
REGION = "eu-west-1"
DELIVERY = EVENT_TYPE_INDEX["delivery"]
BOUNCE = EVENT_TYPE_INDEX["bounce"]
COMPLAINT = EVENT_TYPE_INDEX["complaint"]
TENANTS = '[tenants]\nenabled = true\ntags = ["ses:tenant-name", "tenant"]\n'
PAUSED_RULE = (
    '[[alerts.rules]]\nname = "tenant-paused"\nmetric = "tenant_sending_paused"\n'
    'window = "5m"\nabove = 0\nseverity = "critical"\n'
)


def _pipeline(extra: str = "") -> Pipeline:
    return Pipeline(core_settings(parse_config(TENANTS + extra)))


def _event(
    kind: str, address: str, *, tags: dict[str, list[str]] | None = None, config_set: str = ""
) -> str:
    if kind == "bounce":
        event = f.bounce([address])
    elif kind == "delay":
        event = f.delay([address])
    else:
        event = f.delivery([address])
    event["mail"]["sourceArn"] = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    event["mail"]["tags"] = tags if tags is not None else {}
    if config_set:
        event["mail"]["tags"]["ses:configuration-set"] = [config_set]
    return f.raw(event)


def _delay_rule(name: str, tenants: str) -> tuple[Pipeline, Evaluator]:
    """A pipeline with a tenant delay-ratio rule (above 20%, 10 events), and its
    evaluator."""
    rule = (
        f'[[alerts.rules]]\nname = "{name}"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        f"above = 0.2\nmin_events = 10\ntenants = {tenants}\n"
    )
    config = parse_config(TENANTS + rule)
    pipeline = Pipeline(core_settings(config))
    return pipeline, Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])


def _counts(pipeline: Pipeline, tenant: str) -> list[int]:
    scope = pipeline.ledger.by_tenant
    assert scope is not None
    return scope.recipients.get(tenant, [0] * len(EVENT_TYPE_INDEX))


def test_a_tenant_named_by_the_event_counts_every_recipient_under_it() -> None:
    """SES's ``ses:tenant-name`` tag on a bounce, a sender's own ``tenant`` tag on
    deliveries: each recipient counts under its tenant, beside its domain; an event
    naming none is ``unknown``, a name SES could not have given too."""
    pipeline = _pipeline()
    pipeline.feed(_event("bounce", "a@x.example", tags={"ses:tenant-name": ["acme"]}), "q", NOW)
    pipeline.feed(_event("delivery", "b@x.example", tags={"tenant": ["acme"]}), "q", NOW)
    pipeline.feed(_event("delivery", "c@y.example", tags={"tenant": ["globex"]}), "q", NOW)
    pipeline.feed(_event("delivery", "d@y.example"), "q", NOW)
    pipeline.feed(_event("delivery", "e@y.example", tags={"tenant": ["no spaces!"]}), "q", NOW)
    assert _counts(pipeline, "acme")[BOUNCE] == 1
    assert _counts(pipeline, "acme")[DELIVERY] == 1
    assert _counts(pipeline, "globex")[DELIVERY] == 1
    assert _counts(pipeline, "unknown")[DELIVERY] == 2
    scope = pipeline.ledger.by_tenant
    assert scope is not None
    assert scope.windows["acme"].counts(0, NOW)[DELIVERY] == 1
    text = render(Metrics(pipeline.ledger, ["q"], lambda: NOW).registry.collect()).decode()
    assert 'sesd_tenant_recipient_events_total{event_type="delivery",tenant="globex"} 1.0' in text
    assert 'sesd_tenant_window_delay_ratio{tenant="acme",window="5m"} 0.0' in text


async def _polled(tenants: LocalTenants, pipeline: Pipeline, extra: str = "") -> TenantPoller:
    """A poller over one (account, region) on the local endpoint, polled once."""
    session = get_session()
    async with session.create_client(
        "sesv2",
        region_name=REGION,
        endpoint_url=tenants.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=tenant_config(),
    ) as ses:

        async def client_for(service: str, target: tuple[str, str]) -> Any:
            return ses

        ledger = pipeline.ledger
        poller = TenantPoller(
            [("default", REGION)], client_for, ledger.accounts, ledger.tenant_map,
            ledger.tenant_status, every=300, recommendations=True, clock=lambda: NOW,
        )  # fmt: skip
        await poller.poll_once()
    return poller


async def test_a_tenant_known_only_through_its_configuration_set_or_identity() -> None:
    """Events name no tenant: one sent with acme's configuration set counts under acme,
    one from globex's own identity under globex; an identity both tenants share is
    unknown, unless the event names its tenant."""
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 2  # several pages of everything
        shared = ("EMAIL_IDENTITY", "shared.example")
        tenants.add("acme", ("CONFIGURATION_SET", "acme-set"), shared)
        tenants.add("globex", ("EMAIL_IDENTITY", "globex.example"), shared,
                    ("EMAIL_TEMPLATE", "welcome"))  # fmt: skip
        tenants.add("initech")
        pipeline = _pipeline()
        await _polled(tenants, pipeline)
    for address, identity, config_set, tags in (
        ("a@x.example", "shared.example", "acme-set", {}),
        ("b@x.example", "globex.example", "", {}),
        ("c@x.example", "shared.example", "", {}),
        ("d@x.example", "shared.example", "", {"tenant": ["globex"]}),
    ):
        event = json.loads(_event("delivery", address))
        event["mail"]["sourceArn"] = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{identity}"
        event["mail"]["tags"] = {**tags, "ses:configuration-set": [config_set]}
        pipeline.feed(f.raw(event), "q", NOW)
    assert _counts(pipeline, "acme")[DELIVERY] == 1
    assert _counts(pipeline, "globex")[DELIVERY] == 2
    assert _counts(pipeline, "unknown")[DELIVERY] == 1
    # A call per page of each tenant's resources: globex's three take two pages.
    assert tenants.calls["ListTenantResources"] == 4


def test_ses_naming_a_bounces_tenant_maps_its_resource_when_the_polls_cannot() -> None:
    """The tenant polls are denied: deliveries carry no tenant, bounces carry SES's own
    ses:tenant-name. Once a bounce names globex for its configuration set, the set's
    deliveries count under globex, so its bounce ratio is bounces over its mail (not
    bounces over bounces: 100%). A second tenant named for the same set makes it
    ambiguous; a sender's own tag teaches nothing."""

    def event(kind: str, i: int, tags: dict[str, list[str]], cs: str = "globex-set") -> str:
        return _event(kind, f"u{i}@x.example", tags=tags, config_set=cs)

    pipeline = _pipeline()
    pipeline.feed(event("bounce", 0, {"ses:tenant-name": ["globex"]}), "q", NOW)
    for i in range(1, 20):
        pipeline.feed(event("delivery", i, {}), "q", NOW)
    pipeline.feed(event("bounce", 20, {"ses:tenant-name": ["globex"]}), "q", NOW)
    assert (_counts(pipeline, "globex")[DELIVERY], _counts(pipeline, "globex")[BOUNCE]) == (19, 2)
    assert pipeline.ledger.by_tenant is not None
    figures = pipeline.ledger.by_tenant.windows["globex"].figures(0, NOW)
    assert figures.bounce_ratio == 2 / 21
    pipeline.feed(event("bounce", 21, {"ses:tenant-name": ["acme"]}), "q", NOW)
    pipeline.feed(event("delivery", 22, {}), "q", NOW)
    assert _counts(pipeline, "unknown")[DELIVERY] == 1  # shared: no longer globex's
    pipeline.feed(event("bounce", 23, {"tenant": ["initech"]}, cs="initech-set"), "q", NOW)
    pipeline.feed(event("delivery", 24, {}, cs="initech-set"), "q", NOW)
    assert _counts(pipeline, "unknown")[DELIVERY] == 2
    pipeline.feed(event("bounce", 25, {"ses:tenant-name": ["hooli"]}, cs="hooli-set"), "q", NOW)
    pipeline.feed(event("delivery", 26, {"tenant": ["acme"]}, cs="hooli-set"), "q", NOW)
    pipeline.feed(event("delivery", 27, {}, cs="hooli-set"), "q", NOW)
    assert _counts(pipeline, "unknown")[DELIVERY] == 3  # a sender's tag says: shared


def test_two_tenants_sending_from_one_identity_are_told_by_their_configuration_sets() -> None:
    """SES names acme on a bounce sent with a-set and globex on one sent with b-set, both
    from the same identity: each set is mapped, not the identity they share, so each
    tenant's deliveries count under it."""
    pipeline = _pipeline()
    for cs, tenant in (("a-set", "acme"), ("b-set", "globex")):
        named = {"ses:tenant-name": [tenant]}
        pipeline.feed(_event("bounce", f"b@{cs}.example", tags=named, config_set=cs), "q", NOW)
        for i in range(3):
            pipeline.feed(_event("delivery", f"d{i}@{cs}.example", config_set=cs), "q", NOW)
    assert _counts(pipeline, "acme")[DELIVERY] == _counts(pipeline, "globex")[DELIVERY] == 3


def test_what_the_polls_map_is_not_changed_by_what_events_name() -> None:
    """A resource the polls mapped keeps their answer whatever an event names; one
    learned from an event and then listed by a poll is the poll's from then on."""
    from sesd.core.tenant_map import TenantMap

    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/x.example"
    polled = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/acme-set"
    learned = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/globex-set"
    tenants = TenantMap()
    tenants.learn(identity, "globex-set", "globex", by_ses=True)
    tenants.learn(identity, "other-set", "globex", by_ses=False)  # a sender's word
    assert list(tenants.arns) == [learned]
    tenants.replace(REGION, ACCOUNT, {polled: {"acme"}, learned: {"globex"}})
    tenants.learn(identity, "acme-set", "initech", by_ses=True)
    tenants.learn(identity, "globex-set", "initech", by_ses=False)
    assert tenants.tenant(identity, "acme-set") == "acme"
    assert tenants.tenant(identity, "globex-set") == "globex"
    tenants.learn("not-an-arn", "", "acme", by_ses=True)
    assert len(tenants.arns) == 2


def test_an_identity_sent_from_without_a_configuration_set_is_learned_and_bounded() -> None:
    """No configuration set: the identity is what SES's tag maps; another tenant named
    for it makes it ambiguous (saved as such); the map keeps at most max_entries."""
    from sesd.core.tenant_map import AMBIGUOUS, TenantMap

    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/x.example"
    tenants = TenantMap(max_entries=2)
    tenants.learn(identity, "", "globex", by_ses=True)
    assert tenants.arns == {identity: "globex"}
    assert tenants.tenant(identity, "") == "globex"
    tenants.learn(identity, "", "globex", by_ses=True)  # nothing new: no change
    assert tenants.version == 1
    tenants.learn(identity, "", "acme", by_ses=False)
    assert tenants.arns == {identity: AMBIGUOUS}
    assert tenants.version == 2
    assert tenants.snapshot() == [[identity, AMBIGUOUS]]
    assert tenants.tenant(identity, "") == "unknown"
    for name in ("a", "b"):
        tenants.learn(identity, f"{name}-set", name, by_ses=True)
    assert len(tenants.arns) == 2


async def test_a_poll_that_finds_no_tenant_any_more_forgets_their_resources() -> None:
    """The account's last tenant is deleted: the next poll finds none, and its
    configuration set no longer counts events under it (the map kept it, and saved
    it across restarts)."""
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "acme-set"))
        pipeline = _pipeline()
        ledger = pipeline.ledger
        async with tenant_poller(tenants, pipeline, lambda: NOW, recommendations=True) as poller:
            await poller.poll_once()
            arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/acme-set"
            assert ledger.tenant_map.arns == {arn: "acme"}
            tenants.tenants.clear()
            await poller.poll_once()
    assert ledger.tenant_map.arns == {}


async def test_ses_pauses_a_tenant_the_alert_fires_at_the_next_poll_and_resolves() -> None:
    """Policy standard, a high-impact bounce finding: SES pauses globex. The poll after
    it fires the alert, which says who paused it, why, under which policy, and the
    finding; once SES reinstates it, the next poll resolves the alert."""
    config = parse_config(TENANTS + PAUSED_RULE)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        globex = tenants.add("globex")
        await _polled(tenants, pipeline)
        assert evaluator.evaluate(pipeline.ledger, NOW) == []
        tenants.pause("globex", "The bounce rate exceeded 15.0%.")
        globex.impact = "HIGH"
        globex.findings.append(("BOUNCE", "HIGH", "The bounce rate exceeded 15.0% (197 emails)"))
        await _polled(tenants, pipeline)
        (fired,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
        tenants.reinstate("globex")
        await _polled(tenants, pipeline)
        (resolved,) = evaluator.evaluate(pipeline.ledger, NOW + 120)
    assert (fired.kind, fired.domain, fired.scope) == (Transition.FIRING, "globex", "tenant")
    assert fired.regions == [REGION]
    assert fired.notes[0] == (
        f"SES paused tenant globex in {REGION} (account default, policy standard): "
        "The bounce rate exceeded 15.0%."
    )
    assert "finding BOUNCE (HIGH): The bounce rate exceeded 15.0% (197 emails)" in fired.notes
    assert fired.notes[-1].startswith("SES paused this tenant for its reputation")
    assert (resolved.kind, resolved.domain) == (Transition.RESOLVED, "globex")
    # Every sink says what SES said and what to do, not an empty window of events.
    console = console_text(Notification("tenant-paused", fired.kind, "critical", (), (fired,), NOW))
    for note in fired.notes:
        assert f"    {note}" in console.splitlines()
        assert note in describe(fired, slack=True)
    assert details(fired)["notes"] == list(fired.notes)
    assert "delay types" not in console
    assert "top domains" not in console


async def test_a_tenant_deleted_while_paused_resolves_at_the_next_poll() -> None:
    """The platform deletes a paused tenant (a customer gone): the next poll no longer
    lists it, so its pause (and its alert) ends rather than paging until a restart."""
    config = parse_config(TENANTS + PAUSED_RULE)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        tenants.add("globex")
        tenants.pause("globex", "The bounce rate exceeded 15.0%.")
        await _polled(tenants, pipeline)
        (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
        del tenants.tenants["globex"]
        await _polled(tenants, pipeline)
        (resolved,) = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert (fired.kind, resolved.kind) == (Transition.FIRING, Transition.RESOLVED)
    assert [key[2] for key in pipeline.ledger.tenant_status.status] == ["acme"]


async def test_a_restart_keeps_what_ses_last_said_so_a_pause_stays_paged() -> None:
    """A paused tenant and paused accounts (one with a queue, one watched for its
    health alone), paged; sesd restarts and SES does not answer yet (throttled): what
    it last said stands, so no page resolves. A status of an account no longer
    configured is not kept."""
    from sesd.runtime.state import restore, snapshot

    queue = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"\n'
    queue += '[[accounts]]\nname = "prod-eu"\nregion = "eu-west-1"\n'
    queue += 'role_arn = "arn:aws:iam::222222222222:role/sesd-reader"\n'
    account_rule = (
        '[[alerts.rules]]\nname = "ses-sending-paused"\nmetric = "sending_paused"\n'
        'window = "5m"\nabove = 0\n'
    )
    config = parse_config(queue + TENANTS + PAUSED_RULE + account_rule)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        tenants.pause("globex", "The bounce rate exceeded 15.0%.")
        await _polled(tenants, pipeline)
    pipeline.ledger.accounts.record(("default", REGION)).sending_enabled = False
    pipeline.ledger.accounts.record(("gone", REGION)).sending_enabled = False
    pipeline.ledger.accounts.record(("prod-eu", "eu-west-1")).sending_enabled = False
    fired = evaluator.evaluate(pipeline.ledger, NOW)
    assert {(a.rule, a.domain) for a in fired} == {
        ("tenant-paused", "globex"),
        ("ses-sending-paused", f"default/{REGION}"),
        ("ses-sending-paused", f"gone/{REGION}"),
        ("ses-sending-paused", "prod-eu/eu-west-1"),
    }
    blob = snapshot(pipeline.ledger, evaluator, NOW)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [s.name for s in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, NOW + 30)
    assert fresh.ledger.tenant_status.status[("default", REGION, "globex")].paused
    assert sorted(fresh.ledger.accounts.status) == [("default", REGION), ("prod-eu", "eu-west-1")]
    later = NOW + 3600  # past any hold after the start: what SES said decides
    assert {(a.kind, a.domain) for a in after.evaluate(fresh.ledger, later)} == {
        (Transition.RESOLVED, f"gone/{REGION}")
    }


def _status_event(tenant: str, status: str, *, origin: str = "AWS_MANAGED") -> str:
    detail_type = "Sending Status Disabled" if status == "DISABLED" else "Sending Status Enabled"
    return json.dumps(
        {
            "version": "0",
            "id": "eb-status",
            "detail-type": detail_type,
            "source": "aws.ses",
            "account": ACCOUNT,
            "time": "2027-01-15T08:00:05Z",
            "region": REGION,
            "resources": [f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/{tenant}/tn-{tenant}"],
            "detail": {
                "version": "1.0.0",
                "data": {
                    "origin": origin,
                    "record": {
                        "status": status,
                        "cause": "Bounce rate too high.",
                        "lastUpdatedTimestamp": [2027, 1, 15, 8, 0, 5, 0],
                    },
                },
            },
        }
    )


#: acme's ARN, as its events name it (the id SES gave it: another once made again).
ARN = f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/tn-acme"


def test_ses_status_events_decode_and_a_finding_closes() -> None:
    """SES's tenant events from EventBridge: a status change (its timestamp an array), a
    finding opened and closed (under both names SES's documents give the closing
    one); a finding about an identity is not a tenant's."""
    paused = decode_body(_status_event("acme", "DISABLED"))
    assert paused == TenantNotice(
        REGION, ACCOUNT, "acme", f.T0 + 5, status="DISABLED", origin="AWS_MANAGED",
        cause="Bounce rate too high.", arn=ARN,
    )  # fmt: skip
    pipeline = _pipeline(PAUSED_RULE)
    assert pipeline.feed(_status_event("acme", "DISABLED"), "q", NOW).event_type == "tenant_status"
    status = pipeline.ledger.tenant_status.status[(ACCOUNT, REGION, "acme")]
    assert (status.sending, status.cause) == ("DISABLED", "Bounce rate too high.")
    for i, (detail_type, still_open) in enumerate((
        ("Advisor Recommendation Status Open", True),
        ("Advisor Recommendation Status Resolved", False),
        ("Advisor Recommendation Status Open", True),
        ("Advisor Recommendation Status Closed", False),
    )):  # fmt: skip
        body = json.loads(_status_event("acme", "DISABLED"))
        body["detail-type"] = detail_type
        body["id"] = f"event-{i}"  # each EventBridge event its own (an id again is a duplicate)
        body["detail"] = {"version": "1.0.0", "data": "The bounce rate exceeded 15.0%",
                          "metadata": {"impact": "HIGH", "type": "BOUNCE"}}  # fmt: skip
        pipeline.feed(json.dumps(body), "q", NOW)
        # The on-call reads SES's own words on what it found (the page, the alert).
        opened = [("BOUNCE", "HIGH", "The bounce rate exceeded 15.0%")]
        assert status.findings == (opened if still_open else [])
        assert status.impact == ("HIGH" if still_open else "")
    identity = json.loads(_status_event("acme", "DISABLED"))
    identity["resources"] = [f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"]
    assert pipeline.feed(json.dumps(identity), "q", NOW).reason == "eventbridge_not_tenant"
    assert pipeline.ledger.tallies.messages[("q", "processed")] == 5


def test_a_tenant_event_dated_ahead_of_sesd_s_clock_is_taken_as_of_now() -> None:
    """A status event dated a year ahead (a clock gone wrong, or a body made up by one
    who can send to the queue) pauses acme as of when sesd reads it, as an email event
    ahead of sesd's clock counts now: the poll a minute later, which says SES lets it
    send, is the newer word, and the pause resolves. Taken as dated, the event would
    outrank every poll for the year, the tenant paused, deleted or not."""
    pipeline = _pipeline(PAUSED_RULE)
    ahead = json.loads(_status_event("acme", "DISABLED"))
    ahead["time"] = "2028-01-15T08:00:05Z"
    assert pipeline.feed(json.dumps(ahead), "q", NOW).event_type == "tenant_status"
    statuses = pipeline.ledger.tenant_status
    key = (ACCOUNT, REGION, "acme")
    assert statuses.status[key].paused
    assert statuses.status[key].aws_at == NOW
    statuses.polled(key, TenantStatus(tenant_id=f"{ACCOUNT}/tn-acme"), NOW + 60)
    assert not statuses.status[key].paused
    statuses.gone(ACCOUNT, REGION, set(), NOW + 120)  # deleted since: forgotten
    assert key not in statuses.status


def test_tenant_events_a_moment_ahead_of_sesd_s_clock_keep_their_order() -> None:
    """On a host a few seconds behind AWS (within what sesd tolerates before it says
    the clock is off), SES disables acme at 08:00:25 after enabling it at 08:00:20, and
    SQS hands out the disabling first: the newer word still wins, by SES's own times.
    Both taken as of sesd's clock, the one read last won, and acme read as sending."""
    pipeline = _pipeline(PAUSED_RULE)
    disabled = json.loads(_status_event("acme", "DISABLED"))
    disabled["time"] = "2027-01-15T08:00:25Z"
    enabled = json.loads(_status_event("acme", "ENABLED"))
    enabled["time"] = "2027-01-15T08:00:20Z"
    pipeline.feed(json.dumps(disabled), "q", NOW)
    pipeline.feed(json.dumps(enabled), "q", NOW + 1)
    assert pipeline.ledger.tenant_status.status[(ACCOUNT, REGION, "acme")].paused


def test_a_tenant_event_missing_its_parts_is_read_for_what_it_holds() -> None:
    """A finding without detail or time is still the tenant's (at time 0: it never
    outranks a dated one), and one whose data is not its text has no description; a
    status change without a cause has none (the page shows none, not a made-up one);
    a detail of the wrong shape, or a status change that names no status, is invalid,
    said without the body."""
    bare = json.loads(_status_event("acme", "DISABLED"))
    bare["detail-type"] = "Advisor Recommendation Status Open"
    del bare["detail"], bare["time"]
    assert decode_body(json.dumps(bare)) == TenantNotice(
        REGION, ACCOUNT, "acme", 0.0, finding="FINDING", description="", open=True, arn=ARN
    )
    bare["detail"] = {"data": {"origin": "AWS_MANAGED", "record": {"status": "DISABLED"}}}
    assert decode_body(json.dumps(bare)) == TenantNotice(
        REGION, ACCOUNT, "acme", 0.0, finding="FINDING", description="", open=True, arn=ARN
    )
    uncaused = json.loads(_status_event("acme", "DISABLED"))
    del uncaused["detail"]["data"]["record"]["cause"]
    assert decode_body(json.dumps(uncaused)) == TenantNotice(
        REGION, ACCOUNT, "acme", f.T0 + 5, status="DISABLED", origin="AWS_MANAGED", arn=ARN
    )
    shaped = json.loads(_status_event("acme", "DISABLED"))
    shaped["detail"] = {"data": 5}
    assert decode_body(json.dumps(shaped)) == Invalid(
        "schema", "EventBridge Sending Status Disabled event"
    )
    for data in ({"origin": "AWS_MANAGED", "record": {"cause": "why"}}, "paused"):
        unsaid = json.loads(_status_event("acme", "DISABLED"))
        unsaid["detail"] = {"data": data}
        assert decode_body(json.dumps(unsaid)) == Invalid(
            "schema", "a sending status event without its status"
        )


# Short polls: a stop need not wait out a long poll (conftest.short_polls).
@pytest.mark.usefixtures("short_polls")
async def test_a_status_event_on_the_queue_alerts_without_waiting_for_a_poll(
    local_sqs: Any, sqs: Any
) -> None:
    """SES's "Sending Status Disabled" arrives on the queue (an EventBridge rule to SQS)
    long before the next poll (an hour away): the daemon alerts at once, naming the
    tenant, its region and SES's cause."""
    url, _ = await make_queue(sqs)
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        config = parse_config(
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
            '[http]\nlisten = "127.0.0.1:0"\n[account_health]\nenabled = false\n'
            f'{TENANTS}poll_every = "1h"\nendpoint_url = "{tenants.url}"\n'
            '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n' + PAUSED_RULE
        )
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: tenants.calls.get("ListTenants", 0) >= 1)
            await send_bodies(sqs, url, [_status_event("acme", "DISABLED")])
            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: ("tenant-paused", "acme") in daemon.alerting.evaluator.current
                )
            alert = daemon.alerting.evaluator.current[("tenant-paused", "acme")]
            assert tenants.calls["ListTenants"] == 1  # no poll since: the event did it
    assert alert.notes[0].startswith(f"SES paused tenant acme in {REGION}")
    assert "Bounce rate too high." in alert.notes[0]


def test_suppressed_recipients_are_not_bounces_unless_a_rule_asks() -> None:
    """Nine delivered, one hard bounce, ten bounces from suppression lists (account,
    tenant, global): the bounce ratio is 1 in 10, the suppressed ones counted apart by
    subtype; a rule with ``include_suppressed`` reads 11 in 20."""
    rules = (
        '[[alerts.rules]]\nname = "bounces"\nmetric = "bounce_ratio"\nwindow = "5m"\nabove = 0.5\n'
        '[[alerts.rules]]\nname = "with-suppressed"\nmetric = "bounce_ratio"\nwindow = "5m"\n'
        "above = 0.5\ninclude_suppressed = true\n"
    )
    config = parse_config(TENANTS + rules)
    pipeline = Pipeline(core_settings(config))
    for i in range(9):
        pipeline.feed(f.raw(f.delivery([f"d{i}@x.example"])), "q", NOW)
    pipeline.feed(f.raw(f.bounce(["b@x.example"])), "q", NOW)
    subtypes = ["OnAccountSuppressionList"] * 4 + ["OnTenantSuppressionList"] * 3
    for i, subtype in enumerate([*subtypes, "Suppressed", "Suppressed", "Suppressed"]):
        event = f.bounce([f"s{i}@x.example"])
        event["bounce"]["bounceSubType"] = subtype
        pipeline.feed(f.raw(event), "q", NOW)
    figures = pipeline.ledger.windows["x.example"].figures(0, NOW)
    assert figures.bounce_ratio == 0.1
    assert pipeline.ledger.by_domain.suppressed["x.example"] == {
        "OnAccountSuppressionList": 4, "OnTenantSuppressionList": 3, "Suppressed": 3,
    }  # fmt: skip
    assert pipeline.ledger.by_domain.recipients["x.example"][BOUNCE] == 1
    estimate = pipeline.ledger.reputation.estimate(("default", "eu-west-1", ""))
    assert estimate is not None
    assert (estimate.bounces, estimate.sends) == (1, 10)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (fired.rule, fired.value) == ("with-suppressed", 11 / 20)
    text = render(Metrics(pipeline.ledger, ["q"], lambda: NOW).registry.collect()).decode()
    assert (
        'sesd_suppressed_recipients_total{bounce_subtype="Suppressed",domain="x.example"} 3.0'
        in text
    )


def test_a_complaint_ses_never_sent_is_no_complaint() -> None:
    """A Complaint of subtype OnAccountSuppressionList is SES not sending to an address
    the account's list holds: in no complaint count, ratio or reputation estimate, nor
    a tag's counts (an alert on it would say AWS may pause sending); a complaint of
    subtype null counts."""
    config = parse_config(
        '[dimensions]\ntags = ["campaign"]\n'
        '[[alerts.rules]]\nname = "complaints"\nmetric = "complaint_ratio"\nwindow = "5m"\n'
        "above = 0.05\n"
    )
    pipeline = Pipeline(core_settings(config))
    for i in range(18):
        pipeline.feed(f.raw(f.delivery([f"d{i}@x.example"])), "q", NOW)
    for i, subtype in enumerate(["OnAccountSuppressionList"] * 3 + [None]):
        event = f.complaint([f"c{i}@x.example"])
        event["complaint"]["complaintSubType"] = subtype
        event["mail"]["tags"] = {"campaign": ["spring"]}
        pipeline.feed(f.raw(event), "q", NOW)
    assert pipeline.ledger.windows["x.example"].figures(0, NOW).complaint_ratio == 1 / 18
    assert pipeline.ledger.by_domain.recipients["x.example"][COMPLAINT] == 1
    estimate = pipeline.ledger.reputation.estimate(("default", "eu-west-1", ""))
    assert estimate is not None
    assert estimate.complaints == 1
    assert pipeline.ledger.tallies.tag_recipients[("campaign", "spring")][COMPLAINT] == 1
    assert pipeline.ledger.tallies.queue_counts("q")[COMPLAINT] == 4  # the events arrived
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)  # 1 in 18, not 4
    assert fired.value == 1 / 18


def test_ten_thousand_tenants_stay_within_the_label_cap() -> None:
    """10,000 tenants, each named by its events: 200 keep labels of their own (the cap),
    the rest count as ``other``; none is lost from the totals."""
    pipeline = _pipeline()
    for i in range(10_000):
        body = _event("delivery", f"u{i}@x.example", tags={"tenant": [f"t{i:05d}"]})
        pipeline.feed(body, "q", NOW)
    scope = pipeline.ledger.by_tenant
    assert scope is not None
    assert len(scope.recipients) == 201
    assert scope.recipients["other"][DELIVERY] == 9_800
    assert sum(counts[DELIVERY] for counts in scope.recipients.values()) == 10_000


def test_a_tenant_a_rule_names_keeps_its_label_when_strangers_names_took_the_rest() -> None:
    """A sender's own tenant tag can carry any name: 201 made-up ones take every label
    (the cap is 200) first, then globex, which a rule names, has a delay spike. It is
    counted under its own name and the rule fires, rather than going to ``other``."""
    pipeline, evaluator = _delay_rule("globex-delays", '["globex", "acme-*"]')
    for i in range(201):
        pipeline.feed(
            _event("delivery", f"u{i}@x.example", tags={"tenant": [f"made-up-{i}"]}), "q", NOW
        )
    for i in range(20):
        kind = "delay" if i % 2 else "delivery"
        pipeline.feed(_event(kind, f"g{i}@x.example", tags={"tenant": ["globex"]}), "q", NOW)
    assert _counts(pipeline, "globex")[DELIVERY] == 10
    assert _counts(pipeline, "other")[DELIVERY] == 1  # the 201st made-up name
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (fired.domain, fired.value) == ("globex", 0.5)


def test_a_tenants_delay_alert_names_the_domains_its_delays_went_to() -> None:
    """A tenant's delays at outlook.com: its alert says which domains (its advice says
    to slow down to "this provider"), as a provider's alert does; a paused tenant's
    alert (what SES says, no events) has no such line."""
    pipeline, evaluator = _delay_rule("tenant-delays", '["*"]')
    for i in range(20):
        kind, domain = ("delay", "outlook.com") if i % 2 else ("delivery", "gmail.com")
        pipeline.feed(_event(kind, f"g{i}@{domain}", tags={"tenant": ["globex"]}), "q", NOW)
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
    text = console_text(Notification("tenant-delays", fired.kind, "warning", (), (fired,), NOW))
    assert "    top domains: outlook.com (10)" in text.splitlines()
    assert "top domains: outlook.com (10)" in describe(fired, slack=True)


def test_a_tenants_alert_names_its_tenant_for_machines() -> None:
    """A tenant's alert is labelled `tenant` for Alertmanager, and the webhook's alert
    says `"tenant"` beside its null `domain`, `provider` and `account`, as a provider's
    alert says `"provider"`: a receiver routes on the field, not on the text."""
    from sesd.alerting.documents import alertmanager_documents, webhook_document

    pipeline, evaluator = _delay_rule("tenant-delays", '["*"]')
    for i in range(20):
        kind = "delay" if i % 2 else "delivery"
        pipeline.feed(_event(kind, f"g{i}@gmail.com", tags={"tenant": ["globex"]}), "q", NOW)
    (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
    notification = Notification("tenant-delays", fired.kind, "warning", (), (fired,), NOW)
    (am,) = alertmanager_documents(notification, 60)
    assert am["labels"]["tenant"] == "globex"
    (hook,) = json.loads(webhook_document(notification))["alerts"]
    subject = {key: hook[key] for key in ("domain", "provider", "account", "tenant")}
    assert subject == {"domain": None, "provider": None, "account": None, "tenant": "globex"}


def test_a_state_file_from_before_tenants_loads_its_pending_delays_under_their_labels() -> None:
    """A delay pending when sesd ran without tenants (and its labels saved without their
    axes, as files were): restored with tenants on, it keeps its domain and provider,
    and its tenant is unknown; the tenant map survives the restart."""
    before = Pipeline(core_settings(parse_config("")))
    before.ledger.providers.remember("x.example", "google", NOW + 3600)  # type: ignore[union-attr]
    before.feed(_event("delay", "a@x.example"), "q", NOW)
    saved = before.ledger.snapshot(NOW)
    saved["pending"].pop("axes")  # as a file from before tenants has it
    after = _pipeline()
    arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/acme-set"
    after.ledger.tenant_map.replace(REGION, ACCOUNT, {arn: {"acme"}})
    after.ledger.restore(saved, NOW)
    ledger = after.ledger
    assert ledger.pending.counts(NOW, 0) == {"x.example": 1}
    assert ledger.pending.counts(NOW, 1) == {"google": 1}
    assert ledger.pending.counts(NOW, 2) == {"unknown": 1}
    again = _pipeline()
    again.ledger.restore(ledger.snapshot(NOW), NOW)
    assert again.ledger.tenant_map.arns == {arn: "acme"}


def test_pending_delays_keep_their_tenant_when_providers_are_turned_off() -> None:
    """Saved with providers and tenants counted, restored with providers off: each
    pending delay's labels go to the scopes that are still counted, by axis (its
    tenant stays its tenant, not the provider saved in that place)."""
    before = _pipeline()
    before.ledger.providers.remember("x.example", "google", NOW + 3600)  # type: ignore[union-attr]
    before.feed(_event("delay", "a@x.example", tags={"tenant": ["acme"]}), "q", NOW)
    after = _pipeline("[providers]\nenabled = false\n")
    after.ledger.restore(before.ledger.snapshot(NOW), NOW)
    assert after.ledger.pending.counts(NOW, 0) == {"x.example": 1}
    assert after.ledger.pending.counts(NOW, 1) == {"acme": 1}


def test_a_tenant_with_recipients_still_pending_is_not_evicted() -> None:
    """Idle for idle_evict with a delay not expired, a tenant stays (its pending count
    and its alerts go on); once the delay expires, it goes."""
    pipeline = _pipeline('[domains]\nidle_evict = "1h"\n')
    event = f.delay(["a@x.example"], at=NOW, expires=NOW + 7200)
    event["mail"]["tags"] = {"tenant": ["acme"]}
    pipeline.feed(f.raw(event), "q", NOW)
    scope = pipeline.ledger.by_tenant
    assert scope is not None
    pipeline.housekeep(NOW + 3700)
    assert "acme" in scope.recipients
    assert pipeline.ledger.pending.count("acme", NOW + 3700, scope.index) == 1
    pipeline.housekeep(NOW + 7300)
    assert "acme" not in scope.recipients


def test_an_idle_tenant_goes_with_its_expired_delays_while_its_domain_stays() -> None:
    """A tenant evicted after its delay expired (not yet forgotten for good) takes the
    delay with it, though its tracked domain stays: no count of 0 is left under it."""
    pipeline = _pipeline('[domains]\nidle_evict = "1h"\ntrack = ["x.example"]\n')
    event = f.delay(["a@x.example"], at=NOW, expires=NOW + 7200)
    event["mail"]["tags"] = {"tenant": ["acme"]}
    pipeline.feed(f.raw(event), "q", NOW)
    scope = pipeline.ledger.by_tenant
    assert scope is not None
    assert pipeline.housekeep(NOW + 7300) == []
    assert "acme" not in scope.recipients
    pending = pipeline.ledger.pending
    assert (pending.counts(NOW + 7300, scope.index), len(pending)) == ({}, 0)


def test_a_tenant_restored_and_not_seen_again_is_evicted_when_idle() -> None:
    """A tenant the state file brings back, of which no event comes, goes when idle as
    one this process counted does."""
    before = _pipeline('[domains]\nidle_evict = "1h"\n')
    before.feed(_event("delivery", "a@x.example", tags={"tenant": ["acme"]}), "q", NOW)
    after = _pipeline('[domains]\nidle_evict = "1h"\n')
    after.ledger.restore(before.ledger.snapshot(NOW), NOW)
    assert after.ledger.tenant_labels.labels() == ["acme"]
    after.housekeep(NOW + 3700)
    assert after.ledger.tenant_labels.labels() == []


def test_a_rule_on_every_tenant_but_some_leaves_those_out() -> None:
    """`exclude_tenants` (names or globs): every tenant but the internal test ones is
    watched, and a tenant added later is watched without editing the rule."""
    rule = '["*"]\nexclude_tenants = ["test-*", "QA"]'  # a name as SES has it, not a domain
    pipeline, evaluator = _delay_rule("tenant-delays", rule)
    for tenant in ("globex", "test-internal", "initech", "QA"):
        for i in range(20):
            kind = "delay" if i % 2 else "delivery"
            address = f"{tenant}{i}@outlook.com"
            pipeline.feed(_event(kind, address, tags={"tenant": [tenant]}), "q", NOW)
    fired = evaluator.evaluate(pipeline.ledger, NOW)
    assert sorted(a.domain for a in fired) == ["globex", "initech"]
    with pytest.raises(ConfigError, match="a rule on tenants leaves some out with exclude_t"):
        parse_config(
            TENANTS + '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.2\ntenants = ["*"]\nexclude_domains = ["a.com"]\n'
        )


async def test_a_role_denied_listtenantresources_alone_is_told_to_grant_that() -> None:
    """The role may ListTenants but not ListTenantResources: the failure is counted and
    logged under list_tenant_resources, its hint names ses:ListTenantResources (not
    ses:ListTenants, granted already), and the tenants' statuses are still read. Then
    the permission is granted, and SES throttles it: counted under its name too."""
    from structlog.testing import capture_logs

    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "acme-set"))
        tenants.denied.add("ListTenantResources")
        pipeline = _pipeline()
        ledger = pipeline.ledger
        async with tenant_poller(tenants, pipeline, lambda: NOW, recommendations=False) as poller:
            with capture_logs() as logs:
                await poller.poll_once()
                tenants.denied.clear()
                # ListReputationEntities, ListTenants, then a refusal at each try
                tenants.script = [200, 200, *[429] * THROTTLED_TRIES]
                await poller.poll_once()
    assert ledger.accounts.errors == {
        ("default", REGION, "list_tenant_resources", "AccessDeniedException"): 1,
        ("default", REGION, "list_tenant_resources", "TooManyRequestsException"): 1,
    }
    failed = [line for line in logs if line["event"] == "sesd.account.poll_failed"]
    assert [line["api"] for line in failed] == ["list_tenant_resources"] * 2
    assert failed[0]["hint"] == (
        "grant ses:ListTenantResources to the credentials (or role) sesd uses here"
    )
    assert ("default", REGION, "acme") in ledger.tenant_status.status


async def test_a_throttled_listrecommendations_keeps_the_findings_it_had() -> None:
    """globex has a HIGH bounce finding open, polled. Then SES throttles every
    ListRecommendations for a pass: globex keeps its finding (its text, which the
    alert quotes, with its impact), rather than an impact HIGH with no finding. Once
    SES answers again without it (closed), it is gone."""
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        globex = tenants.add("globex")
        globex.impact = "HIGH"
        globex.findings.append(("BOUNCE", "HIGH", "The bounce rate exceeded 15.0%"))
        pipeline = _pipeline()
        key = ("default", REGION, "globex")
        await _polled(tenants, pipeline)
        found = ("BOUNCE", "HIGH", "The bounce rate exceeded 15.0%")
        assert pipeline.ledger.tenant_status.status[key].findings == [found]
        tenants.throttled.add("ListRecommendations")
        await _polled(tenants, pipeline)
        status = pipeline.ledger.tenant_status.status[key]
        assert (status.findings, status.impact) == ([found], "HIGH")
        assert pipeline.ledger.accounts.errors == {
            ("default", REGION, "list_recommendations", "TooManyRequestsException"): 1
        }
        tenants.throttled.clear()
        globex.findings.clear()
        globex.impact = None
        await _polled(tenants, pipeline)
    status = pipeline.ledger.tenant_status.status[key]
    assert (status.findings, status.impact) == ([], "")


def test_a_configuration_set_no_arn_can_name_is_not_learned() -> None:
    """SES's tenant tag maps the configuration set an event names; a set whose ARN would
    be longer than any resource's SES writes (MAX_RESOURCE_ARN: a forged tag's megabyte)
    is no resource, and the map, saved in the state file, does not keep it. One at the
    bound is kept."""
    from sesd.core.tenant_map import MAX_RESOURCE_ARN, TenantMap

    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/x.example"
    head = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/"
    tenants = TenantMap()
    tenants.learn(identity, "s" * (MAX_RESOURCE_ARN + 1 - len(head)), "acme", by_ses=True)
    tenants.learn(identity, "s" * 250_000, "acme", by_ses=True)
    assert tenants.arns == {}
    tenants.learn(identity, "s" * (MAX_RESOURCE_ARN - len(head)), "acme", by_ses=True)
    assert [len(arn) for arn in tenants.arns] == [MAX_RESOURCE_ARN]


def test_a_tenant_rule_removed_resolves_a_tenant_not_a_domain_of_the_same_name() -> None:
    """A tenant's name may be a domain label too (a dotless domain, an intranet's),
    whose provider is known: the resolve a removed rule owes is the tenant's, naming
    no provider, as its firing did."""
    pipeline, evaluator = _delay_rule("tenant-delays", '["*"]')
    ledger = pipeline.ledger
    assert ledger.providers is not None
    ledger.providers.remember("acme", "google", NOW + 86400)
    for i in range(20):
        kind = "delay" if i % 2 else "delivery"
        pipeline.feed(_event(kind, f"u{i}@acme", tags={"tenant": ["acme"]}), "q", NOW)
    (fired,) = evaluator.evaluate(ledger, NOW)
    assert (fired.scope, fired.domain, fired.provider) == ("tenant", "acme", None)
    assert ledger.provider_of("acme", NOW) == "google"  # the domain's
    evaluator.due(NOW, flush=True)
    evaluator.configure(
        parse_config(TENANTS).alerts, [s.name for s in ledger.specs], NOW + 5, ledger
    )
    (notification,) = evaluator.due(NOW + 5, flush=True)
    (resolved,) = notification.alerts
    assert (resolved.kind, resolved.scope, resolved.domain) == (
        "resolved",
        "tenant",
        "acme",
    )
    assert resolved.provider is None
