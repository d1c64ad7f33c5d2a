"""``[alerts]`` durations that are valid but likely a slip: a bare number is seconds,
so ``repeat_interval = 4`` meant as hours, or ``group_wait = 10000`` meant as
milliseconds, is taken as written. Warnings, not errors: a config that ran loads
again, and a test bench may want them so."""

from __future__ import annotations

from typing import Final

from sesd.config.alerts import AlertsConfig

__all__ = ["timing_warnings"]

#: The longest group_wait not warned of: Alertmanager's guide says "~0s to a few
#: minutes" for the same wait.
_LONGEST_GROUP_WAIT: Final = 300.0


def timing_warnings(alerts: AlertsConfig) -> list[str]:
    """What ``alerts``' durations do to the notifications of its rules, where that is
    probably not meant (none without a rule: nothing is sent)."""
    if not alerts.rules:
        return []
    found = []
    if alerts.repeat_interval.seconds < 60:
        found.append(
            f"alerts.repeat_interval: {alerts.repeat_interval.text}: each firing alert is "
            "sent again that often (at each evaluation, at most): several messages a minute "
            "to every sink while it fires; give minutes or hours, as '4h' (a bare number is "
            "seconds)"
        )
    if alerts.group_wait.seconds > _LONGEST_GROUP_WAIT:
        found.append(
            f"alerts.group_wait: {alerts.group_wait.text}: the first firing (or resolve) of "
            "each group waits that long before any sink is told of it: every page that late; "
            "give seconds, as the default '10s', a few minutes at most (a bare number is "
            "seconds)"
        )
    max_age = alerts.notification_max_age
    if max_age.seconds < 60:
        # The one bound on a notification's retries: seconds give up what a receiver's
        # restart or a 429's pause holds back, each page lost (expired), not late.
        found.append(
            f"alerts.notification_max_age: {max_age.text}: a notification a sink does not "
            "take at once (a 5xx, a timeout, a 429's pause) is given up "
            f"{max_age.text} after its first try (sesd.notify.expired): a receiver's restart "
            "or a rate limit of a minute loses every page it meets; give minutes or hours, "
            "as the default '1h' (a bare number is seconds)"
        )
    return found
