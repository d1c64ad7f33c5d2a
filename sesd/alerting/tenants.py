"""The rule metrics of a tenant: what SES says of it (is it paused? what findings are
open?), and the lines that tell the on-call engineer what to do. Pure code."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

from sesd.core.tenants import TenantKey, TenantStatus

__all__ = ["MOST_PLACES", "measure_tenant", "named_places"]

#: The most (account, region)s a tenant's alert names one by one, the rest counted: a
#: tenant's name may be in any number of accounts' status events (anyone who can send
#: to a queue can make them up), and an alert must stay a page's size for every sink.
MOST_PLACES: Final = 10

#: What to do about a tenant SES paused, by who paused it.
_ADVICE_AWS = (
    "SES paused this tenant for its reputation: read its findings (above, or SES's "
    "console, Tenants), fix what they name (list hygiene for bounces, consent and "
    "unsubscribe for complaints), then ask AWS to review it: no customer-managed "
    "status overrides a tenant SES itself disabled."
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
    metric: str,
    found: Iterable[tuple[TenantKey, TenantStatus]],
    watched: Collection[tuple[str, str]] = (),
) -> tuple[float | None, int, tuple[str, ...]]:
    """(value, volume for ``min_events``, lines for the alert text) of one tenant, over
    the (account, region)s it is in: paused anywhere reads 1 (``tenant_sending_paused``),
    a HIGH finding anywhere reads 1 and LOW or none 0 (``reputation_impact``). The lines
    name where it reads 1 (else every place), those polled first (``watched``: SES's
    answer to sesd, not an event anyone may have put on the queue), at most
    :data:`MOST_PLACES`, and count the rest."""
    statuses = list(found)
    if not statuses:
        return None, 0, ()
    hit = _hit(metric, statuses)
    chosen = _ordered(hit or statuses, watched)
    paused = metric == "tenant_sending_paused"
    lines = _lines(chosen[:MOST_PLACES], paused=paused)
    if len(chosen) > MOST_PLACES:
        more = len(chosen) - MOST_PLACES
        if hit:  # before the advice, the last line where the metric reads 1
            lines.insert(-1, _more(more, "it is paused in" if paused else "with a HIGH finding"))
        else:
            lines.append(_more(more, "SES names it in"))
    return (1.0 if hit else 0.0), 1, tuple(lines)


def named_places(
    metric: str,
    found: Iterable[tuple[TenantKey, TenantStatus]],
    watched: Collection[tuple[str, str]] = (),
) -> list[tuple[TenantKey, TenantStatus]]:
    """The (account, region)s a tenant's alert gives as its accounts and regions, at
    most :data:`MOST_PLACES`: where the metric reads 1 first, then the others; of each,
    those polled first (``watched``), then by key."""
    statuses = list(found)
    hit = {key for key, _ in _hit(metric, statuses)}
    ranked = sorted(statuses, key=lambda item: (item[0] not in hit, *_rank(item, watched)))
    return ranked[:MOST_PLACES]


def _ordered(
    statuses: list[tuple[TenantKey, TenantStatus]], watched: Collection[tuple[str, str]]
) -> list[tuple[TenantKey, TenantStatus]]:
    """Those polled first, then by key."""
    return sorted(statuses, key=lambda item: _rank(item, watched))


def _rank(
    item: tuple[TenantKey, TenantStatus], watched: Collection[tuple[str, str]]
) -> tuple[bool, TenantKey]:
    return item[0][:2] not in watched, item[0]


def _hit(
    metric: str, statuses: list[tuple[TenantKey, TenantStatus]]
) -> list[tuple[TenantKey, TenantStatus]]:
    """The (account, region)s where ``metric`` reads 1."""
    if metric == "tenant_sending_paused":
        return [(key, s) for key, s in statuses if s.paused]
    if metric == "reputation_impact":
        return [(key, s) for key, s in statuses if s.impact == "HIGH"]
    raise ValueError(f"unknown tenant metric {metric!r}")


def _more(count: int, where: str) -> str:
    return f"and {count} more accounts and regions {where}"


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
