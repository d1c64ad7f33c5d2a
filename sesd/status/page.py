"""The status page as HTML: rendered by the server from the status document (then kept
fresh by ``status.js`` from the JSON API, which draws the same markup: keep the
two in step). Escaping: see sesd.status.markup.
"""

from __future__ import annotations

from sesd.status.charts import (
    STAGES,
    canary_chart,
    duration,
    esc,
    moment,
    percent,
    seconds,
    sparkline_svg,
    walked,
)
from sesd.status.document import (
    AccountRow,
    CanaryView,
    ConfigView,
    DaemonView,
    LagView,
    QueueView,
    ScopeTable,
    SilenceList,
    Status,
)
from sesd.status.markup import (
    MORE_ALERTS,
    alerts_html,
    empty,
    href,
    page_shell,
    row,
    table,
    td,
    tenants_html,
)

__all__ = ["built", "not_ready", "restart_text", "sinks_text", "status_html", "status_main"]

_TITLES = {"domain": "Domains", "provider": "Mailbox providers", "tenant": "SES tenants"}


# --- the header -----------------------------------------------------------------


#: Where a failed reload's reason is: the status has its time alone, and the line the
#: daemon logged names the file, the key and what to do.
RELOAD_FAILED_WHY = "its log line sesd.config.reload_failed says why"

#: What a replica of a fleet (a ``shared`` sink) says of its figures.
SHARE = (
    "one replica of several on the same queues: its figures are the share of the "
    "traffic SQS hands it, not the fleet's (the fleet's are on the dashboard), and "
    "its alerts are those it judged on that share (Alertmanager has the fleet's)"
)


def built(daemon: DaemonView) -> str:
    """The version, and the commit when known: builds of one version differ."""
    return f"{daemon.version} ({daemon.revision})" if daemon.revision else daemon.version


def sinks_text(daemon: DaemonView, head: str = "notifications not sent lately") -> str:
    """The sinks whose posts did not go out lately (status.js says the same)."""
    sinks = "; ".join(
        f"{sink} " + ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items())
        for sink, outcomes in daemon.sinks_failing.items()
    )
    return f"{head}: {sinks}"


def restart_text(reload: ConfigView, head: str = "except what waits for a restart") -> str:
    """The settings of the config in force that wait for a restart, after the time it
    was loaded ("" when none): the file says one thing, sesd runs another, long after
    the reload's line in the journal scrolled away (status.js says the same)."""
    if not reload.restart_count:
        return ""
    more = reload.restart_count - len(reload.restart)
    return f" ({head}: {', '.join(reload.restart)}{f' and {more} more' if more > 0 else ''})"


def not_ready(daemon: DaemonView) -> list[str]:
    """Why sesd is not ready: a stop begun, then the queues /readyz names."""
    return (["stopping"] if daemon.stopping else []) + daemon.not_ready


def _header(daemon: DaemonView, now: float) -> str:
    ready = "ready" if daemon.ready else f"not ready: {', '.join(not_ready(daemon))}"
    reload = daemon.reload
    config = f"config loaded {moment(reload.at, now)}{restart_text(reload)}" + (
        "" if reload.ok else f", last reload FAILED ({RELOAD_FAILED_WHY})"
    )
    if not daemon.state.ok:
        config += f"; state file save FAILED (last saved {moment(daemon.state.at, now)})"
    # Not red: sesd runs well, on settings the file no longer says.
    shade = "warn" if reload.restart_count else "ok"
    return (
        f'<h1><a href="./">sesd</a> status <span class="version">{esc(built(daemon))}</span></h1>'
        f'<p class="facts">{f"<span>on {esc(daemon.host)}</span> " if daemon.host else ""}'
        f"<span>up {esc(duration(daemon.uptime_seconds))}</span> "
        f'<span class="{"ok" if daemon.ready else "bad"}">{esc(ready)}</span> '
        f'<span class="{shade if reload.ok and daemon.state.ok else "bad"}">{esc(config)}</span>'
        + (f' <span class="bad">{esc(sinks_text(daemon))}</span>' if daemon.sinks_failing else "")
        + "</p>"
        + (f'<p class="facts">{esc(SHARE)}</p>' if daemon.shared else "")
    )


def _queues(queues: list[QueueView], lag: LagView) -> str:
    """The queues read, below what fires: sixty of them above the alerts pushed the
    alerts ten screens down a phone."""
    ready = sum(q.ready for q in queues)
    title = f"<h2>Queues <small>{ready} of {len(queues)} ready</small></h2>"
    rows = [_queue_row(q) for q in queues]
    head = ("queue", "account / region", "received", "errors", "last receive")
    return title + table("queues", head, rows) + f'<p class="lag">{esc(lag.text)}</p>'


def _ago(value: float | None) -> str:
    return "never" if value is None else f"{duration(value)} ago"


def _queue_row(q: QueueView) -> str:
    rate = "-" if q.received_per_second is None else f"{q.received_per_second:.1f}/s"
    errors = sum(q.errors.values())
    return (
        row(q.name, "ok" if q.ready else "bad")
        + td(q.name, "name")
        + td(f"{q.account} / {q.region}")
        + td(f"{rate} ({q.received} since start)")
        + td(f"{q.recent_errors} lately, {errors} since start", "bad" if q.recent_errors else "")
        + td(_ago(q.last_receive_seconds_ago))
        + "</tr>"
    )


# --- now: alerts -----------------------------------------------------------------


# --- domains, providers, tenants ---------------------------------------------------


def _scope_table(t: ScopeTable) -> str:
    shown = f"{len(t.items)} of {t.total}" if t.items else "none yet"
    title = (
        f"<h2>{esc(_TITLES.get(t.axis, t.axis))} <small>by delay ratio over "
        f"{esc(t.window)}, {esc(shown)}</small></h2>"
    )
    if not t.items:
        return title
    head = (t.axis, "delay ratio", f"last {t.sparkline_window}", "delivered", "delayed",
            "pending", "p95 delay", "top cause", "firing")  # fmt: skip
    caption = f"delay ratio per {seconds(t.sparkline_step_seconds, 0)} over {t.sparkline_window}"
    rows = (
        row(f"{t.axis} {r.name}", "firing" if r.firing else "")
        + f'<td class="name"><a href="{esc(href("", r.link))}">{esc(r.shown or r.name)}</a></td>'
        + td(percent(r.delay_ratio), "num")
        + f"<td>{sparkline_svg(r.sparkline, caption)}</td>"
        + td(r.delivered, "num")
        + td(r.delayed, "num")
        + td(r.pending, "num")
        + td(seconds(r.delay_p95_seconds), "num")
        + td(r.top_cause or "-")
        + td(", ".join(r.firing) or "-", "bad" if r.firing else "")
        + "</tr>"
        for r in t.items
    )
    note = f'<p class="bad">{esc(t.pending_note)}</p>' if t.pending_note else ""
    return title + note + table(f"scope {t.axis}", head, rows)


# --- canary, accounts, tenants, silences ----------------------------------------------


def _canary(canary: CanaryView | None) -> str:
    title = "<h2>Canary</h2>"
    if canary is None:
        return title + empty("No canary sent (see [canary] in the config).")
    counts = (
        f"{canary.sent} sent, {canary.back} back, {canary.missing} missing, "
        f"{canary.send_failed} failed to send in the last hour"
    )
    legend = "".join(f'<span class="key {css}">{esc(name)}</span>' for _, css, name in STAGES)
    last = canary.recent[-1] if canary.recent else None
    timings = (
        "no canary has come back yet"
        if last is None
        else "last: " + ", ".join(
            f"{name} {seconds(getattr(last, field), 2)}" for field, _, name in STAGES
        ) + f", end to end {seconds(last.end_to_end_seconds, 2)}"
    )  # fmt: skip
    return (
        f'{title}<p class="{"bad" if canary.missing else "ok"}">{esc(counts)}</p>'
        f'<div class="canary">{canary_chart(canary.recent)}<p class="legend">{legend}</p>'
        f'<p class="timings">{esc(timings)}</p></div>'
    )


def _accounts(accounts: list[AccountRow], now: float) -> str:
    title = "<h2>Accounts</h2>"
    if not accounts:
        return title + empty("No account polled or estimated yet.")

    def flag(value: bool | None, good: str, bad: str) -> str:
        return "-" if value is None else (good if value else bad)

    head = ("account / region", "sending", "enforcement", "production", "quota used",
            "bounce (sesd / AWS)", "complaint (sesd / AWS)", "over sends", "answered",
            "tenant map")  # fmt: skip
    rows = (
        row(f"{a.account} {a.region}")
        + td(f"{a.account} / {a.region}")
        + td(
            flag(a.sending_enabled, "enabled", "PAUSED"),
            "bad" if a.sending_enabled is False else "",
        )
        + td(a.enforcement or "-")
        + td(flag(a.production, "yes", "sandbox"))
        + td(percent(a.quota_used_ratio), "num")
        + td(f"{percent(a.bounce_ratio)} / {percent(a.aws_bounce_ratio)}", "num")
        + td(f"{percent(a.complaint_ratio)} / {percent(a.aws_complaint_ratio)}", "num")
        + td(a.sends, "num")
        + _answered(a, now)
        + td(
            walked(a.tenants_listed, a.tenants_mapped, a.tenant_map_at, now),
            "bad" if a.tenants_listed is not None and a.tenant_map_at is None else "",
        )
        + "</tr>"
        for a in accounts
    )
    return title + table("accounts", head, rows)


def _answered(a: AccountRow, now: float) -> str:
    """When SES last answered GetAccount, "failing" while its polls get no answer: what
    the row shows is that old (a storm of refused polls must not pass for fresh)."""
    if a.polled_at is None or a.polled_at == a.answered_at:
        return td(moment(a.answered_at, now), "time")
    since = "no answer yet" if a.answered_at is None else moment(a.answered_at, now)
    return td(f"{since} (failing)", "time bad")


def _ends(at: float | None, now: float) -> str:
    return td("when its alert resolves") if at is None else td(moment(at, now), "time")


def _silences(silences: SilenceList, now: float) -> str:
    title = f"<h2>Silences <small>{silences.total} active or pending</small></h2>"
    if silences.unreadable:  # the muted alerts page: why, where the on-call looks
        title += f'<p class="warn">The silences file cannot be read: {esc(silences.unreadable)}</p>'
    if not silences.items:
        return title + empty("No silence.")
    head = ("id", "rule", "domain", "severity", "comment", "state", "ends")
    rows = (
        row(s.id)
        + td(s.id)
        + td(s.rule or "*")
        + td(s.domain or "*", "name")
        + td(s.severity or "*")
        + td(s.comment, "name")
        + td(s.state)
        + _ends(s.ends_at, now)
        + "</tr>"
        for s in silences.items
    )
    return title + table("silences", head, rows)


def status_main(status: Status, more: str = MORE_ALERTS) -> str:
    """The page's ``<main>``: now, the queues, then each axis, the canary, accounts,
    silences (``more``: the page listing the most alerts, for a cut list)."""
    alerts = status.alerts
    now = alerts_html(alerts.items, alerts.total, alerts.firing, status.at, more, alerts.resolved)
    parts = [
        f'<section id="now">{now}</section>',
        f'<section id="queues">{_queues(status.queues, status.lag)}</section>',
    ]
    parts += [
        f'<section id="scope-{esc(t.axis)}" class="scopes">{_scope_table(t)}</section>'
        for t in status.scopes
    ]
    parts.append(f'<section id="canary">{_canary(status.canary)}</section>')
    accounts = _accounts(status.accounts, status.at) + tenants_html(
        status.tenants, status.tenants_total
    )
    parts.append(f'<section id="accounts">{accounts}</section>')
    parts.append(f'<section id="silences">{_silences(status.silences, status.at)}</section>')
    return "".join(parts)


def status_html(
    status: Status, refresh: float, api: str = "/api/v1/status", more: str = MORE_ALERTS
) -> str:
    """The status page; its script refreshes it from ``api`` every ``refresh`` seconds.
    ``more`` is the same page listing the most alerts, for a cut list."""
    header = _header(status.sesd, status.at)
    main = status_main(status, more)
    firing = status.alerts.firing
    return page_shell("sesd status", api, "status", refresh, status.at, header, main, firing, more)
