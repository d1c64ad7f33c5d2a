"""A rule's thresholds: on the right sides of each other, and reachable."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sesd.config.alerts import RuleConfig

__all__ = ["THRESHOLDS", "check_thresholds", "percent_hint"]

#: A rule's thresholds, each a number the metric is compared with.
THRESHOLDS = ("above", "below", "clear_above", "clear_below")

#: Rule metrics that read 1 (yes) or 0 (no): at most 1, as a ratio is.
_FLAGS = frozenset(
    {"sending_paused", "enforcement_not_healthy", "tenant_sending_paused", "reputation_impact"}
)


def percent_hint(key: str, value: object) -> str:
    """`` (a fraction: 0.05 is 5%)`` when ``value``, written for a rule's ``key``, is a
    percentage and ``key`` a threshold (how people say one); else "": a count
    (``min_events``) or a duration (``for``) is no fraction, and the hint would mislead."""
    percent = isinstance(value, str) and value.strip().endswith("%")
    return " (a fraction: 0.05 is 5%)" if percent and key in THRESHOLDS else ""


def check_thresholds(rule: RuleConfig) -> None:
    """Exactly one of ``above`` and ``below``, with the clear threshold on its side."""
    for key in THRESHOLDS:
        value = getattr(rule, key)
        if value is not None and not math.isfinite(value):
            # NaN compares false with every value: a rule that never fires, or a
            # clear threshold that resolves at every evaluation and fires again.
            raise ValueError(f"{key}: {value}: give a finite number")
    if (rule.above is None) == (rule.below is None):
        raise ValueError("give exactly one of `above` and `below`")
    if rule.above is not None:
        if rule.clear_above is not None:
            raise ValueError("clear_above: goes with `below`; use clear_below with `above`")
        if rule.clear_below is not None and rule.clear_below > rule.above:
            raise ValueError(
                f"clear_below: {_shown(rule.clear_below)} is above `above` ({_shown(rule.above)})"
            )
    if rule.below is not None:
        if rule.clear_below is not None:
            raise ValueError("clear_below: goes with `above`; use clear_above with `below`")
        if rule.clear_above is not None and rule.clear_above < rule.below:
            raise ValueError(
                f"clear_above: {_shown(rule.clear_above)} is below `below` ({_shown(rule.below)})"
            )
    _check_reachable(rule)


def _check_reachable(rule: RuleConfig) -> None:
    """A threshold every value passes (the rule fires on any window with data) or none
    does (it never fires), or a clear threshold no value reaches (a firing alert never
    resolves while mail flows), is a mistake: every metric is at least 0, a ratio or a
    yes-or-no metric at most 1."""
    ratio = rule.metric.endswith("_ratio")
    metric = rule.metric
    if metric in _FLAGS and rule.above is not None and rule.above >= 1:
        raise ValueError(
            f"{_said('above', rule.above)} {metric} reads 1 or 0, so the rule would never fire "
            "(above = 0 fires on 1)"
        )
    if rule.clear_below is not None and rule.clear_below < 0:
        raise ValueError(
            f"{_said('clear_below', rule.clear_below)} {metric} is never below 0, so a firing "
            "alert would never resolve"
        )
    if (ratio or metric in _FLAGS) and rule.clear_above is not None and rule.clear_above > 1:
        raise ValueError(
            f"{_said('clear_above', rule.clear_above)} {metric} is at most 1, so a firing alert "
            "would never resolve (0.97 is 97%)"
        )
    if rule.above is not None:
        if rule.above < 0:
            raise ValueError(
                f"{_said('above', rule.above)} {metric} is never below 0, so the rule would "
                "fire on every window with data"
            )
        if ratio and rule.above >= 1:
            raise ValueError(
                f"{_said('above', rule.above)} a ratio is at most 1, so the rule would never "
                "fire (0.05 is 5%)"
            )
    if rule.below is not None:
        if rule.below <= 0:
            raise ValueError(
                f"{_said('below', rule.below)} {metric} is never below 0, so the rule would "
                "never fire"
            )
        if ratio and rule.below > 1:
            raise ValueError(
                f"{_said('below', rule.below)} a ratio is at most 1, so the rule would fire on "
                "every window with data (0.95 is 95%)"
            )


def _said(key: str, value: float) -> str:
    """``KEY: VALUE:``, the value as :func:`_shown` writes it."""
    return f"{key}: {_shown(value)}:"


def _shown(value: float) -> str:
    """A threshold as a hand writes it: ``2``, not the ``2.0`` TOML's 2 is read as, and
    ``1e+300`` in its exponent, not in its 301 digits."""
    shown = repr(value)
    return shown.removesuffix(".0")
