"""The alert states as metric families, read from the evaluator at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status
from sesd.metrics.families import described

__all__ = ["AlertsCollector"]


class AlertsCollector(Collector):
    """``sesd_alerts_firing{rule,domain}`` (1 while firing, 0 while pending or just
    resolved) and ``sesd_alerts_silenced{rule,domain}`` (1 while a firing alert is
    held back by a silence)."""

    def __init__(self, evaluator: Evaluator, now: Callable[[], float]) -> None:
        self._evaluator = evaluator
        self._now = now

    def describe(self) -> Iterator[Metric]:
        """Every family :meth:`collect` yields, without samples."""
        return described([("sesd_alerts_firing", "gauge"), ("sesd_alerts_silenced", "gauge")])

    def collect(self) -> Iterator[Metric]:
        """Both families, a sample per (rule, domain) with a state."""
        firing = GaugeMetricFamily(
            "sesd_alerts_firing",
            "1 while an alert fires, by rule and what it is about (`domain`: a domain or "
            "group, or a provider, tenant, ACCOUNT/REGION or canary for such rules).",
            labels=["rule", "domain"],
        )
        silenced = GaugeMetricFamily(
            "sesd_alerts_silenced",
            "1 while a firing alert is muted by a silence, by rule and domain.",
            labels=["rule", "domain"],
        )
        now = self._now()
        for rule, states in list(self._evaluator.states.items()):
            for domain, state in list(states.items()):
                on = state.status is Status.FIRING
                firing.add_metric([rule, domain], 1.0 if on else 0.0)
                muted = on and self._evaluator.silenced(rule, domain, now)
                silenced.add_metric([rule, domain], 1.0 if muted else 0.0)
        yield firing
        yield silenced
