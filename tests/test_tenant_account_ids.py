"""Which entry's label an SES tenant event's AWS account id is counted under: the one
whose polls last named that id, while the entry is watched. A reload that removes the
entry forgets the id, so an entry added back (its role now reaching another account,
say) does not show the old account's tenants as its own. The local SESv2 tenants
endpoint, its answers parsed by botocore."""

from __future__ import annotations

import anyio
import pytest

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice
from tests.test_tenant_passes import ACCOUNT, REGION, Clock, tenant_poller
from tests.test_tenant_passes import TARGET as TENANTS

TENANTS_ON = "[tenants]\nenabled = true\n"
EU = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
OTHER = "210987654321"


@pytest.mark.parametrize("held", [None, "ListTenants"], ids=["between-rounds", "mid-round"])
async def test_an_entry_added_back_under_another_account_forgets_the_old_id(
    held: str | None,
) -> None:
    """A poll reads that the entry's tenants are of AWS account 123456789012. A reload
    removes the (account, region) and another adds it back, its role now reaching
    account 210987654321 (between two rounds, or while the round's ListTenants is
    under way on the old client, its page coming back after both reloads). An event of
    the old account then says initech is paused: it was counted under the entry's label
    (the old id stayed mapped to it until a poll of the new account), a pause of
    another account's tenant shown as this entry's. Now it is kept under the old id,
    and the next poll maps the new account's id alone."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
            assert statuses.accounts == {ACCOUNT: "default"}
            clock.advance(300)
            if held is not None:
                tenants.held.add(held)
            with anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    if held is not None:
                        group.start_soon(poller.poll_once)
                        await tenants.holding.wait()
                    for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                        pipeline.reconfigure(core_settings(config))
                        poller.targets = config.health_targets()
                    tenants.held.clear()
                    tenants.close()
            late = TenantNotice(REGION, ACCOUNT, "initech", clock.now, status="DISABLED")
            statuses.apply(late)
            assert (*TENANTS, "initech") not in statuses.status
            assert statuses.status[(ACCOUNT, REGION, "initech")].paused
            tenants.account = OTHER
            clock.advance(300)
            with anyio.fail_after(20):
                await poller.poll_once()
    assert statuses.accounts == {OTHER: "default"}


async def test_what_events_said_before_the_first_poll_moves_under_the_label() -> None:
    """A reload removes the entry and another adds it back (its role reaching the same
    account, say). Before its first poll an event of that account says acme has a
    HIGH bounce finding: no poll names the id yet, so it is kept under the id, with
    the tenants named by events only. The poll then names the id as the entry's: what
    the event said stayed under the id (shown as another account's tenant, and taking
    room among those named by events only until pushed out), and acme under the label
    showed no finding. Now it is moved under the label as the id is named, and the
    poll's status is written over it (the finding kept until the findings' list is
    read)."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
            for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                pipeline.reconfigure(core_settings(config))
                poller.targets = config.health_targets()
            clock.advance(60)
            found = ("BOUNCE", "HIGH", "The bounce rate exceeded 5.0%.")
            statuses.apply(
                TenantNotice(REGION, ACCOUNT, "acme", clock.now, finding=found[0],
                             impact=found[1], description=found[2])
            )  # fmt: skip
            assert statuses.status[(ACCOUNT, REGION, "acme")].findings == [found]
            clock.advance(240)
            with anyio.fail_after(20):
                await poller.poll_once()
    assert statuses.accounts == {ACCOUNT: "default"}
    assert list(statuses.status) == [(*TENANTS, "acme")]
    assert statuses.status[(*TENANTS, "acme")].findings == [found]
