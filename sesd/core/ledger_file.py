"""The state file's body: the ledger's saved stores (:data:`~sesd.core.ledger.SAVED`) as
plain data, and read back into a fresh :class:`~sesd.core.ledger.Ledger` at a start,
each part held to what a live event could have made. The ledger's
:meth:`~sesd.core.ledger.Ledger.snapshot` and :meth:`~sesd.core.ledger.Ledger.restore`
call these. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sesd.core.ledger_windows import restore_windows
from sesd.core.made import is_domain, maker
from sesd.core.pending_file import latest_first
from sesd.core.scopes import DOMAIN, PROVIDER
from sesd.core.tenant_reach import forget_unreached, held_in, ids_in
from sesd.core.windows import DomainWindows

if TYPE_CHECKING:
    from sesd.core.ledger import Ledger

__all__ = ["all_windows", "label_maker", "restore_into", "snapshot_of"]


def all_windows(ledger: Ledger) -> Iterator[DomainWindows]:
    """Every window the ledger keeps: each scope's, and each tag value's."""
    for scope in ledger.scopes:
        yield from scope.windows.values()
    yield from ledger.tag_windows.values()


def snapshot_of(ledger: Ledger, now: float) -> dict[str, Any]:
    """The saved stores as plain data (the state file's body)."""
    for windows in all_windows(ledger):
        windows.flush(now)
    return {
        "layout": ledger.layout(),
        "domains": ledger.domains.snapshot(),
        "windows": {label: w.snapshot() for label, w in ledger.by_domain.windows.items()},
        # Windows of the other scopes (providers), by axis.
        "scopes": {
            scope.axis: {label: w.snapshot() for label, w in scope.windows.items()}
            for scope in ledger.scopes[1:]
        },
        "providers": [] if ledger.providers is None else ledger.providers.snapshot(now),
        "tags": {tag: table.snapshot() for tag, table in ledger.tag_tables.items()},
        "tag_windows": [
            [tag, value, w.snapshot()] for (tag, value), w in ledger.tag_windows.items()
        ],
        "pending": {**ledger.pending.snapshot(), "axes": [s.axis for s in ledger.scopes]},
        "tenant_labels": ledger.tenant_labels.snapshot(),
        "tenant_map": ledger.tenant_map.snapshot(),
        "dedup": ledger.dedup.snapshot(),
        "canaries": ledger.canary.snapshot(),
        "canary_names": ledger.canary.names(),
        "accounts": ledger.accounts.snapshot(ledger.settings.roles),
        "tenant_status": ledger.tenant_status.snapshot(),
        "tenant_ids": [[i, label] for i, label in ledger.tenant_status.accounts.items()],
        "tenant_listed": ledger.tenant_status.listed_rows(),
        "tenant_walks": ledger.tenant_walks.snapshot(),
    }


def restore_into(
    ledger: Ledger, data: dict[str, Any], now: float, ahead: float = 0.0
) -> dict[str, Any]:
    """Load what :func:`snapshot_of` returned into the fresh ``ledger`` at ``now``; returns
    what was restored. Windows written for another layout are dropped, the rest
    kept. ``ahead``: how far ahead of ``now`` the file was saved, when the start then
    steps the pending table back as far (sesd.core.ledger_steps.restored_behind)."""
    ledger.dedup.restore(data["dedup"])
    # Files written before tenants name no axes: a domain's, then a provider's.
    saved = data["pending"].get("axes", [DOMAIN, PROVIDER])
    places = [saved.index(s.axis) if s.axis in saved else -1 for s in ledger.scopes]
    # A delay is kept under labels an event could have made, each in its scope.
    makes = [label_maker(ledger, scope.axis, data) for scope in ledger.scopes]
    # None first seen later than a delay of the file could have been (a damaged file, a
    # hand's edit: one a year ahead pended a year).
    latest = latest_first(data.get("saved_at"), now)
    refused = ledger.pending.restore(data["pending"], places, makes, latest)
    ledger.pending.refused.held_to(now)  # (none a day ahead of this clock: sesd.core.refusals)
    # No delay's moved past this clock's 16 h; a file to be stepped back, past the
    # save's: the step back holds them to ``now``. Held to ``now`` first, the step back
    # took its seconds back twice from a move the hold had cut, and a delay moved by
    # NTP's step before the save expired that much before SES gave up on it.
    ledger.pending.held_to(now + ahead)
    ledger.tenant_map.restore(data.get("tenant_map", []))
    # Each window as saved, by its place in the file: one added or changed since
    # starts empty, the others are kept.
    saved_layout = data["layout"]
    kept = [saved_layout.index(w) if w in saved_layout else None for w in ledger.layout()]
    any_kept = any(index is not None for index in kept)
    if any_kept:
        restore_windows(ledger, data, kept)
    if ledger.providers is not None:
        # An answer is kept as a live lookup would have made it: of a domain in its
        # normal form, naming a provider this sesd knows.
        provider = label_maker(ledger, PROVIDER)
        ledger.providers.restore(
            data.get("providers", []), lambda domain, name: is_domain(domain) and provider(name)
        )
    ledger.canary.restore(data.get("canaries", []), now, data.get("canary_names"))
    # What SES said of accounts (watched for their health alone too) and tenants still
    # watched, and walks; not an entry's whose role reaches another account now.
    where = set(ledger.settings.watched)
    # (with [tenants] off, no listing would correct the ids the file's listings named)
    on, rows = ledger.settings.tenants, data.get("accounts", [])
    polls = ledger.settings.account_polls  # (their answers only: no other is read again)
    where -= ledger.accounts.restore(rows, where, ledger.settings.roles, listings=on, polls=polls)
    # The ids the labels' polls named, an empty listing's too (not in an older file).
    ids = {*ledger.accounts.ids(), *(ids_in(data.get("tenant_ids")) if on else ())}
    # With them off, no poll would read a restored status again nor forget it; when
    # each list was read stays (saved again) for a start with them on.
    statuses = data.get("tenant_status", []) if on else []
    ledger.tenant_status.restore(statuses, where, ids, data.get("tenant_listed", []))
    # The map of an AWS account no label reaches now goes, as a reload's would.
    reached = ledger.settings.reached(ledger.accounts.ids())  # the file's ids for the default
    forget_unreached(ledger.tenant_map, held_in(data.get("accounts", [])), reached)
    # Walks under way resume and show how far they came, but of an account left since.
    walks = data.get("tenant_walks", [])
    unread = ledger.tenant_walks.restore(walks, where, now, ledger.tenant_map.max_entries)
    ledger.tenant_walks.forget_unreached(ledger.settings.reaching(ledger.accounts.ids()))
    for target, walk in ledger.tenant_walks.walks.items():
        if not walk.listing:
            progress = ledger.accounts.record(target)
            progress.tenants_listed, progress.tenants_mapped = len(walk.tenants), walk.next
    return {
        "windows": len(ledger.windows) if any_kept else "dropped: window layout changed",
        "windows_started_empty": [
            spec.name for spec, index in zip(ledger.specs, kept, strict=True) if index is None
        ],
        "pending_delays": len(ledger.pending),
        "pending_delays_refused": refused,
        "pending_delays_over_bound": ledger.pending.overflow,  # a max lowered since
        "providers_cached": 0 if ledger.providers is None else len(ledger.providers.cache),
        "canaries": len(ledger.canary.canaries),
        "tenant_walks_resumed": len(ledger.tenant_walks.walks),
        "tenant_walks_unread": unread,  # skipped alone (sesd.runtime.state counts them)
    }


def label_maker(
    ledger: Ledger, axis: str, data: dict[str, Any] | None = None
) -> Callable[[object], bool]:
    """Whether an event makes a label in the scope ``axis``, as now configured, or
    as configured when the state file ``data`` was saved, as far as its tables
    show (sesd.core.made): what a label read back from the file is held to."""
    listed: object = {}
    if data is not None:
        listed = data["domains"] if axis == DOMAIN else data.get("scopes", {}).get(axis, {})
    listed = set(listed) if isinstance(listed, dict) else set()
    alerted = data.get("alerted") if data is not None and axis == DOMAIN else None
    if isinstance(alerted, list):
        # Labels of firing alerts the table had evicted (sesd.runtime.state).
        listed.update(label for label in alerted if isinstance(label, str))
    return maker(axis, ledger.domains, ledger.tenant_labels, ledger.settings.mx, listed)
