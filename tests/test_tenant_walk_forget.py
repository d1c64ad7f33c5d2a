"""A tenant SES no longer holds (deleted after ListTenants named it) is forgotten from
the walk: the resources read of it dropped. At its first page nothing of it was read
(a walk reads each tenant's pages in turn), and the million resources a walk may hold
are not looked through (0.1-0.2 s on the event loop, for each such tenant). Against
the plain look through every resource, on walks driven as the poller drives them."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core.tenant_walks import TenantWalk

EXAMPLES = 20 if os.environ.get("SESD_MUTATION") else 150
HEAD = "arn:aws:ses:eu-west-1:123456789012:identity/"

#: Each page read: the resources it names (of a few, so tenants share some), and
#: whether another page of the same tenant follows (a token).
pages = st.lists(st.tuples(st.lists(st.integers(0, 6), max_size=4), st.booleans()), max_size=14)


def _scanned(resources: dict[str, set[str]], tenant: str) -> dict[str, set[str]]:
    """``resources`` without ``tenant``, every resource looked through."""
    kept = {arn: tenants - {tenant} for arn, tenants in resources.items()}
    return {arn: tenants for arn, tenants in kept.items() if tenants}


@settings(max_examples=EXAMPLES, deadline=None)
@given(tenants=st.lists(st.sampled_from("abcd"), min_size=1, max_size=6), read=pages)
def test_forgetting_the_tenant_being_read_drops_what_the_plain_scan_drops(
    tenants: list[str], read: list[tuple[list[int], bool]]
) -> None:
    walk = TenantWalk(0.0, listing=False, tenants=tenants)
    for named, more in read:
        if walk.next == len(tenants):
            break
        for resource in named:
            walk.add(tenants[walk.next], f"{HEAD}{resource}.example", 5)
        walk.token = "more" if more else None
        walk.next += not more
    for tenant in dict.fromkeys(tenants):  # the one being read, and any other
        expected = _scanned(walk.resources, tenant)
        again = TenantWalk(0.0, listing=False, tenants=tenants, next=walk.next, token=walk.token)
        again.resources = {arn: set(names) for arn, names in walk.resources.items()}
        again.forget(tenant)
        assert again.resources == expected, tenant
