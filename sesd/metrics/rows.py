"""Metric families kept as rows: what a scrape of a thousand domains is made of.

prometheus_client's families turn every sample into a ``Sample`` with a dict of
its labels, which the text writer then sorts and escapes again: about 3 µs a
sample, most of a scrape. A :class:`Rows` family keeps each sample as a row,
(name suffix, label names, label values, value), the label names shared by
every row of the family; :mod:`sesd.metrics.exposition` writes a row with its
label text made once per distinct (names, values) a scrape meets. Anything
else that reads the registry (``get_sample_value``, ``generate_latest``) gets
the same samples, made from the rows when it asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from prometheus_client.core import Metric
from prometheus_client.samples import Sample

__all__ = ["Row", "Rows"]

#: (sample name suffix, label names, label values, value)
Row = tuple[str, tuple[str, ...], tuple[str, ...], float]

#: The family types rows can hold: an info family is exposed as ``NAME_info`` and a
#: histogram needs its buckets, neither of which a row of ``add`` gives.
_WRITABLE: Final = ("counter", "gauge", "summary")


class Rows(Metric):
    """A counter, gauge or summary family whose samples are rows."""

    def __init__(self, name: str, documentation: str, typ: str, labels: Sequence[str]):
        if typ not in _WRITABLE:
            raise ValueError(f"a Rows family is a {', '.join(_WRITABLE)}, not {typ!r}")
        self.rows: list[Row] = []
        super().__init__(name, documentation, typ)
        self.labels = tuple(labels)
        self._quantiled = (*self.labels, "quantile")
        self._suffix = "_total" if typ == "counter" else ""

    @property
    def samples(self) -> list[Sample]:
        """The rows as prometheus_client's samples (made on each read)."""
        return [
            Sample(self.name + suffix, dict(zip(names, values, strict=True)), value)
            for suffix, names, values, value in self.rows
        ]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        # Metric.__init__ starts every family with no samples; rows are added with
        # the methods below only.
        if value:
            raise TypeError("add rows to a Rows family, not samples")

    def add(self, values: tuple[str, ...], value: float) -> None:
        """A counter's or gauge's sample (a counter's is named ``NAME_total``)."""
        self.rows.append((self._suffix, self.labels, values, value))

    def add_summary(
        self,
        values: tuple[str, ...],
        quantiles: Sequence[tuple[str, float]],
        count: int,
        total: float,
    ) -> None:
        """A summary's samples: each (quantile, value), then ``_count`` and ``_sum``."""
        rows, names, quantiled = self.rows, self.labels, self._quantiled
        for quantile, value in quantiles:
            rows.append(("", quantiled, (*values, quantile), value))
        rows.append(("_count", names, values, count))
        rows.append(("_sum", names, values, total))
