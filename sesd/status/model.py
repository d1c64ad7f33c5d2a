"""The status document, built from the live state as a pure read at ``now``.

The page, the JSON API and ``sesd status`` all show this document. It reads the
same objects as the metrics (the ledger, the evaluator's states and
silences, the queues' health, the counters of the I/O edges) and changes none
of them: building it twice at the same ``now`` gives the same document, and a
scrape or a rule evaluation after it sees what it would have seen without it.
The one thing a request keeps is a sample of the cumulative counters
(sesd.status.sources.Rates), passed in as ``base``: rates are read against it.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

from sesd.core.ledger import Ledger
from sesd.core.text import escaped
from sesd.core.timestamps import CLOCK_OFF
from sesd.status.alerts import active, alert_list, alert_rows, firing_on, silence_list
from sesd.status.charts import duration
from sesd.status.document import (
    RESTART_KEY_CHARS,
    RESTART_LISTED,
    AccountRow,
    CanaryRun,
    CanaryView,
    ConfigView,
    DaemonView,
    LagView,
    Limits,
    QueueView,
    ReloadView,
    Status,
)
from sesd.status.scope_document import ScopeDetail
from sesd.status.scopes import find_label, scope_detail, scope_tables, tenant_rows
from sesd.status.sources import Sample, Sources

__all__ = ["build_status", "read_counters", "scope_page"]

#: The key separator of :func:`read_counters`' names (no queue name holds it).
_SEP: Final = "\x1f"
#: Canary runs the chart shows.
CANARY_RUNS: Final = 20
#: The canary's counts cover the last hour.
CANARY_SPAN: Final = 3600.0


def _counter(counter: Counter | Gauge) -> dict[tuple[str, ...], float]:
    """A metric's samples, by their label values (no suffix samples: ``_created`` is off)."""
    return {
        tuple(sample.labels.values()): sample.value
        for family in counter.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def read_counters(sources: Sources) -> dict[str, float]:
    """The cumulative counters rates are read from: messages received and failed SQS
    calls per queue, and the lag histogram's buckets. A pure read."""
    found: dict[str, float] = {}
    for (queue, _, _), value in _counter(sources.metrics.sqs.sqs_received).items():
        found[f"received{_SEP}{queue}"] = value
    for (queue, _, _, operation), value in _counter(sources.metrics.sqs.sqs_errors).items():
        found[f"errors{_SEP}{queue}{_SEP}{operation}"] = value
    for (sink, outcome), value in _counter(sources.metrics.notifications).items():
        found[f"notify{_SEP}{sink}{_SEP}{outcome}"] = value
    for i, n in enumerate(sources.ledger.tallies.lag.counts):
        found[f"lag{_SEP}{i}"] = n
    return found


def build_status(
    sources: Sources,
    now: float,
    counters: dict[str, float],
    base: Sample,
    limits: Limits = Limits(),
) -> Status:
    """The whole document at ``now``; ``counters`` as :func:`read_counters` read them
    at ``now``, ``base`` the sample their rates are read against."""
    ledger = sources.ledger
    found = active(sources.evaluator)
    return Status(
        at=now,
        sesd=_daemon(sources, now, _sinks_failing(counters, base)),
        queues=_queues(sources, now, counters, base),
        lag=_lag(ledger, now, counters, base, sources.health.clock_offset),
        alerts=alert_list(ledger, sources.evaluator, found, now, limits.alerts),
        scopes=scope_tables(ledger, now, firing_on(found), limits.top, limits.window),
        canary=_canary(ledger, now),
        accounts=_accounts(ledger),
        tenants=tenant_rows(ledger, limit=limits.alerts),
        silences=silence_list(sources.evaluator, now, limits.alerts, sources.silences_unread()),
        tenants_total=len(ledger.tenant_status.status),
    )


def scope_page(sources: Sources, axis: str, name: str, now: float) -> ScopeDetail | None:
    """The document of one domain, provider or tenant (None: sesd knows nothing of it)."""
    ledger = sources.ledger
    label = find_label(ledger, axis, name)
    found = [a for a in active(sources.evaluator) if (a.scope, a.label) == (axis, label)]
    alerts = alert_rows(ledger, sources.evaluator, found, now)
    return scope_detail(ledger, axis, label, now, alerts)


#: Outcomes of a notification post that say it did not go out (sesd.alerting.outbox).
_NOT_SENT: Final = ("retried", "rate_limited", "failed", "dropped", "expired")


def _sinks_failing(counters: dict[str, float], base: Sample) -> dict[str, dict[str, int]]:
    """Per sink, the posts that did not go out since ``base``, by outcome."""
    before = base[1]
    found: dict[str, dict[str, int]] = {}
    for key, value in counters.items():
        kind, _, rest = key.partition(_SEP)
        sink, _, outcome = rest.partition(_SEP)
        moved = int(_moved(value, before.get(key, 0.0))) if kind == "notify" else 0
        if moved and outcome in _NOT_SENT:
            found.setdefault(sink, {})[outcome] = moved
    return {sink: dict(sorted(o.items(), key=lambda p: _NOT_SENT.index(p[0])))
            for sink, o in sorted(found.items())}  # fmt: skip


def _daemon(
    sources: Sources, now: float, failing: dict[str, dict[str, int]] | None = None
) -> DaemonView:
    ready, stale = sources.health.ready(sources.monotonic())
    ok = _counter(sources.metrics.reload_ok).get((), 0.0)
    at = _counter(sources.metrics.reload_at).get((), 0.0)
    saved = _counter(sources.metrics.save_ok).get((), 1.0)
    saved_at = _counter(sources.metrics.save_at).get((), 0.0)
    waiting = sources.metrics.restart_keys
    return DaemonView(
        version=sources.version,
        revision=sources.revision,
        host=sources.host,
        started=sources.started,
        uptime_seconds=max(0.0, now - sources.started),
        ready=ready,
        not_ready=stale,
        stopping=sources.health.stopping,
        reload=ConfigView(
            ok=ok == 1,
            at=at or None,
            restart_count=len(waiting),
            restart=[escaped(key, RESTART_KEY_CHARS) for key in waiting[:RESTART_LISTED]],
        ),
        state=ReloadView(ok=saved == 1, at=saved_at or None),
        sinks_failing=failing or {},
        shared=any(
            getattr(sink, "shared", False)
            for sink in sources.evaluator.config.named_sinks().values()
        ),
    )


def _moved(value: float, before: float) -> float:
    """How far a cumulative counter moved since ``before``; all of ``value`` when it
    fell (it started again from 0: a reload moved its queue to another account or
    region, whose series are new), as Prometheus's rate() reads a reset."""
    return value - before if value >= before else value


def _queues(
    sources: Sources, now: float, counters: dict[str, float], base: Sample
) -> list[QueueView]:
    ledger, health = sources.ledger, sources.health
    since, before = base
    span = max(0.0, now - since)
    monotonic = sources.monotonic()
    _, stale = health.ready(monotonic)
    views = []
    for queue in health.queues:
        received = f"received{_SEP}{queue}"
        prefix = f"errors{_SEP}{queue}{_SEP}"
        errors = {k[len(prefix) :]: int(v) for k, v in counters.items() if k.startswith(prefix)}
        recent = sum(_moved(v, before.get(prefix + op, 0.0)) for op, v in errors.items())
        moved = _moved(counters.get(received, 0.0), before.get(received, 0.0))
        last = health.last_receive.get(queue)
        account, region = ledger.where(queue)
        views.append(
            QueueView(
                name=queue,
                account=account,
                region=region,
                ready=queue not in stale,
                last_receive_seconds_ago=None if last is None else max(0.0, monotonic - last),
                received=int(counters.get(received, 0.0)),
                received_per_second=moved / span if span >= 1.0 else None,
                rate_seconds=span,
                events=sum(ledger.tallies.events.get(queue, ())),
                invalid=sum(n for (q, _), n in ledger.tallies.invalid.items() if q == queue),
                errors=errors,
                recent_errors=int(recent),
            )
        )
    return views


def _lag(
    ledger: Ledger, now: float, counters: dict[str, float], base: Sample, offset: float | None
) -> LagView:
    histogram = ledger.tallies.lag
    since, before = base
    moved = [
        _moved(counters.get(f"lag{_SEP}{i}", 0.0), before.get(f"lag{_SEP}{i}", 0.0))
        for i in range(len(histogram.counts))
    ]
    total = sum(moved)
    bounds = histogram.bounds

    def quantile(q: float) -> tuple[float, str]:
        """The bound the quantile falls under, and how to say it (past the last
        bound: more than it)."""
        running, i = 0.0, 0
        while running + moved[i] < q * total:
            running += moved[i]
            i += 1
        if i < len(bounds):
            return float(bounds[i]), f"<= {bounds[i]:g}s"
        return float(bounds[-1]), f"> {bounds[-1]:g}s"

    over = max(0.0, now - since)
    if total <= 0:
        text = f"no events over the last {duration(over)}"
        return LagView(events=0, over_seconds=over, p50_seconds=None, p95_seconds=None, text=text)
    (p50, p50_text), (p95, p95_text) = quantile(0.5), quantile(0.95)
    text = f"event lag p50 {p50_text}, p95 {p95_text} ({int(total)} events over the last "
    text += f"{duration(over)})"
    latest = ledger.tallies.behind(now) if ledger.tallies.latest else None
    if latest is not None:
        text += f"; reading {duration(latest)} behind"
        if ledger.blind_behind(now) is not None:
            text += (
                f": BEHIND, windows under {duration(latest)} may be missing recent events "
                "until sesd catches up"
            )
            if offset is not None and offset > CLOCK_OFF:
                text += (
                    f" (or rather: this host's clock is {duration(offset)} ahead of AWS's, "
                    "so every event reads late: fix its time sync)"
                )
    return LagView(
        events=int(total),
        over_seconds=over,
        p50_seconds=p50,
        p95_seconds=p95,
        text=text,
        latest_seconds=latest,
    )


def _canary(ledger: Ledger, now: float) -> CanaryView | None:
    tracker = ledger.canary
    if not tracker.canaries:
        return None
    counts = tracker.counts(CANARY_SPAN, now)
    done = [c for c in tracker.canaries if c.done_at is not None][-CANARY_RUNS:]
    return CanaryView(
        sent=counts["sent"],
        back=counts["back"],
        missing=counts["missing"],
        send_failed=counts["send_failed"],
        deadline_seconds=tracker.deadline,
        recent=[
            CanaryRun(
                sent_at=c.sent_at,
                send_seconds=c.send_seconds,
                ses_seconds=c.ses_seconds,
                pipeline_seconds=c.pipeline_seconds,
                end_to_end_seconds=c.end_to_end_seconds,
                outcome=c.outcome,
            )
            for c in done
        ],
    )


def _accounts(ledger: Ledger) -> list[AccountRow]:
    targets = set(ledger.accounts.status)
    targets |= {(a, r) for a, r, config_set in ledger.reputation.seen() if not config_set}
    rows = []
    for account, region in sorted(targets):
        status = ledger.accounts.status.get((account, region))
        estimate = ledger.reputation.estimate((account, region, ""))
        rows.append(
            AccountRow(
                account=account,
                region=region,
                sending_enabled=None if status is None else status.sending_enabled,
                enforcement=None if status is None else status.enforcement,
                production=None if status is None else status.production,
                quota_used_ratio=None if status is None else status.quota_used_ratio,
                polled_at=None if status is None else status.polled_at,
                answered_at=None if status is None else status.answered.get("get_account"),
                bounce_ratio=None if estimate is None else estimate.bounce_ratio,
                complaint_ratio=None if estimate is None else estimate.complaint_ratio,
                sends=0 if estimate is None else estimate.sends,
                aws_bounce_ratio=None if status is None else status.aws.get("bounce"),
                aws_complaint_ratio=None if status is None else status.aws.get("complaint"),
                tenants_listed=None if status is None else status.tenants_listed,
                tenants_mapped=0 if status is None else status.tenants_mapped,
                tenant_map_at=None if status is None else status.tenant_map_at,
            )
        )
    return rows
