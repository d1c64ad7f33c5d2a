"""Warnings for a replica of a fleet (a sink is ``shared``): SQS hands each event to
whichever replica asks, so each judges its own share of the traffic, and each posts its
own notifications to every sink but the shared Alertmanager, which folds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.config.alerts import GET_ACCOUNT_METRICS, TENANT_METRICS
from sesd.config.sinks import (
    AlertmanagerConfig,
    PagerDutyConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
)

if TYPE_CHECKING:
    from sesd.config import Config, RuleConfig

__all__ = ["fleet_warnings"]

#: Rule metrics that pair two events of one message, and what a fleet's replica reads
#: of them: SQS hands each event to whichever replica asks.
_PAIRED = {
    "delivery_ratio": (
        "a replica counts the Send events and the Delivery events it is handed, mostly "
        "of different messages, so its ratio is noise (0.8 or 1.2 with every message "
        "delivered); alert from Prometheus on the fleet rules' sesd:delivery_ratio:1h "
        "(the replicas' windows summed)"
    ),
    "pending_delays": (
        "a replica keeps a delay pending until SES's expirationTime (hours) when another "
        "replica saw its delivery, so the count grows with no delay outstanding; alert "
        "on delay_ratio"
    ),
    "delay_duration_p95_seconds": (
        "a delay's duration is measured only where the delay and its delivery reach the "
        "same replica (about one in N), so the figure is of a few; alert on delay_ratio"
    ),
}
#: Sinks that take each replica's messages as they come, with no key to fold them by.
_POSTED_AS_SENT = {SlackConfig: "Slack", WebhookConfig: "a webhook"}


def fleet_warnings(config: Config) -> list[str]:
    """On a replica of a fleet (a sink is ``shared``): a rule that pairs two events of
    one message, whose figure is not the fleet's nor a sample of it; a rule that
    notifies a sink other than the shared Alertmanager (the console aside), which hears
    from each replica on its own. Not errors: a config that ran before must still start
    and reload."""
    named = config.alerts.named_sinks()
    shared = [n for n, s in named.items() if isinstance(s, AlertmanagerConfig) and s.shared]
    if not shared:
        return []
    found = []
    for i, rule in enumerate(config.alerts.rules):
        if rule.metric in _PAIRED:
            found.append(
                f"alerts.rules[{i}] ({rule.name}).metric: {rule.metric} pairs two events of one "
                "message, which reach different replicas of a fleet (a sink is shared): "
                f"{_PAIRED[rule.metric]}"
            )
        for j, name in enumerate(rule.sinks):  # each named once (checked)
            said = _posted_by_each(rule, name, named[name], shared[0])
            if said:
                found.append(f"alerts.rules[{i}] ({rule.name}).sinks[{j}]: {name!r} is {said}")
    return found


def _posted_by_each(rule: RuleConfig, name: str, sink: SinkConfig, shared: str) -> str:
    """What sink ``name`` makes of each replica notifying it on its own ("": no harm)."""
    ses_says = rule.metric in GET_ACCOUNT_METRICS or rule.metric in TENANT_METRICS
    if isinstance(sink, PagerDutyConfig) and not ses_says:
        return (
            "PagerDuty, paged by each replica of the fleet under one dedup_key: the first "
            "replica whose share recovers resolves the incident the others still fire; "
            f"page through the shared Alertmanager sink {shared!r}"
        )
    kind = _POSTED_AS_SENT.get(type(sink))
    if kind is None:
        return ""
    if ses_says:
        # What SES answers a poll: every replica fires and resolves it alike.
        return (
            f"{kind}, posted to by each replica of the fleet on its own: one message per "
            f"replica for each alert; alert through the shared Alertmanager sink {shared!r}"
        )
    return (
        f"{kind}, posted to by each replica of the fleet on its own: a firing from each "
        "replica whose share breaches, and a resolve from the first whose share recovers "
        f"while the others still fire; alert through the shared Alertmanager sink {shared!r}"
    )
