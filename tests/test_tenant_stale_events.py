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
from sesd.core.tenants import TenantNotice, TenantStatus, TenantStatuses
from tests.test_tenant_passes import ACCOUNT, NOW, REGION, Clock, tenant_poller

PAUSE = "The bounce rate exceeded 15.0%."
FINDING = ("BOUNCE", "HIGH", "The bounce rate is high.")


def _statuses() -> tuple[Pipeline, TenantStatuses]:
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    return pipeline, pipeline.ledger.tenant_status


def _paused(tenant: str, at: float) -> TenantNotice:
    """SES's pause of ``tenant`` at ``at``, as its status event tells it."""
    return TenantNotice(
        REGION, ACCOUNT, tenant, at, status="DISABLED", origin="AWS_MANAGED", cause=PAUSE
    )


def _opened(at: float) -> TenantNotice:
    """globex's BOUNCE finding opened at ``at``, as its event tells it."""
    kind, impact, description = FINDING
    return TenantNotice(
        REGION, ACCOUNT, "globex", at, finding=kind, impact=impact, description=description
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


async def test_a_finding_event_older_than_the_list_opens_nothing() -> None:
    """globex's BOUNCE finding, opened at NOW - 100 and closed at NOW - 50, is listed
    closed at NOW (its events not read yet: a backlog). Its opening event read after
    the list is older than the list: the finding stays closed (else its
    ``reputation_impact`` alert fired, and resolved once the closing event was read).
    The finding's type was never heard of for globex: the list speaks of every type."""
    pipeline, statuses = _statuses()
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        await _poll(tenants, pipeline, clock)
    key = ("default", REGION, "globex")
    assert statuses.status[key].findings == []
    statuses.apply(_opened(NOW - 100))
    assert (statuses.status[key].findings, statuses.status[key].impact) == ([], "")
    # One opened since the list was asked for stands.
    statuses.apply(_opened(NOW + 5))
    assert statuses.status[key].findings == [FINDING]


def test_a_finding_heard_under_the_account_id_before_the_list_opens_nothing() -> None:
    """globex's findings list, read at NOW, names none open; its BOUNCE finding's
    opening event, dated NOW - 100, came under the raw AWS account id (a restart whose
    state file named none for the label: its ListTenants refused). A poll naming the
    id moves the event's word under the label: the newer list stands there too."""
    statuses = TenantStatuses([("default", REGION)])
    key = ("default", REGION, "globex")
    statuses.polled(key, TenantStatus(), NOW)
    statuses.findings(key, [], NOW)
    statuses.apply(_opened(NOW - 100))
    assert statuses.status[(ACCOUNT, REGION, "globex")].findings == [FINDING]
    statuses.named(ACCOUNT, "default")
    assert (statuses.status[key].findings, statuses.status[key].impact) == ([], "")
    # Kept across a restart: an event read after it is older than the list, too.
    restored = TenantStatuses([("default", REGION)])
    restored.restore(statuses.snapshot(), {("default", REGION)})
    restored.apply(_opened(NOW - 100))
    assert restored.status[key].findings == []


def test_a_role_pointed_at_another_account_hears_its_tenants_older_than_the_old_list() -> None:
    """prod's role reached ACCOUNT, whose list was read at NOW; a reload points it at
    another account. An event of that account's tenant dated before NOW speaks of a
    tenant no list of prod's account has named or missed: it is heard."""
    other = "210987654321"
    statuses = TenantStatuses([("prod", REGION)])
    statuses.watch([("prod", REGION)], {"prod": ACCOUNT})
    statuses.gone("prod", REGION, set(), NOW)
    statuses.watch([("prod", REGION)], {"prod": other})
    paused = TenantNotice(
        REGION, other, "initech", NOW - 10, status="DISABLED", origin="AWS_MANAGED", cause=PAUSE
    )
    statuses.apply(paused)
    assert statuses.status[("prod", REGION, "initech")].paused


def test_a_reload_leaving_the_role_keeps_the_list_an_older_event_is_read_against() -> None:
    """prod's role reaches ACCOUNT, whose list, read at NOW, no longer names initech
    (deleted); a reload leaves the role and the region as they were. SES's pause of
    initech dated NOW - 10, read after the reload, brings back no deleted tenant; nor
    does one dated NOW, the instant the list was asked for (it was read after)."""
    statuses = TenantStatuses([("prod", REGION)])
    statuses.watch([("prod", REGION)], {"prod": ACCOUNT})
    statuses.gone("prod", REGION, set(), NOW)
    statuses.watch([("prod", REGION)], {"prod": ACCOUNT})
    statuses.apply(_paused("initech", NOW - 10))
    statuses.apply(_paused("initech", NOW))
    assert statuses.status == {}
    statuses.apply(_paused("initech", NOW + 1))  # after the list was asked for: heard
    assert statuses.status[("prod", REGION, "initech")].paused
