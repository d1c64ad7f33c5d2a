"""A page of tenants' statuses is SES's word as SES read it, before its answer came
back: a status event of a change SES made after that read (a pause) and heard before
the answer is newer than the page, and stands. Taken as of the answer's arrival, the
page's older word overwrote it: the tenant shown sending while SES had paused it,
until the next poll. The local SESv2 tenants endpoint, its answer parsed by botocore;
the change made between its read and its answer."""

from __future__ import annotations

from typing import Any

import anyio

from sesd.commands.demo.localtenants import LocalTenants, Tenant
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice
from tests.test_tenant_passes import ACCOUNT, REGION, Clock, tenant_poller

PAUSE = "The bounce rate exceeded 15.0%."


class _Changing(LocalTenants):
    """The endpoint, calling ``after_read`` once each tenant's status is read into an
    answer (before the answer leaves)."""

    after_read: Any = None

    def _entity(self, tenant: Tenant) -> dict[str, Any]:
        read = super()._entity(tenant)
        if self.after_read is not None:
            self.after_read(tenant)
        return read


async def test_a_pause_made_after_the_page_was_read_stands() -> None:
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    async with _Changing(ACCOUNT, REGION) as tenants:
        tenants.add("globex")

        def paused(tenant: Tenant) -> None:
            """SES pauses globex 2 s after it read its status; the event is heard
            before the page's answer (as long again on its way back)."""
            tenants.after_read = None
            clock.advance(2)
            tenants.pause("globex", PAUSE)
            statuses.apply(
                TenantNotice(
                    REGION,
                    ACCOUNT,
                    "globex",
                    clock.now,
                    status="DISABLED",
                    origin="AWS_MANAGED",
                    cause=PAUSE,
                )
            )
            clock.advance(2)

        tenants.after_read = paused
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    status = statuses.status[("default", REGION, "globex")]
    assert (status.paused, status.aws, status.cause) == (True, "DISABLED", PAUSE)


async def test_a_pause_whose_event_time_is_whole_seconds_stands() -> None:
    """SES reads globex's status at NOW + 0.6 and pauses it 0.3 s later: EventBridge
    gives the event's time in whole seconds, NOW, before the page was asked for. The
    pause is still newer than what the page read."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    clock.advance(0.6)
    async with _Changing(ACCOUNT, REGION) as tenants:
        tenants.add("globex")

        def paused(tenant: Tenant) -> None:
            tenants.after_read = None
            clock.advance(0.3)
            tenants.pause("globex", PAUSE)
            notice = TenantNotice(
                REGION, ACCOUNT, "globex", float(int(clock.now)), status="DISABLED",
                origin="AWS_MANAGED", cause=PAUSE,
            )  # fmt: skip
            statuses.apply(notice)

        tenants.after_read = paused
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    status = statuses.status[("default", REGION, "globex")]
    assert (status.paused, status.aws, status.cause) == (True, "DISABLED", PAUSE)
