"""The families of the MX lookups behind the provider scope (sesd.providers)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from sesd.core.provider_cache import ProviderCache

__all__ = ["dns_families"]


def dns_families(resolver: ProviderCache) -> Iterator[Metric]:
    """The MX lookups' families: how they ended, what waits, what is cached, and
    whether the resolver fails."""
    lookups = CounterMetricFamily(
        "sesd_dns_lookups",
        "MX lookups of recipient domains (for their provider), by outcome.",
        labels=["outcome"],
    )
    for outcome, n in resolver.outcomes.items():
        lookups.add_metric([outcome], n)
    yield lookups
    yield GaugeMetricFamily(
        "sesd_dns_lookups_queued",
        "Recipient domains waiting for their MX lookup (counted as provider unknown).",
        value=len(resolver.wanted),
    )
    yield GaugeMetricFamily(
        "sesd_dns_cache_entries",
        "Recipient domains whose provider is cached.",
        value=len(resolver.cache),
    )
    yield GaugeMetricFamily(
        "sesd_dns_failing",
        "1 while the MX lookups of three distinct domains in a row found no answer (the "
        "resolver fails, not one domain's DNS), or there is no resolver to ask, else 0.",
        value=1 if resolver.failing else 0,
    )
