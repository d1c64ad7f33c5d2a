"""The ledger's housekeeping: long-expired pending delays forgotten, idle domains,
tenants and tag values evicted with their series. Pure code: the caller passes ``now``
and forgets what it kept of the labels evicted (:meth:`Pipeline.housekeep`).
"""

from __future__ import annotations

from typing import Final

from sesd.core.ledger import Ledger

__all__ = ["EXPIRY_GRACE", "evict_idle"]

#: How long after its expiry a pending delay is forgotten for good, at least.
EXPIRY_GRACE: Final = 3600.0


def evict_idle(ledger: Ledger, now: float) -> tuple[list[str], list[str]]:
    """Forget long-expired pending delays; evict idle domains, tenants and tag values.

    Returns the evicted domain labels and tenant labels (their series are gone).
    """
    # Expired delays stop counting at once (PendingDelays.count); they are forgotten
    # for good only a while later, so a clock that stepped ahead loses nothing.
    pending = ledger.pending
    pending.expire(now - max(ledger.horizon, EXPIRY_GRACE))
    # A label with recipients still pending stays: its delays (and their alerts) go on.
    evicted = ledger.domains.evict_idle(now, lambda label: pending.count(label, now) > 0)
    for label in evicted:
        ledger.by_domain.forget(label)
    pending.drop_labels(evicted)
    by_tenant = ledger.by_tenant
    tenants = -1 if by_tenant is None else by_tenant.index
    gone_tenants = ledger.tenant_labels.evict_idle(
        now, lambda label: pending.count(label, now, tenants) > 0
    )
    if by_tenant is not None:
        for label in gone_tenants:
            by_tenant.forget(label)
        pending.drop_labels(gone_tenants, by_tenant.index)
    for tag, table in ledger.tag_tables.items():
        for value in table.evict_idle(now):
            ledger.tag_windows.pop((tag, value), None)
            ledger.tallies.tag_recipients.pop((tag, value), None)
    return evicted, gone_tenants
