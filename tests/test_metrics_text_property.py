"""sesd's text writer against prometheus_client's ``generate_latest`` over random
registries: whatever families the collectors yield (counters, gauges, summaries and
histograms, as prometheus_client's families or as sesd's rows, a family in chunks),
whatever label values strangers wrote and whatever numbers, both parse back to the
same families, samples and values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.parser import text_string_to_metric_families

from sesd.metrics.exposition import render
from sesd.metrics.rows import Rows

#: Label values as strangers write them: any text, the text format's escapes favoured.
#: (No lone surrogate: no str that reaches a label holds one, as every source is UTF-8
#: decoded by a decoder that refuses them, or checked against a pattern.)
_values = st.text(
    st.sampled_from('\\"\n\r\t{},=aé漢😀') | st.characters(exclude_categories=["Cs"]),
    max_size=12,
)
_numbers = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**62), max_value=2**62)
    | st.sampled_from([0, -0.0, 10**15, 10**15 - 1, 1e16, 5e-324])
)
_label_names = st.lists(st.sampled_from(["domain", "window", "b", "a_z"]), unique=True, max_size=3)


@st.composite
def _family(draw: Any, index: int) -> list[Metric]:
    """One family, as one chunk or several under its name."""
    name = f"sesd_test_f{index}"
    kind = draw(
        st.sampled_from(["counter", "gauge", "summary", "histogram", "gaugehistogram", "rows"])
    )
    names = draw(_label_names)
    help_text = draw(_values)
    label_sets = draw(
        st.lists(st.tuples(*[_values] * len(names)), unique=True, min_size=1, max_size=4)
    )
    if kind == "rows":
        typ = draw(st.sampled_from(["counter", "gauge", "summary"]))
        chunks: list[Metric] = []
        for part in (label_sets[:1], label_sets[1:]):
            rows = Rows(name, help_text, typ, names)
            for values in part:
                if typ == "summary":
                    quantiles = [("0.5", draw(_numbers)), ("0.99", draw(_numbers))]
                    rows.add_summary(values, quantiles, draw(st.integers(0, 99)), draw(_numbers))
                else:
                    rows.add(values, draw(_numbers))
            chunks.append(rows)
        return chunks
    family: Metric
    if kind == "counter":
        family = CounterMetricFamily(name, help_text, labels=names)
        for values in label_sets:
            family.add_metric(list(values), draw(_numbers))
    elif kind == "gauge":
        family = GaugeMetricFamily(name, help_text, labels=names)
        for values in label_sets:
            family.add_metric(list(values), draw(_numbers))
    elif kind == "summary":
        family = SummaryMetricFamily(name, help_text, labels=names)
        for values in label_sets:
            family.add_metric(list(values), draw(st.integers(0, 99)), draw(_numbers))
    else:
        family = (
            HistogramMetricFamily(name, help_text, labels=names)
            if kind == "histogram"
            else GaugeHistogramMetricFamily(name, help_text, labels=names)
        )
        for values in label_sets:
            counts = sorted(draw(st.lists(st.integers(0, 50), min_size=1, max_size=3)))
            bounds = [*(str(float(b)) for b in range(len(counts) - 1)), "+Inf"]
            family.add_metric(list(values), list(zip(bounds, counts, strict=True)), draw(_numbers))
    return [family]


class _Drawn:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _read(text: str) -> dict[str, tuple[str, str, list[tuple[str, tuple[Any, ...], str]]]]:
    """Families parsed back, merged by name (generate_latest writes a family yielded in
    chunks as several), values as text (NaN equals NaN, -0.0 is not 0.0)."""
    read: dict[str, tuple[str, str, list[tuple[str, tuple[Any, ...], str]]]] = {}
    for family in text_string_to_metric_families(text):
        samples = [(s.name, tuple(sorted(s.labels.items())), repr(s.value)) for s in family.samples]
        was = read.get(family.name)
        kept = was[2] if was else []
        read[family.name] = (family.type, family.documentation, sorted(kept + samples))
    return read


@settings(max_examples=200, deadline=None)
@given(data=st.data(), count=st.integers(1, 4))
def test_random_registries_read_back_as_generate_latest_writes_them(
    data: st.DataObject, count: int
) -> None:
    """Random families with strangers' label values and help, and any numbers: sesd's
    exposition and generate_latest's parse back to the same families and samples."""
    families = [chunk for i in range(count) for chunk in data.draw(_family(i))]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Drawn(families))
    ours = render(registry.collect()).decode()
    theirs = generate_latest(registry).decode()
    assert _read(ours) == _read(theirs)
