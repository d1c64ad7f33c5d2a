"""What one page of ListTenantResources names, as the tenant poller
(sesd.account.tenants) walks it into the map."""

from __future__ import annotations

from typing import Any, Final

from sesd.account.tenant_entities import text

__all__ = ["mapped_arns", "read_arns"]

#: The resources that carry a tenant for an event: its configuration set, its identity.
_MAPPED: Final = ("CONFIGURATION_SET", "EMAIL_IDENTITY")


def mapped_arns(answer: dict[str, Any]) -> tuple[list[str], int]:
    """The ARNs of the page's resources that carry a tenant for an event, and how many
    of those named no ARN (botocore checks no member of an answer: an endpoint that is
    not quite SES's may leave it out, or give something no ARN's parts make up)."""
    mapped = [i for i in answer.get("TenantResources", []) if text(i, "ResourceType") in _MAPPED]
    arns = [a for i in mapped if isinstance(a := i.get("ResourceArn"), str) and a.count(":") > 4]
    return arns, len(mapped) - len(arns)


def read_arns(log: Any, target: tuple[str, str], tenant: str, answer: dict[str, Any]) -> list[str]:
    """The ARNs a page of ``tenant``'s resources maps; those without one, said."""
    arns, unread = mapped_arns(answer)
    if unread:
        log.warning(
            "sesd.tenants.resources_unread", account=target[0], region=target[1],
            tenant=tenant, count=unread, hint="not mapped: check the SES endpoint_url",
        )  # fmt: skip
    return arns
