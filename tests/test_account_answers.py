"""What the account and tenant polls take from SES's answers, and what they keep: a
tenant's aggregate status derived when SES leaves it out, a state file's words cleaned
as a live answer's, an account a reload removed not brought back by a poll under way
and its tenants' statuses forgotten, the age of AWS's own reputation figure, and a
finding's event not undone by a list read before it."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from aiobotocore.session import get_session
from prometheus_client.parser import text_string_to_metric_families

from sesd.account.codes import KNOWN_CODES, OTHER
from sesd.account.failures import THROTTLED_TRIES
from sesd.account.poller import AccountPoller
from sesd.alerting.accounts import measure_account
from sesd.alerting.evaluator import Evaluator
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.demo.localtenants import LocalTenants, Tenant
from sesd.config import core_settings, parse_config
from sesd.core.accounts import Accounts
from sesd.core.pipeline import Pipeline
from sesd.core.reputation import Estimate
from sesd.core.tenant_map import AMBIGUOUS, UNKNOWN, TenantMap
from sesd.core.tenant_walks import TenantWalk, TenantWalks
from sesd.core.tenants import TenantNotice
from sesd.core.text import clean
from sesd.metrics.accounts import AccountCollector
from sesd.metrics.exposition import render
from tests.fake_ses import FakeSes, healthy_account
from tests.test_account_health import NOW, _clients, _close, _poller
from tests.test_tenant_passes import TARGET, Clock, tenant_poller

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def _pipeline() -> Pipeline:
    return Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))


class _NoAggregate(LocalTenants):
    """An endpoint whose reputation entities leave out ``SendingStatusAggregate`` (every
    member of SES's ReputationEntity is optional)."""

    def _entity(self, tenant: Tenant) -> dict[str, Any]:
        found = LocalTenants._entity(self, tenant)
        del found["SendingStatusAggregate"]
        return found


async def test_a_tenant_ses_paused_reads_paused_when_the_aggregate_is_left_out() -> None:
    """SES pauses globex (its own status DISABLED), acme is paused by its customer and
    initech reinstated, and the answer leaves the aggregate out: sesd derives it from
    the two statuses as SES does, so globex and acme read paused, initech sending."""
    pipeline = _pipeline()
    clock = Clock()
    async with _NoAggregate(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        tenants.add("acme")
        tenants.add("initech")
        tenants.pause("globex", "The bounce rate exceeded 15.0%.")
        tenants.pause("acme", "held for review", by_aws=False)
        tenants.reinstate("initech")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            await poller.poll_once()
    status = pipeline.ledger.tenant_status.status
    assert status[(*TARGET, "globex")].sending == "DISABLED"
    assert status[(*TARGET, "globex")].paused
    assert status[(*TARGET, "acme")].sending == "DISABLED"
    assert status[(*TARGET, "initech")].sending == "REINSTATED"
    assert not status[(*TARGET, "initech")].paused


def test_a_state_files_tenant_map_keeps_only_names_ses_could_have_given() -> None:
    """A state file (an older build's, or edited by hand) maps resources to "acme", to
    "" (shared by several tenants), to a name with a line break and spaces, and to one
    of 300 characters, and a line that names no ARN to acme: restored, the map keeps acme
    and the shared resource, as a live walk would; the two names SES could not have
    given map nothing (unknown), and the line with no ARN is dropped."""
    where = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set"
    tenant_map = TenantMap()
    tenant_map.restore([
        [f"{where}/a", "acme"], [f"{where}/shared", AMBIGUOUS],
        [f"{where}/b", "evil\nname <b>"], [f"{where}/c", "x" * 300],
        ["not an arn", "acme"],
    ])  # fmt: skip
    assert tenant_map.arns == {f"{where}/a": "acme", f"{where}/shared": AMBIGUOUS}
    assert tenant_map.tenant(f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/x", "b") == UNKNOWN


def test_a_state_files_enforcement_status_is_cleaned_as_a_live_answer_is() -> None:
    """A state file's enforcement status carries control characters, an address and 5,000
    characters: restored, it is cut to SES's word length with the address hidden, as
    GetAccount's own answer would be, so no alert text or status page shows it whole."""
    accounts = Accounts()
    saved = {"enforcement": "PROBATION\x1b[31m ann@example.com " + "x" * 5000}
    accounts.restore([["default", REGION, saved]], {("default", REGION)})
    said = accounts.status[("default", REGION)].enforcement
    assert said is not None
    assert said == clean(saved["enforcement"], 64)
    assert len(said) <= 64
    assert "ann@example.com" not in said
    assert "\x1b" not in said


async def test_a_finding_closed_while_the_findings_list_is_read_stays_closed() -> None:
    """globex has an open BOUNCE finding. A poll asks ListRecommendations, whose answer
    (read before the close) still lists it; while that answer is under way SES's event
    says the finding closed. The event is newer than the list's start, so the finding
    stays closed; a later poll whose list no longer names it agrees."""
    pipeline = _pipeline()
    clock = Clock()
    statuses = pipeline.ledger.tenant_status
    key = (*TARGET, "globex")
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        globex = tenants.add("globex")
        globex.findings.append(("BOUNCE", "HIGH", "The bounce rate exceeded 15.0%"))
        async with tenant_poller(tenants, pipeline, clock, recommendations=True) as poller:
            await poller.poll_once()
            assert [f[0] for f in statuses.status[key].findings] == ["BOUNCE"]
            clock.advance(300)
            tenants.held.add("ListRecommendations")
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                await tenants.holding.wait()
                clock.advance(1)
                closed = TenantNotice(
                    REGION,
                    ACCOUNT,
                    "globex",
                    clock.now,
                    finding="BOUNCE",
                    impact="HIGH",
                    open=False,
                )
                statuses.apply(closed)
                assert statuses.status[key].findings == []
                clock.advance(1)
                tenants.close()  # the list answers: still naming the finding
            assert statuses.status[key].findings == []
            tenants.held.clear()
            globex.findings.clear()
            clock.advance(300)
            await poller.poll_once()
    assert statuses.status[key].findings == []


async def test_a_findings_list_resumed_at_the_next_poll_is_still_applied() -> None:
    """Two tenants with a finding each, one a page: the first poll's ListRecommendations
    is throttled on its second page; the next poll reads the statuses again, then
    resumes the list. The list began before those statuses were read, yet it is the
    newest word on the findings: both tenants show theirs."""
    pipeline = _pipeline()
    clock = Clock()
    statuses = pipeline.ledger.tenant_status
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 1
        for name in ("acme", "globex"):
            tenants.add(name).findings.append(("BOUNCE", "LOW", f"{name}'s bounces"))
        # Two pages of statuses, the findings' first page, then its second throttled.
        tenants.script = [200, 200, 200, *[429] * THROTTLED_TRIES]
        async with tenant_poller(tenants, pipeline, clock, recommendations=True, pace=1.0,
                                 sleep=clock.sleep) as poller:  # fmt: skip
            await poller.poll_once()
            assert [f[0] for f in statuses.status[(*TARGET, "acme")].findings] == []
            clock.advance(300)
            await poller.poll_once()
    for name in ("acme", "globex"):
        assert statuses.status[(*TARGET, name)].findings == [("BOUNCE", "LOW", f"{name}'s bounces")]


async def test_an_account_a_reload_removes_mid_poll_is_not_brought_back(
    local_sqs: LocalSqs,
) -> None:
    """Queues in eu-west-1 and us-east-1, SES saying sending is paused. A poll round is
    under way (eu-west-1's GetAccount held) when a reload drops us-east-1's queue: the
    round does not go on to poll it, so no pause of it comes back to page until a
    restart. Then, both watched again, a reload drops eu-west-1 while its own call is
    held and SES fails that call: the failure is not counted for an account no longer
    watched, and its answer is not kept."""
    rule = '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
    rule += "above = 0\n"
    eu = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/eu"\n'
    us = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/us"\n'
    config = parse_config(rule + eu + us)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    accounts = pipeline.ledger.accounts

    async with FakeSes() as fake:
        fake.account = {**healthy_account(), "SendingEnabled": False}
        client_for, made = _clients(fake, local_sqs)
        poller = AccountPoller(
            config.health_targets(), client_for, accounts, every=300, cloudwatch=False,
            clock=lambda: NOW,
        )  # fmt: skip

        async def round_reloading_to(text: str) -> None:
            """A poll round, held at its first GetAccount while a reload to ``text`` is
            done as sesd.runtime.reload does it: the ledger, then the poller's targets."""
            asked = fake.account_requests
            fake.account_gate = gate = anyio.Event()
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                await fake.wait_for(lambda fake: fake.account_requests > asked)
                merged = parse_config(text)
                pipeline.reconfigure(core_settings(merged))
                poller.targets = merged.health_targets()
                fake.account_gate = None
                gate.set()

        try:
            await round_reloading_to(rule + eu)
            assert list(accounts.status) == [("default", "eu-west-1")]
            (fired,) = evaluator.evaluate(pipeline.ledger, NOW)
            assert fired.domain == "default/eu-west-1"
            pipeline.reconfigure(core_settings(config))
            poller.targets = config.health_targets()
            fake.script_account(503)
            await round_reloading_to(rule + us)
        finally:
            await _close(made)
    assert list(accounts.status) == [("default", "us-east-1")]
    assert [key[:2] for key in accounts.errors] == []
    assert {key[:2] for key in accounts.asked} <= {("default", "us-east-1")}


async def test_error_codes_an_endpoint_makes_up_count_as_other(
    local_sqs: LocalSqs, json_logs: io.StringIO
) -> None:
    """GetAccount fails 50 times, each with an error code never seen before (an endpoint
    that is not SES's, a proxy), then once throttled: sesd_ses_poll_errors_total counts
    under two codes, not 51: the 50 under error="other" and TooManyRequestsException under
    its own; its series are the known codes' and other's, none made up. The log line
    still names each code (cut to a word) for whoever reads it."""
    pipeline = Pipeline(core_settings(parse_config("")))
    accounts = pipeline.ledger.accounts
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        fake.script_account(*[(500, f"Made{n}Up" + "x" * 100) for n in range(50)], 429)
        for _ in range(51):
            await poller.poll_once()
    text = render([*AccountCollector(pipeline.ledger.reputation, accounts, polled=True).collect()])
    series = {
        s.labels["error"]: s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if s.name == "sesd_ses_poll_errors_total"
    }
    assert {code: n for code, n in series.items() if n} == {
        "other": 50,
        "TooManyRequestsException": 1,
    }
    assert set(series) == {*KNOWN_CODES, OTHER}
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    said = [r["error"] for r in records if r["event"] == "sesd.account.poll_failed"]
    assert said[0].startswith("Made0Up")
    assert len(said[0]) <= 64
    assert said[-1] == "TooManyRequestsException"


async def test_awss_figure_says_how_old_it_is_and_goes_once_cloudwatch_has_none(
    local_sqs: LocalSqs,
) -> None:
    """CloudWatch holds one AWS bounce rate datapoint, 3.1%, ten minutes old. The alert
    text quotes it with the time it was stamped, so an on-call sees how old it is. Seven
    hours later CloudWatch answers with no datapoint in the six hours asked for (AWS
    stopped publishing it): the figure is not kept as if current, its series goes and
    the alert text no longer quotes it."""
    region = "sa-east-1"  # a region no other test puts datapoints in
    target = ("default", region)
    stamp = NOW - 600
    async with get_session().create_client(
        "cloudwatch", region_name=region, endpoint_url=local_sqs.url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ) as cloudwatch:  # fmt: skip
        await cloudwatch.put_metric_data(
            Namespace="AWS/SES",
            MetricData=[{"MetricName": "Reputation.BounceRate", "Value": 0.031,
                         "Timestamp": datetime.fromtimestamp(stamp, UTC)}],
        )  # fmt: skip
    pipeline = Pipeline(core_settings(parse_config("")))
    accounts = pipeline.ledger.accounts
    clock = Clock()
    clock.now = NOW
    estimate = Estimate(sends=200, bounces=4, complaints=0, from_sends=True)

    def aws_series() -> list[float]:
        text = render(
            [*AccountCollector(pipeline.ledger.reputation, accounts, polled=True).collect()]
        )
        return [
            s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples
            if s.name == "sesd_ses_reputation_bounce_ratio" and s.labels["source"] == "aws"
        ]

    async with FakeSes() as fake:
        client_for, made = _clients(fake, local_sqs)
        poller = AccountPoller(
            [target], client_for, accounts, every=300, cloudwatch=True, clock=clock
        )
        try:
            await poller.poll_once()
            _, _, lines = measure_account(
                "reputation_bounce_ratio", accounts.status[target], estimate
            )
            assert aws_series() == [0.031]
            when = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
            assert lines[-1] == f"AWS's own figure (CloudWatch): 3.1%, its newest datapoint {when}"
            clock.advance(7 * 3600)
            await poller.poll_once()
        finally:
            await _close(made)
    _, _, lines = measure_account("reputation_bounce_ratio", accounts.status[target], estimate)
    assert aws_series() == []
    assert not any("AWS's own figure" in line for line in lines)


async def test_a_tenant_an_event_names_while_the_statuses_are_read_is_not_forgotten() -> None:
    """acme is listed; initech is created while a poll's ListReputationEntities is under
    way, too late for the list, and SES's event says it is paused. The list, read to its
    end, does not name initech, but the event is newer than the list's start: initech's
    pause is kept, not forgotten as a tenant deleted."""
    pipeline = _pipeline()
    clock = Clock()
    statuses = pipeline.ledger.tenant_status
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            await poller.poll_once()  # acme's ARN names the AWS account id events carry
            clock.advance(300)
            tenants.held.add("ListReputationEntities")
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                await tenants.holding.wait()
                clock.advance(1)
                paused = TenantNotice(REGION, ACCOUNT, "initech", clock.now, status="DISABLED")
                statuses.apply(paused)
                clock.advance(1)
                tenants.close()
    assert statuses.status[(*TARGET, "initech")].paused
    assert (*TARGET, "acme") in statuses.status


async def test_a_tenants_statuses_a_reload_removes_mid_poll_are_not_brought_back() -> None:
    """A reload removes the (account, region) while a poll's ListReputationEntities is
    under way: the page that comes back after is not kept, so no tenant status of an
    account no longer watched (nor its alerts) comes back from a poll, as the account's
    own answers do not."""
    pipeline = _pipeline()
    statuses = pipeline.ledger.tenant_status
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            tenants.held.add("ListReputationEntities")
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                await tenants.holding.wait()
                poller.targets = []  # as sesd.runtime.reload does
                tenants.close()
    assert statuses.status == {}


async def test_findings_a_reload_removes_mid_list_are_not_applied() -> None:
    """globex is polled, no finding open. A BOUNCE finding opens; a reload removes the
    (account, region) while the next poll's ListRecommendations is under way: the
    list that comes back after is not applied, so no finding of an account no longer
    polled is opened by a poll."""
    pipeline = _pipeline()
    clock = Clock()
    statuses = pipeline.ledger.tenant_status
    key = (*TARGET, "globex")
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        globex = tenants.add("globex")
        async with tenant_poller(tenants, pipeline, clock, recommendations=True) as poller:
            await poller.poll_once()
            assert statuses.status[key].findings == []
            globex.findings.append(("BOUNCE", "HIGH", "The bounce rate exceeded 15.0%"))
            clock.advance(300)
            tenants.held.add("ListRecommendations")
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                await tenants.holding.wait()
                poller.targets = []  # as sesd.runtime.reload does
                tenants.close()
    assert statuses.status[key].findings == []


async def test_tenant_statuses_of_an_account_a_reload_removes_are_forgotten() -> None:
    """Queues in eu-west-1 and us-east-1. SES paused globex in eu-west-1 (read by a
    poll) and initech in us-east-1, and an event names a paused tenant of an AWS account
    no poll names: three alerts fire. A reload removes eu-west-1's queue: no poll will
    speak of globex there again, so what SES said of it is forgotten and its alert
    resolves, as the account's own alerts do; initech's and the event's tenant stay."""
    rule = '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "tenant-paused"\n'
    rule += 'metric = "tenant_sending_paused"\nwindow = "5m"\nabove = 0\n'
    eu = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
    us = f'[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/us"\n'
    config = parse_config(rule + eu + us)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        tenants.pause("globex", "The bounce rate exceeded 15.0%.")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            await poller.poll_once()
    paused = ("DISABLED", "AWS_MANAGED")
    statuses.apply(TenantNotice("us-east-1", ACCOUNT, "initech", NOW, *paused))
    statuses.apply(TenantNotice("us-east-1", "999999999999", "hooli", NOW, *paused))
    fired = evaluator.evaluate(pipeline.ledger, clock.now)
    assert sorted((a.kind.value, a.domain) for a in fired) == [
        ("firing", "globex"), ("firing", "hooli"), ("firing", "initech")
    ]  # fmt: skip
    pipeline.reconfigure(core_settings(parse_config(rule + us)))
    poller.targets = parse_config(rule + us).health_targets()  # as sesd.runtime.reload does
    assert (*TARGET, "globex") not in statuses.status
    assert statuses.status[("default", "us-east-1", "initech")].paused
    assert statuses.status[("999999999999", "us-east-1", "hooli")].paused
    (resolved,) = evaluator.evaluate(pipeline.ledger, clock.now + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", "globex")


async def test_tenant_resources_of_an_account_a_reload_removes_map_no_more() -> None:
    """Queues in eu-west-1 and us-east-1 of one AWS account. The poll of eu-west-1 maps
    globex's configuration set to it; us-east-1's map has initech's. A reload removes
    eu-west-1's queue: no walk will replace its map again, so its mail (on a queue it
    shares with a watched account, say) no longer counts under globex, as what SES
    said of globex is forgotten; us-east-1's resources still map to initech."""
    eu = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
    us = f'[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/us"\n'
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n" + eu + us)))
    tenant_map = pipeline.ledger.tenant_map
    initech = f"arn:aws:ses:us-east-1:{ACCOUNT}:configuration-set/set-initech"
    tenant_map.replace("us-east-1", ACCOUNT, {initech: {"initech"}})
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            await poller.poll_once()
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    assert tenant_map.tenant(sender, "set-globex") == "globex"
    version = tenant_map.version
    pipeline.reconfigure(core_settings(parse_config("[tenants]\nenabled = true\n" + us)))
    assert tenant_map.tenant(sender, "set-globex") == UNKNOWN
    assert tenant_map.version > version  # what was looked up from the old map is stale
    us_sender = f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/example.com"
    assert tenant_map.tenant(us_sender, "set-initech") == "initech"


@pytest.mark.parametrize(("role_account", "kept"), [(ACCOUNT, "globex"), ("210987654321", UNKNOWN)])
async def test_a_reload_keeps_the_map_of_an_account_another_label_still_watches(
    role_account: str, kept: str
) -> None:
    """The queue of eu-west-1 read with the default credentials, whose poll maps
    globex's configuration set; a reload reads it through a role, ``prod``. In the same
    AWS account, ``prod`` watches what ``default`` did: its map stays (its own walk,
    hours away for a large account, replaces it), or its mail would count as unknown
    until then. In another account, nothing replaces the old one's map: it goes."""
    queue = f'url = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
    before = f"[tenants]\nenabled = true\n[[queues]]\n{queue}"
    role = f'role_arn = "arn:aws:iam::{role_account}:role/sesd"\nregion = "{REGION}"\n'
    after = f'{before}account = "prod"\n[[accounts]]\nname = "prod"\n{role}'
    pipeline = Pipeline(core_settings(parse_config(before)))
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            await poller.poll_once()
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    pipeline.reconfigure(core_settings(parse_config(after)))
    assert pipeline.ledger.settings.watched == (("prod", REGION),)
    assert pipeline.ledger.tenant_map.tenant(sender, "set-globex") == kept


async def test_a_reload_back_to_the_default_credentials_keeps_the_map_they_watch() -> None:
    """The queue of eu-west-1 read with the default credentials, and a role, ``prod``,
    into the same AWS account watched beside them; both polls map globex's set, prod's
    last. A reload removes ``prod``: the default credentials still watch the account,
    as their own poll found, so its map stays."""
    queue = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
    after = f"[tenants]\nenabled = true\n{queue}"
    role = f'role_arn = "arn:aws:iam::{ACCOUNT}:role/sesd"\nregion = "{REGION}"\n'
    pipeline = Pipeline(core_settings(parse_config(f'{after}[[accounts]]\nname = "prod"\n{role}')))
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            for targets in ([TARGET, ("prod", REGION)], [("prod", REGION)]):
                poller.targets = targets
                await poller.poll_once()
    # (prod's own polls leave the id the default credentials': its name is the config's)
    assert pipeline.ledger.tenant_status.accounts == {ACCOUNT: "default"}
    pipeline.reconfigure(core_settings(parse_config(after)))
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    assert pipeline.ledger.tenant_map.tenant(sender, "set-globex") == "globex"


def test_the_account_id_a_poll_found_is_kept_as_an_id_or_not_at_all() -> None:
    """Saved with the account's status, the AWS account id its tenants named comes back
    after a restart; one that is no id (a file edited by hand) does not."""
    accounts = Accounts()
    accounts.record(TARGET).account_id = ACCOUNT
    accounts.record(("prod", REGION)).account_id = "12345678901x"
    again = Accounts()
    again.restore(accounts.snapshot(), {TARGET, ("prod", REGION)})
    assert again.ids() == {(ACCOUNT, "default")}


async def test_a_listing_that_names_no_account_id_leaves_none_of_the_file_behind() -> None:
    """A file saved while the default credentials reached ACCOUNT says so; after the
    restart they reach another account, whose ListTenants names no tenant (so no id).
    The role ``prod`` into ACCOUNT maps globex's set. A reload removes ``prod``: no
    label in force watches ACCOUNT any more, and its map goes (the file's id, stale,
    would keep it for the whole run: no walk of ACCOUNT replaces it)."""
    queue = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
    after = f"[tenants]\nenabled = true\n{queue}"
    role = f'role_arn = "arn:aws:iam::{ACCOUNT}:role/sesd"\nregion = "{REGION}"\n'
    pipeline = Pipeline(core_settings(parse_config(f'{after}[[accounts]]\nname = "prod"\n{role}')))
    saved = Accounts()
    saved.record(TARGET).account_id = ACCOUNT
    pipeline.ledger.accounts.restore(saved.snapshot(), {TARGET})
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            poller.targets = [("prod", REGION)]
            await poller.poll_once()
    empty = LocalTenants("210987654321", REGION)  # (another account, no tenant)
    async with empty, tenant_poller(empty, pipeline, Clock(), recommendations=False) as poller:
        await poller.poll_once()
    pipeline.reconfigure(core_settings(parse_config(after)))
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    assert pipeline.ledger.tenant_map.tenant(sender, "set-globex") == UNKNOWN


def test_a_reload_forgets_the_map_of_the_account_the_file_said_no_poll_named_yet() -> None:
    """Restored from the file: the default credentials' tenants in eu-west-1, of
    ACCOUNT (the id their walk found), mapped. No poll has named the id yet (ListTenants
    denied, say) when a reload moves the queue to us-east-1: nothing watches ACCOUNT in
    eu-west-1 any more, and its map goes, as it does once a poll named the id."""
    eu = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
    us = f'[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/us"\n'
    pipeline = Pipeline(core_settings(parse_config(f"[tenants]\nenabled = true\n{eu}")))
    saved = Accounts()
    saved.record(TARGET).account_id = ACCOUNT
    pipeline.ledger.accounts.restore(saved.snapshot(), {TARGET})
    arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/set-globex"
    pipeline.ledger.tenant_map.restore([[arn, "globex"]])
    pipeline.reconfigure(core_settings(parse_config(f"[tenants]\nenabled = true\n{us}")))
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    assert pipeline.ledger.tenant_map.tenant(sender, "set-globex") == UNKNOWN


async def test_a_walk_saved_at_a_tenant_before_the_first_starts_over() -> None:
    """A state file's walk of two tenants at tenant -3 (a hand's edit: no sesd counts
    below none). Restored, each round's read of its tenants raised IndexError, the
    poller's end (started again, the walk still there, at every round). It starts
    over: acme's set is mapped at the first poll."""
    walks = TenantWalks()
    walks.walks[TARGET] = TenantWalk(NOW, listing=False, tenants=["acme", "globex"], next=-3)
    pipeline = _pipeline()
    pipeline.ledger.tenant_walks.restore(walks.snapshot(), {TARGET}, NOW, 10)
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        async with tenant_poller(
            tenants, pipeline, Clock(), recommendations=False, walks=pipeline.ledger.tenant_walks
        ) as poller:
            await poller.poll_once()
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    assert pipeline.ledger.tenant_map.tenant(sender, "set-acme") == "acme"
