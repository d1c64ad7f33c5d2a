"""A walk of the tenants' resources where one tenant's ListTenantResources answer is
one botocore does not read (a word where SES's API model has a resource: a proxy's,
an endpoint's that is not quite SES's): that tenant is given up, as one whose pages
do not end is, and the walk goes on. Failed as a whole, the walk was started over at
each poll, failed at that tenant again, and the map was never made: every tenant's
mail counted under ``unknown`` for good. The local SESv2 tenants endpoint, its
answers parsed by botocore."""

from __future__ import annotations

import json

import anyio
from aiohttp import web

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_tenant_passes import REGION, Clock, tenant_poller

ACCOUNT = "123456789012"


class OneUnread(LocalTenants):
    """SES's tenant endpoint; tenant ``odd``'s resources answered as a word."""

    def __init__(self) -> None:
        super().__init__(ACCOUNT, REGION)

    async def _answer(self, request: web.Request, operation: str) -> web.Response:
        response = await super()._answer(request, operation)
        if operation != "ListTenantResources" or response.status != 200:
            return response
        if (await request.json()).get("TenantName") != "odd":
            return response
        answer = json.loads(response.body)  # type: ignore[arg-type]
        answer["TenantResources"] = ["odd", *answer.get("TenantResources", [])]
        return web.json_response(answer)


async def test_a_tenant_whose_resources_do_not_read_is_passed_over_not_the_walk() -> None:
    """Tenants ``odd`` (listed first) and ``globex``, a configuration set each; odd's
    resources come as a word. One poll: globex's set is mapped (the walk ended, the
    map replaced), odd's is not; the failure is counted."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    async with OneUnread() as tenants:
        tenants.add("odd", ("CONFIGURATION_SET", "set-odd"))
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    ledger = pipeline.ledger
    sender = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    assert ledger.tenant_map.tenant(sender, "set-globex") == "globex"
    assert ledger.tenant_map.tenant(sender, "set-odd") == "unknown"
    errors = {key[3] for key in ledger.accounts.errors}
    assert errors == {"UnreadableAnswer"}
