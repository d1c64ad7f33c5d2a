"""A firing sent again after a restart (to the sinks a stop or a silence left without
it) of an alert whose thresholds a reload changed since it fired, read without a
daemon (``sesd.alerting.unheard.as_fired``): told the thresholds and direction it fired
under, as the other sinks were; where the reload changed what the value measures
(metric, window, cause, suppressed addresses), or the alert is another incident, a
repeat or a resolve, it goes as it is, under the rule in force."""

from __future__ import annotations

from typing import Any

import pytest

from sesd.alerting.alert import Alert
from sesd.alerting.rules import Transition
from sesd.alerting.unheard import as_fired
from sesd.config import RuleConfig
from sesd.core.windows.breakdown import Breakdown

SINCE = 1_800_000_000.0
NOW = RuleConfig(name="delays", metric="delay_ratio", window="5m", above=0.3, clear_below=0.2)
#: The rule as it fired: a lower threshold, falling direction aside.
BEFORE = RuleConfig(name="delays", metric="delay_ratio", window="5m", above=0.2, clear_below=0.1)


def _alert(kind: Transition = Transition.FIRING, since: float = SINCE) -> Alert:
    return Alert(
        rule="delays", metric="delay_ratio", domain="a.example", kind=kind,
        severity="warning", window="5m", value=0.6, threshold=0.3, clear_threshold=0.2,
        at=since + 60, since=since, counts={}, breakdown=Breakdown(), stage="",
        regions=[], internal=False,
    )  # fmt: skip


def _fired(rule: RuleConfig = BEFORE, since: float = SINCE) -> dict[Any, Any]:
    return {("delays", "a.example"): (rule, since)}


def test_a_firing_is_told_the_thresholds_it_fired_under() -> None:
    told = as_fired(NOW, _alert(), _fired())
    assert (told.threshold, told.clear_threshold, told.rising) == (0.2, 0.1, True)
    assert (told.value, told.kind, told.since) == (0.6, Transition.FIRING, SINCE)


def test_a_direction_changed_is_told_as_it_fired() -> None:
    """Fired below 90% delivered; the rule in force reads above: told ``below``."""
    before = RuleConfig(
        name="delays", metric="delay_ratio", window="5m", below=0.9, clear_above=0.95
    )
    told = as_fired(NOW, _alert(), _fired(before))
    assert (told.threshold, told.clear_threshold, told.rising) == (0.9, 0.95, False)


@pytest.mark.parametrize("kind", [Transition.REPEAT, Transition.RESOLVED])
def test_a_repeat_or_a_resolve_goes_as_it_is(kind: Transition) -> None:
    alert = _alert(kind)
    assert as_fired(NOW, alert, _fired()) is alert


def test_another_incident_of_the_label_goes_as_it_is() -> None:
    alert = _alert(since=SINCE + 600)
    assert as_fired(NOW, alert, _fired()) is alert


def test_an_alert_no_reload_changed_goes_as_it_is() -> None:
    alert = _alert()
    assert as_fired(NOW, alert, {}) is alert
    assert as_fired(NOW, alert, {("delays", "b.example"): (BEFORE, SINCE)}) is alert
    assert as_fired(NOW, alert, {("other", "a.example"): (BEFORE, SINCE)}) is alert


#: Pairs of rules (in force, as fired) alike but for one key of what the value measures.
_BASE: dict[str, Any] = {"name": "delays", "metric": "delay_ratio", "window": "5m"}
_CAUSE: dict[str, Any] = {**_BASE, "metric": "cause_ratio", "cause": "ip_reputation"}
_BOUNCES: dict[str, Any] = {**_BASE, "metric": "bounce_ratio"}
MEASURES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "metric": (_BASE, {**_BASE, "metric": "bounce_ratio"}),
    "window": (_BASE, {**_BASE, "window": "1h"}),
    "cause": (_CAUSE, {**_CAUSE, "cause": "greylisted"}),
    "include_suppressed": (_BOUNCES, {**_BOUNCES, "include_suppressed": True}),
}


@pytest.mark.parametrize("key", list(MEASURES))
def test_a_reload_that_changed_what_the_value_measures_keeps_the_rule_in_force(key: str) -> None:
    now, before = MEASURES[key]
    rule, alert = RuleConfig(**now, above=0.3), _alert()
    assert as_fired(rule, alert, _fired(RuleConfig(**before, above=0.2))) is alert
    # Alike in what they measure, the thresholds it fired under are told.
    told = as_fired(rule, alert, _fired(RuleConfig(**now, above=0.2)))
    assert told.threshold == 0.2
