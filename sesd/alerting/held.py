"""What a firing alert held by a window too thin to resolve on tells its sinks: what
sesd last knew of it (sesd.alerting.rules.step). A reminder tells the figure it last
fired at, and why it is held; an alert whose resolve a stop left undelivered is
posted again as resolved, when and at what it resolved (a state file of an earlier
build saved such a resolve among the rule's states, firing, and so does this build
while it holds one; an undelivered resolve of its own it keeps apart and sends at
the restart: sesd.alerting.retiring)."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from sesd.alerting.alert import Alert
from sesd.alerting.rules import AlertState, Transition

__all__ = ["THIN_NOTE", "held_alert", "resent"]

#: Why a reminder's figure is not the window's: sesd's own words.
THIN_NOTE: Final = (
    "held firing: its window has too few events to resolve on (sesd reads behind); "
    "the figure is the one it last fired at, the counts are the thin window's"
)


def held_alert(alert: Alert) -> Alert:
    """``alert`` (its figure the one it last fired at) saying why it is held."""
    return replace(alert, notes=(*alert.notes, THIN_NOTE))


def resent(alert: Alert, state: AlertState, now: float) -> tuple[Transition, Alert]:
    """What a resend posts of ``alert`` (what was last sent of the firing ``state``):
    a repeat, saying it is held only while its window is still too thin (the reminder
    sent then is posted till the next one), or, while its resolve is owed, that
    resolve: at the time it resolved (never after ``now``), at the figure it
    resolved at."""
    if state.resolved_at is not None:
        at = min(state.resolved_at, now)
        since, notes = min(state.since, at), _unheld(alert.notes)
        told = replace(alert, kind=Transition.RESOLVED, at=at, since=since, notes=notes)
        return Transition.RESOLVED, replace(told, value=state.value)
    if not state.held and THIN_NOTE in alert.notes:
        alert = replace(alert, notes=_unheld(alert.notes))
    return Transition.REPEAT, alert


def _unheld(notes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(note for note in notes if note != THIN_NOTE)
