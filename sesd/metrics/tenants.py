"""What SES says of each tenant, as metric families: its sending status and the impact
of its findings, for at most ``max_series`` tenants (those SES is acting on first),
every tenant counted by status, and how far the walk of each (account, region)'s
tenants' resources has come."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.core.accounts import Accounts
from sesd.core.domains import OTHER
from sesd.core.tenant_map import TenantMap, tenant_label
from sesd.core.tenants import MAX_IDS_PER_LABEL, TenantKey, TenantStatus, TenantStatuses
from sesd.metrics.families import described

__all__ = ["TenantCollector"]

_SENDING: Final = ("ENABLED", "REINSTATED", "DISABLED")
_IMPACTS: Final = ("NONE", "LOW", "HIGH")
_LABELS: Final = ["account", "region", "tenant"]


class TenantCollector(Collector):
    """``sesd_ses_reputation_entity_*``, read at scrape time (pure reads)."""

    def __init__(
        self, statuses: TenantStatuses, max_series: int, accounts: Accounts, tenant_map: TenantMap
    ) -> None:
        self._statuses = statuses
        self._max_series = max_series
        self._accounts = accounts
        self._map = tenant_map

    def describe(self) -> Iterator[Metric]:
        """Every family :meth:`collect` yields, without samples."""
        return described(
            [
                ("sesd_ses_reputation_entity_sending_status", "gauge"),
                ("sesd_ses_reputation_entity_impact", "gauge"),
                ("sesd_ses_reputation_entity_findings", "gauge"),
                ("sesd_ses_reputation_entities", "gauge"),
                *((name, "gauge") for name, _ in _WALK),
                ("sesd_tenant_map_refused", "counter"),
                ("sesd_tenant_account_ids_forgotten", "counter"),
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
        for (account, region, name), status in self._shown():
            where = [account, region, tenant_label(name)]  # as its mail's series name it
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
        for key, n in sorted(self._totals().items()):
            totals.add_metric(list(key), n)
        yield from (sending, impact, findings, totals)
        yield from self._walks()
        yield CounterMetricFamily(
            "sesd_tenant_map_refused",
            "Events whose tenant tag named a resource the tenants' map does not keep "
            "(its ARN longer than any SES writes, or not 7-bit ASCII), and such resources "
            "ListTenantResources named, at each walk of the tenants once for each tenant "
            "that lists it (one of three tenants counts 3): its deliveries count under "
            "tenant unknown.",
            value=self._map.refused,
        )
        yield CounterMetricFamily(
            "sesd_tenant_account_ids_forgotten",
            "AWS account ids an account label's tenant polls named, forgotten as it named "
            f"{MAX_IDS_PER_LABEL} newer ones (SES's tenant ARNs name the account polled: "
            "an endpoint's answer, or a role pointed elsewhere often): their tenants' "
            "events count under the id from then on, not the label.",
            value=self._statuses.ids_forgotten,
        )

    def _walks(self) -> Iterator[Metric]:
        """Each (account, region)'s walk of its tenants' resources: one series each."""
        families = [GaugeMetricFamily(name, text, labels=["account", "region"])
                    for name, text in _WALK]  # fmt: skip
        for target, status in sorted(self._accounts.status.items()):
            listed = status.tenants_listed  # None: no tenant listed since sesd started
            mapped = None if listed is None else status.tenants_mapped
            values = (listed, mapped, status.tenant_map_at)
            for family, value in zip(families, values, strict=True):
                if value is not None:
                    family.add_metric(list(target), value)
        yield from families

    def _totals(self) -> dict[tuple[str, str, str], int]:
        """The tenants by (account, region, sending status): each polled (account,
        region) with its own series; of those only events named (an account id and a
        region anyone who can send to a queue can make up, one per tenant), the
        ``max_series`` with the most tenants, the rest under account and region
        ``other`` (no region's name), so the family still counts every tenant."""
        watched = self._statuses.watched
        counted: dict[tuple[str, str, str], int] = {}
        unpolled: dict[tuple[str, str], int] = {}
        for (account, region, _), status in self._statuses.status.items():
            key = (account, region, status.sending)
            counted[key] = counted.get(key, 0) + 1
            if (account, region) not in watched:
                unpolled[(account, region)] = unpolled.get((account, region), 0) + 1
        if len(unpolled) <= self._max_series:
            return counted
        ranked = sorted(unpolled, key=lambda where: (-unpolled[where], where))
        placed = set(ranked[: self._max_series])
        totals: dict[tuple[str, str, str], int] = {}
        for (account, region, sending), n in counted.items():
            if (account, region) not in watched and (account, region) not in placed:
                account = region = OTHER
            totals[(account, region, sending)] = totals.get((account, region, sending), 0) + n
        return totals

    def _shown(self) -> list[tuple[TenantKey, TenantStatus]]:
        """The tenants with series of their own: those SES acts on first (paused, then
        high and low impact), then by name, up to the cap."""
        return self._statuses.ranked()[: self._max_series]


#: (name, help) of the walk's families.
_WALK: Final = (
    (
        "sesd_ses_tenants_listed",
        "Tenants ListTenants listed for the walk of their resources under way (or the last).",
    ),
    (
        "sesd_ses_tenants_mapped",
        "Of those, the tenants whose resources the walk has read (a large account's walk "
        "takes several polls; it starts over from 0 once complete).",
    ),
    (
        "sesd_ses_tenant_map_last_complete_timestamp_seconds",
        "When a walk last read every tenant's resources, Unix time: until then, events of a "
        "tenant's resources the map does not hold yet count under tenant unknown.",
    ),
)
