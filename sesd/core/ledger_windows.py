"""The windows a state file saved, and the labels they are kept under, read back into
a fresh :class:`~sesd.core.ledger.Ledger` (its :meth:`~sesd.core.ledger.Ledger.restore`).
Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sesd.core.made import is_domain, is_tag_value, is_tenant
from sesd.core.scopes import DOMAIN, TENANT
from sesd.core.windows import DomainWindows

if TYPE_CHECKING:
    from sesd.core.ledger import Ledger

__all__ = ["restore_windows"]


def restore_windows(ledger: Ledger, data: dict[str, Any], kept: list[int | None]) -> None:
    """The labels, each held to the rule its live values are (a file edited by hand,
    or an older build's, makes no label an event could not), and the windows of
    those kept (``kept``: each window's place in the file's layout, None for one
    started empty): no window outlives its label's cap, or is exported under a label
    no table evicts."""
    ledger.domains.restore(data["domains"], is_domain)
    ledger.tenant_labels.restore(data.get("tenant_labels", {}), is_tenant)
    held = {DOMAIN: ledger.domains.holds, TENANT: ledger.tenant_labels.holds}
    saved = {DOMAIN: data["windows"], **data.get("scopes", {})}  # no scopes before providers
    for scope in ledger.scopes:
        holds = held.get(scope.axis) or ledger.makes(scope.axis)
        for label, windows in saved.get(scope.axis, {}).items():
            if holds(label):
                scope.windows[label] = _windows(ledger, windows, kept)
    for tag, last_seen in data["tags"].items():
        if tag in ledger.tag_tables:
            ledger.tag_tables[tag].restore(last_seen, is_tag_value)
    for tag, value, windows, *_ in data["tag_windows"]:  # later items: not ours
        if tag in ledger.tag_tables and ledger.tag_tables[tag].holds(value):
            ledger.tag_windows[(tag, value)] = _windows(ledger, windows, kept)


def _windows(ledger: Ledger, saved: Any, kept: list[int | None]) -> DomainWindows:
    restored = DomainWindows(ledger.specs)
    restored.restore(saved, kept)
    return restored
