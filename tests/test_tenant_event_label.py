"""Which label an SES tenant event is counted under when the default credentials and
an ``[[accounts]]`` role reach the same AWS account: the entry's name, where it is
watched, whichever of the two polled last; as the account's mail is (an identity's
account id names its entry). The local SESv2 tenants endpoint, its answers parsed by
botocore."""

from __future__ import annotations

import pytest

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice
from tests.test_tenant_passes import ACCOUNT, REGION, Clock, tenant_poller

TENANTS = "[tenants]\nenabled = true\n"
EU = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
US = f'[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/us"\n'
PROD = (
    f'[[accounts]]\nname = "prod"\nrole_arn = "arn:aws:iam::{ACCOUNT}:role/sesd"\n'
    f'region = "{REGION}"\n'
)


async def _polled(pipeline: Pipeline, targets: list[tuple[str, str]], region: str) -> None:
    """Each of ``targets`` polled in turn, every one reaching ACCOUNT, globex its tenant."""
    async with LocalTenants(ACCOUNT, region) as tenants:
        tenants.add("globex")
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            for target in targets:
                poller.targets = [target]
                await poller.poll_once()


def _paused(pipeline: Pipeline, region: str) -> list[tuple[str, str, str]]:
    """The tenants shown paused after SES's event pausing globex in ``region``."""
    statuses = pipeline.ledger.tenant_status
    statuses.apply(
        TenantNotice(region, ACCOUNT, "globex", Clock().now + 60, status="DISABLED",
                     origin="AWS_MANAGED", cause="The bounce rate exceeded 15.0%.")
    )  # fmt: skip
    return [key for key, status in statuses.status.items() if status.paused]


@pytest.mark.parametrize("last", ["default", "prod"])
async def test_an_event_of_an_account_two_labels_reach_counts_under_the_entry(last: str) -> None:
    """The default credentials and the role ``prod`` both reach ACCOUNT in eu-west-1,
    and are polled in either order: SES's event pausing globex shows under ``prod``,
    not under whichever label polled last (a pause that moved between labels with
    the polls' order, its alert under one label one hour and the other the next)."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{EU}{PROD}")))
    order = [("prod", REGION), ("default", REGION)]
    await _polled(pipeline, order if last == "default" else order[::-1], REGION)
    assert _paused(pipeline, REGION) == [("prod", REGION, "globex")]


async def test_an_event_where_the_entry_is_not_watched_counts_under_the_poller() -> None:
    """The role ``prod`` is watched in eu-west-1 only; the default credentials reach
    the same account in us-east-1 as well: an event there counts under ``default``,
    whose polls speak of that region, not under the entry (its poll in eu-west-1 the
    last), which no poll reads there."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{EU}{US}{PROD}")))
    await _polled(pipeline, [("default", "us-east-1")], "us-east-1")
    await _polled(pipeline, [("prod", REGION)], REGION)
    assert _paused(pipeline, "us-east-1") == [("default", "us-east-1", "globex")]


async def test_an_event_of_the_account_a_role_left_by_a_reload_is_not_the_entrys() -> None:
    """``prod``'s polls named ACCOUNT; a reload points its role at another AWS account.
    SES's event pausing a tenant of ACCOUNT (on a queue sesd still reads) is no longer
    ``prod``'s: its polls read the other account now, as after a restart with the same
    change. Counted under ``prod``, it paged a pause of a tenant ``prod`` has not, until
    its next list of tenants' statuses dropped it, and the next event again."""
    other = PROD.replace(ACCOUNT, "210987654321")
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{EU}{PROD}")))
    await _polled(pipeline, [("prod", REGION)], REGION)
    pipeline.reconfigure(core_settings(parse_config(f"{TENANTS}{EU}{other}")))
    assert _paused(pipeline, REGION) == [(ACCOUNT, REGION, "globex")]


async def test_an_event_of_the_account_the_default_credentials_left_is_not_theirs() -> None:
    """The default credentials' polls named ACCOUNT, then (the credentials changed, no
    reload) 210987654321, whose tenants include a globex too. SES's event pausing
    ACCOUNT's globex (on a queue sesd still reads) was counted under ``default``, the
    old id kept mapped to it: the other account's globex shown paused, its alert
    paged, until the next poll's answer, and again at the next such event. It is kept
    under the id now, as after a restart or a reload."""
    other = "210987654321"
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{EU}")))
    await _polled(pipeline, [("default", REGION)], REGION)
    async with LocalTenants(other, REGION) as tenants:
        tenants.add("globex")
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            await poller.poll_once()
    assert pipeline.ledger.tenant_status.accounts == {other: "default"}
    assert _paused(pipeline, REGION) == [(ACCOUNT, REGION, "globex")]


@pytest.mark.parametrize("heard", ["before the poll", "after it"])
async def test_a_poll_denied_the_tenants_statuses_names_its_account_by_their_list(
    heard: str,
) -> None:
    """The default credentials are denied ListReputationEntities (a role without that
    permission): the one list that names their AWS account is ListTenants, by each
    tenant's ARN. SES's event pausing globex, heard before that poll (counted under
    the account id until one names it) or after, shows under ``default``. Named as the
    tenant's name (or not at all), the pause stayed under the account id, its alert
    and status page naming an account no ``[[accounts]]`` entry or poll has."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{EU}")))
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        tenants.denied.add("ListReputationEntities")
        if heard == "before the poll":
            assert _paused(pipeline, REGION) == [(ACCOUNT, REGION, "globex")]
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            await poller.poll_once()
        assert tenants.calls["ListReputationEntities"] == 1
        assert tenants.calls["ListTenants"] == 1
    assert pipeline.ledger.tenant_status.accounts == {ACCOUNT: "default"}
    assert _paused(pipeline, REGION) == [("default", REGION, "globex")]
