"""What a sink keeps of the notifications it sent part of (sesd.alerting.part_sent):
bounded, the oldest forgotten first."""

from __future__ import annotations

from dataclasses import replace

from sesd.alerting.clock_steps import Moves
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


def test_a_notification_kept_is_told_by_itself_unless_it_is_the_one_taken() -> None:
    """Kept before any is taken, or after another was taken, a notification goes on
    from where it was kept when it is taken itself (not as the other one)."""
    kept: PartSent[int] = PartSent()
    first, second = notification(), replace(notification(), at=1.0)
    kept.keep(first, 2, [])
    kept.take(second, 0)
    kept.keep(first, 3, [])
    assert kept.take(second, 0) == (0, [])
    assert kept.take(first, 0) == (3, [])


def test_a_notification_under_way_across_two_clock_steps_goes_on_as_moved_twice() -> None:
    """Two clock steps during one post: the sink keeps the notification it was given,
    and the outbox tries again the one moved twice, which goes on from there."""
    kept: PartSent[int] = PartSent()
    given = notification()
    kept.take(given, 0)
    ahead, back = Moves(60.0), Moves(-30.0)
    kept.moved(ahead)
    kept.moved(back)
    kept.keep(given, 4, [])
    twice = back.notification(ahead.notification(given))
    assert twice.at == given.at + 30.0
    assert kept.take(twice, 0) == (4, [])


def test_where_a_notification_stands_is_told_during_its_post_and_after() -> None:
    """What a stop saves of a notification (sesd.alerting.part_saved): nothing before a
    request of it is made; during its post, the request under way (its answer would be
    lost with the stop: that part is posted again) and the refusals before it; after a
    failure, where it goes on from; once another is taken, still that."""
    kept: PartSent[int] = PartSent()
    one, other = notification(), replace(notification(), at=1.0)
    kept.take(one, 0)
    assert kept.progress(one) is None
    kept.posting(2, [])
    assert kept.progress(one) == (2, [])
    kept.keep(one, 3, [])
    kept.take(other, 0)
    kept.posting(0, [])
    assert (kept.progress(one), kept.progress(other)) == ((3, []), (0, []))
