"""What /metrics says, read back with prometheus_client's own text parser (what
Prometheus would ingest): label values with newlines, every domain of a large set,
summaries' sums in seconds."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.exposition import render
from sesd.metrics.registry import Metrics
from tests import factory as f

T = f.T0


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render(metrics.registry.collect()).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_a_queue_named_with_a_newline_still_scrapes() -> None:
    """The config accepts any queue name (sink and rule names are checked, queue names
    are not): `name = "eu\\nwest"` must still give a parseable exposition."""
    config = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "eu\\nwest"\n')
    pipeline = Pipeline(core_settings(config))
    metrics = Metrics(pipeline.ledger, [config.queues[0].label], lambda: T)
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
