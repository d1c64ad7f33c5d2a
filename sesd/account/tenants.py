"""SES's tenants of each (account, region), polled every ``poll_every``.

SESv2 ``ListTenants`` and ``ListTenantResources``: which configuration sets and
identities belong to which tenant (the map the pipeline attributes events
without a tenant tag by). ``ListReputationEntities``: each tenant's sending
status (customer- and SES-managed, with their causes), the impact of its
findings and its policy. ``ListRecommendations`` (with VDM): the open
findings, named in alerts. SES's own status events (EventBridge) reach the
same store between polls. A call that fails is counted and logged once per
change of state; it never touches ingestion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, Final

import anyio

from sesd.account.poller import ClientFor, Polls
from sesd.core.accounts import Accounts, Target
from sesd.core.tenants import TenantMap, TenantStatus, TenantStatuses, tenant_of_arn

__all__ = ["TenantPoller"]

#: The resources that carry a tenant for an event: its configuration set, its identity.
_MAPPED: Final = ("CONFIGURATION_SET", "EMAIL_IDENTITY")


class TenantPoller(Polls):
    """Polls every target's tenants into ``tenant_map`` and ``statuses``."""

    def __init__(
        self,
        targets: list[Target],
        client_for: ClientFor,
        accounts: Accounts,
        tenant_map: TenantMap,
        statuses: TenantStatuses,
        *,
        every: float,
        recommendations: bool,
        clock: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(
            targets,
            client_for,
            accounts,
            component="tenants",
            every=every,
            clock=clock,
            on_change=on_change,
        )
        self._map = tenant_map
        self._statuses = statuses
        self._recommendations = recommendations
        #: Each target's (region, AWS account id), as its tenants' ARNs last named them:
        #: a poll that finds no tenant any more still clears what the map held for it.
        self._where: dict[Target, tuple[str, str]] = {}

    async def poll_once(self) -> None:
        """One round over every target."""
        for target in self.targets:
            ses = await self._client_for("sesv2", target)
            tenants: list[Any] = []
            read = partial(self._tenants, target, ses, tenants)
            if await self._call(target, "list_tenants", read):
                # Its own call, counted and logged under its own name: a role denied
                # it alone must not read as denied ListTenants.
                read = partial(self._resources, target, ses, tenants)
                await self._call(target, "list_tenant_resources", read)
            found: dict[str, TenantStatus] = {}
            read = partial(self._entities, target, ses, found)
            started = self._clock()
            listed = await self._call(target, "list_reputation_entities", read)
            findings = True
            if self._recommendations and found:
                read = partial(self._findings, ses, found)
                findings = await self._call(target, "list_recommendations", read)
            at = self._clock()
            names = set()
            for arn, status in found.items():
                where = tenant_of_arn(arn)
                if where is not None:
                    names.add(where[2])
                    key = (target[0], where[0], where[2])
                    if not findings:  # no answer: the findings last heard of stand
                        kept = self._statuses.status.get(key)
                        status.findings = [] if kept is None else list(kept.findings)
                    self._statuses.polled(key, status, at)
            if listed:  # a tenant SES no longer lists is gone: its pause with it
                self._statuses.gone(target[0], target[1], names, started)
        self._on_change()

    async def _tenants(self, target: Target, ses: Any, tenants: list[Any]) -> None:
        """The target's tenants, into ``tenants``; the AWS account id their ARNs name is
        the target's (SES's status events name the id, not sesd's label)."""
        async for tenant in _pages(ses, "list_tenants", "Tenants", {}):
            tenants.append(tenant)
            found = tenant_of_arn(tenant.get("TenantArn", ""))
            if found is not None:
                self._statuses.accounts[found[1]] = target[0]

    async def _resources(self, target: Target, ses: Any, tenants: list[Any]) -> None:
        """Each mapped resource's tenants, from each tenant's resource list."""
        resources: dict[str, set[str]] = {}
        region = account = ""
        for tenant in tenants:
            name = tenant.get("TenantName", "")
            found = tenant_of_arn(tenant.get("TenantArn", ""))
            if found is not None:
                region, account = found[0], found[1]
            args = {"TenantName": name}
            async for item in _pages(ses, "list_tenant_resources", "TenantResources", args):
                if item.get("ResourceType") in _MAPPED:
                    resources.setdefault(item["ResourceArn"], set()).add(name)
        if account:
            self._where[target] = (region, account)
        elif target in self._where:  # its last tenant was deleted
            region, account = self._where[target]
        if account:
            self._map.replace(region, account, resources)

    async def _entities(self, target: Target, ses: Any, found: dict[str, TenantStatus]) -> None:
        """Each tenant's status, impact and policy (reputation entities are tenants by
        their ARN)."""
        async for entity in _pages(ses, "list_reputation_entities", "ReputationEntities", {}):
            arn = entity.get("ReputationEntityReference", "")
            if tenant_of_arn(arn) is None:
                continue
            customer = entity.get("CustomerManagedStatus", {})
            aws = entity.get("AwsSesManagedStatus", {})
            found[arn] = TenantStatus(
                sending=entity.get("SendingStatusAggregate", "ENABLED"),
                customer=customer.get("Status", "ENABLED"),
                customer_cause=customer.get("Cause") or "",
                aws=aws.get("Status", "ENABLED"),
                aws_cause=aws.get("Cause") or "",
                impact=entity.get("ReputationImpact", ""),
                policy=entity.get("ReputationManagementPolicy", "").rpartition("/")[2],
            )

    async def _findings(self, ses: Any, found: dict[str, TenantStatus]) -> None:
        """The open findings of the tenants polled. No paginator: SES allows one call a
        second, so the pages are asked for a second apart."""
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Filter": {"STATUS": "OPEN"}, "PageSize": 100}
            if token:
                args["NextToken"] = token
            answer = await ses.list_recommendations(**args)
            for item in answer.get("Recommendations", []):
                status = found.get(item.get("ResourceArn", ""))
                if status is not None:
                    finding = (item.get("Type", ""), item.get("Impact", ""))
                    status.findings.append((*finding, item.get("Description", "")))
            token = answer.get("NextToken")
            if not token:
                return
            await anyio.sleep(1.0)


async def _pages(ses: Any, operation: str, key: str, args: dict[str, Any]) -> AsyncIterator[Any]:
    """The items of every page of a paginated SESv2 list call."""
    async for page in ses.get_paginator(operation).paginate(**args):
        for item in page.get(key, []):
            yield item
