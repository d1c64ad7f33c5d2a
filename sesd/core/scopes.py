"""A scope: one axis of labels (recipient domains, mailbox providers, SES tenants) and,
per label, its counters and windows.

The pipeline writes each recipient into every scope it keeps; the metrics,
the rules and replay read any scope the same way. Which label a recipient
gets is the caller's business (sesd.core.domains, sesd.core.providers): a scope only
holds what was counted under each label.
"""

from __future__ import annotations

from typing import Final, TypeVar

from sesd.core.axes import ACCOUNT, DOMAIN, PROVIDER, TENANT
from sesd.core.events import EVENT_TYPES
from sesd.core.windows import DomainWindows, WindowSpec

__all__ = ["ACCOUNT", "DOMAIN", "PROVIDER", "TENANT", "Scope", "Slot"]

_K = TypeVar("_K")
_N_TYPES: Final = len(EVENT_TYPES)


class Slot:
    """One label's counters and windows, found with one lookup per recipient."""

    __slots__ = ("counts", "name", "scope", "windows")

    def __init__(self, scope: Scope, name: str) -> None:
        self.scope = scope
        self.name = name
        counts = scope.recipients.get(name)
        if counts is None:
            counts = scope.recipients[name] = [0] * _N_TYPES
        self.counts = counts  # the label's list in Scope.recipients
        self.windows = scope.windows.get(name)  # its windows, made on first use

    def window(self) -> DomainWindows:
        """The label's windows, made on first use."""
        found = self.windows
        if found is None:
            found = self.scope.windows.get(self.name)
            if found is None:
                found = self.scope.windows[self.name] = DomainWindows(self.scope.specs)
            self.windows = found
        return found


class Scope:
    """Per label: recipients per event type, delays and bounces by kind, windows."""

    __slots__ = (
        "axis",
        "bounces",
        "delays",
        "evicted",
        "index",
        "recipients",
        "specs",
        "suppressed",
        "windows",
    )

    def __init__(self, axis: str, index: int, specs: list[WindowSpec]) -> None:
        self.axis = axis
        #: The scope's place in a recipient's labels (PendingDelays keeps one per scope).
        self.index = index
        self.specs = specs
        self.windows: dict[str, DomainWindows] = {}
        self.recipients: dict[str, list[int]] = {}  # label -> per event type
        #: label -> (delay type, cause) -> delayed recipients
        self.delays: dict[str, dict[tuple[str, str], int]] = {}
        #: label -> (bounce type, subtype) -> bounced recipients
        self.bounces: dict[str, dict[tuple[str, str], int]] = {}
        #: label -> subtype -> recipients SES did not send to (a suppression list)
        self.suppressed: dict[str, dict[str, int]] = {}
        #: When set (a replay's whole-run totals): label -> the recipients per event
        #: type its evictions took from ``recipients``, summed.
        self.evicted: dict[str, list[int]] | None = None

    def slot(self, name: str) -> Slot:
        """A label's slot (its counters made on first use)."""
        return Slot(self, name)

    def delayed(self, label: str, delay_type: str, cause: str) -> None:
        """Count one delayed recipient."""
        # _bump(), inline here and in bounced(): called for each problem recipient in
        # each of its scopes (its call cost about 500 instructions each, cachegrind).
        per_label = self.delays.get(label)
        if per_label is None:
            per_label = self.delays[label] = {}
        key = (delay_type, cause)
        per_label[key] = per_label.get(key, 0) + 1

    def bounced(self, label: str, kind: tuple[str, str]) -> None:
        """Count one bounced recipient."""
        per_label = self.bounces.get(label)
        if per_label is None:
            per_label = self.bounces[label] = {}
        per_label[kind] = per_label.get(kind, 0) + 1

    def suppress(self, label: str, subtype: str) -> None:
        """Count one recipient a suppression list kept SES from sending to."""
        _bump(self.suppressed, label, subtype)

    def forget(self, label: str) -> None:
        """Drop an evicted label's counters and windows."""
        self.windows.pop(label, None)
        counts = self.recipients.pop(label, None)
        if counts is not None and self.evicted is not None:
            kept = self.evicted.setdefault(label, [0] * len(counts))
            for index, n in enumerate(counts):
                kept[index] += n
        self.delays.pop(label, None)
        self.bounces.pop(label, None)
        self.suppressed.pop(label, None)


def _bump(table: dict[str, dict[_K, int]], label: str, key: _K) -> None:
    per_label = table.get(label)
    if per_label is None:
        per_label = table[label] = {}
    per_label[key] = per_label.get(key, 0) + 1
