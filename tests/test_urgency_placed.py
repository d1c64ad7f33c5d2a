"""Where what a recall leaves of a queued notification goes (``placed``), on queues made
by hand: each shape the outbox's own inserts and removals can leave. Pure.

As urgent as the page it stands for, it keeps that page's place, whatever is queued
after it. Less urgent, it goes behind each more urgent page of another rule queued
after it, one place at a time from where it stood, and no further: not behind the as
urgent (queued after it, they are younger), nor past the end of the queue."""

from __future__ import annotations

import dataclasses

from sesd.alerting.alert import Notification
from sesd.alerting.urgency import placed
from tests.test_sinks import notification


def _page(rule: str, severity: str) -> Notification:
    return dataclasses.replace(notification(), rule=rule, severity=severity)


def test_a_page_as_urgent_keeps_its_place_before_a_more_urgent_one() -> None:
    # A critical page behind a warning one: its own rule's page ahead of it, since
    # taken out by a recall. The warning page left a warning page stays put.
    queue = [_page("down", "critical")]
    was, now = _page("delays", "warning"), _page("delays", "warning")
    assert placed(queue, 0, was, now) == 0


def test_a_page_left_less_urgent_stays_ahead_of_the_as_urgent_after_it() -> None:
    queue = [_page("bounces", "warning")]
    was, now = _page("delays", "critical"), _page("delays", "warning")
    assert placed(queue, 0, was, now) == 0


def test_a_page_left_less_urgent_goes_behind_one_more_urgent_and_no_further() -> None:
    queue = [_page("down", "critical")]
    was, now = _page("delays", "critical"), _page("delays", "warning")
    assert placed(queue, 0, was, now) == 1


def test_a_page_left_less_urgent_moves_on_from_where_it_stood() -> None:
    # Ahead of its place: a critical page, then a warning one; after it, a critical.
    queue = [_page("down", "critical"), _page("bounces", "warning"), _page("up", "critical")]
    was, now = _page("delays", "critical"), _page("delays", "warning")
    assert placed(queue, 2, was, now) == 3


def test_a_page_left_less_urgent_stops_at_its_own_rules_page() -> None:
    queue = [_page("down", "critical"), _page("delays", "critical"), _page("up", "critical")]
    was, now = _page("delays", "critical"), _page("delays", "warning")
    assert placed(queue, 0, was, now) == 1
