"""The rule a sent alert fired under, kept across changes of rules, read without a
daemon (``Rechecked.track``): the first rule of an incident over several reloads,
the rule before the reload for an incident that began after an earlier one whose
resolve was never sent (that one's rule is not this one's), nothing for an alert
not sent, pending, or of a rule the reload left deciding alike."""

from __future__ import annotations

from typing import Any

from sesd.alerting.rechecked import Rechecked
from sesd.alerting.rules import AlertState, Status
from sesd.config import RuleConfig

T = 1_800_000_000.0
KEY = ("delays", "a.example")


def _rule(above: float) -> RuleConfig:
    return RuleConfig(name="delays", metric="delay_ratio", window="5m", above=above)


def _states(
    since: float = T, *, notified: bool = True, status: Status = Status.FIRING
) -> dict[str, dict[str, AlertState]]:
    return {"delays": {"a.example": AlertState(status, since, since, 0.5, None, notified)}}


def test_over_two_reloads_an_incident_keeps_the_first_rule() -> None:
    r20, r30, r40 = _rule(0.2), _rule(0.3), _rule(0.4)
    rechecked, states = Rechecked(), _states()
    rechecked.track({"delays": r20}, [r30], states)
    rechecked.track({"delays": r30}, [r40], states)
    assert rechecked.fired == {KEY: (r20, T)}


def test_an_earlier_incidents_rule_is_not_the_new_ones() -> None:
    """An entry of an incident that fired at T (its resolve never sent, so no change
    forgot it) stands; the label fires again at T + 600, and a reload from 30% to 40%
    keeps the 30% this incident fired under, not the earlier one's 20%."""
    r20, r30, r40 = _rule(0.2), _rule(0.3), _rule(0.4)
    rechecked = Rechecked()
    rechecked.fired = {KEY: (r20, T)}
    rechecked.track({"delays": r30}, [r40], _states(T + 600))
    assert rechecked.fired == {KEY: (r30, T + 600)}


def test_an_alert_not_sent_or_not_firing_keeps_no_rule() -> None:
    r20, r30 = _rule(0.2), _rule(0.3)
    for states in (_states(notified=False), _states(status=Status.PENDING)):
        rechecked = Rechecked()
        rechecked.track({"delays": r20}, [r30], states)
        assert rechecked.fired == {}


def test_a_reload_deciding_alike_or_adding_the_rule_keeps_no_rule() -> None:
    r20 = _rule(0.2)
    rechecked = Rechecked()
    rechecked.track(
        {"delays": r20}, [RuleConfig(**{**_keys(r20), "severity": "critical"})], _states()
    )
    rechecked.track({}, [r20], _states())
    assert rechecked.fired == {}


def test_an_incident_kept_forgets_its_rule_once_it_ends_or_fires_anew() -> None:
    r20, r30 = _rule(0.2), _rule(0.3)
    for after in (_states(status=Status.INACTIVE), _states(T + 600), {}):
        rechecked = Rechecked()
        rechecked.track({"delays": r20}, [r30], _states())
        assert rechecked.fired == {KEY: (r20, T)}
        rechecked.track({"delays": r30}, [r30], after)
        assert rechecked.fired == {}


def _keys(rule: RuleConfig) -> dict[str, Any]:
    return {"name": rule.name, "metric": rule.metric, "window": rule.window, "above": rule.above}


def test_a_rule_left_alike_before_a_changed_one_hides_it_not() -> None:
    r20, r30 = _rule(0.2), _rule(0.3)
    other = RuleConfig(name="bounces", metric="bounce_ratio", window="5m", above=0.1)
    rechecked = Rechecked()
    rechecked.track({"bounces": other, "delays": r20}, [other, r30], _states())
    assert rechecked.fired == {KEY: (r20, T)}


def test_a_changed_rule_with_no_alert_keeps_nothing() -> None:
    rechecked = Rechecked()
    rechecked.track({"delays": _rule(0.2)}, [_rule(0.3)], {})
    assert rechecked.fired == {}
