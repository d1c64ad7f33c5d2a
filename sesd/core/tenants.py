"""What SES says of each tenant: its sending status, reputation impact and policy,
and open findings, kept in :class:`TenantStatuses` per (account, region, tenant),
written by the poller and by SES's own status events (EventBridge), read by rules.
What each word of SES does to one tenant's status is sesd.core.tenant_words'; which
tenant an event's mail was sent for is sesd.core.tenant_map's. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from sesd.core.settings import entry_watching
from sesd.core.tenant_lists import MAX_DROPPED_LISTS, ListTimes
from sesd.core.tenant_merge import MAX_FINDINGS, aggregate, clean_status, identity, merged, same
from sesd.core.tenant_status import TenantNotice, TenantStatus, restored
from sesd.core.tenant_words import list_over, notice_over, poll_over

__all__ = [
    "MAX_DROPPED_LISTS",
    "MAX_FINDINGS",
    "MAX_IDS_PER_LABEL",
    "MAX_STATUSES",
    "TenantKey",
    "TenantNotice",
    "TenantStatus",
    "TenantStatuses",
    "aggregate",
]

#: The most tenants whose status is kept per (account, region): SES's own quota of
#: tenants there, so one account's tenants never crowd out another's; a flood of status
#: events for made-up tenants must not grow it without end either. When full, the
#: tenant SES spoke of longest ago in that (account, region) makes room.
MAX_STATUSES: Final = 10_000
#: The most AWS account ids kept as one account label's: its credentials reach one AWS
#: account at a time (SES's tenant ARNs name it), the one left forgotten once a listing
#: names another (sesd.core.tenant_reach); an endpoint naming another id in each
#: tenant's ARN (not SES) must not grow the map without end. Past it, the id the label
#: named longest ago is forgotten (counted): its events count under the id, as before
#: a poll named it.
MAX_IDS_PER_LABEL: Final = 4
#: An AWS account id: what a tenant only events named is kept under.
_ACCOUNT_ID: Final = re.compile(r"\d{12}")


#: (account label, region, tenant name)
TenantKey = tuple[str, str, str]


class TenantStatuses:
    """Every tenant SES has said something of, by (account, region, tenant): at most
    :data:`MAX_STATUSES` of each (account, region) in ``watched`` (those polled), and as
    many of all the others together (named by events only, under an AWS account id no
    poll named: made up, perhaps)."""

    __slots__ = (
        "_groups", "_unnamed", "accounts", "ids_forgotten", "lists", "roles", "status",
        "watched",
    )  # fmt: skip

    def __init__(self, watched: Iterable[tuple[str, str]] = ()) -> None:
        self.status: dict[TenantKey, TenantStatus] = {}
        #: AWS account id -> the account label it is polled under (from the polls), at
        #: most :data:`MAX_IDS_PER_LABEL` of each label, the one named longest ago first.
        self.accounts: dict[str, str] = {}
        #: The ids a label named past :data:`MAX_IDS_PER_LABEL`, forgotten.
        self.ids_forgotten = 0
        self.watched = frozenset(watched)
        #: Each ``[[accounts]]`` entry's role's AWS account id, by its name (two may
        #: reach one account).
        self.roles: dict[str, str] = {}
        #: The keys of each watched (account, region), and (None) of all the others,
        #: the one SES spoke of longest ago first.
        self._groups: dict[tuple[str, str] | None, dict[TenantKey, None]] = {}
        #: The keys of the others (None's) by their account, in the same order: what a
        #: poll naming an id moves, found without a pass over every tenant kept.
        self._unnamed: dict[str, dict[TenantKey, None]] = {}
        #: When each (account, region)'s last whole list of statuses was read from
        #: (:meth:`gone`): a tenant it did not name was gone then. Of those a reload
        #: dropped too, with the AWS account its role reached: added back reaching it,
        #: :meth:`watch` lists it again.
        self.lists = ListTimes()

    def watch(
        self,
        watched: Iterable[tuple[str, str]],
        roles: dict[str, str] | None = None,
    ) -> None:
        """The (account, region)s polled now (a reload adds or drops some): each kept
        tenant is counted under its own again, oldest first, as kept. What SES said of
        the tenants of one no longer polled is forgotten, their alerts resolve: no poll
        will speak of them again (a restart drops them alike), and the account's own
        status goes too; when its last list was read is kept (saved too), while its
        role reaches the same account. Those only events named (under an AWS account id no poll
        named) are kept, as they were before the reload. An AWS account id the polls
        named for an entry no longer watched is forgotten: added back, its role may
        reach another account, and the old one's events would show as its own; so is
        one an entry's polls named that its role no longer reaches (pointed at another).
        ``roles``: each ``[[accounts]]`` entry's AWS account id by its name, now."""
        before, self.watched = self.watched, frozenset(watched)
        was, self.roles = self.roles, dict(roles or {})
        self.lists.watch(self.watched, was, self.roles)
        self.accounts = {i: label for i, label in self.accounts.items() if self._reaches(label, i)}
        kept, self.status, self._groups, self._unnamed = self.status, {}, {}, {}
        for key, status in kept.items():
            if key[:2] in self.watched or key[:2] not in before:
                self._newest(key, status)

    def _reaches(self, label: str, account_id: str) -> bool:
        """Whether ``label`` is watched and (an entry's role) reaches ``account_id``."""
        watched = any(label == account for account, _ in self.watched)
        return watched and self.roles.get(label, account_id) == account_id

    def named(self, account_id: str, label: str) -> None:
        """A poll of ``label``'s (account, region) named AWS account ``account_id`` (its
        tenants' ARNs did): its events count under the label from now on, and what its
        events said while no poll named it (kept under the id, with the tenants named by
        events only: at start, or the entry added back by a reload) is moved under the
        label too, not left there for ever as another account's. Where the label keeps
        the same tenant, the newer word of each kind wins, as :meth:`apply` takes it;
        another of its name (another id SES gave it), the newer tenant's status whole.
        An ``[[accounts]]`` entry's own polls of its id leave it another label's (the
        default credentials', reaching the same account) for the regions the entry
        does not watch: where it does, its events count under its name (:meth:`apply`)."""
        if self.roles.get(label) == account_id and self.accounts.get(account_id, label) != label:
            return  # (of two entries into one account, either: each is an entry's own)
        was = self.accounts.pop(account_id, None)
        self.accounts[account_id] = label  # named again, the newest the bound keeps
        if was == label:
            return
        labels = [i for i, named in self.accounts.items() if named == label]
        for forgotten in labels[:-MAX_IDS_PER_LABEL]:
            del self.accounts[forgotten]
            self.ids_forgotten += 1
        # Those named by events only: a watched label spelled as the id keeps its own.
        for key in list(self._unnamed.get(account_id, ())):
            heard = self.status[key]
            self._forget(key)
            moved = (label, key[1], key[2])
            kept = self.status.get(moved)
            if kept is None:
                self._newest(moved, heard)
            elif same(kept, heard.tenant_id):
                self._newest(moved, merged(kept, heard))
            else:  # two tenants of the name (made again, another account's): the newer
                self._newest(moved, heard if heard.updated >= kept.updated else kept)

    def record(self, key: TenantKey) -> TenantStatus:
        """A tenant's status, to write what SES said into (made, ENABLED, on first use;
        a read goes to ``status``), moved to the end of the order it is kept in: the
        first is the one SES spoke of longest ago."""
        found = self.status.get(key) or TenantStatus()
        self._newest(key, found)
        return found

    def _newest(self, key: TenantKey, status: TenantStatus) -> None:
        """``status`` kept for ``key`` at the newest end of the order; a key not kept
        before first makes room, the tenant SES spoke of longest ago going."""
        where = key[:2] if key[:2] in self.watched else None
        group = self._groups.setdefault(where, {})
        if self.status.pop(key, None) is None:
            # Room made within the key's own (account, region): a flood of tenants in
            # one never costs another its tenants.
            while len(group) >= MAX_STATUSES:
                self._forget(next(iter(group)))
        group.pop(key, None)
        group[key] = None
        self.status[key] = status
        if where is None:
            unnamed = self._unnamed.setdefault(key[0], {})
            unnamed.pop(key, None)
            unnamed[key] = None

    def _forget(self, key: TenantKey) -> None:
        """``key`` no longer kept."""
        self.status.pop(key, None)
        if key[:2] in self.watched:
            self._groups.get(key[:2], {}).pop(key, None)
            return
        self._groups.get(None, {}).pop(key, None)
        unnamed = self._unnamed.get(key[0], {})
        unnamed.pop(key, None)
        if not unnamed:
            self._unnamed.pop(key[0], None)

    def polled(self, key: TenantKey, fresh: TenantStatus, at: float) -> None:
        """What a poll said (newer than any event before ``at``) kept for ``key``, over
        what was kept as :func:`~sesd.core.tenant_words.poll_over` takes it."""
        poll_over(self.status.get(key), fresh, at)
        self._newest(key, fresh)

    def findings(self, key: TenantKey, findings: list[tuple[str, str, str]], at: float) -> None:
        """The open findings a list read from ``at`` on named for a kept tenant (none:
        all closed), but for each type an event spoke of after ``at``: the list may have
        been read before it (a finding closed while its pages were read stays closed).
        By type, not by the tenant's newest word: a list resumed over several polls is
        older than the statuses those polls read, yet the newest word on its findings."""
        current = self.status.get(key)
        if current is not None:
            list_over(current, findings, at)

    def apply(self, notice: TenantNotice) -> None:
        """An SES event about a tenant: a status change or a finding, applied unless
        something newer was heard (:func:`~sesd.core.tenant_words.notice_over`).
        Counted under the ``[[accounts]]`` entry whose role's account it is, where that
        is watched, whichever label polled that account last (the default credentials
        may reach it too); else under the label whose polls named it, else its id."""
        # Of two entries whose roles reach one account, the one watching the region.
        entry = entry_watching(self.roles, self.watched, notice.account, notice.region)
        account = entry or self.accounts.get(notice.account, notice.account)
        key = (account, notice.region, notice.tenant)
        if key not in self.status and notice.time <= self._listed(key):
            return  # the list read after it did not name the tenant: gone (deleted) since
        # Moved to the newest end of the order it is kept in only by what is applied: an
        # older word is not SES speaking of it now (the longest silent makes room).
        status, made = self.status.get(key) or TenantStatus(), identity(notice.arn)
        if not same(status, made):  # another tenant of the name (SES's id)
            if notice.time <= status.updated:
                return  # the one before it, or of it before: what is kept is newer
            status = TenantStatus()  # made again, or of another account: from none
        if notice_over(status, notice, made):
            self._newest(key, status)

    def gone(self, account: str, region: str, listed: set[str], since: float) -> None:
        """A poll of (account, region) that lists only ``listed``: a tenant it no longer
        lists (deleted, or renamed) is forgotten, its alerts resolve; unless an event
        spoke of it after ``since`` (the poll's start: it may be newer than the list).
        An event of one not kept, no newer, is of one gone: not heard (:meth:`apply`).
        While no list has named the account's id, so are those events told of under an
        id no poll named, in ``region``: no poll naming the id would move them; of two
        such accounts in the region, either's, so each one's list must have missed it."""
        self.lists.listed[(account, region)] = since
        stale = [k for k in self.status if k[:2] == (account, region) and k[2] not in listed]
        for key in stale:
            if self.status[key].updated <= since:
                self._forget(key)
        if self._unknown(account):
            # Its AWS account id unknown (no list has named a tenant since the start):
            # what events told under an id no poll named, in this region, may be its own
            # tenants', deleted before a list named them (no poll would move them); or
            # another's whose id is unknown too, made after that one's list.
            ids = [k for k in self._groups.get(None, ()) if _ACCOUNT_ID.fullmatch(k[0])]
            missed = self._unknown_listed(region)
            for key in [k for k in ids if k[1] == region and k[2] not in listed]:
                if self.status[key].updated <= missed:
                    self._forget(key)

    def _unknown(self, label: str) -> bool:
        """Whether no list has named ``label``'s AWS account id, nor its role."""
        return label not in self.roles and label not in self.accounts.values()

    def _listed(self, key: TenantKey) -> float:
        """When the last list that would have named ``key``'s tenant was read from (-1:
        none): its (account, region)'s; under an id no poll named, the oldest of
        its region's accounts whose id is unknown (:meth:`gone`)."""
        if key[:2] in self.watched or not _ACCOUNT_ID.fullmatch(key[0]):
            return self.lists.listed.get(key[:2], -1.0)
        return self._unknown_listed(key[1])

    def _unknown_listed(self, region: str) -> float:
        """When the list that missed a tenant under an id no poll named, in ``region``,
        last was read from: the oldest of the region's accounts whose id is unknown,
        each one's last (-1: one has none, or there is none)."""
        listed = self.lists.listed
        return min((listed.get(w, -1.0) for w in {*listed, *self.watched}
                    if w[1] == region and self._unknown(w[0])), default=-1.0)  # fmt: skip

    def snapshot(self) -> list[list[Any]]:
        """Plain data for the state file: what SES last said stands after a restart
        until it is asked again (a pause must not resolve while SES does not answer)."""
        return [[*key, msgspec.to_builtins(status)] for key, status in self.status.items()]

    def restore(
        self,
        rows: list[list[Any]],
        where: set[tuple[str, str]],
        ids: Iterable[tuple[str, str]] = (),
        listed: Any = (),
    ) -> None:
        """Load what :meth:`snapshot` returned, for the (account, region)s in ``where``
        (those configured now), and those only events named (under an AWS account id, as
        :meth:`watch` keeps them: a pause SES told of must not resolve at a restart),
        cleaned as a poll's word is (an older build's file); and ``ids``, (AWS account
        id, label) each target's polls named last (the file's account statuses), named
        again where :meth:`watch` would keep them, what the events said under each id
        moved under its label (:meth:`named`): an event read before the first poll
        counts under its label, not the id (the poll's move under the label let its one
        origin's default overwrite the other's: SES's pause lifted); and ``listed``, when
        each (account, region)'s last list was read (:meth:`listed_rows`)."""
        for account, region, tenant, saved, *_ in rows:  # items a later build added: not ours
            unnamed = isinstance(account, str) and _ACCOUNT_ID.fullmatch(account) is not None
            unnamed = unnamed and (account, region) not in self.watched
            if (account, region) in where or unnamed:
                key = (str(account), str(region), str(tenant))
                status = restored(saved, unnamed=unnamed)
                clean_status(status)
                self._newest(key, status)
        for account_id, label in sorted(ids):
            if self._reaches(label, account_id):
                self.named(account_id, label)
        # When each list was read from (:meth:`gone`; not in an older file): an event of
        # a tenant it found gone, read from the backlog after the restart, is not heard.
        self.lists.restore(listed, where, self.watched, self.roles)

    def listed_rows(self) -> list[list[Any]]:
        """Plain data for the state file: when each list was read, of the (account,
        region)s watched and of those dropped (:class:`~sesd.core.tenant_lists.ListTimes`)."""
        return self.lists.rows(self.roles)

    def ranked(self) -> list[tuple[TenantKey, TenantStatus]]:
        """Every tenant, those SES acts on first (paused, then high and low impact), of
        each those polled before those only events named (made up, perhaps: they must
        not take a polled one's place under a cap), then by (account, region, name)."""
        watched = self.watched
        return sorted(
            self.status.items(),
            key=lambda item: (not item[1].paused, item[1].impact != "HIGH",
                              item[1].impact != "LOW", item[0][:2] not in watched, item[0]),
        )  # fmt: skip
