"""Pending delays across steps of the host's clock: what a delay dated on a clock
behind SES's is timed and bounded by once NTP sets it (sesd.core.pending_steps)."""

from __future__ import annotations

from sesd.core.events import LONGEST_DELAY
from sesd.core.pending import PendingDelays
from tests import factory as f

NOW = f.T0 + 10
HOUR = 3600.0
BEHIND = NOW - 3 * HOUR  # the host's clock, three hours behind SES's


def test_a_delay_across_ntp_s_step_is_timed_from_ses_s_time() -> None:
    """A recipient delayed at SES's NOW, read at once on a clock three hours behind
    (dated on it: it is from ahead of it); NTP steps the clock the three hours ahead,
    and its Delivery, SES's ten minutes after NOW, ends a delay of ten minutes.
    Another, delayed in a backlog SES dated four hours before NOW, is delivered five
    minutes after its delay, before where the step put its first time: not timed as
    less than none. Before: the first was timed 3 h 10 min, the step's three hours in
    the delay length histogram."""
    pending = PendingDelays(100)
    pending.delayed(1, ("a.example",), BEHIND, None)
    pending.delayed(2, ("a.example",), NOW - 4 * HOUR, None)
    pending.stepped(3 * HOUR, NOW)
    assert pending.resolved(1, NOW + 600) == (("a.example",), 600.0)
    assert pending.resolved(2, NOW - 4 * HOUR + 300) == (("a.example",), 0.0)
    pending.delayed(3, ("a.example",), NOW, None)  # none moved: as ever
    assert pending.resolved(3, NOW + 60) == (("a.example",), 60.0)
    assert LONGEST_DELAY > 4 * HOUR
