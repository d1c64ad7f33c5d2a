"""Figures as text and as inline SVG, for the page and the terminal.

Everything returned as markup is escaped here: a value may come from event
text. ``status.js`` draws the same charts from the JSON with the same
geometry (keep the two in step).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Final

from sesd.alerting.figures import duration, named
from sesd.alerting.figures import percent as ratio_text
from sesd.status.document import CanaryRun

__all__ = [
    "STAGES",
    "canary_chart",
    "duration",
    "esc",
    "named",
    "percent",
    "seconds",
    "sparkline_svg",
    "walked",
    "when",
]

#: A sparkline's box: width, height, padding.
SPARK_W, SPARK_H, SPARK_PAD = 120, 24, 2
#: The canary chart's box, and the gap between bars.
CANARY_W, CANARY_H, CANARY_GAP = 240, 64, 2
#: The canary's stages: CanaryRun field, CSS class, name.
STAGES: Final = (
    ("send_seconds", "stage-send", "API call"),
    ("ses_seconds", "stage-ses", "inside SES"),
    ("pipeline_seconds", "stage-pipeline", "event pipeline"),
)


def esc(value: object) -> str:
    """Text fit for HTML, in an element or a quoted attribute."""
    return html.escape(str(value), quote=True)


def percent(value: float | None) -> str:
    """0.045 -> ``4.5%``, 0.00067 -> ``0.067%`` (as alerts write it); None -> ``-``."""
    return "-" if value is None else ratio_text(value)


def seconds(value: float | None, digits: int = 1) -> str:
    """Seconds with ``digits`` decimals; None -> ``-``."""
    return "-" if value is None else f"{value:.{digits}f}s"


def _utc(t: float) -> datetime | str:
    """``t`` as a UTC datetime, or what to say of a time outside the years 1 to 9999
    (Python's dates end there; a silence's end written by hand into its file may be
    anywhere a float goes, and must not make the page that shows it a 500)."""
    try:
        return datetime.fromtimestamp(t, UTC)
    except (OverflowError, ValueError, OSError):
        return "before the year 1" if t < 0 else "after the year 9999"


def when(t: float | None) -> str:
    """A time of day, UTC (``12:00:40Z``)."""
    if t is None:
        return "-"
    found = _utc(t)
    return found if isinstance(found, str) else found.strftime("%H:%M:%SZ")


def moment(t: float | None, now: float) -> str:
    """A time as :func:`when` gives it, with its date when that is not ``now``'s
    (``2027-12-01 08:00:00Z``): a silence ending next year is not this morning."""
    found = None if t is None else _utc(t)
    if not isinstance(found, datetime):
        return when(t)
    day, today = found.date(), _utc(now)
    same = isinstance(today, datetime) and day == today.date()
    return when(t) if same else f"{day} {when(t)}"


def walked(listed: int | None, mapped: int, at: float | None, now: float) -> str:
    """How far the walk of an account's tenants' resources has come (``12 of 30
    walked``) and when the map in use was completed (``no map yet``: events of its
    tenants' resources count under no tenant); ``-`` without tenant polls."""
    done = "no map yet" if at is None else f"map of {moment(at, now)}"
    if listed is None:
        return "-" if at is None else done
    return f"{mapped} of {listed} walked, {done}"


def _points(values: list[float | None]) -> list[tuple[float, float]]:
    n = len(values)
    step = (SPARK_W - 2 * SPARK_PAD) / max(1, n - 1)
    span = SPARK_H - 2 * SPARK_PAD
    return [
        (round(SPARK_PAD + i * step, 1), round(SPARK_H - SPARK_PAD - min(1.0, v) * span, 1))
        for i, v in enumerate(values)
        if v is not None
    ]


def sparkline_svg(values: list[float | None], caption: str) -> str:
    """A delay ratio per bucket as a line from 0% (bottom) to 100% (top), a dot on the
    newest bucket with data."""
    points = _points(values)
    found = [v for v in values if v is not None]
    peak = f", at most {percent(max(found))}" if found else ", no data"
    parts = [
        f'<svg class="spark" viewBox="0 0 {SPARK_W} {SPARK_H}" width="{SPARK_W}" '
        f'height="{SPARK_H}" role="img" data-points="{len(points)}">',
        f"<title>{esc(caption + peak)}</title>",
        f'<line class="base" x1="0" y1="{SPARK_H - SPARK_PAD}" x2="{SPARK_W}" '
        f'y2="{SPARK_H - SPARK_PAD}"></line>',
    ]
    if points:
        line = " ".join(f"{x},{y}" for x, y in points)
        x, y = points[-1]
        parts.append(f'<polyline class="line" points="{line}"></polyline>')
        parts.append(f'<circle class="dot" cx="{x}" cy="{y}" r="2"></circle>')
    parts.append("</svg>")
    return "".join(parts)


def canary_chart(runs: list[CanaryRun]) -> str:
    """The newest canaries that came back, oldest on the left: one bar each, its stages
    stacked (API call at the bottom), heights to the slowest whole path."""
    slots = max(len(runs), 1)
    width = CANARY_W / slots - CANARY_GAP
    tallest = max((_stacked(run) for run in runs), default=0.0) or 1.0
    parts = [
        f'<svg class="canary-chart" viewBox="0 0 {CANARY_W} {CANARY_H}" width="{CANARY_W}" '
        f'height="{CANARY_H}" role="img" data-runs="{len(runs)}">',
        "<title>stage timings of the newest canaries that came back</title>",
    ]
    for i, run in enumerate(runs):
        x = round(i * (width + CANARY_GAP), 1)
        bottom = float(CANARY_H)
        for field, css, name in STAGES:
            value = getattr(run, field) or 0.0
            height = round(value / tallest * CANARY_H, 1)
            bottom -= height
            caption = f"{when(run.sent_at)} {name}: {seconds(value, 2)}"
            parts.append(
                f'<rect class="{css}" x="{x}" y="{round(bottom, 1)}" width="{round(width, 1)}" '
                f'height="{height}"><title>{esc(caption)}</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _stacked(run: CanaryRun) -> float:
    return sum(getattr(run, field) or 0.0 for field, _, _ in STAGES)
