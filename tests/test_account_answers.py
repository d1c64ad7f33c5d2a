"""What the account and tenant polls take from SES's answers, and what they keep: a
tenant's aggregate status derived when SES leaves it out, a state file's words cleaned
as a live answer's, an account a reload removed not brought back by a poll under way,
the age of AWS's own reputation figure, and a finding's event not undone by a list read
before it."""

from __future__ import annotations

from typing import Any

from sesd.commands.demo.localtenants import LocalTenants, Tenant
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
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
