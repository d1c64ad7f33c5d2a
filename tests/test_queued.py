"""A sink's outbox queue on its own (sesd.alerting.queued), on notifications made by
hand: where each one added goes, and what a step aside, a forget, a clock step and a
drop do to when each was first tried. Pure."""

from __future__ import annotations

import dataclasses

from sesd.alerting.alert import Notification
from sesd.alerting.queued import Queued
from tests.test_sinks import notification


def _page(rule: str, severity: str) -> Notification:
    return dataclasses.replace(notification(), rule=rule, severity=severity)


def _queued(*pages: Notification, size: int = 10) -> Queued:
    queued = Queued(size)
    queued.line.extend(pages)
    return queued


def test_a_page_goes_behind_the_as_urgent_and_ahead_of_the_less_urgent() -> None:
    critical, warning, info = (
        _page("down", "critical"),
        _page("delays", "warning"),
        _page("opens", "info"),
    )
    queued = _queued(critical, warning, info)
    added = _page("bounces", "warning")
    queued.add(added)
    assert list(queued.line) == [critical, warning, added, info]


def test_a_page_never_goes_ahead_of_its_own_rules() -> None:
    """A reload made the rule more urgent: its new page still comes after its own rule's
    last one, then ahead of the less urgent queued after it."""
    own, other = _page("delays", "warning"), _page("opens", "info")
    queued = _queued(own, other)
    more = _page("delays", "critical")
    queued.add(more)
    assert list(queued.line) == [own, more, other]
    alone = _queued(own)
    alone.add(more)
    assert list(alone.line) == [own, more]


def test_a_page_that_stepped_aside_goes_first_of_its_severity() -> None:
    """Ahead of the as urgent, and of its own rule's page however urgent (a reload made
    the rule less urgent while its page was being delivered), behind the more urgent."""
    critical, warning = _page("down", "critical"), _page("bounces", "warning")
    queued = _queued(critical, warning)
    aside = _page("delays", "warning")
    queued.step_aside(aside, 5.0)
    assert list(queued.line) == [critical, aside, warning]
    own = _queued(_page("delays", "critical"))
    own.step_aside(aside, 5.0)
    assert own.line[0] is aside


def test_when_a_page_was_first_tried_is_kept_until_its_delivery_ends() -> None:
    aside, new = _page("delays", "warning"), _page("bounces", "warning")
    queued = _queued(new)
    queued.step_aside(aside, 5.0)
    assert queued.first_tried(aside, 100.0) == 5.0
    assert queued.first_tried(new, 100.0) == 100.0
    assert queued.waiting() == [new]
    queued.line.remove(aside)
    queued.forget(aside)
    assert queued.first_tried(aside, 100.0) == 100.0


def test_a_clock_step_keeps_each_page_in_its_place_with_its_first_try() -> None:
    aside, new = _page("delays", "warning"), _page("bounces", "warning")
    queued = _queued(new)
    queued.step_aside(aside, 5.0)
    moved = {id(page): dataclasses.replace(page, at=page.at + 60) for page in (aside, new)}
    queued.moved(moved)
    assert list(queued.line) == [moved[id(aside)], moved[id(new)]]
    assert queued.first_tried(moved[id(aside)], 100.0) == 5.0
    assert queued.first_tried(aside, 100.0) == 100.0
    assert queued.waiting() == [moved[id(new)]]


def test_a_page_begun_that_a_smaller_size_drops_is_forgotten() -> None:
    """Dropped, a page begun is no longer one the queue remembers trying (another
    notification given its id later would be taken for it)."""
    aside = _page("delays", "warning")
    queued = _queued(size=0)
    queued.step_aside(aside, 5.0)
    assert queued.over() == [aside]
    assert queued.first_tried(aside, 100.0) == 100.0
