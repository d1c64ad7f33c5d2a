"""``sesd status``: what a running sesd sees now, in a terminal.

It reads the status page's JSON (``/api/v1/status``) from the daemon at
``--url`` (default: ``[http] listen`` of ``--config``, or ``$SESD_HTTP_LISTEN``
over it as ``sesd run`` takes it, else http://127.0.0.1:9585) and prints a
table: alerts first (firing, then pending), then the domains, providers and
tenants by delay ratio, the canary, the accounts and the silences. ``--json``
prints the document itself; ``--watch`` redraws it every few seconds until
Ctrl-C. A daemon that cannot be reached is said in one line, exit 1. Behind
``[http] web_config``: ``--user`` with the password in ``SESD_STATUS_PASSWORD``
(never on the command line, where ``ps`` shows it), and ``--cacert`` for a
certificate no system CA signed; ``--config`` gives https when its web config
has TLS.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import unicodedata
from typing import Final

import anyio
import msgspec

from sesd.commands.common import Commands, config_error, whole_number, with_config
from sesd.commands.status_fetch import (
    PASSWORD_VARIABLE,
    Access,
    Unreachable,
    access,
    base_url,
    fetch,
    shown,
)
from sesd.config import Config, ConfigError, HttpConfig, load_config
from sesd.core.text import clean
from sesd.status.charts import STAGES, duration, moment, percent, seconds, walked, when
from sesd.status.document import SAME_ADVICE, AlertRow, ScopeTable, Status
from sesd.status.model import MAX_ALERTS, Limits
from sesd.status.page import SHARE, built

__all__ = ["add_parser", "default_url", "table"]

DEFAULT_URL: Final = "http://127.0.0.1:9585"
#: Exit status when the daemon cannot be reached, or answers with something else.
EXIT_UNREACHABLE: Final = 1
#: Exit status for options that cannot work (as for a config that cannot be read).
EXIT_USAGE: Final = 2
_NAMES: Final = {"domain": "DOMAINS", "provider": "PROVIDERS", "tenant": "TENANTS"}
#: Clear the screen and go home (a terminal only).
_CLEAR: Final = "\x1b[H\x1b[2J"
#: The shortest ``--every``: faster redraws flicker, and load the daemon for nothing.
_FASTEST: Final = 0.2


def _redraw_seconds(text: str) -> float:
    """An argparse type: seconds between redraws, at least ``_FASTEST`` (0 or less would
    redraw without pause; nan or inf never)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= _FASTEST):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds, at least {_FASTEST}")
    return seconds


def add_parser(commands: Commands) -> None:
    """``status [--url URL | --config PATH] [--json] [--watch] [--every S] [--top N]
    [--alerts N]``."""
    status = with_config(commands, "status", "what a running sesd sees now: alerts, domains")
    status.add_argument(
        "--url",
        help="the daemon's address (default: [http] listen of --config, or "
        f"$SESD_HTTP_LISTEN over it, else {DEFAULT_URL})",
    )
    status.add_argument("--json", action="store_true", help="print the status document as JSON")
    status.add_argument("--watch", action="store_true", help="redraw until Ctrl-C")
    status.add_argument(
        "--every",
        type=_redraw_seconds,
        default=5.0,
        help=f"seconds between redraws (at least {_FASTEST})",
    )
    # The API lists at most 200 a table: more would be cut without a word.
    status.add_argument(
        "--top",
        type=whole_number(1, 200),
        default=10,
        help="domains, providers, tenants shown (1 to 200)",
    )
    # The API lists 50 alerts unless asked: an incident on many domains fires more.
    status.add_argument(
        "--alerts",
        type=whole_number(1, MAX_ALERTS),
        default=Limits().alerts,
        help=f"alerts (and silences, tenants) listed (1 to {MAX_ALERTS}, default 50)",
    )
    status.add_argument("--user", help=f"basic auth user (password in ${PASSWORD_VARIABLE})")
    status.add_argument("--cacert", help="CA certificates (PEM) to trust for https")
    status.set_defaults(execute=execute)


def default_url(config_path: str | None, listen: str | None = None) -> str:
    """The address of the daemon a config file describes (its ``[http] listen``, or
    ``listen``, $SESD_HTTP_LISTEN, over it as `sesd run` takes it; an address that
    listens everywhere is reached on loopback; https when its web config can be read
    and has TLS)."""
    if not config_path and not listen:
        return DEFAULT_URL
    config = load_config(config_path, resolve_secrets=False) if config_path else None
    http = config.http if config is not None else HttpConfig()
    if listen:
        try:
            http = HttpConfig(listen=listen, web_config=http.web_config)
        except ValueError as exc:
            raise ConfigError(f"SESD_HTTP_LISTEN: {exc}") from None
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(http.host, http.host)  # noqa: S104
    if ":" in host:
        host = f"[{host}]"
    tls = config is not None and _has_tls(config)
    return f"{'https' if tls else 'http'}://{host}:{http.port}"


def _has_tls(config: Config) -> bool:
    """Whether the daemon serves TLS, as far as its web config (if readable) says."""
    if config.http.web_config is None:
        return False
    try:
        return config.http.web_config.read().tls_server_config is not None
    except ConfigError:
        return False  # not ours to read (the daemon's user's): plain HTTP is tried


def execute(args: argparse.Namespace) -> int:
    """0 once printed (or when Ctrl-C ends ``--watch``); 1 when the daemon cannot be
    reached; 2 for a config that cannot be read."""
    try:
        url = args.url or default_url(args.config, os.environ.get("SESD_HTTP_LISTEN"))
    except ConfigError as exc:
        return config_error(exc)
    # The command line's own mistakes: no config is at fault.
    if not url.startswith(("http://", "https://")):
        bare = shown(url)
        return _usage(f"--url {bare!r} has no scheme: give it as http://{bare} or https://{bare}")
    try:
        base_url(url)
    except ValueError as exc:  # a bracketed host that is no IP address, or unclosed
        return _usage(f"--url {shown(url)!r} is not a URL: {exc}")
    if args.user is not None and shown(url) != url:
        # aiohttp refuses a request with both (a ValueError, not a failed request).
        named = shown(base_url(url))
        return _usage(
            f"--user {args.user} and a user and password written into --url {named}: give one"
        )
    try:
        through = access(args.user, args.cacert)
    except ConfigError as exc:
        return _usage(str(exc))
    try:
        return anyio.run(_run, args, url, through)
    except KeyboardInterrupt:
        return 0


def _usage(message: str) -> int:
    print(f"sesd: {message}", file=sys.stderr)
    return EXIT_USAGE


async def _run(args: argparse.Namespace, url: str, through: Access) -> int:
    def show(body: bytes, status: Status) -> None:
        if args.json:
            print(msgspec.json.format(body, indent=2).decode())
        else:
            # The daemon's address, not the page or endpoint pasted with it.
            print(table(status, shown(base_url(url))))

    try:
        show(*await fetch(url, args.top, through, args.alerts))
    except Unreachable as exc:
        print(f"sesd: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    while args.watch:
        sys.stdout.flush()
        await anyio.sleep(args.every)
        try:
            found = await fetch(url, args.top, through, args.alerts)
        except Unreachable as exc:
            # A daemon restarting: say so, and keep trying.
            print(f"sesd: {exc}", file=sys.stderr)
            continue
        if sys.stdout.isatty():
            print(_CLEAR, end="")
        show(*found)
    return 0


def _safe(text: object) -> str:
    """Text from the network, fit for a terminal (control characters escaped)."""
    return clean(str(text), 100_000)


def table(status: Status, url: str = "") -> str:
    """The status as a terminal shows it: alerts first, firing ones first."""
    d = status.sesd
    ready = "ready" if d.ready else f"NOT READY ({', '.join(d.not_ready)})"
    reload = f"config loaded {moment(d.reload.at, status.at)}" + (
        "" if d.reload.ok else ", LAST RELOAD FAILED"
    )
    if not d.state.ok:
        reload += f", STATE FILE SAVE FAILED (last saved {moment(d.state.at, status.at)})"
    # The replica that answered: through a Service, each redraw may come from another.
    lines = [
        f"sesd {built(d)}{f' at {url}' if url else ''}{f' on {d.host}' if d.host else ''}"
        f"  as of {when(status.at)}  "
        f"up {duration(d.uptime_seconds)}  {ready}  {reload}"
    ]
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


def _alerts(status: Status) -> list[str]:
    alerts = status.alerts
    lines = ["", f"ALERTS: {alerts.firing} firing, {alerts.total - alerts.firing} pending"]
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
    lines = [
        f"  {a.state.upper():<8} {a.severity:<8} {a.rule}: {a.scope} "
        f"{a.shown or a.name}{f' (provider {a.provider})' if a.provider else ''} {a.metric} "
        f"{a.value_text} ({a.fires} {a.threshold_text}, {a.window} window) since "
        f"{moment(a.since, at)}"
    ]
    if a.cause is not None:
        above = before.cause if before is not None else None
        advice = (
            SAME_ADVICE if above is not None and above.advice == a.cause.advice else a.cause.advice
        )
        lines.append(f"           cause: {a.cause.label} ({a.cause.noted}): {advice}")
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
    wide (CJK) character takes two of a terminal's columns."""
    if _cells(name) > width:
        head = _start(name, (width - 1) // 2)
        tail = _start(name[::-1], width - 1 - _cells(head))[::-1]
        name = f"{head}…{tail}"
    return name + " " * (width - _cells(name))


def _cell(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cells(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return sum(_cell(char) for char in text)


def _start(text: str, cells: int) -> str:
    """The longest start of ``text`` that takes at most ``cells`` columns."""
    used = 0
    for i, char in enumerate(text):
        used += _cell(char)
        if used > cells:
            return text[:i]
    return text


def _scope(t: ScopeTable) -> list[str]:
    title = f"{_NAMES.get(t.axis, t.axis.upper())} by delay ratio over {t.window}"
    lines = ["", f"{title} ({len(t.items)} of {t.total})"]
    if not t.items:
        return lines
    width = min(40, max(len(t.axis), *(_cells(r.shown or r.name) for r in t.items)))
    lines.append(
        f"  {t.axis:<{width}} {'delivered':>9} {'delayed':>8} {'delay%':>7} {'pending':>8} "
        f"{'p95 delay':>9}  {'top cause':<16} firing"
    )
    lines += [
        f"  {_fit(r.shown or r.name, width)} {r.delivered:>9} {r.delayed:>8} "
        f"{percent(r.delay_ratio):>7} "
        f"{r.pending:>8} {seconds(r.delay_p95_seconds):>9}  {r.top_cause or '-':<16} "
        f"{', '.join(r.firing) or '-'}"
        for r in t.items
    ]
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
    for s in silences.items:
        ends = "when its alert resolves" if s.ends_at is None else moment(s.ends_at, status.at)
        matchers = f"rule={s.rule or '*'} domain={s.domain or '*'} severity={s.severity or '*'}"
        lines.append(f"  {s.id} {s.state} {matchers} until {ends}: {s.comment}")
    if len(silences.items) < silences.total:
        left = silences.total - len(silences.items)
        lines.append(f"  ...and {left} more ({_listing_more(len(silences.items))})")
    return lines


def _listing_more(listed: int) -> str:
    """What lists more of ``listed`` tenants or silences, when a document has more."""
    return "--alerts lists more" if listed < MAX_ALERTS else f"{MAX_ALERTS} is the most listed"
