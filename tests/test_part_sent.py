"""What a sink keeps of the notifications it sent part of (sesd.alerting.part_sent):
bounded, the oldest forgotten first."""

from __future__ import annotations

from dataclasses import replace

from sesd.alerting.part_sent import PartSent
from tests.test_sinks import notification


def test_the_notifications_part_sent_kept_are_bounded_the_oldest_forgotten() -> None:
    """A sink whose notifications keep failing part-way (each given up, dropped or
    expired, never taken again) keeps where each goes on from for the last 64 only: a
    daemon failing for days would otherwise hold every notification it ever part-sent.
    The 65th forgets the first (it begins again from the start), the second is kept."""
    kept: PartSent[int] = PartSent()
    each = [replace(notification(), at=float(i)) for i in range(PartSent.MOST + 1)]
    for i, one in enumerate(each):
        kept.take(one, 0)
        kept.keep(one, i + 1, [])
    assert kept.take(each[0], 0) == (0, [])
    assert kept.take(each[1], 0) == (2, [])
    assert kept.take(each[-1], 0) == (PartSent.MOST + 1, [])
