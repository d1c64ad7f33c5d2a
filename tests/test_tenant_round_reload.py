"""A reload that lands while a tenant round makes its targets' clients, one after
another: the round asks none for a target the reload removed. SESv2 on the local
tenants endpoint, through the daemon's own AWS clients."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from sesd.account.tenants import TenantPoller
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config, read_secrets
from sesd.core.accounts import Target
from sesd.core.pipeline import Pipeline
from sesd.runtime.aws import AwsClients, tenant_config
from tests import factory as f

_BASE = (
    '[aws]\naccess_key_id = "testing"\nsecret_access_key = "testing"\n'
    '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/q"\nname = "q"\n'
    "[tenants]\nenabled = true\n"
)
_READER = (
    '[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::111111111111:role/r"\n'
    'region = "eu-west-1"\n'
)
FIRST: Target = ("default", "us-east-1")


async def test_a_target_a_reload_removed_meanwhile_is_asked_no_client() -> None:
    """The round's first client (us-east-1's) is made; then a reload removes the
    ``reader`` account and its region, as it may while the next client is made (the
    SDK's files read in a thread). The round polls us-east-1 and asks no client for
    ``reader``: asked, its entry was gone and the round raised KeyError (the tenant
    poll task failed, counted and logged as a bug, and was started again 10 s later),
    and a removed region's client made so stayed open until the next reload."""
    before = read_secrets(parse_config(_BASE + _READER))
    after = read_secrets(parse_config(_BASE))
    pipeline = Pipeline(core_settings(before))
    ledger = pipeline.ledger
    async with LocalTenants() as local, AsyncExitStack() as stack:
        aws = AwsClients(before, stack)
        polled: list[Target] = []

        async def client_for(service: str, target: Target) -> Any:
            client = await aws.client(
                service, *target, tenant_config(), local.url, use="tenants"
            )  # fmt: skip
            polled.append(target)
            if target == FIRST:  # the reload, between two of the round's asks
                aws.reconfigure(after)
                poller.targets = after.health_targets()
            return client

        poller = TenantPoller(
            before.health_targets(), client_for, ledger.accounts, ledger.tenant_map,
            ledger.tenant_status, every=300, recommendations=False, clock=lambda: f.T0,
        )  # fmt: skip
        assert poller.targets == [FIRST, ("reader", "eu-west-1")]
        await poller.poll_once()
        assert polled == [FIRST]
        assert local.calls.get("ListReputationEntities", 0) >= 1
        assert all(key[1] == "default" for key in aws._clients)
