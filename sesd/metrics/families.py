"""What a collector says it yields (its ``describe()``): the registry checks every name
against every other collector's when the collector is registered, so a name used
twice fails at start."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import Metric

__all__ = ["Family", "described"]

#: (family name, type): "counter", "gauge", "summary", "histogram", "info".
Family = tuple[str, str]


def described(families: Iterable[Family]) -> Iterator[Metric]:
    """Families with names and types and no samples, as ``describe()`` returns them."""
    for name, kind in families:
        yield Metric(name, "", kind)
