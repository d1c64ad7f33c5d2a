"""What a step's transition sends, given the silences in force and the sinks a stop
left without a firing (sesd.alerting.unheard): the transition, a held-back firing
once its silence ended, or nothing. The states are stepped whatever it says:
silences gate what is sent, never the states."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.alerting.rules import FIRING, RESOLVED, AlertState, Transition
from sesd.config import RuleConfig

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator

__all__ = ["gate"]


def gate(
    evaluator: Evaluator,
    rule: RuleConfig,
    domain: str,
    state: AlertState,
    transition: Transition | None,
    now: float,
) -> Transition | None:
    """What ``evaluator`` sends for a step's ``transition`` of (``rule``, ``domain``):
    a resolve only when its firing was sent; a firing silenced is held (noted in
    ``evaluator.held``), and sent once its silence ended while it still fires. A sink
    owed the firing of an alert whose resolve is owed too (a window too thin held it)
    is paged nothing yet, nor is every sink when none had it."""
    if transition is RESOLVED:
        silences = evaluator.silences
        evaluator.ended_silences |= silences.waiting_on(rule.name, domain, rule.severity, now)
        sent, state.notified = state.notified, False
        return transition if sent else None
    if state.status is not FIRING:
        return None
    if transition is Transition.FIRING:
        # Fired by this step (anew, its owed resolve undone, say): every sink is paged,
        # not only those a stop left without the firing before, and none has been yet
        # (a silence holding it back sends it once it ends).
        evaluator.unheard.owed.pop((rule.name, domain), None)
        state.notified = False
    # An ``--until-resolved`` silence a resolve ended in this evaluation holds nothing
    # after it: a held resolve breaching again fires anew in the same one.
    ended = evaluator.ended_silences
    silence = evaluator.silences.match(rule.name, domain, rule.severity, now, ended)
    if silence is not None:
        if transition is not None:
            evaluator.held.append((rule.name, domain, transition.value, silence.id))
        return None
    if not state.notified:
        if state.resolved_at is not None:
            # Never sent, its resolve decided before a stop and owed, held by a thin
            # window: paged now it read "firing" at a figure under its threshold for
            # an incident that ended. A full window resolves it, or fires it anew.
            return None
        # Fired now, or fired under a silence that has ended since.
        state.notified, state.last_sent = True, now
        return Transition.FIRING
    if evaluator.unheard.owes(rule.name, domain, transition, state):
        return Transition.FIRING  # to the sinks that had not taken it at the stop
    return transition
