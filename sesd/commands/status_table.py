"""How ``sesd status`` draws the status document in a terminal: a header line (the
daemon, its readiness, its config and state file), the queues, the alerts (firing
first, each with its cause and silence), a table a scope (domains, providers,
tenants by delay ratio), then the canary, the accounts, the tenants SES says
something of, and the silences. Every line is text from the network made fit for a
terminal."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from sesd.core.text import clean
from sesd.status.charts import STAGES, duration, moment, percent, seconds, walked, when
from sesd.status.document import MAX_ALERTS, SAME_ADVICE, AlertRow, ScopeTable, Status
from sesd.status.markup import counted
from sesd.status.page import RELOAD_FAILED_WHY, SHARE, built, not_ready, restart_text, sinks_text

__all__ = ["rows", "screenful", "table"]

_NAMES: Final = {"domain": "DOMAINS", "provider": "PROVIDERS", "tenant": "TENANTS"}
#: What a name escaped (:func:`_safe`) is cut between: a character, or a control's
#: escape whole (``\u001b``; cut inside, ``\u00`` reads as damage).
_ESCAPE: Final = re.compile(r"\\u[0-9a-f]{4}|\\U[0-9a-f]{8}")
_UNITS: Final = re.compile(rf"{_ESCAPE.pattern}|.", re.DOTALL)


def _safe(text: object) -> str:
    """Text from the network, fit for a terminal (control characters escaped)."""
    return clean(str(text), 100_000)


def table(status: Status, url: str = "") -> str:
    """The status as a terminal shows it: alerts first, firing ones first."""
    d = status.sesd
    ready = "ready" if d.ready else f"NOT READY ({', '.join(not_ready(d))})"
    waits = restart_text(d.reload, "EXCEPT WHAT WAITS FOR A RESTART")
    reload = f"config loaded {moment(d.reload.at, status.at)}{waits}" + (
        "" if d.reload.ok else f", LAST RELOAD FAILED ({RELOAD_FAILED_WHY})"
    )
    if not d.state.ok:
        reload += f", STATE FILE SAVE FAILED (last saved {moment(d.state.at, status.at)})"
    # The replica that answered: through a Service, each redraw may come from another.
    lines = [
        f"sesd {built(d)}{f' at {url}' if url else ''}{f' on {d.host}' if d.host else ''}"
        f"  as of {when(status.at)}  "
        f"up {duration(d.uptime_seconds)}  {ready}  {reload}"
    ]
    if d.sinks_failing:
        lines.append(_safe(sinks_text(d, "NOTIFICATIONS NOT SENT LATELY")))
    if d.shared:
        lines.append(SHARE)
    for q in status.queues:
        rate = "-" if q.received_per_second is None else f"{q.received_per_second:.1f}/s"
        last = (
            "never"
            if q.last_receive_seconds_ago is None
            else f"{duration(q.last_receive_seconds_ago)} ago"
        )
        lines.append(
            f"queue {q.name} ({q.account}/{q.region}): {rate}, {q.received} received, "
            f"{q.recent_errors} errors lately ({sum(q.errors.values())} since start), "
            f"last receive {last}"
        )
    lag = status.lag
    if lag.events:
        lines.append(lag.text)
    lines += _alerts(status)
    for scope in status.scopes:
        lines += _scope(scope)
    lines += _tail(status)
    return "\n".join(_safe(line) for line in lines)


def screenful(text: str, columns: int, rows: int) -> str:
    """``text`` as a terminal of ``columns`` by ``rows`` shows it without scrolling (a
    line wider than the terminal takes more than one row): all of it, else its head (the
    header and the alerts come first) and a line saying how many lines are left out.
    Scrolled, a redraw taller than the screen showed the silences and hid the alerts."""
    columns, rows = max(columns, 1), max(rows, 1)
    lines = text.split("\n")
    need = [_rows(line, columns) for line in lines]
    if sum(need) <= rows:
        return text
    kept = used = 0
    while kept < len(lines) and used + need[kept] <= rows - 1:
        used += need[kept]
        kept += 1
    left = f"...{len(lines) - kept} more lines: a taller terminal, or no --watch, shows them"
    return "\n".join([*lines[:kept], _start(left, columns)])


def rows(text: str, columns: int) -> int:
    """How many rows ``text`` takes on a terminal ``columns`` wide."""
    return sum(_rows(line, max(columns, 1)) for line in text.split("\n"))


def _rows(line: str, columns: int) -> int:
    """The rows ``line`` wraps to: a wide character that would straddle the edge
    starts the next row, as a terminal puts it, the last column left empty."""
    taken, used = 1, 0
    for unit in _units(line):
        cell = _width(unit)
        if used and used + cell > columns:
            taken, used = taken + 1, 0
        used += cell
    return taken


def _alerts(status: Status) -> list[str]:
    alerts = status.alerts
    lines = ["", f"ALERTS: {counted(alerts.total, alerts.firing, alerts.resolved)}"]
    for a, before in zip(alerts.items, [None, *alerts.items][:-1], strict=True):
        lines += _alert(a, status.at, before)
    if len(alerts.items) < alerts.total:
        # Past the most a document lists, only /metrics has every alert.
        every = "every alert is in /metrics, sesd_alerts_firing"
        how = (
            f"--alerts {alerts.total} lists them all"
            if alerts.total <= MAX_ALERTS
            else f"{MAX_ALERTS} is the most listed: {every}"
            if len(alerts.items) >= MAX_ALERTS
            else f"--alerts {MAX_ALERTS} lists the most: {every}"
        )
        lines.append(f"  ...and {alerts.total - len(alerts.items)} more ({how})")
    return lines


def _alert(a: AlertRow, at: float, before: AlertRow | None) -> list[str]:
    # A sesd from before ``fires_text`` sends none: the side as it wrote it.
    side = a.fires_text or a.fires
    lines = [
        f"  {a.state.upper():<8} {a.severity:<8} {a.rule}: {a.scope} "
        f"{a.shown or a.name}{f' (provider {a.provider})' if a.provider else ''} {a.metric} "
        f"{a.value_text} ({side} {a.threshold_text}, {a.window} window) since "
        f"{moment(a.since, at)}"
    ]
    if a.cause is not None:
        above = before.cause if before is not None else None
        advice = (
            SAME_ADVICE if above is not None and above.advice == a.cause.advice else a.cause.advice
        )
        noted = f" ({a.cause.noted})" if a.cause.noted else ""
        lines.append(f"           cause: {a.cause.label}{noted}: {advice}")
    if a.stage:
        lines.append(f"           where: {a.stage}")
    lines += [f"           {note}" for note in a.notes]
    if a.silence is not None:
        end = a.silence.ends_at
        ends = "until resolved" if end is None else f"until {moment(end, at)}"
        lines.append(f"           silenced {ends}: {a.silence.comment} ({a.silence.id})")
    return lines


def _fit(name: str, width: int) -> str:
    """A name cut to its column (a domain may have 253 characters) and padded to it:
    its head and tail, the middle left out, so the columns after it stay in line. A
    wide (CJK) character takes two of a terminal's columns; an escape, or a character
    with the marks drawn over it (:func:`_units`), is kept whole or left out."""
    if _cells(name) > width:
        units = _units(name)
        head = "".join(_first(units, (width - 1) // 2))
        tail = "".join(_first(units[::-1], width - 1 - _cells(head))[::-1])
        name = f"{head}…{tail}"
    return name + " " * (width - _cells(name))


def _first(units: list[str], cells: int) -> list[str]:
    """The most of ``units`` from the first that take at most ``cells`` columns."""
    used = 0
    for i, unit in enumerate(units):
        used += _width(unit)
        if used > cells:
            return units[:i]
    return units


def _units(text: str) -> list[str]:
    """``text`` as a terminal draws it, cell by cell: each character (an escape whole)
    with the marks (:func:`_mark`) it draws over it, an emoji with its skin tone, and
    a flag's two regional indicators (a cut between them pairs each after it with the
    next flag's half: flags the name has not)."""
    units: list[str] = []
    for unit in _UNITS.findall(text):
        if units and (
            _mark(unit)
            or (_tone(unit) and _toned(units[-1]))
            or (_indicator(unit) and _indicator(units[-1]))
        ):
            units[-1] += unit
        else:
            units.append(unit)
    return units


def _mark(unit: str) -> bool:
    """What a terminal draws in the cells of the character before it: a combining mark
    (an accent, a variation selector, a keycap's frame: Unicode's Mn and Me). The
    zero-width joiner and tags are never drawn raw (escaped, as every control: a ZWJ
    sequence shows as its emoji, the escapes between)."""
    return len(unit) == 1 and (
        unicodedata.category(unit) in ("Mn", "Me") or unicodedata.combining(unit) > 0
    )


def _tone(unit: str) -> bool:
    """An emoji's skin tone (U+1F3FB to U+1F3FF): wide alone, a swatch of its own."""
    return len(unit) == 1 and 0x1F3FB <= ord(unit) <= 0x1F3FF


def _indicator(unit: str) -> bool:
    """A regional indicator (U+1F1E6 to U+1F1FF) alone: a flag's first half, or
    nothing a flag was made of yet."""
    return len(unit) == 1 and 0x1F1E6 <= ord(unit) <= 0x1F1FF


def _toned(unit: str) -> bool:
    """Whether a skin tone after ``unit`` is drawn over it: an emoji (a symbol, So) not
    toned yet. After a letter, a CJK character or an escape it modifies nothing, and
    takes its own two columns."""
    return unicodedata.category(unit[0]) == "So" and not any(map(_tone, unit[1:]))


def _width(unit: str) -> int:
    """The columns a unit of :func:`_units` takes: an escape's characters; none for a
    mark with nothing before it; two for a wide (CJK, emoji) character or one asked to
    be drawn as an emoji (U+FE0F after it: a heart, a keycap; a skin tone: a victory
    hand), or a flag; else one."""
    escape = _ESCAPE.match(unit)
    if escape:
        return escape.end()
    if _mark(unit[0]):
        return 0
    wide = unicodedata.east_asian_width(unit[0]) in ("W", "F") or any(
        char == "\ufe0f" or _tone(char) or _indicator(char) for char in unit[1:]
    )
    return 2 if wide else 1


def _cells(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return sum(_width(unit) for unit in _units(text))


def _start(text: str, cells: int) -> str:
    """The longest start of ``text`` that takes at most ``cells`` columns."""
    return "".join(_first(_units(text), cells))


def _scope(t: ScopeTable) -> list[str]:
    title = f"{_NAMES.get(t.axis, t.axis.upper())} by delay ratio over {t.window}"
    lines = ["", f"{title} ({len(t.items)} of {t.total})"]
    if not t.items:
        return lines
    # Measured as the terminal shows them: escaped (a control is six columns,
    # ``\u001b``) and with addresses redacted, as every line is below.
    names = [_safe(r.shown or r.name) for r in t.items]
    width = min(40, max(len(t.axis), *map(_cells, names)))
    lines.append(
        f"  {t.axis:<{width}} {'delivered':>9} {'delayed':>8} {'delay%':>7} {'pending':>8} "
        f"{'p95 delay':>9}  {'top cause':<16} firing"
    )
    lines += [
        f"  {_fit(name, width)} {r.delivered:>9} {r.delayed:>8} "
        f"{percent(r.delay_ratio):>7} "
        f"{r.pending:>8} {seconds(r.delay_p95_seconds):>9}  {r.top_cause or '-':<16} "
        f"{', '.join(r.firing) or '-'}"
        for r, name in zip(t.items, names, strict=True)
    ]
    if t.pending_note:
        lines.append(f"  ({t.pending_note})")
    return lines


def _tail(status: Status) -> list[str]:
    lines = [""]
    c = status.canary
    if c is None:
        lines.append("CANARY: none sent")
    else:
        last = c.recent[-1] if c.recent else None
        timings = (
            "none back yet"
            if last is None
            else ", ".join(f"{n} {seconds(getattr(last, f), 2)}" for f, _, n in STAGES)
            + f", end to end {seconds(last.end_to_end_seconds, 2)}"
        )
        lines.append(
            f"CANARY: {c.sent} sent, {c.back} back, {c.missing} missing in the last hour; "
            f"last: {timings}"
        )
    for a in status.accounts:
        sending = (
            "-" if a.sending_enabled is None else ("enabled" if a.sending_enabled else "PAUSED")
        )
        lines.append(
            f"ACCOUNT {a.account}/{a.region}: sending {sending}, "
            f"enforcement {a.enforcement or '-'}, bounce {percent(a.bounce_ratio)} "
            f"(AWS {percent(a.aws_bounce_ratio)}), complaint {percent(a.complaint_ratio)} "
            f"(AWS {percent(a.aws_complaint_ratio)}) over {a.sends} sends"
        )
        walk = walked(a.tenants_listed, a.tenants_mapped, a.tenant_map_at, status.at)
        lines[-1] += "" if walk == "-" else f"; tenants: {walk}"
    # Those SES acts on (paused, findings) come first; a platform's hundreds of others
    # would bury them, so they are counted (--json lists them).
    quiet = 0
    for t in status.tenants:
        if t.sending == "ENABLED" and not (t.cause or t.impact or t.findings):
            quiet += 1
            continue
        why = (f", impact {t.impact}" if t.impact else "") + (f": {t.cause}" if t.cause else "")
        lines.append(f"TENANT {t.tenant} ({t.account}/{t.region}): {t.sending}{why}")
        lines += [f"  finding {finding}" for finding in t.findings]
    if quiet:
        more = "  ...and {} more tenants" if quiet < len(status.tenants) else "TENANTS: {}"
        lines.append(more.format(quiet) + " sending, of which SES says nothing (--json lists them)")
    if len(status.tenants) < status.tenants_total:
        left = status.tenants_total - len(status.tenants)
        lines.append(f"  ...and {left} more tenants ({_listing_more(len(status.tenants))})")
    silences = status.silences
    lines.append(f"SILENCES: {silences.total or 'none'}")
    if silences.unreadable:  # absent from an older sesd's document
        lines.append(f"  the silences file cannot be read: {silences.unreadable}")
    for s in silences.items:
        ends = "its alert resolves" if s.ends_at is None else moment(s.ends_at, status.at)
        matchers = f"rule={s.rule or '*'} domain={s.domain or '*'} severity={s.severity or '*'}"
        lines.append(f"  {s.id} {s.state} {matchers} until {ends}: {s.comment}")
    if len(silences.items) < silences.total:
        left = silences.total - len(silences.items)
        lines.append(f"  ...and {left} more ({_listing_more(len(silences.items))})")
    return lines


def _listing_more(listed: int) -> str:
    """What lists more of ``listed`` tenants or silences, when a document has more."""
    return "--alerts lists more" if listed < MAX_ALERTS else f"{MAX_ALERTS} is the most listed"
