"""What one page of ListTenantResources names, as the tenant poller
(sesd.account.tenants) walks it into the map."""

from __future__ import annotations

from typing import Any, Final

from sesd.account.failures import UnreadableAnswer, text
from sesd.core.accounts import Accounts, Target
from sesd.core.tenant_walks import TenantWalk

__all__ = ["given_up", "mapped_arns", "passed_over", "read_arns"]

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


def given_up(
    log: Any, accounts: Accounts, target: Target, tenant: str, exc: Exception, why: str
) -> None:
    """``tenant``'s resources given up for this walk, what was read of them kept: its
    pages did not end, or an answer did not read (``exc``'s kind, counted as a failed
    call). The walk goes on to the next tenant: given up whole, and so started over,
    it would fail at the same tenant again, and the map never be made."""
    accounts.failed(target, "list_tenant_resources", type(exc).__name__)
    log.warning(
        "sesd.tenants.tenant_skipped", account=target[0], region=target[1], tenant=tenant,
        hint=f"ListTenantResources {why}: the walk goes on to the next tenant; check the "
        "SES endpoint_url, if one is set",
    )  # fmt: skip


def passed_over(
    log: Any, accounts: Accounts, target: Target, walk: TenantWalk, tenant: str, exc: Exception
) -> None:
    """``tenant``'s resources not read on. Deleted since ListTenants named it (SES's
    NotFoundException): passed over, not the walk given up (which, for an account whose
    tenants come and go, would never end). An answer the SDK does not read: given up as
    one whose pages do not end (asked again, it comes back alike)."""
    if isinstance(exc, UnreadableAnswer):
        given_up(log, accounts, target, tenant, exc, "answered what the SDK does not read")
        return
    log.info("sesd.tenants.tenant_gone", account=target[0], region=target[1], tenant=tenant)
    walk.forget(tenant)
