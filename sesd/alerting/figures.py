"""How alerts, the status page and reports write a figure: a ratio, a span of time, a
scope's name, a rule metric's value. Apart from the alerts themselves, so that what
only shows figures (``sesd status``) loads none of the rules and their config."""

from __future__ import annotations

import math

from sesd.core.axes import DOMAIN
from sesd.core.domains import readable

__all__ = ["duration", "metric_text", "named", "percent", "side_text"]


def percent(ratio: float) -> str:
    """A ratio as a percentage a reader can tell from its threshold: one decimal from
    1% up (4.5%), two significant digits below (AWS's complaint levels are 0.1% and
    0.5%: 0.00067 reads 0.067%, not 0.1%)."""
    value = ratio * 100
    if value == 0 or not math.isfinite(value):
        return f"{value:.1f}%"
    digits = max(1, 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    if digits > 1:  # 0.040 -> 0.04, and 0.995 rounded up -> 1.0
        text = text.rstrip("0")
        text += "0" if text.endswith(".") else ""
    return f"{text}%"


def duration(value: float | None) -> str:
    """How long, as alert text, the status page and reports write it: ``42s``,
    ``5m12s``, ``3h04m``, ``2d03h`` (a negative span, after a clock step, is 0s)."""
    if value is None:
        return "-"
    s = int(max(0.0, value))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def named(axis: str, name: str) -> str:
    """A scope's name as people read it (alert text, the status page): a domain in
    IDNA form with its Unicode form, any other name as it is."""
    return readable(name) if axis == DOMAIN else name


def metric_text(metric: str, value: float | None) -> str:
    """A rule metric's value as alert text and the status page write it."""
    if value is None:
        return "no data"
    if metric.endswith("_ratio"):
        return percent(value)
    if metric.endswith("_seconds"):
        return f"{value:.1f}s"
    return f"{value:g}"


def side_text(rising: bool, value: float | None, threshold: float, *, resolved: bool) -> str:
    """The words before a rule's threshold, as alert text and the status views write
    them: ``"above"`` (``"below"``) of a figure past it, else the rule's side, ``"fires
    above"``: "4.0% (above 10.0%" said a figure under the threshold was past it, of a
    resolve, of an alert still firing between its clear threshold and its threshold (a
    reminder, a firing a silence held until it ended), and of "no data"."""
    side = "above" if rising else "below"
    past = value is not None and (value > threshold if rising else value < threshold)
    return side if past and not resolved else f"fires {side}"
