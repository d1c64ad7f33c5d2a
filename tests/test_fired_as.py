"""Which thresholds an alert is told as fired, where a reload changed its rule since it
fired, asked by both notifications that ask it (sesd.alerting.fired_as): a firing an
evaluation sends again (``unheard.as_fired``) and a page a change of rules owes a sink
(``Rechecked.as_fired``, and ``unheard.told`` with the page last sent). Asked of the
same incident and figure, they tell the same thresholds; a change and the page made
from what was last sent are judged by the page's figure, not the state's read since."""

from __future__ import annotations

import pytest

from sesd.alerting.alert import Alert
from sesd.alerting.changes import Change
from sesd.alerting.fired_as import moved_back
from sesd.alerting.rechecked import Rechecked
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.alerting.unheard import as_fired, told
from sesd.config import RuleConfig
from sesd.core.windows.breakdown import Breakdown

SINCE = 1_800_000_000.0
KEY = ("delays", "a.example")
#: In force: fires above 30%, clears at 10%. As it fired: above 20%, clears at 20%.
NOW = RuleConfig(name="delays", metric="delay_ratio", window="5m", above=0.3, clear_below=0.1)
BEFORE = RuleConfig(name="delays", metric="delay_ratio", window="5m", above=0.2)
#: In force, over another window: what the value measures changed since it fired.
HOURLY = RuleConfig(name="delays", metric="delay_ratio", window="1h", above=0.3)


def _alert(value: float | None, rule: RuleConfig = NOW) -> Alert:
    return Alert(
        rule="delays", metric="delay_ratio", domain="a.example", kind=Transition.FIRING,
        severity="warning", window=rule.window, value=value, threshold=rule.threshold,
        clear_threshold=rule.clear_threshold, at=SINCE + 60, since=SINCE, counts={},
        breakdown=Breakdown(), stage="", regions=[], internal=False,
    )  # fmt: skip


def _change(value: float | None, rule: RuleConfig = NOW) -> Change:
    state = AlertState(Status.FIRING, SINCE, SINCE, value, None, True)
    return Change(rule, "a.example", state, Transition.FIRING, ("chat",), "added")


def _rechecked() -> Rechecked:
    rechecked = Rechecked()
    rechecked.fired = {KEY: (BEFORE, SINCE)}
    return rechecked


@pytest.mark.parametrize(
    ("value", "rule", "threshold"),
    [
        (0.6, NOW, 0.2),  # fires on under the rule as it fired: told it
        (0.15, NOW, 0.3),  # the rule as it fired clears at 15%: the rule in force
        (None, NOW, 0.2),  # no figure contradicts the rule as it fired
        (0.6, HOURLY, 0.3),  # a figure of another window: the rule it was read under
    ],
)  # fmt: skip
def test_a_firing_sent_again_and_a_page_owed_tell_the_same_thresholds(
    value: float | None, rule: RuleConfig, threshold: float
) -> None:
    """An alert fired above 20% (clearing at 20%) before a reload to 30% (clearing at
    10%): a firing sent again to a sink a stop left without it, and a page a reload
    owes a sink named anew, of the same incident and figure, tell the same thresholds."""
    rechecked = _rechecked()
    page = as_fired(rule, _alert(value, rule), rechecked.fired)
    owed = rechecked.as_fired(_change(value, rule)).rule
    assert (page.threshold, page.clear_threshold) == (owed.threshold, owed.clear_threshold)
    assert page.threshold == threshold


def test_a_change_and_the_page_last_sent_are_judged_by_the_pages_figure() -> None:
    """Paged at 60% (a reminder since the reload, told the 30% in force); the state has
    read 15% since, which the rule as it fired clears at. A sink named anew is sent that
    page, told the 20% it fired under: the change it is owed under says 20% too."""
    rechecked = _rechecked()
    change, page = told(rechecked, _change(0.15), {KEY: _alert(0.6)})
    assert page is not None
    assert (page.value, page.threshold, change.rule.threshold) == (0.6, 0.2, 0.2)


def test_a_step_back_moves_only_the_incident_the_rule_is_kept_for() -> None:
    """The clock stepped back past an alert's start: its rule as it fired moves with it
    where kept for that start; an alert whose rule no reload changed (none kept, the
    usual step back) or kept for an earlier incident is left as it is."""
    fired: dict[tuple[str, str], tuple[RuleConfig, float]] = {KEY: (BEFORE, 10.0)}
    moved_back(fired, ("delays", "b.example"), 10.0, 5.0)  # none kept for it
    moved_back(fired, KEY, 20.0, 5.0)  # kept for the incident that began at 10
    assert fired == {KEY: (BEFORE, 10.0)}
    moved_back(fired, KEY, 10.0, 5.0)
    assert fired == {KEY: (BEFORE, 5.0)}


def test_a_resolve_owed_is_told_the_rule_it_fired_under_whatever_its_value() -> None:
    """A resolve a reload owes a sink dropped, read at 15% (which the rule as it fired
    clears at: the value ended it): its value judges nothing, it is told the 20% the
    page said, not the 30% in force."""
    state = AlertState(Status.FIRING, SINCE, SINCE, 0.15, None, True)
    change = Change(NOW, "a.example", state, Transition.RESOLVED, ("chat",), "dropped")
    assert _rechecked().as_fired(change).rule.threshold == 0.2


def test_a_page_last_sent_at_a_figure_the_rule_as_it_fired_clears_at_is_told_the_rule_now() -> None:
    """Paged last at 15%, which the rule as it fired clears at (the 30% in force keeps it
    firing): the page and the change it is owed under tell 30%, judged by its figure."""
    change, page = told(_rechecked(), _change(0.6), {KEY: _alert(0.15)})
    assert page is not None
    assert (page.threshold, change.rule.threshold) == (0.3, 0.3)
