"""A canary rule's window against ``[canary]``'s timing: a canary counts as missing
once ``deadline`` old, and only while it is in the rule's window, so a window no
longer than the deadline never holds a lost canary. And the deadline against the
call: it runs from the start of SendEmail, so it must leave room after the call. And
what such a rule names: it reads the canary alone, whatever domains it lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.config.alerts import CANARY_METRICS
from sesd.config.values import Duration

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = ["canary_scope_warnings", "canary_window_warnings", "check_canary_windows"]


def check_canary_windows(config: Config) -> None:
    """A ``canary_missing`` rule whose window is no longer than ``deadline`` never fires
    for a canary whose events are lost, nor for a throttled or timed-out call: each is
    missing only once the deadline has passed, when it is out of the window (only a
    refused call is missing at once)."""
    canary = config.canary
    if canary is None:
        return
    for i, rule in enumerate(config.alerts.rules):
        if rule.metric == "canary_missing" and Duration(rule.window).seconds <= (
            canary.deadline.seconds
        ):
            raise ValueError(
                f"alerts.rules[{i}] ({rule.name}).window: {rule.window} is not longer than "
                f"canary.deadline ({canary.deadline.text}): a canary is missing once the "
                "deadline has passed, by then out of the window, so the rule never fires "
                "when canaries are lost; give a window of at least the deadline plus "
                f"canary.interval ({canary.interval.text})"
            )


def canary_window_warnings(config: Config) -> list[str]:
    """Canary rules whose window holds no canary part of the time: their alert resolves
    between canaries (and with ``for`` longer than that, never fires)."""
    canary = config.canary
    if canary is None:
        return []
    deadline, interval = canary.deadline, canary.interval
    found = _deadline_warnings(config)
    for i, rule in enumerate(config.alerts.rules):
        window = Duration(rule.window).seconds
        key = f"alerts.rules[{i}] ({rule.name}).window: {rule.window}"
        if rule.metric == "canary_missing" and deadline.seconds < window < (
            deadline.seconds + interval.seconds
        ):
            found.append(
                f"{key} is shorter than canary.deadline ({deadline.text}) plus "
                f"canary.interval ({interval.text}): a canary is missing from its deadline "
                "until it leaves the window, so some of the time no lost canary is in it "
                "and the alert resolves while canaries are still lost; give a window of at "
                "least the two together"
            )
        if rule.metric == "canary_send_latency_seconds" and window < interval.seconds:
            found.append(
                f"{key} is shorter than canary.interval ({interval.text}): between two "
                "calls the window holds none, the latency reads as none and the alert "
                "resolves; give a window of at least the interval"
            )
    return found


def _deadline_warnings(config: Config) -> list[str]:
    """A deadline no longer than one call may take: a slow call that SES answers counts
    as missing the moment it returns. Warned of, not refused (as a window that never
    fires is): the deadline works for every call that answers sooner."""
    canary = config.canary
    if canary is None or canary.deadline.seconds > canary.call_timeout:
        return []
    timeout = canary.send_timeout
    key = "send_timeout" if timeout.seconds <= canary.interval.seconds else "interval"
    limit = timeout if key == "send_timeout" else canary.interval
    return [
        f"canary.deadline: {canary.deadline.text} is not longer than canary.{key} "
        f"({limit.text}), what one SendEmail call may take: the deadline runs from the "
        "start of the call, so a slow call that SES answers counts as missing the moment "
        "it returns, before its event can arrive; give a deadline well above it (events "
        "take seconds to minutes)"
    ]


#: What a canary rule may name that it never reads, each as a rule on the mail reads it.
_SCOPE_KEYS = ("domains", "providers", "tenants")


def canary_scope_warnings(config: Config) -> list[str]:
    """A canary rule's ``domains``, ``providers`` or ``tenants``, or what it leaves out
    of them: the rule reads the canary alone, one alert, whatever it names, so they
    do nothing, where the user believed it watched (or left out) their mail. Warned
    of, not refused: a config that ran on them must start and reload. ``domains =
    ["*"]`` is what a rule without them reads as (and is saved as): said nothing; a
    rule is never given ``providers`` or ``tenants`` of its own, so those the user
    wrote, ``["*"]`` too (every provider's mail, they believed)."""
    found = []
    for i, rule in enumerate(config.alerts.rules):
        if rule.metric not in CANARY_METRICS:
            continue
        said = (
            f"{rule.metric} reads the canary alone, one alert (domain 'canary'), whatever "
            "the rule names"
        )
        at = f"alerts.rules[{i}] ({rule.name})"
        found += [
            f"{at}.{key}: {said}: its {key} watch nothing; leave {key} out of it (a rule on "
            f"another metric, such as delay_ratio, watches {key})"
            for key in _SCOPE_KEYS
            if getattr(rule, key) is not None and (key != "domains" or rule.domains != ["*"])
        ]
        found += [
            f"{at}.{key}: {said}: its {key} leave out nothing; leave {key} out of it"
            for key in (f"exclude_{key}" for key in _SCOPE_KEYS)
            if getattr(rule, key)
        ]
    return found
