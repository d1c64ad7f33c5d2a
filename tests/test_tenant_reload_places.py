"""Where a tenant poll's lists and walk stand (the page to ask for next, the tenant
to walk next) belongs to the watch of the (account, region) that read it: a reload
that removes the target, and another that adds it back (its role changed, say),
begin another watch, which starts every list and the walk from the first page, not
from the old role's tokens and tenants."""

from __future__ import annotations

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_tenant_passes import ACCOUNT, FAILED, REGION, THROTTLED, Clock, tenant_poller
from tests.test_tenant_passes import TARGET as TENANTS

TENANTS_ON = "[tenants]\nenabled = true\n"
EU = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
LISTS = ("ListReputationEntities", "ListRecommendations", "ListTenants")


def _endpoint(tenants: LocalTenants) -> None:
    """Two tenants, a page each: every list has a second page, named by a token."""
    tenants.page = 1
    for name in ("acme", "initech"):
        tenants.add(name, ("CONFIGURATION_SET", f"set-{name}")).findings.append(
            ("DKIM", "HIGH", f"{name}'s DKIM fails")
        )


@pytest.mark.parametrize("failure", [THROTTLED, FAILED, []], ids=["throttled", "5xx", "answered"])
@pytest.mark.parametrize("operation", [*LISTS, "ListTenantResources"])
async def test_a_call_of_a_target_removed_and_added_back_leaves_no_place_to_resume(
    operation: str, failure: list[int]
) -> None:
    """A poll's ``operation`` is under way (held) when a reload removes the (account,
    region) and another adds it back. Let go, its first page is read (a list's: the
    next is named by a token) and its next call, if asked, fails in a way that may
    pass (throttled, or SES's 5xx at each try); ListTenantResources' first call fails
    so. The call was the old watch's: the place it reached was kept, and the next poll
    of the target added back resumed the old list from its token, or the old walk (not
    listing the tenants again). Now the next poll reads each list from its first page
    and lists the tenants before it walks them. So too when the held call's list is
    answered whole at its first page: the old watch's listing is not walked."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        _endpoint(tenants)
        async with tenant_poller(tenants, pipeline, clock, recommendations=True) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()  # read whole: the next poll starts each list over
            clock.advance(300)
            if not failure:
                tenants.page = 50  # the held call's list ends at its first page
            tenants.held.add(operation)
            with anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    group.start_soon(poller.poll_once)
                    await tenants.holding.wait()
                    for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                        pipeline.reconfigure(core_settings(config))
                        poller.targets = config.health_targets()
                    first = [] if operation == "ListTenantResources" else [200]
                    tenants.script = [*first, *failure]
                    tenants.held.clear()
                    tenants.close()
            assert not [key for key in pipeline.ledger.accounts.errors if key[:2] == TENANTS]
            tenants.script = []  # the failures of calls not asked (on the old client)
            clock.advance(300)
            since = len(tenants.asked)
            with anyio.fail_after(20):
                await poller.poll_once()
    asked = tenants.asked[since:]
    for listed in LISTS:
        firsts = [body for op, body in asked if op == listed][:1]
        assert [body.get("NextToken") for body in firsts] == [None], listed
    assert [body["TenantName"] for op, body in asked if op == "ListTenantResources"] == [
        "acme",
        "initech",
    ]


async def test_a_target_removed_forgets_its_broken_lists_and_walk() -> None:
    """A poll's lists and its walk are broken (each second page throttled at every
    try): the next poll would resume them. A reload removes the (account, region):
    its walk (the ledger's, saved in the state file) is forgotten with it, not kept
    in the file for ever. Another reload adds it back: the next poll reads each list
    and lists the tenants from the first page, as the entry added back may be another
    role's account. The walk was kept: the file held a walk of every target ever
    removed mid-walk, and the target added back resumed it from the old token."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    ledger = pipeline.ledger
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        _endpoint(tenants)
        tenants.script = [200, *THROTTLED] * 3  # statuses, findings, the tenants' list
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=True, walks=ledger.tenant_walks
        ) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
            assert TENANTS in ledger.tenant_walks.walks
            pipeline.reconfigure(core_settings(removed))
            poller.targets = removed.health_targets()
            assert ledger.snapshot(clock.now)["tenant_walks"] == []
            pipeline.reconfigure(core_settings(watched))
            poller.targets = watched.health_targets()
            clock.advance(300)
            since = len(tenants.asked)
            with anyio.fail_after(20):
                await poller.poll_once()
    asked = tenants.asked[since:]
    for listed in LISTS:
        firsts = [body for op, body in asked if op == listed][:1]
        assert [body.get("NextToken") for body in firsts] == [None], listed
    assert ledger.tenant_walks.walks == {}


async def test_a_target_added_back_under_another_account_clears_no_map_of_the_old() -> None:
    """A walk of the (account, region) maps acme's set, of AWS account 123456789012. A
    reload removes it and another adds it back, its role now reaching an account that
    has no tenants; the old account's resources are mapped again meanwhile (another
    account label watches it, and its walk replaced them). The target's next walk finds
    no tenant, so no ARN says where it is: it cleared the old account's region (the
    place its walk had found before the reload), and that other label's mail counted
    as unknown until its own next walk. Now it replaces nothing."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    clock = Clock()
    mapped = {f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/set-acme": "acme"}
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
            assert pipeline.ledger.tenant_map.arns == mapped
            for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                pipeline.reconfigure(core_settings(config))
                poller.targets = config.health_targets()
            pipeline.ledger.tenant_map.replace(REGION, ACCOUNT, {arn: {"acme"} for arn in mapped})
            tenants.account, tenants.tenants = "210987654321", {}
            clock.advance(300)
            with anyio.fail_after(20):
                await poller.poll_once()
    assert tenants.calls["ListTenants"] == 2
    assert pipeline.ledger.tenant_map.arns == mapped


async def test_a_tenant_gone_under_an_ended_watch_is_not_said_gone() -> None:
    """A ListTenantResources call of acme is under way (held) when a reload removes the
    (account, region) and another adds it back, its role perhaps reaching another
    account. Let go, SES answers NotFound (acme was deleted from the old account): the
    answer is the old watch's and says nothing of the account watched now. It was
    logged as ``sesd.tenants.tenant_gone`` under the account's label, which now names
    the other account, where acme may well be; now nothing is logged of it."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            tenants.held.add("ListTenantResources")
            with capture_logs() as logs, anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    group.start_soon(poller.poll_once)
                    await tenants.holding.wait()
                    for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                        pipeline.reconfigure(core_settings(config))
                        poller.targets = config.health_targets()
                    del tenants.tenants["acme"]
                    tenants.held.clear()
                    tenants.close()
    assert [body for op, body in tenants.asked if op == "ListTenantResources"] == [
        {"TenantName": "acme"}
    ]
    assert [log for log in logs if log["event"] == "sesd.tenants.tenant_gone"] == []
