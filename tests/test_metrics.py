"""The metric names and labels are a contract (the dashboard and fleet rules use them;
README lists them), each sample is the ledger's figure, and sesd's own text writer
says what prometheus_client says."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from sesd.config import QueueConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tallies import FixedHistogram
from sesd.metrics.exposition import render, render_async
from sesd.metrics.registry import Metrics
from tests import factory as f

NOW = f.T0 + 10
CONTRACT = {
    # Queue families also carry the queue's account and region.
    "sesd_events": ("counter", {"queue", "account", "region", "event_type"}),
    "sesd_recipient_events": ("counter", {"domain", "event_type"}),
    "sesd_delivery_delays": ("counter", {"domain", "delay_type", "cause"}),
    "sesd_bounces": ("counter", {"domain", "bounce_type", "bounce_subtype"}),
    "sesd_messages": ("counter", {"queue", "account", "region", "outcome"}),
    "sesd_window_recipient_events": ("gauge", {"domain", "window", "event_type"}),
    "sesd_window_delay_ratio": ("gauge", {"domain", "window"}),
    "sesd_window_processing_seconds": ("summary", {"domain", "window"}),
    "sesd_window_delivery_seconds": ("summary", {"domain", "window"}),
    "sesd_window_delay_duration_seconds": ("summary", {"domain", "window"}),
    "sesd_window_bounce_ratio": ("gauge", {"domain", "window"}),
    "sesd_window_complaint_ratio": ("gauge", {"domain", "window"}),
    "sesd_window_delivery_ratio": ("gauge", {"domain", "window"}),
    "sesd_delayed_recipients_pending": ("gauge", {"domain"}),
    "sesd_delivery_processing_seconds": ("histogram", set()),
    "sesd_event_lag_seconds": ("histogram", set()),
    "sesd_event_lag_latest_seconds": ("gauge", set()),
    "sesd_late_events": ("counter", set()),
    "sesd_sqs_errors": ("counter", {"queue", "account", "region", "operation"}),
    "sesd_sqs_retries": ("counter", {"queue", "account", "region", "operation"}),
    "sesd_build_info": ("gauge", {"version", "revision", "python_version"}),
}


def test_every_contract_metric_is_exposed_with_its_labels() -> None:
    """Each contract metric is in the exposition, of the right type and with exactly its
    labels."""
    pipeline = Pipeline(core_settings(parse_config("")))
    queue = QueueConfig(url="http://127.0.0.1:9/1/q", name="q")
    metrics = Metrics(pipeline.ledger, [queue], lambda: f.T0)
    pipeline.feed(f.sns(f.simple("Send", ["a@one.com", "b@one.com"])), "q", f.T0, f.T0)
    pipeline.feed(f.sns(f.delay(["b@one.com"], expires=f.T0 + 60)), "q", f.T0, f.T0)
    pipeline.feed(f.sns(f.delivery(["a@one.com", "b@one.com"])), "q", f.T0, f.T0)
    pipeline.feed(f.sns(f.complaint(["a@one.com"])), "q", f.T0, f.T0)
    pipeline.feed(f.sns(f.bounce(["c@one.com"])), "q", f.T0, f.T0)
    metrics.sqs_counts(queue).error("receive")
    text = generate_latest(metrics.registry).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name, (kind, labels) in CONTRACT.items():
        assert name in families, name
        family = families[name]
        assert family.type == kind, name
        assert family.samples, name
        for sample in family.samples:
            assert set(sample.labels) - {"le", "quantile"} == labels, (name, sample)


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_each_sample_is_the_ledgers_figure_under_its_labels() -> None:
    """The exposition reads the ledger and adds nothing but names and labels: after a
    mix of traffic, each family's samples are what the ledger holds, a queue under its
    account and region, types past SES's documented ones as ``other``, milliseconds as
    seconds, a histogram's buckets cumulative."""
    pipeline = Pipeline(core_settings(parse_config('[dimensions]\ntags = ["campaign"]\n')))
    metrics = Metrics(pipeline.ledger, ["q"], lambda: NOW)
    spring = {"campaign": ["spring"]}
    for ms in (500, 1500, 2500):
        body = f.delivery(["a@one.com"], processing_ms=ms, tags=spring)
        pipeline.feed(f.sns(body), "q", NOW, NOW + 2)
    delay = f.delay(["b@one.com"], delay_type="Novel", tags=spring, expires=NOW + 600)
    pipeline.feed(f.raw(delay), "q", NOW)
    pipeline.feed(f.sns(delay), "q", NOW)  # a duplicate
    pipeline.feed(f.raw(f.bounce(["c@one.com"], kind="Weird", subkind="Odd")), "q", NOW)
    pipeline.feed(f.raw(f.simple("Teleport", ["d@one.com"])), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["e@late.com", "broken"], at=NOW - 7200)), "q", NOW)
    pipeline.feed("not json", "q", NOW)
    pipeline.feed('{"Type": "SubscriptionConfirmation"}', "q", NOW)

    where = {"queue": "q", "account": "default", "region": "us-east-1"}
    events = {"delivery": 4, "delivery_delay": 1, "bounce": 1, "unknown": 1, "send": 0}
    for event_type, n in events.items():
        assert _sample(metrics, "sesd_events_total", **where, event_type=event_type) == n
    outcomes = {"processed": 7, "duplicate": 1, "skipped": 1, "invalid": 1}
    for outcome, n in outcomes.items():
        assert _sample(metrics, "sesd_messages_total", **where, outcome=outcome) == n
    assert _sample(metrics, "sesd_invalid_messages_total", **where, reason="not_json") == 1
    skipped = {**where, "reason": "sns_subscription_confirmation"}
    assert _sample(metrics, "sesd_skipped_messages_total", **skipped) == 1

    one = {"domain": "one.com"}
    assert _sample(metrics, "sesd_recipient_events_total", **one, event_type="delivery") == 3
    late = {"domain": "late.com", "event_type": "delivery"}
    assert _sample(metrics, "sesd_recipient_events_total", **late) == 1
    in_5m = {"window": "5m", "event_type": "delivery"}
    assert _sample(metrics, "sesd_window_recipient_events", **one, **in_5m) == 3
    delays = {"delay_type": "other", "cause": "connection"}
    assert _sample(metrics, "sesd_delivery_delays_total", **one, **delays) == 1
    bounces = {"bounce_type": "other", "bounce_subtype": "other"}
    assert _sample(metrics, "sesd_bounces_total", **one, **bounces) == 1
    assert _sample(metrics, "sesd_delayed_recipients_pending", **one) == 1
    assert _sample(metrics, "sesd_late_events_total") == 1
    assert _sample(metrics, "sesd_invalid_recipients_total") == 1

    tag = {"tag": "campaign", "value": "spring"}
    assert _sample(metrics, "sesd_tag_recipient_events_total", **tag, event_type="delivery") == 3
    assert _sample(metrics, "sesd_window_tag_delay_ratio", **tag, window="5m") == 0.25

    # Every delivery has a processing time, the late one's 1.2 s included; only the
    # three fed with a receive time have a lag.
    assert _sample(metrics, "sesd_delivery_processing_seconds_count") == 4
    assert _sample(metrics, "sesd_delivery_processing_seconds_sum") == pytest.approx(5.7)
    assert _sample(metrics, "sesd_delivery_processing_seconds_bucket", le="1.0") == 1
    # Bounds close together where SES's times are (0.5-5 s): a quantile interpolated in
    # a bucket from 1 s to 2.5 s would read 1.75 s for times of 1.2 s.
    assert _sample(metrics, "sesd_delivery_processing_seconds_bucket", le="1.25") == 2
    assert _sample(metrics, "sesd_delivery_processing_seconds_bucket", le="1.5") == 3
    assert _sample(metrics, "sesd_event_lag_seconds_count") == 3
    # How far behind sesd reads now: the lag of the latest event read (the three's).
    lag = _sample(metrics, "sesd_event_lag_seconds_sum")
    assert lag is not None
    assert _sample(metrics, "sesd_event_lag_latest_seconds") == pytest.approx(lag / 3)
    p50 = _sample(metrics, "sesd_window_processing_seconds", **one, window="5m", quantile="0.5")
    assert p50 is not None
    assert 1.3 < p50 < 1.7


def _domains_shown(metrics: Metrics, prefix: str) -> set[str]:
    """The domain label of every sample of the families whose name starts ``prefix``."""
    text = generate_latest(metrics.registry).decode()
    return {
        sample.labels["domain"]
        for family in text_string_to_metric_families(text)
        if family.name.startswith(prefix)
        for sample in family.samples
        if "domain" in sample.labels
    }


def test_a_domain_has_series_only_while_the_ledger_holds_it() -> None:
    """A domain whose only event was late has its counters and no window series; an
    evicted domain (its delay expired) has no series at all, in any family; an active
    one keeps them all."""
    pipeline = Pipeline(core_settings(parse_config('[domains]\nidle_evict = "1h"\n')))
    metrics = Metrics(pipeline.ledger, ["q"], lambda: NOW + 3700)
    pipeline.feed(f.raw(f.delivery(["a@late.com"], at=NOW - 7200)), "q", NOW)
    for domain, at in (("old.com", NOW), ("new.com", NOW + 3000)):
        pipeline.feed(f.raw(f.delay([f"a@{domain}"], at=at, expires=at + 1200)), "q", at)
        pipeline.feed(f.raw(f.bounce([f"b@{domain}"], at=at)), "q", at)
    assert _domains_shown(metrics, "sesd_window_") == {"old.com", "new.com"}
    assert _domains_shown(metrics, "sesd_") == {"late.com", "old.com", "new.com"}
    assert pipeline.housekeep(NOW + 3700) == ["late.com", "old.com"]
    assert _domains_shown(metrics, "sesd_") == {"new.com"}
    for family in (
        "sesd_recipient_events",
        "sesd_delivery_delays",
        "sesd_bounces",
        "sesd_window_recipient_events",
        "sesd_delayed_recipients_pending",
    ):
        assert "new.com" in _domains_shown(metrics, family), family


def test_fast_exposition_says_what_prometheus_client_says() -> None:
    """sesd's text writer, parsed back, gives exactly the families and samples that
    prometheus_client's generate_latest gives, tag breakdown and escaping included."""
    from sesd.metrics.exposition import render

    pipeline = Pipeline(core_settings(parse_config('[dimensions]\ntags = ["campaign"]\n')))
    odd = QueueConfig(url="http://127.0.0.1:9/1/odd", name='odd "queue" \\ name')
    metrics = Metrics(pipeline.ledger, ["q", odd], lambda: f.T0)
    for i in range(30):
        tags = {"campaign": [f'spring "{i % 3}"\nline']}
        pipeline.feed(f.sns(f.delivery([f"u{i}@d{i % 7}.example"], tags=tags)), "q", f.T0, f.T0)
        pipeline.feed(f.sns(f.delay([f"v{i}@d{i % 5}.example"], expires=f.T0 + 60)), "q", f.T0)
    metrics.sqs_counts(odd).error("receive", 3)

    def parsed(text: str) -> dict[str, list[tuple[str, tuple[tuple[str, str], ...], float]]]:
        # The process's own figures (memory, CPU, collections) move between two reads.
        moving = ("process_", "python_gc_")
        return {
            family.name: sorted(
                (s.name, tuple(sorted(s.labels.items())), 0.0 if moving_ else s.value)
                for s in family.samples
            )
            for family in text_string_to_metric_families(text)
            for moving_ in [family.name.startswith(moving)]
        }

    ours = parsed(render(metrics.registry.collect()).decode())
    theirs = parsed(generate_latest(metrics.registry).decode())
    assert ours == theirs
    assert len(ours) > 20


async def test_a_scrape_of_many_tag_values_gives_the_event_loop_back_as_it_goes() -> None:
    """200 campaign tags' windows: 6,600 samples of sesd_window_tag_recipient_events,
    written as one family, held the event loop 23-28 ms. They come in chunks of 25 tag
    values (825 samples), the loop given back after each, and the body still has each
    family once, every tag value in it."""
    pipeline = Pipeline(core_settings(parse_config('[dimensions]\ntags = ["campaign"]\n')))
    for i in range(200):
        tags = {"campaign": [f"c{i}"]}
        pipeline.feed(f.raw(f.delay([f"u{i}@a.example"], expires=f.T0 + 60, tags=tags)), "q", f.T0)
    metrics = Metrics(pipeline.ledger, ["q"], lambda: f.T0)
    chunks = [
        len(family.samples)
        for family in metrics.registry.collect()
        if family.name == "sesd_window_tag_recipient_events"
    ]
    assert chunks == [25 * 3 * 11] * 8

    body, turns = await scraped_counting_turns(metrics.registry)
    text = body.decode()
    assert text.count("# TYPE sesd_window_tag_recipient_events gauge") == 1
    assert text.count("# TYPE sesd_window_tag_delay_ratio gauge") == 1
    for i in range(200):
        assert f'sesd_window_tag_delay_ratio{{tag="campaign",value="c{i}",window="1h"}} 1.0' in text
    assert turns >= 16, turns


def test_info_and_enum_families_are_typed_as_prometheus_client_types_them() -> None:
    """An Info is a gauge named X_info, an Enum a gauge: the TYPE lines and samples of
    sesd's writer match generate_latest's, and no _created sample appears."""
    from prometheus_client import Counter as PromCounter
    from prometheus_client import Enum, Info

    from sesd.metrics.exposition import render

    registry = CollectorRegistry()
    Info("sesd_test_build", "Build.", registry=registry).info({"version": "1"})
    Enum("sesd_test_state", "State.", states=["a", "b"], registry=registry).state("b")
    PromCounter("sesd_test_things", "Things.", registry=registry).inc()
    ours = render(registry.collect()).decode()
    theirs = generate_latest(registry).decode()

    def typed(text: str) -> set[str]:
        return {line for line in text.splitlines() if line.startswith("# TYPE")}

    assert typed(ours) == typed(theirs)
    assert "# TYPE sesd_test_build_info gauge" in typed(ours)
    assert {ln for ln in ours.splitlines() if not ln.startswith("#")} == {
        ln for ln in theirs.splitlines() if not ln.startswith("#")
    }
    assert "_created" not in ours


class _Watching:
    """A collector that notes whether garbage collection is on while it is collected."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def collect(self) -> Iterator[Metric]:
        for i in range(3):
            self.seen.append(gc.isenabled())
            yield GaugeMetricFamily(f"sesd_test_{i}", "A family.", value=i)


async def test_a_scrape_holds_garbage_collection_and_gives_it_back() -> None:
    """No full collection stalls the event loop mid-scrape; collection is on again after
    the scrape, after a cancelled one, and after the last of two at once; and left off if
    it was off."""
    registry = CollectorRegistry()
    watching = _Watching()
    registry.register(watching)
    assert gc.isenabled()
    body = await render_async(registry)
    assert watching.seen == [False, False, False]
    assert b"sesd_test_2 2.0" in body
    assert gc.isenabled()

    with anyio.CancelScope() as scope:
        scope.cancel()
        await render_async(registry)
    assert gc.isenabled()

    async with anyio.create_task_group() as tg:
        tg.start_soon(render_async, registry)
        tg.start_soon(render_async, registry)
    assert gc.isenabled()
    assert len(watching.seen) > 6

    gc.disable()
    try:
        await render_async(registry)
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Ten:
    """A collector of ten small families that notes when its last one was taken."""

    def __init__(self) -> None:
        self.taken = False

    def collect(self) -> Iterator[Metric]:
        for i in range(10):
            yield GaugeMetricFamily(f"sesd_test_{i}", "A family.", value=i)
        self.taken = True


async def scraped_counting_turns(
    registry: CollectorRegistry, counting: Callable[[], bool] = lambda: True
) -> tuple[bytes, int]:
    """``registry`` scraped while another task asks for the event loop at every turn:
    the body, and how many turns that task got during the scrape while ``counting()``."""
    turns, scraping = 0, True

    async def beside() -> None:
        nonlocal turns
        while scraping:
            await anyio.lowlevel.checkpoint()
            if scraping and counting():
                turns += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(beside)
        await anyio.lowlevel.checkpoint()  # it is waiting for its turn
        body = await render_async(registry)
        scraping = False
    return body, turns


async def test_a_scrape_joins_its_body_in_a_turn_of_its_own() -> None:
    """At 99 rules over 1,000 domains the body is 15 MB: the writer's release (~15 ms)
    and the body's join (~12 ms) in one turn were the longest hold of the event loop in
    a scrape. Once the last family is collected, a task asking for the loop at every
    turn runs once per family written (10), and once more before the join: 11 times."""
    registry = CollectorRegistry()
    ten = _Ten()
    registry.register(ten)
    body, turns = await scraped_counting_turns(registry, lambda: ten.taken)
    assert body.endswith(b"sesd_test_9 9.0\n")
    assert turns == 10 + 1


async def test_a_scrape_leaves_nothing_for_the_collector_when_it_gives_it_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first collection after a scrape walks what is young and alive: if the
    writer's label texts were still held when collection came back on, a full one
    then walked them all (75-100 ms at 1,000 domains, no yield possible)."""
    pipeline = Pipeline(core_settings(parse_config("")))
    for d in range(100):
        for k in range(3):
            pipeline.feed(f.raw(f.delivery([f"u{k}@d{d}.example"], at=f.T0 + k)), "q", f.T0 + k)
        pipeline.feed(f.raw(f.delay([f"x@d{d}.example"], expires=f.T0 + 3600)), "q", f.T0)
    metrics = Metrics(pipeline.ledger, ["q"], lambda: f.T0 + 60)
    young_at_enable: list[int] = []
    enable = gc.enable

    def noting_enable() -> None:
        young_at_enable.append(len(gc.get_objects(generation=0)))
        enable()

    monkeypatch.setattr(gc, "enable", noting_enable)
    gc.collect()
    body = await render_async(metrics.registry)
    assert body.count(b'domain="d99.example"') > 10
    assert len(young_at_enable) == 1
    assert young_at_enable[0] < 500, young_at_enable


def _readme_families() -> dict[str, tuple[str, set[str]]]:
    """README's metrics table: family name -> (type, label names). Counters are named
    without ``_total`` as the parser names them; a label is a backticked word before
    any parenthesis or colon in the labels column."""
    text = (Path(__file__).parent.parent / "README.md").read_text()
    found: dict[str, tuple[str, set[str]]] = {}
    for line in text.splitlines():
        if not line.startswith(("| `sesd_", "| `process_", "| `python_")):
            continue
        names, kind, labels = (cell.strip() for cell in line.strip("|").split("|")[:3])
        head = re.split(r"[(:]", labels, maxsplit=1)[0]
        for name in re.findall(r"`((?:sesd|process|python)_\w+)`", names):
            family = name.removesuffix("_total") if kind == "counter" else name
            found[family] = (kind, set(re.findall(r"`(\w+)`", head)))
    # Documented under the table, as `NAME{label,...}`: the message-tag breakdown. Read
    # from README too, so that dropping them there fails the check; their type is what
    # the name says (a counter's ends in _total).
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    below = "\n".join(line for line in section.splitlines() if not line.startswith("|"))
    for name, labels in re.findall(r"`(sesd_\w+)\{([\w,]+)\}`", below):
        kind = "counter" if name.endswith("_total") else "gauge"
        found[name.removesuffix("_total")] = (kind, set(labels.split(",")))
    assert {"sesd_tag_recipient_events", "sesd_window_tag_delay_ratio"} <= set(found)
    return found


def test_every_family_readme_lists_is_exposed_as_documented() -> None:
    """With every feature on and traffic of every kind, each family README's metrics
    table lists is in the exposition, with samples, of its documented type and with
    exactly its documented labels; and nothing is exposed that README does not list."""
    from tests.test_promtool_metrics import busy_daemon

    documented = _readme_families()
    assert len(documented) >= 35
    text = render(busy_daemon().metrics.registry.collect()).decode()
    exposed = {family.name: family for family in text_string_to_metric_families(text)}
    for name, (kind, labels) in documented.items():
        assert name in exposed, name
        family = exposed[name]
        assert family.type == kind, (name, family.type)
        assert family.samples, name
        for sample in family.samples:
            assert set(sample.labels) - {"le", "quantile"} == labels, (name, sample)
    assert set(exposed) <= set(documented), set(exposed) - set(documented)


def test_histogram_buckets_as_the_exposition_wants_them() -> None:
    """Cumulative counts per bound, the last one labelled +Inf."""
    histogram = FixedHistogram((1.0, 5.0))
    for value in (0.5, 1.0, 3.0, 9.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("1.0", 2), ("5.0", 3), ("+Inf", 4)]
    assert histogram.sum == 13.5


def test_a_rows_family_has_the_samples_prometheus_client_families_have() -> None:
    """A family kept as rows reads, through ``samples`` (what get_sample_value and
    generate_latest see), exactly as prometheus_client's own families of the same
    content; and sesd's writer gives the same text for both."""
    from prometheus_client.core import CounterMetricFamily, SummaryMetricFamily

    from sesd.metrics.exposition import render
    from sesd.metrics.rows import Rows

    rows = Rows("sesd_things", "Things.", "counter", ["domain", "kind"])
    rows.add(("a.example", 'odd "kind"\n'), 3)
    theirs = CounterMetricFamily("sesd_things", "Things.", labels=["domain", "kind"])
    theirs.add_metric(["a.example", 'odd "kind"\n'], 3)
    assert rows.samples == theirs.samples
    assert render([rows]) == render([theirs])

    summary = Rows("sesd_seconds", "Seconds.", "summary", ["domain", "window"])
    summary.add_summary(("a.example", "5m"), [("0.5", 1.5), ("0.95", 4.0)], 7, 12.5)
    expected = SummaryMetricFamily("sesd_seconds", "Seconds.", labels=["domain", "window"])
    for quantile, value in (("0.5", 1.5), ("0.95", 4.0)):
        labels = {"domain": "a.example", "window": "5m", "quantile": quantile}
        expected.add_sample("sesd_seconds", labels, value)
    expected.add_metric(["a.example", "5m"], 7, 12.5)
    assert summary.samples == expected.samples
    assert render([summary]) == render([expected])
    with pytest.raises(TypeError):
        summary.samples = list(expected.samples)


@pytest.mark.parametrize("typ", ["info", "histogram", "gaugehistogram", "stateset", "unknown"])
def test_a_rows_family_of_a_type_it_cannot_write_is_refused(typ: str) -> None:
    """Rows writes counters, gauges and summaries only: an info family's rows would be
    exposed under ``NAME_info`` with samples named ``NAME``, a histogram's without its
    buckets. Asked for one, it is refused as it is made, naming the type, rather than
    scraped as text Prometheus rejects."""
    from sesd.metrics.rows import Rows

    with pytest.raises(ValueError, match=typ):
        Rows("sesd_things", "Things.", typ, ["domain"])
    for kind in ("counter", "gauge", "summary"):
        assert Rows("sesd_things", "Things.", kind, ["domain"]).type == kind
