"""Groups a reload removes: their labels go at once, not when idle. No event counts
under a removed group's label any more (its domains count under their own from the
reload on), so its windows would only run down, and an alert on it fire on for a
window's length about a label the config no longer has. The rules resolve such alerts
as the reload's change (sesd.alerting.changes); this drops the label, its windows and
its pending delays, so no evaluation fires them again."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sesd.core.label_table import domain_labels
from sesd.core.ledger import Ledger

__all__ = ["drop_groups", "removed_groups"]


def removed_groups(
    before: Collection[str], after: Mapping[str, Collection[str]], track: Collection[str]
) -> list[str]:
    """The group names in ``before`` that are no label of the config after the reload
    (its groups ``after``, its tracked domains ``track``)."""
    kept = domain_labels(list(track), {name: list(members) for name, members in after.items()})
    return sorted(set(before) - set(after) - set(kept.values()))


def drop_groups(ledger: Ledger, labels: Collection[str]) -> None:
    """Drop each of ``labels`` (removed groups) from the domain table now, with its
    windows and pending delays (a state file's may be restored under a label the
    table does not take back)."""
    for label in labels:
        ledger.domains.drop(label)
        ledger.by_domain.forget(label)
    ledger.pending.drop_labels(labels)
