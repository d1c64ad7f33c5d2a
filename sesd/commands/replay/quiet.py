"""How long a replay's evaluations can change nothing while no event comes: what lets
``sesd replay`` cross a gap of days in event time without evaluating the rules every
``evaluate_every`` of it (about 17,000 evaluations a day of gap).

With no event applied, what a rule reads changes with time only as its windows age,
pending delays expire and idle labels are evicted. Once every event is out of every
window, the values stay the same until the next event but for those expiries and
evictions, and a state changes then only when a pending alert's ``for`` runs out
(a firing alert only repeats, which a replay does not list). The evaluations
before the earliest such time can be skipped: they would change nothing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sesd.alerting.rules import Status

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator
    from sesd.core.ledger import Ledger

__all__ = ["next_tick", "quiet_until"]


def quiet_until(ledger: Ledger, evaluator: Evaluator, latest: float, at: float) -> float:
    """The event time before which no evaluation after the one at ``at`` would change
    anything, if no event comes (``latest``: the latest event time applied); ``at``
    itself when that is not known (an event still in a window, say)."""
    blindness = evaluator.blindness
    lagging = blindness.tallies is not None and blindness.tallies.latest
    if lagging or evaluator.silences.items or ledger.canary.canaries:
        return at  # what a queue's lag, a silence or a canary says changes with time
    # An event at t is in no window of a layout once t <= now - (slots + 1) * width.
    reach = max((spec.slots + 1) * spec.width for spec in ledger.specs)
    if at - latest < reach or at - blindness.since < reach:
        return at
    until = ledger.pending.next_expiry(at)
    for rule in evaluator.rules:
        for state in evaluator.states.get(rule.name, {}).values():
            if state.status is Status.PENDING:
                until = min(until, state.since + rule.for_.seconds)
    tables = [ledger.domains, ledger.tenant_labels, *ledger.tag_tables.values()]
    for table in tables:
        idle = table.idle_evict
        for seen in table.snapshot().values():
            if seen + idle >= at:
                until = min(until, seen + idle)
    return until if until > at else at


def next_tick(first: float, every: float, done: int, before: float) -> int:
    """The number of the tick to evaluate after tick ``done`` (tick k is at
    ``first + k * every``): the last one before ``before``, or the next one."""
    k = max(done + 1, math.ceil((before - first) / every) - 1)
    while k > done + 1 and first + k * every >= before:
        k -= 1
    while first + (k + 1) * every < before:
        k += 1
    return k
