"""When each (account, region)'s last whole list of tenant statuses was read from
(sesd.core.tenants: an event dated before it of a tenant the list did not name is of
one gone), with the AWS account its role reached then: kept for the targets watched,
and for those a reload or a restart's config dropped (added back reaching the same
account, the list still speaks of it); saved in the state file. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

__all__ = ["MAX_DROPPED_LISTS", "ListTimes"]

#: The most list times kept of targets no longer watched, the one dropped last kept:
#: each is of use only until its target is added back, and reloads of a config a tool
#: writes may drop a target at each (a region, an account made for a test): the state
#: file must not keep every one for good.
MAX_DROPPED_LISTS: Final = 1024
#: A row of an older file names no role: the account it was read of is not known.
_UNSAID: Final = object()


class ListTimes:
    """When each target's last list was read (``listed``, those watched), and of each
    dropped, with its role's AWS account then (``dropped``, the one dropped last last)."""

    __slots__ = ("dropped", "listed")

    def __init__(self) -> None:
        self.listed: dict[tuple[str, str], float] = {}
        self.dropped: dict[tuple[str, str], tuple[float, str | None]] = {}

    def watch(
        self, watched: Collection[tuple[str, str]], was: Mapping[str, str], roles: Mapping[str, str]
    ) -> None:
        """The targets ``watched`` now, each entry's role reaching ``roles``' account
        (``was``: before). A target dropped keeps its list's time aside, with the
        account its role reached (added back reaching it, its entry removed whole
        between or not, an event older than it is of a tenant gone still); a list of
        that account says nothing of another."""
        both = {**self.dropped, **{k: (t, was.get(k[0])) for k, t in self.listed.items()}}
        self.listed = {k: t for k, (t, role) in both.items()
                       if k in watched and role == roles.get(k[0])}  # fmt: skip
        dropped = [(k, v) for k, v in both.items() if k not in watched]
        self.dropped = dict(dropped[-MAX_DROPPED_LISTS:])

    def held_to(self, now: float) -> None:
        """Every list's time ahead of ``now`` taken as ``now``, as the wall clock stepped
        back to it."""
        self.listed = {key: min(at, now) for key, at in self.listed.items()}
        self.dropped = {key: (min(at, now), role) for key, (at, role) in self.dropped.items()}

    def rows(self, roles: Mapping[str, str]) -> list[list[Any]]:
        """Plain data for the state file: (account, region, time, its role's AWS account
        or None) each, those dropped, the one dropped last last, then those watched
        (``roles``: their entries' now): one a restart's config leaves out is dropped
        after every other, so read back (:meth:`restore`), not first to go."""
        dropped = [[*k, at, role] for k, (at, role) in self.dropped.items()]
        return dropped + [[*k, at, roles.get(k[0])] for k, at in self.listed.items()]

    def restore(
        self,
        rows: Any,
        where: Collection[tuple[str, str]],
        watched: Collection[tuple[str, str]],
        roles: Mapping[str, str],
    ) -> None:
        """Load what :meth:`rows` returned: a target in ``where`` (configured now, its
        role reaching the account the file's statuses are of) whose role reaches the
        account the row names (an older file's names none) is listed; one not
        ``watched`` now is dropped, as a reload would keep it, in the rows' order (the
        last :data:`MAX_DROPPED_LISTS` kept). A row that does not read so (a file
        edited by hand) is not loaded; items a later build added are not ours."""
        for row in rows if isinstance(rows, list) else ():
            if not isinstance(row, list) or len(row) < 3:
                continue
            at, role = row[2], row[3] if len(row) > 3 else _UNSAID
            dated = isinstance(at, (int, float)) and not isinstance(at, bool)
            if not (dated and isinstance(row[0], str) and isinstance(row[1], str)):
                continue
            key = (row[0], row[1])
            if key in where and role in (_UNSAID, roles.get(key[0])):
                self.listed[key] = float(at)
            elif key not in watched and (role is None or isinstance(role, str)):
                self.dropped[key] = (float(at), role)
        self.dropped = dict(list(self.dropped.items())[-MAX_DROPPED_LISTS:])
