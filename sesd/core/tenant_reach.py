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

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final

from sesd.core.accounts import Accounts, Target
from sesd.core.settings import CoreSettings, entry_watching
from sesd.core.tenant_map import TenantMap
from sesd.core.tenants import TenantStatuses

__all__ = ["forget_unreached", "held_in", "ids_in", "named_now", "sender_label"]

#: An AWS account id.
_ACCOUNT_ID: Final = re.compile(r"\d{12}")

#: Each ``[[accounts]]`` entry's role's AWS account id by its name (two entries may
#: reach one account), and the (account, region)s watched: what the config says each
#: role reaches.
Roles = tuple[Mapping[str, str], Collection[tuple[str, str]]]


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


def held_in(rows: Any) -> set[tuple[str, str]]:
    """The (AWS account id, region) of each account's status a state file saved
    (sesd.core.accounts.Accounts.snapshot) whose tenants' ARNs named its id: the
    accounts whose maps the file may hold, whether or not the config watches them now.
    A row that does not read so (a file edited by hand) names none."""
    found = set()
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, list) and len(row) >= 3 and isinstance(row[2], dict):
            account_id, region = row[2].get("account_id"), row[1]
            if isinstance(account_id, str) and _ACCOUNT_ID.fullmatch(account_id):
                found.add((account_id, str(region)))
    return found


def ids_in(rows: Any) -> set[tuple[str, str]]:
    """(AWS account id, label) of each id a state file saved as a label's (its tenant
    statuses' ``accounts``): one whose label's listing was empty since it was named
    (its last tenant deleted) is named by no account status, and is still the label's.
    A row that does not read so (a file edited by hand) names none; an older file has
    none (its account statuses name the others)."""
    found = set()
    for row in rows if isinstance(rows, list) else ():
        read = isinstance(row, list) and len(row) >= 2 and isinstance(row[1], str)
        if read and isinstance(row[0], str) and _ACCOUNT_ID.fullmatch(row[0]):
            found.add((row[0], row[1]))
    return found


def named_now(
    accounts: Accounts,
    tenant_map: TenantMap,
    target: Target,
    now: str | None,
    roles: Roles,
    statuses: TenantStatuses | None = None,
) -> None:
    """``target``'s tenants' ARNs name AWS account ``now`` (None: no tenant did), kept as
    its status's: the map of the account they named before goes (its credentials reach
    another account now, or it has no tenants left), but where another target in that
    region still reaches it (a role into the same account: its own walk keeps it), as
    its polls found or as the config says (``roles``: each ``[[accounts]]`` entry's
    role's AWS account id by its name, and the (account, region)s watched), its polls
    not done yet (its first, or its ListTenants refused), as a reload keeps it.
    Else, the old account's map would stay for the run, and every run after: no walk
    reads it, and the id drops out of what a reload looks through once the label has
    named more than :data:`sesd.core.tenants.MAX_IDS_PER_LABEL` others. In ``statuses``,
    the account named before is no longer the label's, but where its polls in another
    region still name it: its tenants' events (on a queue shared with it) count under
    its id, as after a restart, not as the label's tenants. Not at an empty listing
    (its last tenant deleted: one created next is still the label's), but at the next
    listing naming another account."""
    status = accounts.record(target)
    was, status.account_id = status.account_id, now
    status.emptied = (was or status.emptied) if now is None else None
    if was != now:
        accounts.reach += 1  # where a sender's mail counts may have moved
    if was is not None and was != now:
        others = {
            (s.account_id, where[1])
            for where, s in accounts.status.items()
            if where != target and s.account_id is not None
        }
        names, watched = roles
        others |= {
            (i, where[1])
            for name, i in names.items()
            for where in watched
            if where[0] == name and where != target
        }
        forget_unreached(tenant_map, [(was, target[1])], others)
    if statuses is not None and now is not None:  # (an empty listing names no other)
        label = target[0]
        still = {s.account_id for where, s in accounts.status.items() if where[0] == label}
        for left in [i for i, n in statuses.accounts.items() if n == label and i not in still]:
            del statuses.accounts[left]  # (not counted as forgotten: the bound did not)


def sender_label(
    settings: CoreSettings, accounts: Accounts, account_id: str, region: str
) -> str | None:
    """The label mail AWS account ``account_id`` sent in ``region`` counts under: the
    ``[[accounts]]`` entry whose role reaches it and that watches the region; else a
    label watching the region whose polls found that account there (the default
    credentials, into an entry's account or none's, in a region only they watch: its
    account rule reads it, as its tenant events count there), their last listing there
    empty since or not; else the entry whose role reaches it (watched elsewhere); None
    where nothing is known to reach it."""
    entry = entry_watching(settings.roles, settings.watched, account_id, region)
    if entry is not None:
        return entry
    for (label, where), status in accounts.status.items():
        # (a role's status still naming the account it reached before a restart: not it)
        found = where == region and (status.account_id or status.emptied) == account_id
        if found and label not in settings.roles and (label, where) in settings.watched:
            return label
    return settings.account_names.get(account_id)
