"""An event older than a poll's list says nothing the list did not: SQS delivers at
least once and in no order, and a queue's backlog (sesd stopped an hour, say) is read
while the first polls run. A tenant the tenants' statuses no longer named (deleted)
is not brought back by a status event dated before the list was asked for; a finding
the list of open findings did not name is not opened by such an event, whether or not
its type was heard of before. The local SESv2 tenants endpoint, its answers parsed by
botocore."""

from __future__ import annotations

import anyio

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice, TenantStatuses
from tests.test_tenant_passes import ACCOUNT, NOW, REGION, Clock, tenant_poller

PAUSE = "The bounce rate exceeded 15.0%."


def _statuses() -> tuple[Pipeline, TenantStatuses]:
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    return pipeline, pipeline.ledger.tenant_status


def _paused(tenant: str, at: float) -> TenantNotice:
    """SES's pause of ``tenant`` at ``at``, as its status event tells it."""
    return TenantNotice(
        REGION, ACCOUNT, tenant, at, status="DISABLED", origin="AWS_MANAGED", cause=PAUSE
    )


async def _poll(tenants: LocalTenants, pipeline: Pipeline, clock: Clock) -> None:
    async with tenant_poller(tenants, pipeline, clock, recommendations=True) as poller:
        with anyio.fail_after(20):
            await poller.poll_once()


async def test_an_event_older_than_the_list_brings_back_no_deleted_tenant() -> None:
    """initech, paused by SES at NOW - 50, is read so at NOW; deleted, the poll at
    NOW + 300 lists globex alone and initech goes. The pause's event, delivered again
    after that poll, is older than the list that no longer named initech: it stays
    gone (else its ``tenant_sending_paused`` alert fired again, for a tenant that is
    no more, until the next poll)."""
    pipeline, statuses = _statuses()
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        tenants.add("initech")
        tenants.pause("initech", PAUSE)
        await _poll(tenants, pipeline, clock)
        assert statuses.status[("default", REGION, "initech")].paused
        del tenants.tenants["initech"]
        clock.now = NOW + 300
        await _poll(tenants, pipeline, clock)
        assert ("default", REGION, "initech") not in statuses.status
    statuses.apply(_paused("initech", NOW - 50))
    assert ("default", REGION, "initech") not in statuses.status
    # A tenant created since (its event dated after the list was asked for) is kept.
    statuses.apply(_paused("hooli", NOW + 300))
    assert statuses.status[("default", REGION, "hooli")].paused
