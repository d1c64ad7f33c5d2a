"""Domains, providers and tenants in the status document: each axis ranked by delay
ratio, and the page of one label (its windows side by side, what its problem
events said). Pure reads of the ledger at ``now``.

A sparkline is the delay ratio per bucket of a window, read bucket by bucket
from the window's ring (:meth:`sesd.core.windows.DomainWindows.series`): the
delivered and delayed recipients each bucket holds, the same buckets the
window's figures add up.
"""

from __future__ import annotations

from typing import Final

from sesd.core.causes import CAUSES
from sesd.core.domains import normalise_domain
from sesd.core.events import EVENT_TYPE_INDEX, LONGEST_DELAY
from sesd.core.ledger import Ledger
from sesd.core.scopes import DOMAIN, PROVIDER, TENANT, Scope
from sesd.core.tenant_map import tenant_label
from sesd.core.text import clean
from sesd.core.windows import DomainWindows, Summary
from sesd.status.alerts import link
from sesd.status.charts import named
from sesd.status.document import AlertRow, ScopeRow, ScopeTable, TenantRow
from sesd.status.scope_document import BreakdownView, Counted, ScopeDetail, WindowView

__all__ = [
    "AXES",
    "RANK_FLOOR",
    "find_label",
    "find_scope",
    "scope_detail",
    "scope_tables",
    "tenant_rows",
]

#: The axes with windows, in the order the page shows them.
AXES: Final = (DOMAIN, PROVIDER, TENANT)
#: Labels with fewer delivered and delayed recipients than this in the window rank
#: after the others: one delay of one recipient is not the worst delay ratio.
RANK_FLOOR: Final = 10
#: Values of each kind a label's page lists.
TOP_VALUES: Final = 10
_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
_DELAY: Final = EVENT_TYPE_INDEX["delivery_delay"]
_BOUNCE: Final = EVENT_TYPE_INDEX["bounce"]


def find_scope(ledger: Ledger, axis: str) -> Scope | None:
    """The scope of an axis, None when sesd does not count it."""
    return {DOMAIN: ledger.by_domain, PROVIDER: ledger.by_provider, TENANT: ledger.by_tenant}.get(
        axis
    )


def _ratio(delayed: int, delivered: int) -> float | None:
    return delayed / (delayed + delivered) if delayed + delivered else None


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


def sparkline(windows: DomainWindows, index: int, now: float) -> list[float | None]:
    """The delay ratio per bucket of window ``index``, oldest first."""
    delivered = windows.series(index, now, _DELIVERY)
    delayed = windows.series(index, now, _DELAY)
    return [_ratio(d, n) for d, n in zip(delayed, delivered, strict=True)]


def _top_cause(causes: dict[int, int]) -> str | None:
    found = sorted((-n, CAUSES[i]) for i, n in causes.items() if i < len(CAUSES) and n)
    return found[0][1] if found else None


def scope_tables(
    ledger: Ledger,
    now: float,
    firing: dict[tuple[str, str], list[str]],
    top: int,
    window: int = 0,
) -> list[ScopeTable]:
    """Each axis sesd counts, ranked by delay ratio in window ``window`` (the shortest
    by default: what is happening now; then by delayed recipients, then by volume),
    the top ``top`` labels with their sparkline over the widest window; ``firing``
    names the rules firing on each (scope, label)."""
    tables = []
    for axis in AXES:
        scope = find_scope(ledger, axis)
        if scope is not None:
            tables.append(_table(ledger, scope, now, window, top, firing))
    return tables


def _table(
    ledger: Ledger,
    scope: Scope,
    now: float,
    index: int,
    top: int,
    firing: dict[tuple[str, str], list[str]],
) -> ScopeTable:
    widest = len(ledger.specs) - 1
    ranked = []
    for label, windows in scope.windows.items():
        counts = windows.counts(index, now)
        delayed, delivered = counts[_DELAY], counts[_DELIVERY]
        ratio = _ratio(delayed, delivered)
        volume = delayed + delivered
        # Nothing in the window (no ratio) after every ratio, 0% included.
        key = (volume < RANK_FLOOR, 1.0 if ratio is None else -ratio, -delayed, -volume)
        ranked.append((key, label, windows, counts))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    pending = ledger.pending.counts(now, scope.index)
    rows = []
    for _, label, windows, counts in ranked[:top]:
        delay_duration = windows.summaries(index, now)[2]
        rows.append(
            ScopeRow(
                name=label,
                link=link(scope.axis, label),
                delay_ratio=_ratio(counts[_DELAY], counts[_DELIVERY]),
                delivered=counts[_DELIVERY],
                delayed=counts[_DELAY],
                bounced=counts[_BOUNCE],
                pending=pending.get(label, 0),
                delay_p95_seconds=_seconds(delay_duration.p95),
                top_cause=_top_cause(windows.causes(index, now)),
                sparkline=sparkline(windows, widest, now),
                firing=firing.get((scope.axis, label), []),
                shown=named(scope.axis, label),
            )
        )
    spec = ledger.specs[widest]
    return ScopeTable(
        axis=scope.axis,
        window=ledger.specs[index].name,
        sparkline_window=spec.name,
        sparkline_step_seconds=spec.width,
        total=len(ranked),
        items=rows,
        pending_note=_not_held(ledger, now),
    )


def _not_held(ledger: Ledger, now: float) -> str:
    """What the pending figures may leave out: the recipients the full table refused
    (each once; sesd.core.pending) whose first delay SES may still be retrying, those
    of the last ``LONGEST_DELAY``; "" when none was. One refused longer ago is pending
    in no table: said of for ever, a flood of last week read as figures short now."""
    refused = ledger.pending.refused.since(now)
    if not refused:
        return ""
    most, hours = ledger.pending.max_entries, round(LONGEST_DELAY / 3600)
    return (
        f"pending may leave out {refused} recipient{'s' * (refused != 1)} first delayed "
        f"in the last {hours} h: the pending table ([ingest] max_pending_delays, {most}, "
        "one domain three quarters of it) was full then"
    )


def tenant_rows(
    ledger: Ledger, tenant: str | None = None, limit: int | None = None
) -> list[TenantRow]:
    """What SES says of every tenant (or of one), those SES acts on first (paused,
    then by impact), then by account, region and name; at most ``limit`` rows."""
    rows: list[TenantRow] = []
    for (account, region, ses_name), status in ledger.tenant_status.ranked():
        name = tenant_label(ses_name)  # as its mail's label (``'other'`` for ``other``)
        if tenant is not None and name != tenant:
            continue
        if limit is not None and len(rows) >= limit:
            break
        rows.append(
            TenantRow(
                tenant=name,
                account=account,
                region=region,
                sending=status.sending,
                cause=clean(status.cause),
                impact=status.impact,
                findings=[
                    clean(f"{kind} ({impact}): {text}") for kind, impact, text in status.findings
                ],
            )
        )
    return rows


def _counted(pairs: list[tuple[str, int]]) -> list[Counted]:
    return [Counted(name=name, count=n) for name, n in pairs]


def _window_view(windows: DomainWindows, ledger: Ledger, index: int, now: float) -> WindowView:
    spec = ledger.specs[index]
    figures = windows.figures(index, now)
    causes = windows.causes(index, now)
    by_cause = sorted(
        ((CAUSES[i], n) for i, n in causes.items() if i < len(CAUSES) and n),
        key=lambda pair: (-pair[1], pair[0]),
    )
    return WindowView(
        window=spec.name,
        seconds=spec.seconds,
        sent=figures.count("send"),
        delivered=figures.count("delivery"),
        delayed=figures.count("delivery_delay"),
        bounced=figures.count("bounce"),
        complained=figures.count("complaint"),
        suppressed=windows.suppressed_count(index, now),
        delay_ratio=figures.delay_ratio,
        bounce_ratio=figures.bounce_ratio,
        complaint_ratio=figures.complaint_ratio,
        delivery_ratio=figures.delivery_ratio,
        processing_p95_seconds=_p95(figures.processing),
        delivery_p95_seconds=_p95(figures.to_delivery),
        delay_duration_p95_seconds=_p95(figures.delay_duration),
        causes=_counted(by_cause),
        sparkline=sparkline(windows, index, now),
        step_seconds=spec.width,
    )


def _p95(summary: Summary) -> float | None:
    return _seconds(summary.p95)


def _breakdown(windows: DomainWindows | None, ledger: Ledger, now: float) -> BreakdownView:
    """The widest window that keeps breakdowns (the ones rules read)."""
    kept = [i for i, spec in enumerate(ledger.specs) if spec.breakdown]
    if windows is None or not kept:
        return BreakdownView(
            window=None, causes=[], delay_types=[], statuses=[], diagnostics=[], mtas=[],
            domains=[], message_ids=[],
        )  # fmt: skip
    index = kept[-1]
    b = windows.breakdown(index, now, TOP_VALUES)
    return BreakdownView(
        window=ledger.specs[index].name,
        causes=_counted(b.causes),
        delay_types=_counted(b.delay_types),
        statuses=_counted(b.statuses),
        diagnostics=_counted(b.diagnostics),
        mtas=_counted(b.mtas),
        domains=_counted(b.domains),
        message_ids=list(b.message_ids),
    )


def find_label(ledger: Ledger, axis: str, name: str) -> str:
    """The label a page names: as written, or a domain as sesd normalises it, or the
    group it counts under (the domain in a bounce is what a person types), or a
    provider in lower case, when that is the one counted."""
    scope = find_scope(ledger, axis)
    if scope is None or name in scope.windows:
        return name
    if axis == PROVIDER:
        # Provider labels are lower-case by construction (built-in, or what
        # [providers.mx] accepts): /provider/Google is google's page. Not a tenant's:
        # SES's tenant names keep their case, and two may differ only in it.
        return name.lower()
    if axis != DOMAIN:
        return name
    normal = normalise_domain(name)
    if normal is None:
        return name
    label = ledger.domains.label_of(normal) or normal
    return label if label in scope.windows else name


def scope_detail(
    ledger: Ledger, axis: str, label: str, now: float, alerts: list[AlertRow]
) -> ScopeDetail | None:
    """The page of one label (as :func:`find_label` found it), with its alerts; None when
    sesd knows nothing of it."""
    scope = find_scope(ledger, axis)
    if scope is None:
        return None
    windows = scope.windows.get(label)
    tenants = tenant_rows(ledger, label) if axis == TENANT else []
    if windows is None and not alerts and not tenants:
        return None
    views = (
        [_window_view(windows, ledger, i, now) for i in range(len(ledger.specs))]
        if windows is not None
        else []
    )
    return ScopeDetail(
        at=now,
        axis=axis,
        name=label,
        pending=ledger.pending.count(label, now, scope.index),
        windows=views,
        breakdown=_breakdown(windows, ledger, now),
        alerts=alerts,
        tenants=tenants,
    )
