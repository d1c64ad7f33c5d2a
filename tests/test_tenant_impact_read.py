"""A poll's word on a tenant's reputation impact is taken though a status event newer
than the poll was heard while it was read, or moved under its label from the AWS
account id: a status event speaks of the sending status alone, and only a finding's
newer event is newer word on the findings; a finding opened raises SES's word until
a list has named the findings. The local SESv2 tenants endpoint, its answers parsed
by botocore; the change made between SES's read and its answer."""

from __future__ import annotations

import anyio
import msgspec

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice, TenantStatus, TenantStatuses
from tests.test_tenant_list_start_time import _Changing
from tests.test_tenant_passes import ACCOUNT, NOW, REGION, Clock, tenant_poller


async def test_a_status_event_newer_than_the_poll_leaves_the_impact_it_read() -> None:
    """globex is read without findings at NOW - 300; SES's finding of HIGH impact
    opens after (its event not read yet). The poll at NOW + 0.6 reads the impact HIGH;
    the customer pauses globex just after SES's read, the event dated NOW, heard
    before the answer. The pause and the impact both stand (the impact was dropped for
    the one read before: the ``reputation_impact`` alert waited a poll)."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    async with _Changing() as tenants:
        tenants.add("globex")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            clock.advance(-300)
            with anyio.fail_after(20):
                await poller.poll_once()
            key = ("default", REGION, "globex")
            assert statuses.status[key].impact == ""
            tenants.tenants["globex"].impact = "HIGH"
            clock.now = NOW + 0.6

            def paused() -> None:
                clock.advance(0.3)
                tenants.pause("globex", "asked", by_aws=False)
                notice = TenantNotice(
                    REGION, ACCOUNT, "globex", NOW, status="DISABLED",
                    origin="CUSTOMER_MANAGED", cause="asked",
                )  # fmt: skip
                statuses.apply(notice)

            tenants.after_read["ListReputationEntities"] = paused
            with anyio.fail_after(20):
                await poller.poll_once()
    status = statuses.status[key]
    assert (status.paused, status.customer, status.impact) == (True, "DISABLED", "HIGH")


async def test_a_low_finding_opened_leaves_the_high_impact_a_poll_read() -> None:
    """globex is read at NOW with SES's impact HIGH, its findings unread (no list asked
    for: ``recommendations = false``, or VDM off; the HIGH finding opened before sesd
    heard events). A LOW finding of another type opens at NOW + 10: the impact stays
    HIGH (it read LOW, the ``reputation_impact`` alert resolved and fired again at the
    next poll). Once the findings are listed, they alone make the impact."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    async with _Changing() as tenants:
        tenants.add("globex").impact = "HIGH"
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    key = ("default", REGION, "globex")
    assert statuses.status[key].impact == "HIGH"
    low = TenantNotice(
        REGION, ACCOUNT, "globex", NOW + 10, finding="COMPLAINT", impact="LOW",
        description="Complaints.",
    )  # fmt: skip
    statuses.apply(low)
    assert statuses.status[key].impact == "HIGH"
    statuses.findings(key, [], NOW + 20)
    statuses.apply(msgspec.structs.replace(low, time=NOW + 30))
    assert statuses.status[key].impact == "LOW"


def test_a_status_event_moved_under_the_label_leaves_the_impact_polled() -> None:
    """globex is polled under its label with SES's impact HIGH (its findings never
    listed); the customer's pause came under the raw AWS account id (a restart whose
    state file named none for the label). A poll naming the id moves the pause under
    the label: the impact stands (it read none, the ``reputation_impact`` alert
    resolving until globex's own page was read: pages are a second apart)."""
    statuses = TenantStatuses([("default", REGION)])
    key = ("default", REGION, "globex")
    statuses.polled(key, TenantStatus(impact="HIGH"), NOW)
    by_you = "CUSTOMER_MANAGED"
    statuses.apply(
        TenantNotice(REGION, ACCOUNT, "globex", NOW + 10, status="DISABLED", origin=by_you)
    )
    statuses.named(ACCOUNT, "default")
    status = statuses.status[key]
    assert (status.paused, status.impact) == (True, "HIGH")
