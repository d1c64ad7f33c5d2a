"""A tenant call that failed in a way that may pass is asked again at the pace, on
the round's client, and a list's pages are asked one after another so; a reload
that ends the round's watch of the (account, region) while the pacer waits
(removed, and added back with another role, say) leaves the old client asked
nothing more. The local SESv2 tenants endpoint, its answers parsed by
botocore; the pace waited on the test's clock."""

from __future__ import annotations

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_tenant_passes import ACCOUNT, REGION, THROTTLED, Clock, tenant_poller
from tests.test_tenant_passes import TARGET as TENANTS

TENANTS_ON = "[tenants]\nenabled = true\n"
EU = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'


@pytest.mark.parametrize(
    ("operation", "before"),
    [("ListReputationEntities", 0), ("ListTenantResources", 2)],
    ids=["statuses", "resources"],
)
async def test_a_reload_while_a_retry_waits_stops_the_retries(operation: str, before: int) -> None:
    """``operation`` is throttled at each try (after ``before`` calls answered). While
    the pacer waits to ask it again, a reload removes the (account, region) and another
    adds it back. The retries were made on the round's client, the old watch's, up to
    4 tries in all, their answers kept by nothing; now the endpoint is asked it once,
    and nothing is counted or logged as the new watch's failure."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    clock = Clock()
    reloaded: list[int] = []

    async def sleep(seconds: float) -> None:
        if len(tenants.asked) == before + 1 and not reloaded:  # the first try refused
            reloaded.append(len(tenants.asked))
            for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                pipeline.reconfigure(core_settings(config))
                poller.targets = config.health_targets()
        await clock.sleep(seconds)

    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        tenants.script = [*[200] * before, *THROTTLED]
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, pace=1.0, sleep=sleep
        ) as poller:
            with capture_logs() as logs, anyio.fail_after(20):
                await poller.poll_once()
    assert reloaded == [before + 1]
    assert [op for op, _ in tenants.asked].count(operation) == 1
    assert len(tenants.asked) == before + 1  # nothing more asked on the old client
    assert not [key for key in pipeline.ledger.accounts.errors if key[:2] == TENANTS]
    assert not [line for line in logs if line["event"] == "sesd.account.poll_failed"]


@pytest.mark.parametrize(
    ("operation", "before"),
    [("ListReputationEntities", 1), ("ListTenants", 4)],
    ids=["statuses", "tenants"],
)
async def test_a_reload_between_two_pages_asks_no_more_of_the_list(
    operation: str, before: int
) -> None:
    """Three tenants, one a page: ``operation``'s first page is answered (the
    ``before``-th call), and while the pacer waits to ask for its next a reload
    removes the (account, region) and another adds it back. The next page was asked
    for on the round's client, the old watch's, and every page after it (and, after
    the statuses, the tenants' list); now nothing more is asked, and nothing counted
    or logged as the new watch's failure."""
    watched, removed = parse_config(TENANTS_ON + EU), parse_config(TENANTS_ON)
    pipeline = Pipeline(core_settings(watched))
    clock = Clock()
    reloaded: list[int] = []

    async def sleep(seconds: float) -> None:
        if len(tenants.asked) == before and not reloaded:  # the first page answered
            reloaded.append(len(tenants.asked))
            for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                pipeline.reconfigure(core_settings(config))
                poller.targets = config.health_targets()
        await clock.sleep(seconds)

    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 1
        for name in ("acme", "initech", "globex"):
            tenants.add(name, ("CONFIGURATION_SET", f"set-{name}"))
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, pace=1.0, sleep=sleep
        ) as poller:
            with capture_logs() as logs, anyio.fail_after(20):
                await poller.poll_once()
    assert reloaded == [before]
    assert tenants.asked[-1][0] == operation
    assert len(tenants.asked) == before  # nothing more asked on the old client
    assert not [key for key in pipeline.ledger.accounts.errors if key[:2] == TENANTS]
    assert not [line for line in logs if line["event"] == "sesd.account.poll_failed"]
