"""What one page of ListTenantResources names, as the tenant poller
(sesd.account.tenants) walks it into the map."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["mapped_arns"]

#: The resources that carry a tenant for an event: its configuration set, its identity.
_MAPPED: Final = ("CONFIGURATION_SET", "EMAIL_IDENTITY")


def mapped_arns(answer: dict[str, Any]) -> tuple[list[str], int]:
    """The ARNs of the page's resources that carry a tenant for an event, and how many
    of those named no ARN (botocore checks no member of an answer: an endpoint that is
    not quite SES's may leave it out, or give something no ARN's parts make up)."""
    mapped = [i for i in answer.get("TenantResources", []) if i.get("ResourceType") in _MAPPED]
    arns = [a for i in mapped if isinstance(a := i.get("ResourceArn"), str) and a.count(":") > 4]
    return arns, len(mapped) - len(arns)
