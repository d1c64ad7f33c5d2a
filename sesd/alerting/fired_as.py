"""Which thresholds an alert is told as fired, where a reload changed its rule since it
fired: the one owner of that decision.

Two kinds of notification ask it. A firing an evaluation sends again (to the sinks a
stop or a silence left without it: sesd.alerting.unheard.as_fired) is told the
thresholds it fired under, as the other sinks were. A notification a change of rules
owes (a page to a sink named anew, a resolve to one dropped:
sesd.alerting.rechecked.Rechecked.as_fired) is told the rule that decided its alert as
it fired. Asked apart, each correction to one (a value the rule as it fired clears at,
a reload that changed what the value measures) had to be made again in the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import msgspec

from sesd.alerting.alert import Alert
from sesd.config import RuleConfig

__all__ = [
    "DECIDING",
    "MEASURES",
    "Fired",
    "fired_rule",
    "fires_as",
    "moved_back",
    "told_alert",
    "told_rule",
]

#: The keys of a rule that say what its value measures.
MEASURES = ("metric", "window", "cause", "include_suppressed")
#: The keys of a rule that decide whether a firing alert resolves: what it measures
#: and the thresholds.
DECIDING = (*MEASURES, "above", "below", "clear_below", "clear_above")

#: By (rule, label): the rule a firing alert fired under and when it fired, where a
#: reload changed what decides it since (sesd.alerting.rechecked.Rechecked.fired).
Fired = Mapping[tuple[str, str], tuple[RuleConfig, float]]


def fires_as(fired: RuleConfig, rule: RuleConfig, value: float | None) -> bool:
    """Whether ``fired`` (the rule a firing alert fired under, before a reload to
    ``rule``) describes the alert's ``value`` read under ``rule``: it measures what
    ``rule`` does, and the alert fires on under it at that value (None: no figure to
    judge by). Else a page told its thresholds read "15% (fires above 20%, clears at
    20%)", or another window's figure against them: the rule it fires under tells it."""
    if any(getattr(fired, key) != getattr(rule, key) for key in MEASURES):
        return False
    return value is None or fired.holds(value)


def fired_rule(
    fired: Fired, key: tuple[str, str], since: float, rule: RuleConfig, value: float | None
) -> RuleConfig | None:
    """The rule an alert (``key``: rule and label) that fired at ``since`` is told under,
    read under ``rule`` at ``value``: the rule as it fired, where ``fired`` keeps one for
    this incident (not an earlier one of the label) and it describes ``value``
    (:func:`fires_as`); None where the rule ``rule`` tells it."""
    was = fired.get(key)
    if was is None or was[1] != since or not fires_as(was[0], rule, value):
        return None
    return was[0]


def moved_back(
    fired: dict[tuple[str, str], tuple[RuleConfig, float]],
    key: tuple[str, str],
    was: float,
    since: float,
) -> None:
    """The alert ``key`` that fired at ``was`` starts at ``since`` from now on (the wall
    clock stepped back past ``was``: sesd.alerting.rules.step): the rule it fired under
    is kept for it, as the incident it still is. Left at ``was``, its resolve did not
    say the rule had changed, and the next change of rules forgot the rule."""
    found = fired.get(key)
    if found is not None and found[1] == was:
        fired[key] = (found[0], since)


def told_rule(rule: RuleConfig, fired: RuleConfig) -> RuleConfig:
    """``rule`` (labels, severity, sinks: as owed) with what decided its alert as it
    fired (``fired``, of :func:`fired_rule`)."""
    return msgspec.structs.replace(rule, **{key: getattr(fired, key) for key in DECIDING})


def told_alert(alert: Alert, fired: RuleConfig) -> Alert:
    """``alert`` told the thresholds and direction ``fired`` (of :func:`fired_rule`) fired
    under; what it measures is the same (:func:`fires_as`), so are the rest."""
    return replace(
        alert, threshold=fired.threshold, clear_threshold=fired.clear_threshold,
        rising=fired.rising,
    )  # fmt: skip
