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


async def test_a_reload_landing_as_a_targets_client_is_asked_costs_that_target_only() -> None:
    """The round asks ``reader``'s client last; a reload removes the ``reader`` account
    as that call waits (before the entry is read). us-east-1's poll goes on as if
    nothing happened, and ``reader``'s is dropped without a fault or a failed call
    counted: its client made outside the target's own handling, the KeyError of its
    gone entry failed the whole round (the task restarted 10 s later, counted and
    logged as a bug), us-east-1's statuses unread."""
    before = read_secrets(parse_config(_BASE + _READER))
    after = read_secrets(parse_config(_BASE))
    ledger = Pipeline(core_settings(before)).ledger
    async with LocalTenants() as local, AsyncExitStack() as stack:
        aws = AwsClients(before, stack)

        async def client_for(service: str, target: Target) -> Any:
            if target != FIRST:  # the reload, as this call waits
                aws.reconfigure(after)
                poller.targets = after.health_targets()
            return await aws.client(service, *target, tenant_config(), local.url, use="tenants")

        poller = TenantPoller(
            before.health_targets(), client_for, ledger.accounts, ledger.tenant_map,
            ledger.tenant_status, every=300, recommendations=False, clock=lambda: f.T0,
        )  # fmt: skip
        await poller.poll_once()
        assert local.calls.get("ListReputationEntities", 0) >= 1
        assert ledger.accounts.errors == {}


async def test_a_target_whose_client_cannot_be_made_fails_alone() -> None:
    """``reader``'s client cannot be made (its SDK files unreadable: OSError). That is
    counted and logged as its first call failing, as a failed call of it would be;
    us-east-1 is polled all the same. It failed the whole round, every target unread."""
    config = read_secrets(parse_config(_BASE + _READER))
    ledger = Pipeline(core_settings(config)).ledger
    async with LocalTenants() as local, AsyncExitStack() as stack:
        aws = AwsClients(config, stack)

        async def client_for(service: str, target: Target) -> Any:
            if target != FIRST:
                raise OSError("the SDK's model files could not be read")
            return await aws.client(service, *target, tenant_config(), local.url, use="tenants")

        poller = TenantPoller(
            config.health_targets(), client_for, ledger.accounts, ledger.tenant_map,
            ledger.tenant_status, every=300, recommendations=False, clock=lambda: f.T0,
        )  # fmt: skip
        await poller.poll_once()
        assert local.calls.get("ListReputationEntities", 0) >= 1
        api = "list_reputation_entities"
        assert ledger.accounts.errors == {("reader", "eu-west-1", api, "OSError"): 1}
