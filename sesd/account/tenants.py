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
the state, a restart resumes it too. The walk is sesd.account.tenant_walk's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from functools import partial
from typing import Any, Final

import anyio

from sesd.account.failures import MAX_PAGES, EndlessList, text
from sesd.account.flags import watch_answers
from sesd.account.paging import Pacer, Paged, PagedList, without_end
from sesd.account.poller import ClientFor, During, Polls
from sesd.account.rounds import one_by_one, raised, side_by_side
from sesd.account.tenant_entities import findings_of, refused, written
from sesd.account.tenant_walk import walk_tenants
from sesd.core.accounts import Accounts, Target
from sesd.core.tenant_map import TenantMap
from sesd.core.tenant_walks import TenantWalks
from sesd.core.tenants import TenantStatuses

__all__ = ["TenantPoller"]

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
        watch_answers(ses)  # (an answer that is no JSON: unreadable, not a list of none)
        await self._entities(target, ses)
        if self._recommendations and any(key[:2] == target for key in self._statuses.status):
            await self._findings(target, ses)
        self._on_change()  # a pause read is not held back by the walk
        if self._watched(target):  # else a reload removed it while its statuses were read
            await walk_tenants(self, target, ses, deadline)

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
