"""A tenant round's calls are its watch's, whenever each begins: a reload that removes
the (account, region) and another that adds it back (its role changed, say) while
the round reads one list leave its later calls, on the round's client (the old
role's), speaking of nothing watched now: they are not asked. The local SESv2
tenants endpoint."""

from __future__ import annotations

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice
from tests.test_tenant_passes import ACCOUNT, REGION, Clock, tenant_poller
from tests.test_tenant_passes import TARGET as TENANTS

TENANTS_ON = "[tenants]\nenabled = true\n"
EU = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'


@pytest.mark.parametrize("old_says", ["answered", "denied"])
async def test_a_call_begun_after_the_watch_ended_keeps_nothing(old_says: str) -> None:
    """The round's ListReputationEntities is under way (held) when a reload removes
    the target and another adds it back; an event meanwhile says initech is paused
    (its account's id the entry's again), so the round goes on to
    ListRecommendations, due after both reloads on the round's client. Its answer (or
    AccessDenied) would be the old watch's: the new one's credentials must not read
    as answered, nor its polls as failing (counted in ``sesd_ses_poll_errors_total``
    and logged as ``sesd.account.poll_failed``). The call took the watch in force as
    it began, not the round's, and kept both; then it was asked on the old client,
    its answer kept by nothing. Now it is not asked: signed with the old role's
    credentials, of an account no longer watched, it could tell nothing."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    accounts, statuses = pipeline.ledger.accounts, pipeline.ledger.tenant_status
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        async with tenant_poller(tenants, pipeline, clock, recommendations=True) as poller:
            await poller.poll_once()  # (its account's id read: an event names it)
            asked = tenants.calls["ListRecommendations"]
            clock.advance(300)
            tenants.held.add("ListReputationEntities")
            if old_says == "denied":
                tenants.denied.add("ListRecommendations")
            with capture_logs() as logs, anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    group.start_soon(poller.poll_once)
                    await tenants.holding.wait()
                    for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                        pipeline.reconfigure(core_settings(config))
                        poller.targets = config.health_targets()
                    # The new watch's account is the same: the id is the entry's again
                    # (as a poll of the entry added back would map it).
                    statuses.accounts[ACCOUNT] = "default"
                    late = TenantNotice(REGION, ACCOUNT, "initech", clock.now, status="DISABLED")
                    statuses.apply(late)
                    tenants.close()
    assert tenants.calls["ListRecommendations"] == asked  # not asked on the old client
    assert not [key for key in accounts.errors if key[:2] == TENANTS]
    assert not [line for line in logs if line["event"] == "sesd.account.poll_failed"]
    assert TENANTS not in accounts.accepted
