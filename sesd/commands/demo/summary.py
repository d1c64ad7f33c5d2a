"""The summary ``sesd demo`` prints every few seconds, read from the running daemon's
ledger: a table of the domains, then a line each for providers, tenants and the
canary."""

from __future__ import annotations

from datetime import UTC, datetime

from sesd.config import HttpConfig
from sesd.core.tenant_map import tenant_label
from sesd.runtime.daemon import Daemon

__all__ = ["page_url", "summary"]

#: An address that listens on every one of the machine's, and the loopback one of them.
_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (no bind: a name)


def page_url(http: HttpConfig, port: int) -> str:
    """The status page's URL: an IPv6 address in brackets, and a loopback address
    where the daemon listens on every address (0.0.0.0 is no address to browse to)."""
    host = _ANY.get(http.host, http.host)
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _tenant_line(daemon: Daemon, now: float) -> str:
    """Each tenant's delay ratio, and whether SES lets it send."""
    p = daemon.ledger
    paused = {
        tenant_label(key[2]) for key, status in p.tenant_status.status.items() if status.paused
    }
    shown = []
    for tenant, windows in sorted((p.by_tenant.windows if p.by_tenant else {}).items()):
        value = windows.figures(0, now).delay_ratio
        state = " PAUSED" if tenant in paused else ""
        shown.append(f"{tenant} {'-' if value is None else f'{value:.1%}'}{state}")
    return "  delay% by tenant: " + ", ".join(shown)


def summary(daemon: Daemon, last: bool = False) -> str:
    """What the demo prints every few seconds: each domain's counts in the first window
    (busiest first), the delay ratio by provider and by tenant, and the canary. The
    ``last``, printed once the daemon stopped, names no page: the address over the
    final table led to a port that no longer answers."""
    p, now = daemon.ledger, daemon.clock()
    assert daemon.http_port is not None  # it listens once started
    where = (
        "the last summary: the demo stopped, and its status page with it"
        if last
        else f"status page: {page_url(daemon.config.http, daemon.http_port)}"
    )
    rows = []
    for domain, windows in list(p.windows.items()):
        figures = windows.figures(0, now)
        rows.append((figures.count("delivery") + figures.count("delivery_delay"), domain, figures))
    w = max([14, *(len(domain) for _, domain, _ in rows)])  # the widest domain's, at least
    lines = [
        # UTC, marked, as the alerts printed between summaries are: the machine's own
        # zone, unmarked, read beside them was hours off.
        f"\n{datetime.fromtimestamp(now, UTC).strftime('%H:%M:%SZ')}  window {p.specs[0].name}   "
        + where,
        f"  {'domain':<{w}} {'delivered':>9} {'delayed':>8} {'delay%':>7} {'bounced':>8} "
        f"{'p95 proc':>9} {'pending':>8}",
    ]
    for _, domain, f in sorted(rows, reverse=True):
        ratio = "-" if f.delay_ratio is None else f"{f.delay_ratio:.1%}"
        p95 = "-" if f.processing_ms[1] is None else f"{f.processing_ms[1] / 1000:.1f}s"
        flag = "  <- delays" if (f.delay_ratio or 0) > 0.05 else ""
        lines.append(
            f"  {domain:<{w}} {f.count('delivery'):>9} {f.count('delivery_delay'):>8} {ratio:>7} "
            f"{f.count('bounce'):>8} {p95:>9} {p.pending.count(domain, now):>8}{flag}"
        )
    if p.by_provider is not None:
        shown = []
        for provider, windows in sorted(p.by_provider.windows.items()):
            value = windows.figures(0, now).delay_ratio
            shown.append(f"{provider} {'-' if value is None else f'{value:.1%}'}")
        lines.append("  delay% by provider: " + ", ".join(shown))
    lines.append(_tenant_line(daemon, now))
    tracker = p.canary
    counts = tracker.counts(3600, now)
    # Counted over the last hour, as `sesd status` says: under the header's "window
    # 1m", unsaid, the counts read as the last minute's.
    lines.append(
        f"  canary: {counts['sent']} sent, {counts['back']} back, {counts['missing']} missing "
        "in the last hour; " + tracker.notes()[0]
    )
    return "\n".join(lines)
