"""What ListReputationEntities says of one tenant, as the tenant poller
(sesd.account.tenants) writes it into the statuses, and ListRecommendations of their
findings; what the poller tells of the resources the tenants' map refused. An
answer's member is read as text only when it is text: botocore passes on what an
endpoint that is not quite SES's answers (a number, a list) and checks no member's
type, and such a member is read as one left out."""

from __future__ import annotations

from typing import Any

from sesd.account.failures import text
from sesd.core.accounts import Target
from sesd.core.tenant_map import MAX_RESOURCE_ARN, TenantMap, tenant_of_arn
from sesd.core.tenant_merge import identity
from sesd.core.tenants import TenantStatus, TenantStatuses, aggregate

__all__ = ["findings_of", "refused", "written"]


def written(
    statuses: TenantStatuses, target: Target, entity: dict[str, Any], at: float
) -> str | None:
    """One entity's status written (its findings those last heard of, until the
    findings' list is read); its tenant's name, or None for another entity."""
    arn = text(entity, "ReputationEntityReference")
    where = tenant_of_arn(arn)
    if where is None:
        return None
    statuses.named(where[1], target[0])
    customer = entity.get("CustomerManagedStatus")
    aws = entity.get("AwsSesManagedStatus")
    key = (target[0], where[0], where[2])
    kept = statuses.status.get(key)
    said = (text(customer, "Status") or "ENABLED", text(aws, "Status") or "ENABLED")
    status = TenantStatus(
        # Every member of SES's answer is optional: an aggregate left out is derived
        # from the two statuses as SES derives it (a DISABLED one is a pause).
        sending=text(entity, "SendingStatusAggregate") or aggregate(*said),
        customer=said[0],
        customer_cause=text(customer, "Cause"),
        aws=said[1],
        aws_cause=text(aws, "Cause"),
        impact=text(entity, "ReputationImpact"),
        policy=text(entity, "ReputationManagementPolicy").rpartition("/")[2],
        findings=[] if kept is None else list(kept.findings),
        tenant_id=identity(arn),
    )
    statuses.polled(key, status, at)
    return where[2]


def findings_of(items: list[Any]) -> dict[str, list[tuple[str, str, str]]]:
    """The open findings a ListRecommendations list named, by tenant: (type, impact,
    description) each."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for item in items:
        where = tenant_of_arn(text(item, "ResourceArn"))
        if where is not None:
            finding = (text(item, "Type"), text(item, "Impact"), text(item, "Description"))
            found.setdefault(where[2], []).append(finding)
    return found


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
