"""SES's tenants of each (account, region), polled every ``poll_every``.

SESv2 ``ListReputationEntities``: each tenant's sending status (customer- and
SES-managed, with their causes), the impact of its findings and its policy.
``ListRecommendations`` (with VDM): the open findings, named in alerts. Then
``ListTenants`` and ``ListTenantResources``: which configuration sets and
identities belong to which tenant (the map the pipeline attributes events
without a tenant tag by). SES's own status events (EventBridge) reach the same
store between polls. A call that fails is counted and logged once per change of
state; it never touches ingestion.

A large account cannot be read in one burst: SES allows these APIs about one
call a second, and a 2,000-tenant account needs a ListTenantResources call per
tenant. So the calls to one (account, region) are paced (``pace`` seconds
apart); the statuses come first, every poll; the walk of the tenants' resources
goes on until the next poll is due and carries on from there at the next one.
A throttled call waits the pace like any other before it is asked again (the
clients make one attempt: the SDK's own retries came inside the pace), up to
``THROTTLED_TRIES`` times; a 5xx or no answer as many times as the SDK asked.
A list a failed call broke (throttled, 5xx) resumes at the next poll from the
page it stopped at, and the walk from the tenant it had reached; what was read
before the break is kept. Once a list is read to its end, the next poll starts
it over. The walk's progress is the ledger's (sesd.core.tenant_walks): saved with
the state, a restart resumes it too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from functools import partial
from typing import Any, Final

import anyio
from botocore.exceptions import ClientError

from sesd.account.failures import MAX_PAGES, EndlessList, UnreadableAnswer, text
from sesd.account.paging import Pacer, Paged, PagedList, without_end
from sesd.account.poller import ClientFor, During, Polls
from sesd.account.rounds import one_by_one, raised, side_by_side
from sesd.account.tenant_entities import findings_of, refused, written
from sesd.account.tenant_resources import given_up, passed_over, read_arns
from sesd.core.accounts import Accounts, Target
from sesd.core.tenant_map import TenantMap, tenant_of_arn, valid_tenant
from sesd.core.tenant_reach import named_now
from sesd.core.tenant_walks import MAX_WALK_TENANTS, TenantWalk, TenantWalks
from sesd.core.tenants import TenantStatuses
from sesd.io.aws_errors import error_code

__all__ = ["TenantPoller"]

#: What SES answers ListTenantResources of a tenant it does not hold (deleted).
_DELETED: Final = "NotFoundException"
#: How far an EventBridge event's time may fall before what it tells of: it is given in
#: whole seconds.
_EVENT_TIME_STEP: Final = 1.0


def _as_read(asking: float) -> float:
    """How old SES's answer to a call asked at ``asking`` is, against an event's time:
    SES read it after the asking, but the event of a change made just after that read
    may be dated up to :data:`_EVENT_TIME_STEP` before it. Such an event stands."""
    return asking - _EVENT_TIME_STEP


class TenantPoller(Polls):
    """Polls every target's tenants into ``tenant_map`` and ``statuses``."""

    def __init__(
        self,
        targets: list[Target],
        client_for: ClientFor,
        accounts: Accounts,
        tenant_map: TenantMap,
        statuses: TenantStatuses,
        *,
        every: float,
        recommendations: bool,
        clock: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
        pace: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        walks: TenantWalks | None = None,
        during: During = nullcontext,
    ) -> None:
        super().__init__(
            targets,
            client_for,
            accounts,
            component="tenants",
            every=every,
            clock=clock,
            on_change=on_change,
            during=during,
            apis=("list_reputation_entities",),  # a round's first call, every round
        )
        self._map = tenant_map
        self._statuses = statuses
        self._recommendations = recommendations
        #: Each target's calls, paced ``pace`` seconds apart and asked again.
        self._pacer = Pacer(pace, sleep, clock, self._watched)
        #: The lists a failed call broke, by target and API, each with the watch that read
        #: it, and the walks a failed call broke or the poll's time stopped (the
        #: ledger's, saved): the next poll of the same watch resumes them.
        self._lists: dict[tuple[Target, str], tuple[object, PagedList]] = {}
        self._walks = TenantWalks() if walks is None else walks
        #: Each target's watch as the round under way began (:meth:`_watched`).
        self._round: dict[Target, object | None] = {}
        #: Whether the map's refusal of an event's resource ARN was logged (once a run).
        self._refused_told = False

    async def poll_once(self) -> None:
        """One round over every target, side by side (each has its own limits): its
        statuses, then its resources until the next round is due."""
        started = self._clock()
        deadline = started + self._every
        # The clients made one after another: two of one account share its session. A
        # target a reload removed meanwhile is asked none: its account's entry may be
        # gone, and a client made after the reload retired the others would stay open.
        self._round = {target: self._lives.get(target) for target in self.targets}
        # A list broken under a watch a reload has ended since is not resumed: its
        # tokens are the old watch's (the old role's account, perhaps).
        self._lists = {k: v for k, v in self._lists.items() if self._still(k[0], v[0])}
        made = partial(self._client_for, "sesv2")
        clients = await one_by_one((t for t in self._round if self._watched(t)), made)
        try:
            await side_by_side([partial(self._poll, *each, deadline) for each in clients])
        finally:
            self._tell_held(started - self._every)
            self._refused_told = self._refused_told or refused(self._log, self._map)
            self._on_change()

    def _watched(self, target: Target) -> bool:
        """Whether ``target`` is watched as the round began: a reload may have removed
        it since, or removed it and added it back (its account's role changed, say),
        and the round's client and answers are then the old watch's."""
        return self._still(target, self._round.get(target))

    def _life(self, target: Target) -> object | None:
        """The round's watch of ``target``: its calls are made on the round's client,
        whatever a reload began since (that target removed and added back, its role
        changed: the old role's answer would be kept, or its refusal counted, as the
        new watch's)."""
        return self._round.get(target)

    async def _poll(self, target: Target, ses: Any, deadline: float) -> None:
        if isinstance(ses, Exception):
            if not self._watched(target):
                return  # its account's entry gone with it in a reload: nothing to keep
            # Counted and logged as its first call failing (an unforeseen fault raised,
            # as that call's would be, for this target alone).
            await self._call(target, "list_reputation_entities", partial(raised, ses))
            return
        await self._entities(target, ses)
        if self._recommendations and any(key[:2] == target for key in self._statuses.status):
            await self._findings(target, ses)
        self._on_change()  # a pause read is not held back by the walk
        if self._watched(target):  # else a reload removed it while its statuses were read
            await self._walk(target, ses, deadline)

    async def _read(
        self,
        target: Target,
        ses: Any,
        api: str,
        key: str,
        args: dict[str, Any],
        at: Paged,
        each: Callable[[list[Any], float], None],
        asked: set[str],
    ) -> None:
        """The pages of a list from ``at.token`` to its end, each page's items given to
        ``each`` with when the page was asked for (SES read it after that, before its
        answer came), its token kept once answered: a break resumes there. A list that
        does not end (:class:`~sesd.account.failures.EndlessList`: a token in ``asked``,
        the tokens asked with, or past :data:`MAX_PAGES` pages, ``at.pages`` counted over
        the polls a broken list is resumed across) raises, as a failed call does, rather
        than be read (and held) for ever."""
        while True:
            token = {"NextToken": at.token} if at.token else {}
            if at.token:
                asked.add(at.token)
            asking = self._clock()
            answer = await self._pacer.ask(target, getattr(ses, api), **args, **token)
            at.pages += 1
            each(answer.get(key, []), asking)
            at.token = text(answer, "NextToken") or None
            if at.token is None:
                return
            seen = without_end(at.token, asked, at.pages, MAX_PAGES)
            if seen is not None:
                raise EndlessList(f"{api} named {seen}")

    async def _list(
        self, target: Target, ses: Any, api: str, key: str, args: dict[str, Any]
    ) -> PagedList | None:
        """A list read to its end (resumed where the last poll's broke), or None when a
        call failed: kept to resume at the next poll if SES may answer then (throttled,
        5xx), else started over."""
        at = self._resumed(target, api)
        read = partial(self._read, target, ses, api, key, args, at, at.add, at.asked)
        if await self._call(target, api, read):
            return at
        self._broke(target, api, at)
        return None

    def _resumed(self, target: Target, api: str) -> PagedList:
        """The list of ``api`` a failed call broke, to read on from; else a new one."""
        kept = self._lists.pop((target, api), None)
        return PagedList(self._clock()) if kept is None else kept[1]

    def _broke(self, target: Target, api: str, at: PagedList) -> None:
        """A list a failed call broke kept for the next poll, if SES may answer then
        (throttled, 5xx) and the call was the target's watch's: one begun before a
        reload removed it keeps nothing, nor a place for it added back to resume."""
        if self._resuming(target, api):
            self._lists[(target, api)] = (self._round[target], at)

    def _resuming(self, target: Target, api: str) -> bool:
        """Whether what ``api``'s failed call read is resumed at the next poll."""
        return self._watched(target) and self._resumable(target, api)

    async def _entities(self, target: Target, ses: Any) -> None:
        """Each tenant's status, impact and policy (reputation entities are tenants by
        their ARN), written as each page is read; once the list is read to its end, a
        tenant it did not name is gone (not before: what it did not see yet stands)."""
        api = "list_reputation_entities"
        at = self._resumed(target, api)

        def page(entities: list[Any], asking: float) -> None:
            if not self._watched(target):
                return  # a reload removed it while the page was asked for: not kept
            # As old as SES's read, made after the page was asked for: an event of a
            # change made after the read (heard before the answer) is newer, and stands.
            read = _as_read(asking)
            for entity in entities:
                name = written(self._statuses, target, entity, read)
                if name is not None:
                    at.items.append(name)

        read = partial(self._read, target, ses, api, "ReputationEntities", {}, at, page, at.asked)
        if await self._call(target, api, read):
            if self._watched(target):  # (else its pages were not kept: none is gone)
                # A tenant an event spoke of after the read (made since) is not gone.
                self._statuses.gone(target[0], target[1], set(at.items), _as_read(at.started))
        else:
            self._broke(target, api, at)

    async def _findings(self, target: Target, ses: Any) -> None:
        """The open findings of the target's tenants, written once the list is read to
        its end (a tenant it does not name has none open); until then, and when it
        fails, the findings last heard of stand."""
        args = {"Filter": {"STATUS": "OPEN"}, "PageSize": 100}
        listed = await self._list(target, ses, "list_recommendations", "Recommendations", args)
        if listed is None or not self._watched(target):
            return  # failed, or a reload removed the target while it was read: not applied
        found = findings_of(listed.items)
        # As of the list's start: an event heard while its pages were read is newer.
        since = _as_read(listed.started)
        for key in [key for key in self._statuses.status if key[:2] == target]:
            self._statuses.findings(key, found.get(key[2], []), since)

    async def _walk(self, target: Target, ses: Any, deadline: float) -> None:
        """The tenants' resources, from where the last poll stopped (or the last run of
        sesd: the walk is saved), until ``deadline``; the map is replaced once every
        tenant was walked."""
        walks = self._walks.walks
        walk = walks.get(target) or TenantWalk(self._clock())
        walks[target] = walk
        if walk.listing:
            api = "list_tenants"
            if not await self._call(target, api, partial(self._listing, target, ses, walk)):
                if not self._resuming(target, api):
                    self._drop(target, walk)  # not to resume: the next poll starts over
                return
            walk.listing, walk.pages = False, 0  # from here, the first tenant's pages
            if not self._watched(target):
                self._drop(target, walk)  # a reload removed it meanwhile
                return
            progress = self.accounts.record(target)
            progress.tenants_listed, progress.tenants_mapped = len(walk.tenants), 0
            # None when no tenant's ARN said it: an id kept from before (the file's, of
            # credentials that reached another account then) would keep that account's map.
            # The account named before loses its map, whether these credentials reach it
            # still (its last tenant deleted) or not, unless another label reaches it:
            # an empty listing says nothing of which account it is, so it clears no other.
            named = None if walk.where is None else walk.where[1]
            roles = (self._statuses.roles, self._statuses.watched)  # the config's reach
            named_now(self.accounts, self._map, target, named, roles, self._statuses)
        # Its own call, counted and logged under its own name: a role denied it alone
        # must not read as denied ListTenants.
        api = "list_tenant_resources"
        if not await self._call(target, api, partial(self._resources, target, ses, walk, deadline)):
            if not self._resuming(target, api):
                self._drop(target, walk)
            return
        if not self._watched(target):
            self._drop(target, walk)  # a reload removed it meanwhile: not mapped, not resumed
            return
        if walks.get(target) is not walk or walk.next < len(walk.tenants):
            return  # dropped, or the next poll is due: it goes on from here
        del walks[target]
        self._walked(target, walk)

    def _walked(self, target: Target, walk: TenantWalk) -> None:
        """Every tenant of ``walk`` walked: the map replaced with what it read, and
        what it left past its caps told."""
        self.accounts.record(target).tenant_map_at = self._clock()
        self._map.refused += walk.refused
        if walk.tenants_left or walk.resources_left:
            self._log.warning(
                "sesd.tenants.walk_capped", account=target[0], region=target[1],
                tenants_left=walk.tenants_left, resources_left=walk.resources_left,
                hint=f"a walk keeps {MAX_WALK_TENANTS:,} tenants and the map's "
                f"{self._map.max_entries:,} resources: mail of those past them counts as "
                "unknown (or under the tenant SES tags it with)",
            )  # fmt: skip
        if walk.where is not None:  # (none: the listing's named_now cleared the map)
            self._map.replace(*walk.where, walk.resources)
            self._on_change()

    def _drop(self, target: Target, walk: TenantWalk) -> None:
        """``walk`` not resumed: the next poll of ``target`` starts its walk over."""
        if self._walks.walks.get(target) is walk:
            del self._walks.walks[target]

    async def _listing(self, target: Target, ses: Any, walk: TenantWalk) -> None:
        """ListTenants from where the walk stands to its end, each page's tenants added
        to the walk as it is read; its pages counted in ``walk.pages`` (saved with the
        walk), its tokens only over this poll's read (they are not saved)."""

        def page(tenants: list[Any], asking: float) -> None:
            for tenant in tenants:
                found = tenant_of_arn(text(tenant, "TenantArn"))
                # A page a reload's removal of the target came before speaks of the old
                # watch's account: its id is not the entry's now.
                if found is not None and self._watched(target):
                    self._statuses.named(found[1], target[0])
                    walk.where = (found[0], found[1])
                # A name SES could not have given (an endpoint's, not SES's) would map
                # resources to a label no event can name, and one the SDK refuses (empty)
                # would fail the walk at it at every poll: not walked.
                if valid_tenant(name := text(tenant, "TenantName")):
                    walk.listed(name)

        await self._read(target, ses, "list_tenants", "Tenants", {}, walk, page, set())

    async def _resources(self, target: Target, ses: Any, walk: TenantWalk, deadline: float) -> None:
        """Each tenant's resources from ``walk.next`` on, until ``deadline``. A resource
        of another AWS account than the tenants' drops the walk (resumed after the
        account's label was pointed elsewhere): the next poll starts over. A tenant whose
        pages do not end (a token asked with before, or past :data:`MAX_PAGES` pages,
        counted over the polls its walk spans), or an answer of which the SDK does not
        read, is given up, what was read of it kept."""
        asked: set[str] = set()  # the tokens asked with, of the tenant being read
        while walk.next < len(walk.tenants) and self._clock() < deadline:
            if not self._watched(target):
                return  # a reload removed it: the walk is dropped after this returns
            name = walk.tenants[walk.next]
            args: dict[str, Any] = {"TenantName": name}
            if walk.token:
                args["NextToken"] = walk.token
                asked.add(walk.token)
            try:
                answer = await self._pacer.ask(target, ses.list_tenant_resources, **args)
            except (ClientError, UnreadableAnswer) as exc:
                if error_code(exc) != _DELETED and not isinstance(exc, UnreadableAnswer):
                    raise
                if not self._watched(target):
                    return  # the answer of a watch a reload ended: nothing said of this one
                passed_over(self._log, self.accounts, target, walk, name, exc)
                answer = {}
            if not self._watched(target):
                return  # a reload removed it while it was asked: its answer is not kept
            walk.pages += 1
            for arn in read_arns(self._log, target, name, answer):
                if not walk.add(name, arn, self._map.max_entries):
                    self._drop(target, walk)
                    self._log.warning(
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
                given_up(self._log, self.accounts, target, name, EndlessList(), f"named {seen}")
                token = None
            walk.token = token
            if walk.token is None:
                walk.next, walk.pages = walk.next + 1, 0
                asked.clear()
                self.accounts.record(target).tenants_mapped = walk.next
