"""What a collector says it yields (its ``describe()``): the registry checks every name
against every other collector's when the collector is registered, so a name used
twice fails at start. And a histogram family from one of the core's histograms."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import HistogramMetricFamily, Metric

from sesd.core.tallies import FixedHistogram

__all__ = ["Family", "described", "histogram_family"]

#: (family name, type): "counter", "gauge", "summary", "histogram", "info".
Family = tuple[str, str]


def described(families: Iterable[Family]) -> Iterator[Metric]:
    """Families with names and types and no samples, as ``describe()`` returns them."""
    for name, kind in families:
        yield Metric(name, "", kind)


def histogram_family(name: str, documentation: str, histogram: FixedHistogram) -> Metric:
    """A histogram family with no labels from a :class:`FixedHistogram`."""
    buckets = histogram.cumulative()
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], buckets=buckets, sum_value=histogram.sum)
    return family
