"""The open findings' list and the tenants' list (what it does not name is gone) are as
old as SES's read of their pages, after the list was asked for; an EventBridge event's
time is in whole seconds, so the event of a change SES made just after that read may be
dated up to a second before the list was asked for. Such an event is newer than the
list and stands: a finding opened is not dropped, one closed not reopened, a tenant
created is not forgotten. The local SESv2 tenants endpoint, its answers parsed by
botocore; the change made between SES's read and its answer."""

from __future__ import annotations

from typing import Any

import anyio

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice, TenantStatuses
from tests.test_tenant_passes import ACCOUNT, NOW, REGION, Clock, tenant_poller

PAUSE = "The bounce rate exceeded 15.0%."
FINDING = ("BOUNCE", "HIGH", "The bounce rate is high.")


class _Changing(LocalTenants):
    """The endpoint, calling ``after_read[operation]`` once, when SES has read what
    the operation's answer lists (before the answer is made and leaves)."""

    def __init__(self) -> None:
        super().__init__(ACCOUNT, REGION)
        self.after_read: dict[str, Any] = {}

    def _items(self, operation: str, body: dict[str, Any]) -> Any:
        read = super()._items(operation, body)
        changed = self.after_read.pop(operation, None)
        if changed is not None:
            changed()
        return read


def _statuses() -> tuple[Pipeline, TenantStatuses]:
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    return pipeline, pipeline.ledger.tenant_status


def _finding(clock: Clock, *, open: bool) -> TenantNotice:
    """globex's finding opened or closed now, its event's time in whole seconds."""
    kind, impact, description = FINDING
    return TenantNotice(
        REGION, ACCOUNT, "globex", float(int(clock.now)), finding=kind, impact=impact,
        description=description, open=open,
    )  # fmt: skip


async def _poll(tenants: LocalTenants, pipeline: Pipeline, clock: Clock) -> None:
    async with tenant_poller(tenants, pipeline, clock, recommendations=True) as poller:
        with anyio.fail_after(20):
            await poller.poll_once()


async def test_a_finding_opened_after_the_list_was_read_stands() -> None:
    """The list of findings is asked for at NOW + 0.6 and read empty; SES opens
    globex's finding 0.3 s later, its event dated NOW."""
    pipeline, statuses = _statuses()
    clock = Clock()
    clock.advance(0.6)
    async with _Changing() as tenants:
        tenants.add("globex")

        def opened() -> None:
            clock.advance(0.3)
            tenants.tenants["globex"].findings.append(FINDING)
            statuses.apply(_finding(clock, open=True))

        tenants.after_read["ListRecommendations"] = opened
        await _poll(tenants, pipeline, clock)
    assert statuses.status[("default", REGION, "globex")].findings == [FINDING]


async def test_a_finding_closed_after_the_list_was_read_stays_closed() -> None:
    """globex's finding, open since long before, is read open at NOW + 0.6; SES closes
    it 0.3 s later, its event dated NOW."""
    pipeline, statuses = _statuses()
    clock = Clock()
    async with _Changing() as tenants:
        tenants.add("globex").findings.append(FINDING)
        clock.advance(-100)
        await _poll(tenants, pipeline, clock)  # the finding read open, long before
        assert statuses.status[("default", REGION, "globex")].findings == [FINDING]
        clock.now = NOW + 0.6

        def closed() -> None:
            clock.advance(0.3)
            tenants.tenants["globex"].findings.clear()
            statuses.apply(_finding(clock, open=False))

        tenants.after_read["ListRecommendations"] = closed
        await _poll(tenants, pipeline, clock)
    assert statuses.status[("default", REGION, "globex")].findings == []


async def test_a_tenant_created_after_the_list_was_read_is_not_forgotten() -> None:
    """The tenants' statuses are asked for at NOW + 0.6 and read naming globex alone;
    initech is created 0.3 s later and SES pauses it at once, its event dated NOW. The
    list did not name initech as it was read before it was made: it is not gone."""
    pipeline, statuses = _statuses()
    clock = Clock()
    clock.advance(0.6)
    async with _Changing() as tenants:
        tenants.add("globex")

        def created() -> None:
            clock.advance(0.3)
            tenants.add("initech")
            tenants.pause("initech", PAUSE)
            notice = TenantNotice(
                REGION, ACCOUNT, "initech", float(int(clock.now)), status="DISABLED",
                origin="AWS_MANAGED", cause=PAUSE,
            )  # fmt: skip
            statuses.apply(notice)

        tenants.after_read["ListReputationEntities"] = created
        await _poll(tenants, pipeline, clock)
    status = statuses.status[("default", REGION, "initech")]
    assert (status.paused, status.aws, status.cause) == (True, "DISABLED", PAUSE)
