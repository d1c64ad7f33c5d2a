"""A walk keeps no more of an account's tenants' resources than the map can hold: the
state file saves a walk under way beside the map, and its size bound counts on it.
Past the cap the walk goes on, keeps nothing more, and says so once, at its end."""

from __future__ import annotations

import anyio
from structlog.testing import capture_logs

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_walks import MAX_WALK_TENANTS
from tests.test_tenant_passes import ACCOUNT, REGION, TARGET, Clock, tenant_poller


async def test_a_walk_past_the_maps_cap_keeps_what_it_holds_and_says_so_once() -> None:
    """The map holds 3 resources; acme has 2 configuration sets, globex 3 (one of them
    acme's too). The walk keeps acme's two and globex's first new one, takes globex as
    a second tenant of the shared set, and leaves the last: the map gets the 3 kept
    (the shared one ambiguous), and one warning at the walk's end counts the one left.
    Nothing is counted as a failure; the next walk keeps the same and says so again."""
    clock = Clock()
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    pipeline.ledger.tenant_map.max_entries = 3
    where = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set"
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "a1"), ("CONFIGURATION_SET", "shared"))
        tenants.add("globex", ("CONFIGURATION_SET", "shared"), ("CONFIGURATION_SET", "g1"))
        tenants.tenants["globex"].resources.append(("CONFIGURATION_SET", f"{where}/g2"))
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, walks=pipeline.ledger.tenant_walks
        ) as poller:
            with capture_logs() as logs, anyio.fail_after(20):
                await poller.poll_once()
                clock.advance(300)
                await poller.poll_once()
    assert pipeline.ledger.tenant_map.arns == {
        f"{where}/a1": "acme",
        f"{where}/shared": "",
        f"{where}/g1": "globex",
    }
    capped = [log for log in logs if log["event"] == "sesd.tenants.walk_capped"]
    assert [(log["tenants_left"], log["resources_left"]) for log in capped] == [(0, 1)] * 2
    assert (capped[0]["account"], capped[0]["region"]) == TARGET
    assert capped[0]["hint"] == (
        f"a walk keeps {MAX_WALK_TENANTS:,} tenants and the map's 3 resources: mail of "
        "those past them counts as unknown (or under the tenant SES tags it with)"
    )
    assert pipeline.ledger.accounts.errors == {}
    assert pipeline.ledger.tenant_walks.walks == {}
