"""Two ``[[accounts]]`` entries whose roles reach one AWS account (one for each region,
say): the config says both reach it. When the default credentials, reaching that
account too, come to reach another, the account's map stays where either entry is
watched, whichever entry's tenants were listed yet: the config kept one name of each
AWS account, and the other entry's region lost the map (its mail counted as
``unknown`` until that entry's own walk ended, for the run while its ListTenants
failed)."""

from __future__ import annotations

import anyio

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_tenant_reach import ACCOUNT, OTHER, QUEUE, REGION, TENANTS, _mapped, _reaching


def _entry(name: str, region: str) -> str:
    return (
        f'[[accounts]]\nname = "{name}"\nrole_arn = "arn:aws:iam::{ACCOUNT}:role/{name}"\n'
        f'region = "{region}"\n'
    )


async def test_the_default_credentials_keep_a_map_either_of_two_roles_reaches() -> None:
    """Entries ``eu`` (in REGION) and ``us`` (in us-east-1), both into ACCOUNT; ``eu``'s
    tenants not listed yet. The default credentials map globex's set in ACCOUNT, then
    reach OTHER: ACCOUNT's map in REGION stays, as ``eu``'s role reaches it."""
    config = f"{TENANTS}{QUEUE}{_entry('eu', REGION)}{_entry('us', 'us-east-1')}"
    pipeline = Pipeline(core_settings(parse_config(config)))
    async with LocalTenants(ACCOUNT, REGION) as first, LocalTenants(OTHER, REGION) as moved:
        first.add("globex", ("CONFIGURATION_SET", "set-globex"))
        servers = {("default", REGION): first}
        async with _reaching(pipeline, servers) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
            assert _mapped(pipeline, ACCOUNT) == "globex"
            servers[("default", REGION)] = moved
            with anyio.fail_after(20):
                await poller.poll_once()
    assert _mapped(pipeline, ACCOUNT) == "globex"
