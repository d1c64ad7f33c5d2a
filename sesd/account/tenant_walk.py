"""The walk of a target's tenants (sesd.account.tenants): ListTenants, then each
tenant's ListTenantResources, into the map the pipeline attributes events without a
tenant tag by.

A 2,000-tenant account needs a call per tenant, paced as the poller's every call is:
the walk goes on until the next poll is due and carries on from there at the next
one (its progress is the ledger's, sesd.core.tenant_walks: saved with the state, a
restart resumes it too). The map is replaced once every tenant was walked; a walk a
reload, a failed call or a resource of another account ended starts over.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from sesd.account.failures import MAX_PAGES, EndlessList, UnreadableAnswer, text
from sesd.account.paging import without_end
from sesd.account.tenant_resources import given_up, passed_over, read_arns
from sesd.core.accounts import Target
from sesd.core.tenant_map import tenant_of_arn, valid_tenant
from sesd.core.tenant_reach import named_now
from sesd.core.tenant_walks import MAX_WALK_TENANTS, TenantWalk
from sesd.io.aws_errors import error_code

if TYPE_CHECKING:
    from sesd.account.tenants import TenantPoller

__all__ = ["walk_tenants"]

#: What SES answers ListTenantResources of a tenant it does not hold (deleted).
_DELETED: Final = "NotFoundException"


async def walk_tenants(poller: TenantPoller, target: Target, ses: Any, deadline: float) -> None:
    """The tenants' resources, from where the last poll stopped (or the last run of
    sesd: the walk is saved), until ``deadline``; the map is replaced once every
    tenant was walked."""
    walks = poller._walks.walks
    walk = walks.get(target) or TenantWalk(poller._clock())
    walks[target] = walk
    if walk.listing:
        api = "list_tenants"
        if not await poller._call(target, api, partial(_listing, poller, target, ses, walk)):
            if not poller._resuming(target, api):
                _drop(poller, target, walk)  # not to resume: the next poll starts over
            return
        walk.listing, walk.pages = False, 0  # from here, the first tenant's pages
        if not poller._watched(target):
            _drop(poller, target, walk)  # a reload removed it meanwhile
            return
        progress = poller.accounts.record(target)
        progress.tenants_listed, progress.tenants_mapped = len(walk.tenants), 0
        # None when no tenant's ARN said it: an id kept from before (the file's, of
        # credentials that reached another account then) would keep that account's map.
        # The account named before loses its map, whether these credentials reach it
        # still (its last tenant deleted) or not, unless another label reaches it:
        # an empty listing says nothing of which account it is, so it clears no other.
        named = None if walk.where is None else walk.where[1]
        roles = (poller._statuses.roles, poller._statuses.watched)  # the config's reach
        named_now(poller.accounts, poller._map, target, named, roles, poller._statuses)
    # Its own call, counted and logged under its own name: a role denied it alone
    # must not read as denied ListTenants.
    api = "list_tenant_resources"
    if not await poller._call(
        target, api, partial(_resources, poller, target, ses, walk, deadline)
    ):
        if not poller._resuming(target, api):
            _drop(poller, target, walk)
        return
    if not poller._watched(target):
        _drop(poller, target, walk)  # a reload removed it meanwhile: not mapped, not resumed
        return
    if walks.get(target) is not walk or walk.next < len(walk.tenants):
        return  # dropped, or the next poll is due: it goes on from here
    del walks[target]
    _walked(poller, target, walk)


def _walked(poller: TenantPoller, target: Target, walk: TenantWalk) -> None:
    """Every tenant of ``walk`` walked: the map replaced with what it read, and
    what it left past its caps told."""
    poller.accounts.record(target).tenant_map_at = poller._clock()
    poller._map.refused += walk.refused
    if walk.tenants_left or walk.resources_left:
        poller._log.warning(
            "sesd.tenants.walk_capped", account=target[0], region=target[1],
            tenants_left=walk.tenants_left, resources_left=walk.resources_left,
            hint=f"a walk keeps {MAX_WALK_TENANTS:,} tenants and the map's "
            f"{poller._map.max_entries:,} resources: mail of those past them counts as "
            "unknown (or under the tenant SES tags it with)",
        )  # fmt: skip
    if walk.where is not None:  # (none: the listing's named_now cleared the map)
        poller._map.replace(*walk.where, walk.resources)
        poller._on_change()


def _drop(poller: TenantPoller, target: Target, walk: TenantWalk) -> None:
    """``walk`` not resumed: the next poll of ``target`` starts its walk over."""
    if poller._walks.walks.get(target) is walk:
        del poller._walks.walks[target]


async def _listing(poller: TenantPoller, target: Target, ses: Any, walk: TenantWalk) -> None:
    """ListTenants from where the walk stands to its end, each page's tenants added
    to the walk as it is read; its pages counted in ``walk.pages`` (saved with the
    walk), its tokens only over this poll's read (they are not saved)."""

    def page(tenants: list[Any], asking: float) -> None:
        for tenant in tenants:
            found = tenant_of_arn(text(tenant, "TenantArn"))
            # A page a reload's removal of the target came before speaks of the old
            # watch's account: its id is not the entry's now.
            if found is not None and poller._watched(target):
                poller._statuses.named(found[1], target[0])
                walk.where = (found[0], found[1])
            # A name SES could not have given (an endpoint's, not SES's) would map
            # resources to a label no event can name, and one the SDK refuses (empty)
            # would fail the walk at it at every poll: not walked.
            if valid_tenant(name := text(tenant, "TenantName")):
                walk.listed(name)

    await poller._read(target, ses, "list_tenants", "Tenants", {}, walk, page, set())


async def _resources(
    poller: TenantPoller, target: Target, ses: Any, walk: TenantWalk, deadline: float
) -> None:
    """Each tenant's resources from ``walk.next`` on, until ``deadline``. A resource
    of another AWS account than the tenants' drops the walk (resumed after the
    account's label was pointed elsewhere): the next poll starts over. A tenant whose
    pages do not end (a token asked with before, or past :data:`MAX_PAGES` pages,
    counted over the polls its walk spans), or an answer of which the SDK does not
    read, is given up, what was read of it kept."""
    asked: set[str] = set()  # the tokens asked with, of the tenant being read
    while walk.next < len(walk.tenants) and poller._clock() < deadline:
        if not poller._watched(target):
            return  # a reload removed it: the walk is dropped after this returns
        name = walk.tenants[walk.next]
        args: dict[str, Any] = {"TenantName": name}
        if walk.token:
            args["NextToken"] = walk.token
            asked.add(walk.token)
        try:
            answer = await poller._pacer.ask(target, ses.list_tenant_resources, **args)
        except (ClientError, UnreadableAnswer) as exc:
            if error_code(exc) != _DELETED and not isinstance(exc, UnreadableAnswer):
                raise
            if not poller._watched(target):
                return  # the answer of a watch a reload ended: nothing said of this one
            passed_over(poller._log, poller.accounts, target, walk, name, exc)
            answer = {}
        if not poller._watched(target):
            return  # a reload removed it while it was asked: its answer is not kept
        walk.pages += 1
        for arn in read_arns(poller._log, target, name, answer):
            if not walk.add(name, arn, poller._map.max_entries):
                _drop(poller, target, walk)
                poller._log.warning(
                    "sesd.tenants.walk_dropped", account=target[0], region=target[1],
                    hint="a resource of another AWS account than the tenants' the walk "
                    "began with: the next poll walks them from the first",
                )  # fmt: skip
                return
        token = text(answer, "NextToken") or None
        seen = None if token is None else without_end(token, asked, walk.pages, MAX_PAGES - 1)
        if seen is not None:
            # Pages again, or without end (SES ends its lists): the tenant is given
            # up, what was read of it kept, rather than the walk, and so the map,
            # never ending.
            given_up(poller._log, poller.accounts, target, name, EndlessList(), f"named {seen}")
            token = None
        walk.token = token
        if walk.token is None:
            walk.next, walk.pages = walk.next + 1, 0
            asked.clear()
            poller.accounts.record(target).tenants_mapped = walk.next
