"""What /metrics says, read back with prometheus_client's own text parser (what
Prometheus would ingest): label values with newlines, every domain of a large set,
summaries' sums in seconds; and the text format's edges, read back as
prometheus_client's own writer's."""

from __future__ import annotations

import gc
import math
import subprocess
import tracemalloc
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Enum, Info, generate_latest
from prometheus_client.core import (
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.parser import text_string_to_metric_families

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.exposition import render
from sesd.metrics.registry import Metrics
from sesd.metrics.rows import Rows
from tests import factory as f
from tests.alone import measured_alone
from tests.conftest import require_tool

T = f.T0


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render(metrics.registry.collect()).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_a_queue_label_with_a_newline_still_scrapes() -> None:
    """The config refuses a queue name with a control character; the writer does not
    rely on it: a label holding a newline still gives a parseable exposition."""
    pipeline = Pipeline(core_settings(parse_config("")))
    metrics = Metrics(pipeline.ledger, ["eu\nwest"], lambda: T)
    samples = _samples(metrics)
    queues = {dict(labels).get("queue") for _, labels in samples}
    assert "eu\nwest" in queues


def test_thirty_domains_each_have_their_counter() -> None:
    config = parse_config("")
    pipeline = Pipeline(core_settings(config))
    for i in range(30):
        pipeline.feed(f.raw(f.delivery([f"x@d{i:02}.example"])), "q", T)
    metrics = Metrics(pipeline.ledger, ["q"], lambda: T)
    samples = _samples(metrics)
    have = sorted({dict(k[1])["domain"] for k in samples if k[0] == "sesd_recipient_events_total"})
    assert len(have) == 30


def test_window_processing_sum_is_in_seconds() -> None:
    config = parse_config("")
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delivery(["x@a.example"], processing_ms=2000)), "q", T)
    metrics = Metrics(pipeline.ledger, ["q"], lambda: T)
    s = metrics.registry.get_sample_value(
        "sesd_window_processing_seconds_sum", {"domain": "a.example", "window": "5m"}
    )
    assert s is not None
    assert 1.5 < s < 2.5  # the windows keep a sketch: near 2 s


class _EdgeCases:
    """Families at the edges of the text format: every escape in label values and in
    help, special and extreme numbers, a family in two chunks, a summary and a
    histogram as rows and as prometheus_client's families, a gauge whose name ends in
    ``_created`` (a timestamp, not a counter's creation time), a gauge histogram."""

    def collect(self) -> Iterator[Metric]:
        numbers = GaugeMetricFamily(
            "sesd_test_numbers", 'Help with a \\ backslash,\na newline and a "quote".', labels=["n"]
        )
        values = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e16, 2**60, 10**15, 10**15 - 1,
                  -(10**15) + 1, 5e-324, 1.7976931348623157e308, True, False, 0.1, -3]  # fmt: skip
        for i, number in enumerate(values):
            numbers.add_metric([str(i)], number)
        yield numbers
        texts = GaugeMetricFamily("sesd_test_texts", "Label values.", labels=["v"])
        odd = ["a\\b", 'a"b', "a\nb", "a\\nb", "\\", '"', "", "é漢😀", "a\rb", "a\tb", '\\"',
               "x" * 300, "a}b", "a,b=c"]  # fmt: skip
        for i, text in enumerate(odd):
            texts.add_metric([text], i)
        yield texts
        for chunk in (odd[:7], odd[7:]):
            rows = Rows("sesd_test_things", "Rows in two chunks.", "counter", ["a", "b"])
            for text in chunk:
                rows.add((text, "z"), len(text))
            yield rows
        summary = Rows("sesd_test_seconds", "A summary.", "summary", ["w"])
        summary.add_summary(('5"m\n',), [("0.5", math.nan), ("0.99", math.inf)], 3, 2.5)
        yield summary
        histogram = HistogramMetricFamily("sesd_test_latency_seconds", "A histogram.", labels=["x"])
        histogram.add_metric(['q"\\'], buckets=[("1.0", 1), ("+Inf", 2)], sum_value=3)
        yield histogram
        yield GaugeMetricFamily("sesd_test_created", "A timestamp named _created.", value=17.0)
        backlog = GaugeHistogramMetricFamily(
            "sesd_test_backlog_seconds", "A gauge histogram.", labels=["q"]
        )
        for queue in ("a", "b"):  # a second's buckets come after the first's _gsum
            backlog.add_metric([queue], buckets=[("1.0", 1), ("+Inf", 2)], gsum_value=3)
        yield backlog


def _read(text: str) -> dict[str, tuple[str, str, list[tuple[str, tuple[Any, ...], str]]]]:
    """Each family parsed back: its type, help and samples (values as text: NaN equals
    NaN, -0.0 is not 0.0)."""
    return {
        family.name: (
            family.type,
            family.documentation,
            sorted(
                (s.name, tuple(sorted(s.labels.items())), repr(s.value)) for s in family.samples
            ),
        )
        for family in text_string_to_metric_families(text)
    }


def test_the_writer_and_prometheus_client_read_back_alike_at_the_edges() -> None:
    """sesd's writer and prometheus_client's generate_latest, both parsed back, give the
    same families (type and help), samples, labels and values at the edges of the text
    format; and promtool finds nothing in sesd's. A gauge named ``..._created`` was
    written without its sample (every sample so named was taken for a counter's
    creation time), and a gauge histogram's ``_gsum`` and ``_gcount`` without help nor
    type inside the histogram."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_EdgeCases())
    Info("sesd_test_build", "An info.", registry=registry).info({"k": 'v"\\\n'})
    Enum("sesd_test_state", "An enum.", states=["a", "b"], registry=registry).state("b")
    ours = render(registry.collect()).decode()
    theirs = _read(generate_latest(registry).decode())
    assert _read(ours) == theirs
    assert theirs["sesd_test_created"][2] == [("sesd_test_created", (), "17.0")]
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=ours.encode(), capture_output=True, timeout=60
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


def test_a_label_value_no_longer_exported_is_not_kept_after_the_scrape() -> None:
    """Labels come and go for the daemon's whole life (a domain, a tag value or a tenant
    idle for a day is evicted, and another takes its place). A scrape of 20,000
    256-character tag values (the longest SES carries), once the values are gone
    from what is exported, leaves nothing of them behind in the writer: a cache of
    every value ever escaped grew by 34 MB over 100,000 of them, never let go of an
    evicted domain's, and once full served only the long-gone."""
    kept = measured_alone(_kept_after_scrape)
    assert kept < 1_000_000, f"{kept} bytes kept after the scrape"


def _kept_after_scrape() -> int:
    """The bytes the writer holds after the scrape beyond what was held before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        values = [f"{i:06d}" + "v" * 250 for i in range(20_000)]
        family = Rows("sesd_test_tag_recipients", "A series per tag value.", "gauge", ["value"])
        for value in values:
            family.add((value,), 1.0)
        text = render([family])
        assert text.count(b"\n") == 20_002  # HELP, TYPE and a line per value
        del family, values, value, text
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return kept


class _HalfPair:
    """A collector whose label values hold half a surrogate pair (no source of sesd's
    yields one; a str may hold one all the same), in a row family and in one of
    prometheus_client's, each beside a value that encodes."""

    def collect(self) -> Iterator[Metric]:
        rows = Rows("sesd_test_half_rows", "Rows.", "gauge", ["value"])
        rows.add(("fine",), 1.0)
        rows.add(("half\udc80pair",), 2.0)
        theirs = GaugeMetricFamily("sesd_test_half_theirs", "Theirs.", labels=["value"])
        theirs.add_metric(["\ud800"], 3.0)
        theirs.add_metric(["fine"], 4.0)
        yield rows
        yield theirs


def test_a_label_value_with_half_a_surrogate_pair_does_not_fail_the_scrape() -> None:
    """A label value that is not UTF-8 (half a surrogate pair) made the encode of its
    family raise, and with it the whole scrape: every metric gone for one value. It
    is written with ``?`` for what is not UTF-8, as sesd mends other such text, and
    every other series reads as it would without it."""
    pipeline = Pipeline(core_settings(parse_config("")))
    pipeline.feed(f.raw(f.delivery(["x@a.example"])), "q", T)
    metrics = Metrics(pipeline.ledger, ["q"], lambda: T)
    alone = _samples(metrics)
    metrics.registry.register(_HalfPair())
    samples = _samples(metrics)
    # The process's own figures (memory, collections) move between two scrapes.
    assert {k for k in samples if "_half_" not in k[0]} == alone.keys()
    assert {k: v for k, v in samples.items() if k[0].startswith("sesd_") and k in alone} == {
        k: v for k, v in alone.items() if k[0].startswith("sesd_")
    }
    assert {k: v for k, v in samples.items() if "_half_" in k[0]} == {
        ("sesd_test_half_rows", (("value", "fine"),)): 1.0,
        ("sesd_test_half_rows", (("value", "half?pair"),)): 2.0,
        ("sesd_test_half_theirs", (("value", "?"),)): 3.0,
        ("sesd_test_half_theirs", (("value", "fine"),)): 4.0,
    }
