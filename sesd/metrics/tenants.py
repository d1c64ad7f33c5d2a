"""What SES says of each tenant, as metric families: its sending status and the impact
of its findings, for at most ``max_series`` tenants (those SES is acting on first),
and every tenant counted by status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.core.tenants import TenantKey, TenantStatus, TenantStatuses
from sesd.metrics.families import described

__all__ = ["TenantCollector"]

_SENDING: Final = ("ENABLED", "REINSTATED", "DISABLED")
_IMPACTS: Final = ("NONE", "LOW", "HIGH")
_LABELS: Final = ["account", "region", "tenant"]


class TenantCollector(Collector):
    """``sesd_ses_reputation_entity_*``, read at scrape time (pure reads)."""

    def __init__(self, statuses: TenantStatuses, max_series: int) -> None:
        self._statuses = statuses
        self._max_series = max_series

    def describe(self) -> Iterator[Metric]:
        """Every family :meth:`collect` yields, without samples."""
        return described(
            [
                ("sesd_ses_reputation_entity_sending_status", "gauge"),
                ("sesd_ses_reputation_entity_impact", "gauge"),
                ("sesd_ses_reputation_entity_findings", "gauge"),
                ("sesd_ses_reputation_entities", "gauge"),
            ]
        )

    def collect(self) -> Iterator[Metric]:
        """The families: per tenant (bounded), then all tenants by status."""
        sending = GaugeMetricFamily(
            "sesd_ses_reputation_entity_sending_status",
            "1 for a tenant's sending status (ENABLED, REINSTATED, DISABLED: paused), as "
            "SES reports it (polled, or its status events).",
            labels=[*_LABELS, "status"],
        )
        impact = GaugeMetricFamily(
            "sesd_ses_reputation_entity_impact",
            "1 for the highest impact of a tenant's open reputation findings (NONE, LOW, HIGH).",
            labels=[*_LABELS, "impact"],
        )
        findings = GaugeMetricFamily(
            "sesd_ses_reputation_entity_findings",
            "A tenant's open reputation findings.",
            labels=_LABELS,
        )
        for key, status in self._shown():
            where = list(key)
            for name in _SENDING:
                sending.add_metric([*where, name], 1 if status.sending == name else 0)
            for name in _IMPACTS:
                impact.add_metric([*where, name], 1 if (status.impact or "NONE") == name else 0)
            findings.add_metric(where, len(status.findings))
        totals = GaugeMetricFamily(
            "sesd_ses_reputation_entities",
            "Tenants SES reports on, by account, region and sending status (all of them, "
            "the ones without series of their own included).",
            labels=["account", "region", "status"],
        )
        counted: dict[tuple[str, str, str], int] = {}
        for (account, region, _), status in self._statuses.status.items():
            key = (account, region, status.sending)
            counted[key] = counted.get(key, 0) + 1
        for key, n in sorted(counted.items()):
            totals.add_metric(list(key), n)
        yield from (sending, impact, findings, totals)

    def _shown(self) -> list[tuple[TenantKey, TenantStatus]]:
        """The tenants with series of their own: those SES acts on first (paused, then
        high and low impact), then by name, up to the cap."""
        return self._statuses.ranked()[: self._max_series]
