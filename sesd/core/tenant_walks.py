"""Where each (account, region)'s walk of its tenants' resources stands.

A large account's walk (ListTenants, then ListTenantResources per tenant) is
spread over polls: about 40 minutes for 2,000 tenants at a call a second. The
tenant poller (:mod:`sesd.account.tenants`) writes its progress here, and the
state file keeps it, so a restart resumes the walk where it stood rather than
starting it over (a sesd restarted more often than a walk takes would else keep
an older map for ever). Pure data.

A walk is held to what the map can take (its file is saved beside the map): the
first :data:`MAX_WALK_TENANTS` tenants ListTenants names, and the first resources
read up to the map's own cap (``max_entries``: the map would hold no more of them),
each with at most two of its tenants (two tell it is shared). What is past a cap is
counted, not kept: the walk goes on and its map is made of what it kept.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final

import msgspec

from sesd.core.accounts import Target
from sesd.core.tenant_map import MAX_RESOURCE_ARN, names_a_resource, valid_tenant
from sesd.core.tenants import MAX_STATUSES

__all__ = [
    "MAX_RESOURCE_ARN",
    "MAX_TOKEN",
    "MAX_WALK_AGE",
    "MAX_WALK_TENANTS",
    "TenantWalk",
    "TenantWalks",
]

#: A walk begun longer ago than this when sesd restarts starts over: its first tenants'
#: resources are too old to complete a map with. A day: at the default pace, the walk of
#: SES's most tenants (10,000) takes about three hours.
MAX_WALK_AGE: Final = 86_400.0
#: The most tenants a walk keeps: SES's quota of tenants in an (account, region), as
#: many as their statuses kept.
MAX_WALK_TENANTS: Final = MAX_STATUSES
#: The longest page token kept (a longer one ends its list, as one that loops does:
#: sesd.account.paging.without_end). SES's API model gives ListTenants' and
#: ListTenantResources' ``NextToken`` no length; the one token it bounds, of
#: ListMultiRegionEndpoints, is at most 5,000 characters, and AWS's tokens run to a few
#: hundred: this is well above both, and bounds the walk's place in the state file.
MAX_TOKEN: Final = 8192
#: The tenants kept of one resource: a second tells it is shared (:data:`AMBIGUOUS` in
#: the map), a third would tell no more. Walked in order, the one whose pages are read
#: is past every kept one: forgotten (deleted meanwhile), the others still tell.
_NAMED: Final = 2
#: An AWS account id, as a tenant's ARN names it.
_ACCOUNT_ID: Final = re.compile(r"\d{12}")


@dataclass(slots=True)
class TenantWalk:
    """The walk of one (account, region)'s tenants' resources, over polls and restarts."""

    #: When its ListTenants was first asked, Unix time.
    started: float
    #: Whether ListTenants, read first, is yet to be read to its end.
    listing: bool = True
    #: The tenants' names, as ListTenants listed them (so far, while listing).
    tenants: list[str] = field(default_factory=list)
    #: (region, AWS account id), as their ARNs name them.
    where: tuple[str, str] | None = None
    #: The tenant whose resources are read next.
    next: int = 0
    #: The token of the page to ask for next: ListTenants' while listing, then the
    #: ListTenantResources of tenant ``next``.
    token: str | None = None
    #: How many pages were read of ListTenants while listing, then of tenant ``next``'s
    #: resources: bounded (an endpoint's list that never ends), over the polls and
    #: restarts its walk is resumed across. A file from before it was kept reads 0: the
    #: bound counts from there.
    pages: int = 0
    #: Resource ARN -> the tenants it belongs to (the first two), of the tenants walked.
    resources: dict[str, set[str]] = field(default_factory=dict)
    #: The tenants ListTenants named past :data:`MAX_WALK_TENANTS`, not walked.
    tenants_left: int = 0
    #: The resources read past the map's cap, not kept (one shared by several tenants
    #: counted at each).
    resources_left: int = 0
    #: The resources read whose ARN the map does not keep (:func:`names_a_resource`),
    #: counted at each tenant's read: the map counts them once the walk ends.
    refused: int = 0

    def listed(self, tenant: str) -> None:
        """A tenant ListTenants named: walked, if the walk is not full of tenants."""
        if len(self.tenants) < MAX_WALK_TENANTS:
            self.tenants.append(tenant)
        else:
            self.tenants_left += 1

    def add(self, tenant: str, arn: str, most: int) -> bool:
        """A resource of ``tenant``, kept while the walk holds fewer than ``most`` (the
        map's cap), and its ARN is one SES could write; False (not added) when its ARN
        names another (region, account) than the tenants' (the account's label
        reaches another AWS account since the walk began: it must start over)."""
        parts = arn.split(":", 5)
        if self.where is not None and (len(parts) < 6 or (parts[3], parts[4]) != self.where):
            return False
        named = self.resources.get(arn)
        if named is not None:
            if len(named) < _NAMED:
                named.add(tenant)
        elif not names_a_resource(arn):
            # None SES writes (longer than MAX_RESOURCE_ARN): no event's either. Counted,
            # as the map counts an event's: SES's API model gives ARNs no longest length.
            self.refused += 1
        elif len(self.resources) < most:
            self.resources[arn] = {tenant}
        else:
            self.resources_left += 1
        return True

    def forget(self, tenant: str) -> None:
        """What was read of ``tenant``'s resources dropped (SES no longer holds it).
        The tenant to be read next, not at a later page of its own (no token) nor named
        before it, has none: each tenant's resources are read in turn, from its first
        page. Its resources are not looked for (a million take 0.1-0.2 s)."""
        reading = self.tenants[self.next : self.next + 1] == [tenant]
        if reading and self.token is None and tenant not in self.tenants[: self.next]:
            return  # at its first page: nothing of it read yet
        for arn in [arn for arn, tenants in self.resources.items() if tenant in tenants]:
            self.resources[arn].discard(tenant)
            if not self.resources[arn]:
                del self.resources[arn]


class TenantWalks:
    """Each (account, region)'s walk under way."""

    __slots__ = ("walks",)

    def __init__(self) -> None:
        self.walks: dict[Target, TenantWalk] = {}

    def watch(self, where: set[Target]) -> None:
        """Only the walks of the (account, region)s in ``where`` (those a reload left
        configured): another's is forgotten, not saved for ever, nor resumed should a
        later reload add it back (another role's account, perhaps)."""
        for target in [target for target in self.walks if target not in where]:
            del self.walks[target]  # in place: a poll under way holds this dict

    def forget_unreached(self, reaching: Collection[tuple[str, str]]) -> None:
        """Only the walks of tenants listed in the AWS account their label reaches
        (``reaching``: (AWS account id, label) pairs, the config's). A walk of another
        (a state file's, its label's role pointed at another account since) would ask
        the new account for the old one's tenants, pass each over as deleted, end, and
        replace the old account's map with what it had read: put back where no label
        reaches it, or cut short where another (the default credentials) still does.
        One still listing is kept: its label's account may be known only at the
        listing's end (the default credentials' first), and the next page, its token
        the old account's, is not the new account's to give."""
        for target, walk in list(self.walks.items()):
            if walk.listing or walk.where is None:
                continue
            if (walk.where[1], target[0]) not in reaching:
                del self.walks[target]

    def snapshot(self) -> list[list[Any]]:
        """Plain data for the state file."""
        return [[*target, msgspec.to_builtins(walk)] for target, walk in self.walks.items()]

    def restore(self, rows: list[list[Any]], where: set[Target], now: float, most: int) -> int:
        """Load what :meth:`snapshot` returned: the walks of the (account, region)s in
        ``where`` (those configured now) begun at most :data:`MAX_WALK_AGE` before
        ``now``, of tenants in that region; the others start over. A walk is held to
        what a live one keeps, as the state file's size limit counts it (the map fills
        beside it from here): its first ``most`` resources (the map's cap), the rest
        counted; one holding anything a live walk does not keep starts over. Returns
        how many rows did not read (skipped alone: the walk starts over, the rest of the
        file restores)."""
        if not isinstance(rows, list):
            return 1
        unread = 0
        for row in rows:
            try:
                if not isinstance(row, list) or not all(isinstance(s, str) for s in row[:2]):
                    raise TypeError("no row of a walk")
                account, region, saved = row[:3]  # items a later build added: not ours
                walk = msgspec.convert(saved, TenantWalk)
            except (TypeError, ValueError):  # (msgspec.ValidationError is a ValueError)
                unread += 1
                continue
            if (account, region) not in where or now - walk.started > MAX_WALK_AGE:
                continue
            if walk.where is not None and walk.where[0] != region:
                continue
            if not 0 <= walk.next <= len(walk.tenants) or (walk.listing and walk.next):
                continue  # not a walk this sesd wrote
            if (
                len(walk.tenants) > MAX_WALK_TENANTS
                or min(walk.tenants_left, walk.resources_left, walk.pages) < 0
            ):
                continue  # nor this: past its cap, or counts below none
            if not _kept_live(walk):
                continue  # nor this: what no live walk keeps, which no limit counts
            if len(walk.resources) > most:
                walk.resources_left += len(walk.resources) - most
                walk.resources = dict(islice(walk.resources.items(), most))
            self.walks[(account, region)] = walk
        return unread


def _kept_live(walk: TenantWalk) -> bool:
    """Whether ``walk`` holds only what a live walk keeps: a token at most
    :data:`MAX_TOKEN` long, no refusals counted below none, an account id, names SES
    gives its tenants, resources whose ARN the map keeps
    (sesd.core.tenant_map.names_a_resource), each of one or two of those tenants (a
    set's test, not a name's: a million resources are checked)."""
    if (walk.token is not None and len(walk.token) > MAX_TOKEN) or walk.refused < 0:
        return False
    if walk.where is not None and _ACCOUNT_ID.fullmatch(walk.where[1]) is None:
        return False
    if not all(map(valid_tenant, walk.tenants)):
        return False
    tenants = set(walk.tenants)
    return all(
        0 < len(names) <= _NAMED and names <= tenants and names_a_resource(arn)
        for arn, names in walk.resources.items()
    )
