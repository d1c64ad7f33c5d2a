"""Which AWS accounts' resources the tenants' map keeps as the accounts sesd reaches
change (a reload, a restart with another config, credentials that reach another
account).

The map (sesd.core.tenant_map) holds each (region, AWS account id)'s resources as its
last walk read them; no walk replaces those of an account nothing polls any more, and
its mail (on a queue shared with a watched account) would else count under its
tenants for ever. An AWS account a label in force still reaches there keeps them: its
own walk replaces them. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sesd.core.tenant_map import TenantMap

__all__ = ["forget_unreached"]


def forget_unreached(
    tenant_map: TenantMap,
    held: Iterable[tuple[str, str]],
    reached: Collection[tuple[str, str]],
) -> None:
    """The resources of each (AWS account id, region) in ``held`` (those some label
    reached before) forgotten, but where it is in ``reached`` (the labels in force)."""
    for account_id, region in sorted(set(held)):
        if (account_id, region) not in reached:
            tenant_map.replace(region, account_id, {})
