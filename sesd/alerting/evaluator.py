"""Stage 6 continued: rules over every tracked domain, and alerts grouped into notifications.

Pure: the caller passes the pipeline (read only) and ``now``. Transitions of
one rule and kind (firing, repeat, resolved) that happen within
``group_wait`` of the first go out together as one :class:`Notification`, so
a provider outage across fifty domains is one message, not fifty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sesd.alerting.rules import AlertState, Status, Transition, measure, step
from sesd.canary.tracker import CANARY_DOMAIN
from sesd.config import CANARY_METRICS, QUANTILE_METRICS, AlertsConfig, Duration, RuleConfig
from sesd.domains import normalise_domain
from sesd.events import EVENT_TYPES
from sesd.pipeline import Pipeline
from sesd.windows import Breakdown, Figures

__all__ = ["Alert", "Evaluator", "Notification"]

#: Delay types that point inside SES rather than at the recipient's MTA.
_INTERNAL_DELAYS = frozenset({"InternalFailure", "SendingDeferral"})
_DELAY_METRICS = frozenset(
    {"delay_ratio", "delayed_recipients", "pending_delays", "delay_duration_p95_seconds"}
)


@dataclass(frozen=True, slots=True)
class Alert:
    """One (rule, domain) transition with everything the on-call person needs."""

    rule: str
    metric: str
    domain: str
    kind: Transition
    severity: str
    window: str
    value: float | None
    threshold: float
    clear_threshold: float
    at: float
    since: float
    counts: dict[str, int]
    breakdown: Breakdown
    stage: str
    regions: list[str]
    internal: bool
    notes: tuple[str, ...] = ()
    #: True when the rule fires above its threshold, False when below it.
    rising: bool = True

    @property
    def fires(self) -> str:
        """``"above"`` or ``"below"``: which side of its threshold the alert fires on."""
        return "above" if self.rising else "below"

    @property
    def dedup_key(self) -> str:
        """Stable per (rule, domain): replicas and repeats fold into one incident."""
        return f"sesd:{self.rule}:{self.domain}"[:255]


@dataclass(frozen=True, slots=True)
class Notification:
    """Alerts of one rule and kind, sent as one message per sink."""

    rule: str
    kind: Transition
    severity: str
    sinks: tuple[str, ...]
    alerts: tuple[Alert, ...]
    at: float


@dataclass(slots=True)
class _Group:
    first_at: float
    alerts: list[Alert] = field(default_factory=list)


class Evaluator:
    """Holds every alert state; :meth:`evaluate` steps them, :meth:`due` groups the output."""

    def __init__(self, config: AlertsConfig, window_names: list[str]) -> None:
        self.rules = list(config.rules)
        self._window_index = {rule.name: window_names.index(rule.window) for rule in self.rules}
        self._repeat = config.repeat_interval.seconds
        self._group_wait = config.group_wait.seconds
        self.states: dict[str, dict[str, AlertState]] = {rule.name: {} for rule in self.rules}
        self._groups: dict[tuple[str, Transition], _Group] = {}

    def evaluate(self, pipeline: Pipeline, now: float) -> list[Alert]:
        """Step every (rule, domain); returns the transitions, also queued for :meth:`due`."""
        out: list[Alert] = []
        for rule in self.rules:
            if rule.metric in CANARY_METRICS:
                self._canary(rule, pipeline, now, out)
                continue
            states = self.states[rule.name]
            for domain in self._domains(rule, pipeline, states):
                state = states.get(domain)
                if state is None:
                    state = states[domain] = AlertState()
                windows = pipeline.windows.get(domain)
                figures = breakdown = None
                value: float | None = None
                volume = 0
                if windows is not None:
                    index = self._window_index[rule.name]
                    # Quantiles cost a pass over the window's values: only where read.
                    if rule.metric in QUANTILE_METRICS:
                        figures = windows.figures(index, now)
                    else:
                        figures = Figures(windows.counts(index, now))
                    pending = pipeline.pending.count(domain, now)
                    value, volume = measure(rule.metric, figures, pending)
                transition = step(rule, state, value, volume, now, self._repeat)
                if transition is None:
                    if state.status is Status.INACTIVE and domain not in pipeline.windows:
                        del states[domain]
                    continue
                if windows is not None:
                    breakdown = windows.breakdown(self._window_index[rule.name], now)
                alert = _alert(
                    rule,
                    domain,
                    transition,
                    state,
                    now,
                    figures.counts if figures is not None else None,
                    breakdown or Breakdown(),
                )
                self._emit(alert, now, out)
        return out

    def _canary(self, rule: RuleConfig, pipeline: Pipeline, now: float, out: list[Alert]) -> None:
        """A canary rule: one alert, domain ``canary``, measured by the canary tracker."""
        tracker = pipeline.canary
        state = self.states[rule.name].setdefault(CANARY_DOMAIN, AlertState())
        window = Duration(rule.window).seconds
        value, volume = tracker.measure(rule.metric, window, now)
        transition = step(rule, state, value, volume, now, self._repeat)
        if transition is None:
            return
        missing = [c.message_id for c in tracker.missing(now, now - window) if c.message_id]
        alert = Alert(
            **_identity(rule, CANARY_DOMAIN, transition, state, now),
            counts=tracker.counts(window, now),
            breakdown=Breakdown(message_ids=missing[-5:]),
            stage=tracker.stage(rule.metric, now, window),
            regions=[],
            internal=False,
            notes=tuple(tracker.notes()),
        )
        self._emit(alert, now, out)

    def _emit(self, alert: Alert, now: float, out: list[Alert]) -> None:
        out.append(alert)
        group = self._groups.get((alert.rule, alert.kind))
        if group is None:
            group = self._groups[(alert.rule, alert.kind)] = _Group(now)
        group.alerts.append(alert)

    def due(self, now: float, *, flush: bool = False) -> list[Notification]:
        """Groups whose ``group_wait`` has passed (all of them with ``flush``)."""
        ready = [
            key
            for key, group in self._groups.items()
            if flush or now - group.first_at >= self._group_wait
        ]
        by_name = {rule.name: rule for rule in self.rules}
        notifications = []
        for key in ready:
            group = self._groups.pop(key)
            rule = by_name[key[0]]
            notifications.append(
                Notification(
                    rule=rule.name,
                    kind=key[1],
                    severity=rule.severity,
                    sinks=tuple(rule.sinks),
                    alerts=tuple(group.alerts),
                    at=now,
                )
            )
        return notifications

    def firing(self) -> Iterator[tuple[str, str]]:
        """(rule, domain) of every firing alert."""
        for rule, states in self.states.items():
            for domain, state in states.items():
                if state.status is Status.FIRING:
                    yield rule, domain

    @staticmethod
    def _domains(rule: RuleConfig, pipeline: Pipeline, states: dict[str, AlertState]) -> list[str]:
        if "*" in rule.domains:
            wanted = set(pipeline.windows)
        else:
            wanted = {normalise_domain(d) or d for d in rule.domains}
        # Domains with a state are stepped too, so an alert whose domain went quiet (or
        # was evicted) still resolves, and the state of an evicted domain is forgotten.
        return sorted(wanted | set(states))


def _identity(
    rule: RuleConfig, domain: str, kind: Transition, state: AlertState, now: float
) -> dict[str, Any]:
    """The fields every alert has: which rule and domain, the value against the thresholds."""
    return {
        "rule": rule.name,
        "metric": rule.metric,
        "domain": domain,
        "kind": kind,
        "severity": rule.severity,
        "window": rule.window,
        "value": state.value,
        "threshold": rule.threshold,
        "clear_threshold": rule.clear_threshold,
        "rising": rule.rising,
        "at": now,
        "since": state.since,  # when it fired (a resolve leaves it unchanged)
    }


def _alert(
    rule: RuleConfig,
    domain: str,
    kind: Transition,
    state: AlertState,
    now: float,
    counts: tuple[int, ...] | None,
    breakdown: Breakdown,
) -> Alert:
    named = dict(zip(EVENT_TYPES, counts or (0,) * len(EVENT_TYPES), strict=True))
    delay_types = {name for name, _ in breakdown.delay_types}
    mta_signal = bool(breakdown.statuses or breakdown.diagnostics or breakdown.mtas)
    internal = rule.metric in _DELAY_METRICS and (
        bool(delay_types & _INTERNAL_DELAYS) or not mta_signal
    )
    if rule.metric == "processing_p95_seconds":
        stage = "inside SES (processing time)"
    elif internal:
        stage = "inside SES"
    else:
        stage = "SES -> recipient MTA"
    regions = sorted({arn.split(":")[3] for arn in breakdown.sources if arn.count(":") >= 5})
    return Alert(
        **_identity(rule, domain, kind, state, now),
        counts={
            name: named[name]
            for name in ("send", "delivery", "delivery_delay", "bounce", "complaint")
        },
        breakdown=breakdown,
        stage=stage,
        regions=regions,
        internal=internal,
    )
