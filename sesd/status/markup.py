"""The markup the status page and a label's page share: the page around them, tables,
and the alerts and tenants tables.

Every value is escaped (sesd.status.charts.esc), in text and in attributes: event
text is written by strangers. A page loads one stylesheet and one script, both
from sesd itself, and holds no inline script or style, so the
Content-Security-Policy can forbid both. ``status.js`` draws the same markup
from the JSON API (keep the two in step).
"""

from __future__ import annotations

from collections.abc import Iterable

from sesd.status.charts import esc, moment, when
from sesd.status.document import MAX_ALERTS, SAME_ADVICE, AlertRow, TenantRow

__all__ = [
    "EVERY_ALERT",
    "MORE_ALERTS",
    "alerts_html",
    "counted",
    "empty",
    "href",
    "page_shell",
    "row",
    "table",
    "td",
    "tenants_html",
]

#: The status page listing as many alerts as a document may.
MORE_ALERTS = f"/?alerts={MAX_ALERTS}"
#: Where every alert is, when a page lists the most it may ({}: /metrics, linked or
#: not). status.js says the same.
EVERY_ALERT = "the most a page lists: every alert is in {} (sesd_alerts_firing)"


def href(root: str, path: str) -> str:
    """``path``, one of sesd's (``/domain/gmail.com``, ``/?alerts=1000``), as a page
    links it: relative, from a page ``root`` below sesd's own root ("" on the status
    page, "../" on a label's). Behind a proxy that serves sesd under a prefix
    (``https://ops.example/sesd/``), a path from the host's root would leave it: the
    page would load without its stylesheet and script, and its links lead nowhere."""
    return root + path.removeprefix("/") or "./"


def page_shell(
    title: str,
    api: str,
    view: str,
    refresh: float,
    at: float,
    header: str,
    main: str,
    firing: int,
    more: str = MORE_ALERTS,
    root: str = "",
) -> str:
    """A whole page: its script refreshes ``main`` (and, on the status page, ``header``)
    from ``api`` every ``refresh`` seconds. ``title`` is what the page is of; the tab's
    title puts what fires before it (a background tab says so). The banner above the
    header stays hidden until the script cannot refresh the page: then it says since
    when the figures are, announced once (its age is not a live region). A second,
    unseen region tells a screen reader what starts firing or resolves; the footer's
    button stops the refresh for as long as a reader needs. ``more`` is the page that
    lists the most alerts, for a cut list ("": this one does). Every path is written
    relative to ``root`` (:func:`href`), which the script is given too."""
    tab = f"{firing} firing · {title}" if firing else title
    api = href(root, api)
    more = more and href(root, more)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title data-name="{esc(title)}">{esc(tab)}</title>'
        f'<link rel="stylesheet" href="{root}static/status.css">'
        f'<link rel="icon" href="{root}static/favicon.svg" type="image/svg+xml">'
        f'<script src="{root}static/status.js" defer></script></head>'
        f'<body data-api="{esc(api)}" data-view="{esc(view)}" data-refresh="{refresh:g}" '
        f'data-refreshes="0" data-at="{at!r}" data-more="{esc(more)}" data-root="{esc(root)}">'
        '<div id="stale" class="stale" hidden><span id="stale-news" role="alert"></span> '
        '<span id="stale-age"></span></div><p id="news" class="spoken" role="status"></p>'
        f'<header id="header">{header}</header><main id="main">{main}</main>'
        f'<footer><span id="as-of">as of {esc(when(at))}</span> · '
        '<span id="refresh-state">refreshing every '
        f'{refresh:g} s</span> <button id="pause" type="button" aria-pressed="false" hidden>'
        f'pause</button> · <a href="{esc(api)}">JSON</a> · '
        f'<a href="{root}metrics">metrics</a></footer></body></html>\n'
    )


def table(css: str, head: Iterable[str], rows: Iterable[str]) -> str:
    """A table of class ``css``: escaped headings, rows already marked up; in a box that
    scrolls sideways when the table is wider than the screen (a phone)."""
    cells = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join(rows)
    return (
        f'<div class="wide"><table class="{css}"><thead><tr>{cells}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def row(key: str, css: str = "") -> str:
    """A table row's opening tag. ``key`` says what the row is of (a queue's name, a
    rule with its scope and label): the script matches rows by it when it redraws a
    table, so a row that stays keeps its node (a link in it the focus, a screen
    reader its place) wherever it moves."""
    css = f' class="{esc(css)}"' if css else ""
    return f'<tr data-key="{esc(key)}"{css}>'


def td(text: object, css: str = "") -> str:
    """A cell of escaped text."""
    return f'<td class="{css}">{esc(text)}</td>' if css else f"<td>{esc(text)}</td>"


def empty(text: str) -> str:
    """What a section with nothing to show says."""
    return f'<p class="empty">{esc(text)}</p>'


def alerts_html(
    alerts: list[AlertRow],
    total: int,
    firing: int,
    now: float,
    more: str = MORE_ALERTS,
    resolved: int = 0,
    root: str = "",
) -> str:
    """Alerts firing and pending: each with its value, cause and advice, and silence;
    when not all are listed, how many are, and a link to more (``more``; "": none
    lists more, and where every alert is is said instead). ``resolved`` of ``total``
    are neither: their resolve, decided before a stop, is owed. Links are written
    relative to ``root`` (:func:`href`)."""
    title = f"<h2>Now <small>{counted(total, firing, resolved)}</small></h2>"
    if not alerts:
        return title + empty("No alert is firing or pending.")
    head = ("state", "rule", "on", "value", "since", "cause and advice", "where", "silence")
    before = [None, *alerts][:-1]
    rows = table(
        "alerts",
        head,
        (_alert_row(a, now, b, root) for a, b in zip(alerts, before, strict=True)),
    )
    if len(alerts) < total:
        listed = f"{len(alerts)} of {total} listed"
        every = EVERY_ALERT.format(f'<a href="{root}metrics">/metrics</a>')
        rows += (
            f'<p class="more">{listed}: <a href="{esc(href(root, more))}">list more</a></p>'
            if more
            else f'<p class="more">{listed}, {every}</p>'
        )
    return title + rows


def _alert_row(a: AlertRow, now: float, before: AlertRow | None, root: str) -> str:
    subject = f"{a.scope} {a.shown or a.name}"
    on = f'<a href="{esc(href(root, a.link))}">{esc(subject)}</a>' if a.link else esc(subject)
    if a.provider:
        on += f'<span class="note">provider {esc(a.provider)}</span>'
    cause = ""
    if a.cause is not None:
        above = before.cause if before is not None else None
        advice = (
            f'<span class="advice same">{SAME_ADVICE}</span>'
            if above is not None and above.advice == a.cause.advice
            else f'<span class="advice">{esc(a.cause.advice)}</span>'
        )
        cause = f'<span class="cause">{esc(a.cause.label)}</span> ({esc(a.cause.noted)}){advice}'

    notes = "".join(f'<span class="note">{esc(n)}</span>' for n in a.notes)
    silence = "-"
    if a.silence is not None:
        ends = (
            "until resolved"
            if a.silence.ends_at is None
            else f"until {moment(a.silence.ends_at, now)}"
        )
        silence = (
            f'<span class="silenced">silenced {esc(ends)}</span>'
            f'<span class="note">{esc(a.silence.comment)} ({esc(a.silence.id)})</span>'
        )
    return (
        row(f"{a.rule} {a.scope} {a.name}", f"alert {a.state} {a.severity}")
        + f'<td><span class="badge {esc(a.state)}">{esc(a.state)}</span></td>'
        f'<td class="rule">{esc(a.rule)}<span class="note">{esc(a.severity)}</span></td>'
        f'<td class="name">{on}</td>'
        f"<td>{esc(a.metric)} {esc(a.value_text)}"
        f'<span class="note">{esc(a.fires_text)} {esc(a.threshold_text)}, '
        f"{esc(a.window)} window</span></td>"
        + td(moment(a.since, now), "time")
        + f'<td class="text">{cause}{notes}</td>'
        + td(a.stage)
        + f"<td>{silence}</td></tr>"
    )


def _notes(lines: list[str]) -> str:
    return "".join(f'<span class="note">{esc(line)}</span>' for line in lines) or "-"


def tenants_html(tenants: list[TenantRow], total: int = 0) -> str:
    """What SES says of tenants (nothing without any); when not all ``total`` are
    listed, how many are."""
    if not tenants:
        return ""
    cut = f" <small>{len(tenants)} of {total} listed</small>" if len(tenants) < total else ""
    head = ("tenant", "account / region", "sending", "impact", "why", "findings")
    rows = (
        row(f"{t.tenant} {t.account} {t.region}", "bad" if t.sending == "DISABLED" else "")
        + td(t.tenant, "name")
        + td(f"{t.account} / {t.region}")
        + td(t.sending)
        + td(t.impact or "-")
        + td(t.cause or "-", "text")
        + f"<td>{_notes(t.findings)}</td>"
        + "</tr>"
        for t in tenants
    )
    return f"<h2>What SES says of its tenants{cut}</h2>" + table("tenants", head, rows)


def counted(total: int, firing: int, resolved: int) -> str:
    """How many of ``total`` alerts fire, are pending, and are resolved with their
    resolve owed (said only when some are)."""
    pending = total - firing - resolved
    return f"{firing} firing, {pending} pending" + (f", {resolved} resolved" if resolved else "")
