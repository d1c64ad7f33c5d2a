"""What alerting says in the log of the alerts it decides and sends: a line per alert
decided, per alert a silence held back, and what a stop leaves unsent or has no sink
to go to."""

from __future__ import annotations

from typing import Any, Final

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.rules import Transition
from sesd.alerting.silences import shown_id

__all__ = ["SHOWN", "Held", "log_alerts", "log_sink_gone", "log_unsent"]

#: What a silence held back: (rule, label, transition, silence id).
Held = tuple[str, str, str, str]
#: Alerts named in one line that lists them (the count says how many in all).
SHOWN: Final = 20


def log_alerts(log: Any, alerts: list[Alert], held: list[Held]) -> None:
    """A line per alert decided (a resolve with why, when its alert says: a rule
    changed under it), then per alert a silence held back."""
    for alert in alerts:
        resolved = alert.kind is Transition.RESOLVED and alert.notes
        why = {"reason": "; ".join(alert.notes)} if resolved else {}
        log.info(
            f"sesd.alert.{alert.kind.value}",
            rule=alert.rule,
            domain=alert.domain,
            value=alert.value,
            threshold=alert.threshold,
            window=alert.window,
            **why,
        )
    for rule, domain, kind, silence in held:
        silence = shown_id(silence)  # edited in by hand, of any length
        log.info("sesd.alert.silenced", rule=rule, domain=domain, kind=kind, silence=silence)


def log_unsent(log: Any, unsent: list[tuple[str, str, Transition]], *, kept: bool) -> None:
    """At a stop: say what was not delivered, and whether the state file (``kept``)
    carries it to the next start."""
    if unsent:
        log.warning(
            "sesd.notify.unsent_at_exit",
            count=len(unsent),  # alerts (a notification may carry several)
            alerts=[f"{kind.value} {rule} {domain}" for rule, domain, kind in unsent[:SHOWN]],
            hint="saved as not sent: the restart sends them (a firing or a resolve to the "
            "sinks that had not taken it, and to no other)"
            if kept
            else "lost: without state.path nothing is kept across a restart",
        )


def log_sink_gone(log: Any, sink: str, notification: Notification) -> None:
    """A notification owed to a sink the config no longer names (a restart whose config
    dropped it, after the state file kept what it was owed): it cannot be sent, so the
    operator is told what to close by hand."""
    domains = [alert.domain for alert in notification.alerts]
    log.warning(
        "sesd.notify.sink_gone",
        sink=sink,
        rule=notification.rule,
        kind=notification.kind.value,
        count=len(domains),
        domains=domains[:SHOWN],
        hint="the config names no such sink any more: this notification is not sent; "
        "close what it says in that sink by hand",
    )
