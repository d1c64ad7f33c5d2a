"""The rules on windows: one (rule, label)'s step in an evaluation over its window's
figures (what it reads, how its state moves, the alert its transition makes), and
what the evaluation decides of that alert once its slices are done: remembered for
resends, or emitted, and a new incident its step began stepped after its resolve.

An evaluation's slices step the labels (sesd.alerting.slices), through the
evaluator's states, reads and silences, as the rules on no windows are stepped
(sesd.alerting.windowless).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.alerting.alert import Alert, alert_of
from sesd.alerting.gate import gate
from sesd.alerting.held import held_alert
from sesd.alerting.rules import (
    FIRING,
    INACTIVE,
    AlertState,
    Transition,
    breaches,
    measure,
    step,
    told_ended,
)
from sesd.config import QUANTILE_METRICS, RuleConfig
from sesd.core.causes import CAUSE_INDEX
from sesd.core.scopes import Scope
from sesd.core.windows import Breakdown, DomainWindows, Figures

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator

__all__ = ["Read", "decide", "step_label"]

#: What a step of a (rule, label) read: its windows, their stamp, its pending count (0
#: for a rule that does not read it: all but ``pending_delays``).
Read = tuple[DomainWindows, int, int, int]


def step_label(
    evaluator: Evaluator,
    rule: RuleConfig,
    scope: Scope,
    domain: str,
    now: float,
    read: Read | None,
) -> tuple[Alert, bool] | None:
    """Step one (rule, label) of a scope: measure its window, move its state, and
    return the alert its transition makes, and whether it is only remembered (for
    :func:`decide`). ``read`` is what the window's reads depend on (None when the
    label has no windows): its windows, their stamp and its pending count."""
    states = evaluator.states[rule.name]
    state = states.get(domain)
    if state is None:
        state = states[domain] = AlertState()
    windows: DomainWindows | None = None
    figures: Figures | None = None
    value: float | None = None
    volume, index = 0, evaluator._window_index[rule.name]
    if read is not None:
        windows, pending = read[0], read[3]
        figures = evaluator._reads.figures(windows, index, rule.metric in QUANTILE_METRICS)
        causes = evaluator._reads.causes(windows, index) if rule.cause else {}
        of_cause = causes.get(CAUSE_INDEX[rule.cause], 0) if rule.cause else 0
        kept_out = windows.suppressed_count(index, now) if rule.include_suppressed else 0
        value, volume = measure(rule.metric, figures, pending, of_cause, kept_out)
    seconds, since = evaluator._window_seconds[rule.name], state.since
    if rule.metric == "pending_delays" and evaluator.blindness.unseen(seconds, now):
        value, read = None, None  # read late: what ends them may be further back
    blind = value is None and evaluator.blindness.of(seconds, now)
    thin = state.status is FIRING and evaluator.blindness.thin(seconds, now)
    renewed = told_ended(state)
    transition = step(
        rule, state, value, volume, now, evaluator._repeat, blind, thin, tick=evaluator._tick
    )
    if state.since < since and transition is not Transition.FIRING:  # stepped back past it
        evaluator.rechecked.moved_back((rule.name, domain), since, state.since)
    kind = gate(evaluator, rule, domain, state, transition, now)
    if renewed and transition is Transition.RESOLVED and breaches(rule, value, volume):
        # Told ended while a thin window held it, breaching on a full one: the resolve
        # goes as told, and the same reading is a new incident's first step, taken
        # once the resolve is emitted (its sinks: those that had the old firing).
        if kind is None:
            return step_label(evaluator, rule, scope, domain, now, read)
        evaluator._anew[rule.name, domain] = (scope, read)
    # A firing alert restored from the state file: known again for resends.
    remember = (
        kind is None
        and state.notified
        and state.status is FIRING
        and (rule.name, domain) not in evaluator.current
    )
    if kind is None and not remember:
        if state.status is INACTIVE:
            _forget_or_note(evaluator, rule, domain, read)
        # A firing's provider, found since it was sent, for Alertmanager's next post.
        fresh = evaluator._reads.refreshed(
            evaluator.current.get((rule.name, domain)), scope.axis, domain
        )
        return None if fresh is None else (fresh, True)
    breakdown = (
        Breakdown() if windows is None else windows.breakdown(index, now, delays=rule.about_delays)
    )
    alert = alert_of(
        {**evaluator._identity(rule, domain, kind or Transition.REPEAT, state, now),
         "scope": scope.axis, "provider": evaluator._reads.provider(scope.axis, domain)},
        figures.counts if figures is not None else None,
        breakdown,
    )  # fmt: skip
    return (held_alert(alert) if state.held else alert), remember


def decide(
    evaluator: Evaluator, rule: RuleConfig, label: str, alert: Alert, remember: bool,
    now: float, out: list[Alert],
) -> None:  # fmt: skip
    """What a step returned, once the evaluation's slices are done: remembered for
    resends, or emitted."""
    if remember:
        evaluator.current[(rule.name, label)] = alert
        return
    evaluator._emit(rule, alert, now, out)
    if evaluator._anew and (anew := evaluator._anew.pop((rule.name, label), None)) is not None:
        then = step_label(evaluator, rule, anew[0], label, now, anew[1])
        if then is not None:
            decide(evaluator, rule, label, *then, now, out)


def _forget_or_note(evaluator: Evaluator, rule: RuleConfig, label: str, read: Read | None) -> None:
    """An inactive (rule, label) after its step: forgotten when its windows are gone
    (evicted, or never there), else what it read is noted."""
    if read is None:
        del evaluator.states[rule.name][label]
        evaluator._quiet.get(rule.name, {}).pop(label, None)
    else:
        evaluator._quiet.setdefault(rule.name, {})[label] = read
