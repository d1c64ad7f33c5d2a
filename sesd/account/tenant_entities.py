"""What ListReputationEntities says of one tenant, as the tenant poller
(sesd.account.tenants) writes it into the statuses."""

from __future__ import annotations

from typing import Any

from sesd.core.accounts import Target
from sesd.core.tenant_map import tenant_of_arn
from sesd.core.tenants import TenantStatus, TenantStatuses, aggregate

__all__ = ["written"]


def written(
    statuses: TenantStatuses, target: Target, entity: dict[str, Any], at: float
) -> str | None:
    """One entity's status written (its findings those last heard of, until the
    findings' list is read); its tenant's name, or None for another entity."""
    where = tenant_of_arn(entity.get("ReputationEntityReference", ""))
    if where is None:
        return None
    statuses.accounts[where[1]] = target[0]
    customer = entity.get("CustomerManagedStatus", {})
    aws = entity.get("AwsSesManagedStatus", {})
    key = (target[0], where[0], where[2])
    kept = statuses.status.get(key)
    said = (customer.get("Status", "ENABLED"), aws.get("Status", "ENABLED"))
    status = TenantStatus(
        # Every member of SES's answer is optional: an aggregate left out is derived
        # from the two statuses as SES derives it (a DISABLED one is a pause).
        sending=entity.get("SendingStatusAggregate") or aggregate(*said),
        customer=said[0],
        customer_cause=customer.get("Cause") or "",
        aws=said[1],
        aws_cause=aws.get("Cause") or "",
        impact=entity.get("ReputationImpact", ""),
        policy=entity.get("ReputationManagementPolicy", "").rpartition("/")[2],
        findings=[] if kept is None else list(kept.findings),
    )
    statuses.polled(key, status, at)
    return where[2]
