"""What ListReputationEntities says of one tenant, as the tenant poller
(sesd.account.tenants) writes it into the statuses; and what the poller tells of
the resources the tenants' map refused."""

from __future__ import annotations

from typing import Any

from sesd.core.accounts import Target
from sesd.core.tenant_map import MAX_RESOURCE_ARN, TenantMap, tenant_of_arn
from sesd.core.tenants import TenantStatus, TenantStatuses, aggregate

__all__ = ["refused", "written"]


def written(
    statuses: TenantStatuses, target: Target, entity: dict[str, Any], at: float
) -> str | None:
    """One entity's status written (its findings those last heard of, until the
    findings' list is read); its tenant's name, or None for another entity."""
    where = tenant_of_arn(entity.get("ReputationEntityReference", ""))
    if where is None:
        return None
    statuses.named(where[1], target[0])
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


def refused(log: Any, tenant_map: TenantMap) -> bool:
    """Whether the map has refused an event's resource ARN: then logged (a warning,
    the caller's once a run), so that an operator sees why that resource's mail counts
    under unknown."""
    if not tenant_map.refused:
        return False
    log.warning(
        "sesd.tenants.resource_refused", refused=tenant_map.refused,
        hint=f"an event or ListTenantResources named a resource ARN longer than "
        f"{MAX_RESOURCE_ARN} characters or not 7-bit ASCII (none SES writes): the tenants' "
        "map does not keep it, its deliveries count under tenant unknown; "
        "sesd_tenant_map_refused_total counts such events and walks' resources (check "
        "who else sends to the queue, and the SES endpoint_url, if one is set)",
    )  # fmt: skip
    return True
