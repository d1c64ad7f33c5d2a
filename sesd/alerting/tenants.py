"""The rule metrics of a tenant: what SES says of it (is it paused? what findings are
open?), and the lines that tell the on-call engineer what to do. Pure code."""

from __future__ import annotations

from collections.abc import Iterable

from sesd.core.tenants import TenantKey, TenantStatus

__all__ = ["measure_tenant"]

#: What to do about a tenant SES paused, by who paused it.
_ADVICE_AWS = (
    "SES paused this tenant for its reputation: read its findings (above, or SES's "
    "console, Tenants), fix what they name (list hygiene for bounces, consent and "
    "unsubscribe for complaints), then ask AWS to reinstate it, or re-enable it if its "
    "policy lets you (sesv2 update-reputation-entity-customer-managed-status)."
)
_ADVICE_CUSTOMER = (
    "The tenant was paused by your own account (customer-managed status): re-enable it "
    "with sesv2 update-reputation-entity-customer-managed-status --sending-status ENABLED "
    "once the reason is fixed."
)
_ADVICE_FINDING = (
    "SES holds a high-impact reputation finding for this tenant; under the standard or "
    "strict policy it pauses the tenant: fix what the finding names before it does."
)


def measure_tenant(
    metric: str, found: Iterable[tuple[TenantKey, TenantStatus]]
) -> tuple[float | None, int, tuple[str, ...]]:
    """(value, volume for ``min_events``, lines for the alert text) of one tenant, over
    the (account, region)s it is in: paused anywhere reads 1 (``tenant_sending_paused``),
    a HIGH finding anywhere reads 1 and LOW or none 0 (``reputation_impact``)."""
    statuses = list(found)
    if not statuses:
        return None, 0, ()
    if metric == "tenant_sending_paused":
        hit = [(key, s) for key, s in statuses if s.paused]
        value = 1.0 if hit else 0.0
    elif metric == "reputation_impact":
        hit = [(key, s) for key, s in statuses if s.impact == "HIGH"]
        value = 1.0 if hit else 0.0
    else:
        raise ValueError(f"unknown tenant metric {metric!r}")
    return value, 1, tuple(_lines(hit or statuses, paused=metric == "tenant_sending_paused"))


def _lines(statuses: list[tuple[TenantKey, TenantStatus]], *, paused: bool) -> list[str]:
    lines = []
    for (account, region, tenant), status in statuses:
        policy = f", policy {status.policy}" if status.policy else ""
        if status.paused:
            lines.append(
                # The policy inside the parentheses: SES's cause ends its own sentence.
                f"SES paused tenant {tenant} in {region} (account {account}{policy}): "
                f"{status.cause}"
            )
        else:
            impact = f", findings of {status.impact} impact open" if status.impact else ""
            lines.append(
                f"tenant {tenant} in {region} (account {account}) sends "
                f"({status.sending}){impact}{policy}"
            )
        lines += [
            f"finding {kind} ({impact}): {text}" for kind, impact, text in status.findings[:3]
        ]
    if paused and any(s.paused for _, s in statuses):
        by_aws = any(s.aws == "DISABLED" for _, s in statuses if s.paused)
        lines.append(_ADVICE_AWS if by_aws else _ADVICE_CUSTOMER)
    elif not paused and any(s.impact == "HIGH" for _, s in statuses):
        lines.append(_ADVICE_FINDING)
    return lines
