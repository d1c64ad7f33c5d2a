"""The caps warned of, with what to do, each once a spell: past ``max_tracked``, new
recipient domains, values of a ``[dimensions]`` tag and tenants count under ``other``,
one label for all, watched together by every rule and by none one by one; past the
senders kept, sesd does not know every sender; past ``max_pending_delays``, a delayed
recipient is not pending. Nothing else would say so. The janitor (sesd.runtime.janitor)
looks at each round; :class:`Caps`, made once for the run, keeps what each warned of,
so a janitor started again after a fault does not warn again of what it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sesd.core.label_table import LabelTable
from sesd.core.ledger import Ledger
from sesd.core.reputation_senders import MAX_ESTIMATED

__all__ = ["QUIET", "CapWatch", "Caps", "cap_watches"]

#: Seconds without a delay the pending table refused that end a spell of it full: the
#: next refusal is warned of again.
QUIET = 3600.0

_TOGETHER = "one label for all: a rule watches them together, not each; "


@dataclass(slots=True)
class CapWatch:
    """One label table's cap: the first value it counts under ``other`` is warned of,
    and again only once the cap counted none for ``idle_evict`` (to a round). The cap's
    own counting, not ``other`` seen: a tag's value SES could not have carried is under
    ``other`` by its text, and a steady trickle of them would hold a spell for ever.
    Timed on the monotonic clock: a step of the wall clock moves the times the ledger
    keeps (sesd.core.ledger_steps), and would else hold a spell open (a step back) or
    end it (ahead)."""

    #: The warning's event name.
    event: str
    table: LabelTable
    #: What to do, and the key-values naming the table (a tag's name).
    hint: str
    fields: dict[str, Any]
    #: The table's :attr:`LabelTable.overflow` at the last round.
    seen: int = 0
    #: The last round (monotonic) that found a value counted, while a spell is on
    #: (None: none is).
    counted: float | None = None

    def round(self, monotonic: float, log: Any) -> None:
        """Warn if the cap counted a value under ``other`` since the last round, and
        none was warned of in this spell."""
        table = self.table
        if table.overflow <= self.seen:
            return
        self.seen = table.overflow
        if self.counted is None or monotonic - self.counted >= table.idle_evict:
            log.warning(self.event, max_tracked=table.max_tracked, **self.fields, hint=self.hint)
        self.counted = monotonic


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


@dataclass(slots=True)
class Caps:
    """Every cap of ``ledger`` and what was warned of it, for the run."""

    ledger: Ledger
    tables: list[CapWatch] = field(init=False)
    #: Whether the record of senders was found full (it stays so for the run: each move
    #: places the same senders again): warned of once.
    senders_full: bool = False
    #: The pending table's refusals counted at the last round, and when (monotonic) the
    #: last was found.
    refused: int = 0
    last_refused: float = -QUIET

    def __post_init__(self) -> None:
        self.tables = cap_watches(self.ledger)

    def round(self, monotonic: float, log: Any) -> None:
        """Warn of each cap met since the last round, but in a spell already warned of
        (timed on the monotonic clock, which no step of the wall clock moves)."""
        if not self.senders_full and len(self.ledger.senders) >= MAX_ESTIMATED:
            self.senders_full = True
            log.warning(
                "sesd.reputation.senders_capped", kept=MAX_ESTIMATED,
                hint="past these identities sesd does not know every sender: where a poll "
                "or a reload moves mail from, the estimate, its series and an alert on it "
                "stay until a restart (a sender not kept may still count there)",
            )  # fmt: skip
        for watch in self.tables:
            watch.round(monotonic, log)
        pending = self.ledger.pending
        if pending.overflow > self.refused:
            if monotonic - self.last_refused >= QUIET:
                log.warning(
                    "sesd.pending.full", held=len(pending), max_pending_delays=pending.max_entries,
                    not_held=pending.overflow - self.refused,
                    hint="a delayed recipient past the table (or past the three quarters of it "
                    "one domain may hold) is not pending: in no pending gauge nor "
                    "pending_delays rule, and not timed; raise [ingest] max_pending_delays",
                )  # fmt: skip
            self.refused, self.last_refused = pending.overflow, monotonic
