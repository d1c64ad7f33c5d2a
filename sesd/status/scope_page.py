"""The page of one domain, provider or tenant: its alerts, its windows side by side, and
what its problem events said (causes, SMTP codes, MTAs, example message ids).
Escaping: see sesd.status.markup.
"""

from __future__ import annotations

from urllib.parse import quote

from sesd.status.charts import esc, named, percent, seconds, sparkline_svg
from sesd.status.markup import alerts_html, empty, page_shell, row, table, td, tenants_html
from sesd.status.scope_document import BreakdownView, Counted, ScopeDetail, WindowView

__all__ = ["not_found_page", "scope_html", "scope_main"]

#: The way back to sesd's root from a label's page (``/domain/NAME``): its paths are
#: written relative to it (sesd.status.markup.href), for a proxy's prefix.
_ROOT = "../"


# --- one domain, provider or tenant ----------------------------------------------------


def _windows(windows: list[WindowView]) -> str:
    if not windows:
        return "<h2>Windows</h2>" + empty("No event counted under it.")
    figures = (
        ("delivered", lambda w: w.delivered),
        ("delayed", lambda w: w.delayed),
        ("delay ratio", lambda w: percent(w.delay_ratio)),
        ("bounced", lambda w: w.bounced),
        ("bounce ratio", lambda w: percent(w.bounce_ratio)),
        ("complained", lambda w: w.complained),
        ("suppressed", lambda w: w.suppressed),
        ("sent", lambda w: w.sent),
        ("delivery ratio", lambda w: percent(w.delivery_ratio)),
        ("processing p95", lambda w: seconds(w.processing_p95_seconds)),
        ("send to delivery p95", lambda w: seconds(w.delivery_p95_seconds)),
        ("delay duration p95", lambda w: seconds(w.delay_duration_p95_seconds)),
    )
    rows = [
        f"<tr><th>{esc(name)}</th>" + "".join(td(get(w), "num") for w in windows) + "</tr>"
        for name, get in figures
    ]
    sparklines = (
        sparkline_svg(w.sparkline, f"delay ratio per {seconds(w.step_seconds, 0)} over {w.window}")
        for w in windows
    )
    rows.append(
        "<tr><th>delay ratio per bucket</th>"
        + "".join(f"<td>{s}</td>" for s in sparklines)
        + "</tr>"
    )
    rows.append(
        "<tr><th>delayed by cause</th>" + "".join(td(_pairs(w.causes)) for w in windows) + "</tr>"
    )
    return "<h2>Windows</h2>" + table("windows", ["", *(w.window for w in windows)], rows)


def _pairs(values: list[Counted]) -> str:
    return ", ".join(f"{c.name} {c.count}" for c in values) or "-"


def _counted_table(values: list[Counted]) -> str:
    if not values:
        return empty("none")
    rows = (f"{row(c.name)}{td(c.name, 'name')}{td(c.count, 'num')}</tr>" for c in values)
    return table("breakdown", ("value", "recipients"), rows)


def _breakdown(b: BreakdownView) -> str:
    if b.window is None:
        return "<h2>What the events said</h2>" + empty(
            "No breakdown kept: sesd keeps them for the windows rules read."
        )
    kinds = (
        ("causes", b.causes),
        ("delay types", b.delay_types),
        ("SMTP status", b.statuses),
        ("diagnostic codes", b.diagnostics),
        ("reporting MTAs", b.mtas),
        ("recipient domains", b.domains),
    )
    tables = "".join(
        f'<div class="kind"><h3>{esc(name)}</h3>' + _counted_table(values) + "</div>"
        for name, values in kinds
    )
    ids = "".join(f"<li><code>{esc(m)}</code></li>" for m in b.message_ids)
    return (
        f"<h2>What the events said <small>over {esc(b.window)}</small></h2>"
        f'<div class="kinds">{tables}</div><h3>Example message ids</h3>'
        + (f'<ul class="ids">{ids}</ul>' if ids else empty("none"))
    )


def scope_main(detail: ScopeDetail, firing: int) -> str:
    """A label page's ``<main>`` (``firing``: how many of its alerts fire)."""
    resolved = sum(1 for a in detail.alerts if a.state == "resolved")
    total = len(detail.alerts)
    listed = alerts_html(detail.alerts, total, firing, detail.at, resolved=resolved, root=_ROOT)
    return (
        f'<section id="now">{listed}</section>'
        f'<section id="windows">{_windows(detail.windows)}'
        f'<p class="pending">{detail.pending} recipients delayed and not delivered yet</p>'
        "</section>"
        f'<section id="breakdown">{_breakdown(detail.breakdown)}</section>'
        f'<section id="ses">{tenants_html(detail.tenants)}</section>'
    )


def scope_html(detail: ScopeDetail, refresh: float) -> str:
    """The page of one domain, provider or tenant."""
    shown = named(detail.axis, detail.name)
    header = (
        f'<h1><a href="{_ROOT}">sesd</a> <span class="crumb">{esc(detail.axis)}</span> '
        f'<span class="name">{esc(shown)}</span></h1>'
    )
    api = f"/api/v1/{detail.axis}/{quote(detail.name, safe='')}"
    title = f"sesd: {detail.axis} {shown}"
    firing = sum(1 for a in detail.alerts if a.state == "firing")
    main = scope_main(detail, firing)
    return page_shell(title, api, "scope", refresh, detail.at, header, main, firing, root=_ROOT)


def not_found_page(text: str) -> str:
    """What a page of a label sesd knows nothing of says (``text``)."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        # As the other pages: a phone lays a page without it out 980 px wide, shrunk.
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>sesd: not found</title>"
        f'<link rel="stylesheet" href="{_ROOT}static/status.css"></head><body>'
        f'<header id="header"><h1><a href="{_ROOT}">sesd</a></h1></header><main id="main">'
        f"{empty(f'{text}.')}</main></body></html>\n"
    )
