"""The caps on labels warned of: past ``max_tracked``, new recipient domains, values of
a ``[dimensions]`` tag and tenants count under ``other``, one label for all, watched
together by every rule and by none one by one. Nothing but the ``other`` series would
say so: the janitor (sesd.runtime.janitor) logs it once a spell, with what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sesd.core.domains import OTHER
from sesd.core.label_table import LabelTable
from sesd.core.ledger import Ledger

__all__ = ["CapWatch", "cap_watches"]

_TOGETHER = "one label for all: a rule watches them together, not each; "


@dataclass(slots=True)
class CapWatch:
    """One label table's cap: the first value it counts under ``other`` is warned of,
    and again only once ``other`` went idle (``idle_evict`` unseen) and came back."""

    #: The warning's event name.
    event: str
    table: LabelTable
    #: What to do, and the key-values naming the table (a tag's name).
    hint: str
    fields: dict[str, Any]
    #: The table's :attr:`LabelTable.overflow` at the last round.
    seen: int = 0
    warned: bool = False

    def round(self, now: float, log: Any) -> None:
        """Warn if the cap counted a value under ``other`` since the last round, and
        none was warned of in this spell."""
        table = self.table
        if self.warned and now - table.last_seen.get(OTHER, -float("inf")) >= table.idle_evict:
            self.warned = False  # ``other`` went idle: the next is a new spell
        if table.overflow > self.seen:
            self.seen = table.overflow
            if not self.warned:
                self.warned = True
                log.warning(
                    self.event, max_tracked=table.max_tracked, **self.fields, hint=self.hint
                )


def cap_watches(ledger: Ledger) -> list[CapWatch]:
    """A watch for each of the ledger's label tables (its tags are a restart's)."""
    watches = [
        CapWatch(
            "sesd.domains.capped", ledger.domains,
            "new recipient domains count under `other`, " + _TOGETHER + "name the domains "
            "you alert on in [domains] track (or a rule's domains), or raise [domains] "
            "max_tracked (a restart applies it)",
            {},
        ),
        CapWatch(
            "sesd.tenants.capped", ledger.tenant_labels,
            "new tenants count under `other`, " + _TOGETHER + "name the tenants you alert "
            "on in a rule's tenants, or raise [tenants] max_tracked (a restart applies it)",
            {},
        ),
    ]  # fmt: skip
    for tag, table in ledger.tag_tables.items():
        hint = (
            "new values of the tag count under `other`, " + _TOGETHER + "raise [dimensions] "
            "max_tracked (a restart applies it), or break down by a tag of fewer values"
        )
        watches.append(CapWatch("sesd.tags.capped", table, hint, {"tag": tag}))
    return watches
