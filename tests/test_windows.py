"""Sliding windows in event time: buckets, boundaries, ratios, quantiles (SPEC 4)."""

from __future__ import annotations

from array import array

import pytest

from sesd.config import Duration
from sesd.events import EVENT_TYPE_INDEX
from sesd.sketch import (
    add,
    add_index,
    bucket_of,
    items,
    new_sketch,
    quantile_of,
    restore,
    snapshot,
)
from sesd.windows import DomainWindows, window_specs

DELIVERY = EVENT_TYPE_INDEX["delivery"]
DELAY = EVENT_TYPE_INDEX["delivery_delay"]
BOUNCE = EVENT_TYPE_INDEX["bounce"]
SPECS = window_specs([Duration("5m"), Duration("15m"), Duration("1h")], Duration("10s"), 30)


def test_default_layout() -> None:
    """5m in 10 s buckets; longer windows widen their buckets to at most 30 of them."""
    assert [(s.name, s.width, s.slots) for s in SPECS] == [
        ("5m", 10, 30),
        ("15m", 30, 30),
        ("1h", 120, 30),
    ]
    literal = window_specs([Duration("1h")], Duration("10s"), 360)
    assert (literal[0].width, literal[0].slots) == (10, 360)


def test_events_leave_the_window_at_the_bucket_boundary() -> None:
    """An event counts until its bucket falls out of the window, then not at all."""
    w = DomainWindows(SPECS)
    t = 1200.0  # the start of a bucket in every window
    w.count(t, t, DELIVERY)
    assert w.figures(0, t + 299).count("delivery") == 1
    assert w.figures(0, t + 300 - 0.001).count("delivery") == 1
    assert w.figures(0, t + 300).count("delivery") == 0  # its bucket left the window
    assert w.figures(1, t + 899).count("delivery") == 1
    assert w.figures(1, t + 900).count("delivery") == 0
    assert w.figures(2, t + 3599).count("delivery") == 1
    assert w.figures(2, t + 3600).count("delivery") == 0


def test_an_event_leaves_with_its_bucket() -> None:
    """Mid-bucket events leave when their bucket does: up to one bucket width early."""
    w = DomainWindows(SPECS)
    t = 1000.0  # in the 1h window's bucket [960, 1080)
    w.count(t, t, DELIVERY)
    assert w.figures(2, 960 + 3600 - 0.001).count("delivery") == 1
    assert w.figures(2, 960 + 3600).count("delivery") == 0


def test_late_events_count_only_where_they_fit() -> None:
    """An event older than a window's span counts in the longer windows only."""
    w = DomainWindows(SPECS)
    now = 10_000.0
    w.count(now - 600, now, DELAY)  # 10 minutes old
    assert w.figures(0, now).count("delivery_delay") == 0
    assert w.figures(1, now).count("delivery_delay") == 1
    assert w.figures(2, now).count("delivery_delay") == 1


def test_ratios() -> None:
    """delay, bounce, complaint and delivery ratios follow SPEC 4's definitions."""
    w = DomainWindows(SPECS)
    now = 5000.0
    w.count(now, now, DELIVERY, 90)
    w.count(now, now, DELAY, 10)
    w.count(now, now, BOUNCE, 10)
    w.count(now, now, EVENT_TYPE_INDEX["complaint"], 1)
    w.count(now, now, EVENT_TYPE_INDEX["send"], 120)
    figures = w.figures(0, now)
    assert figures.delay_ratio == pytest.approx(0.1)
    assert figures.bounce_ratio == pytest.approx(0.1)
    assert figures.complaint_ratio == pytest.approx(0.01)
    assert figures.delivery_ratio == pytest.approx(0.75)
    assert DomainWindows(SPECS).figures(0, now).delay_ratio is None


def test_running_totals_match_a_recount() -> None:
    """After many buckets rotate, the running totals equal a plain recount of the window."""
    w = DomainWindows(SPECS)
    events = [(t * 7.0, DELIVERY if t % 3 else DELAY) for t in range(2000)]
    for t, kind in events:
        w.count(t, t, kind)
    now = events[-1][0]
    for index, spec in enumerate(SPECS):
        head = int(now // spec.width)
        inside = [k for t, k in events if int(t // spec.width) > head - spec.slots]
        figures = w.figures(index, now)
        assert figures.count("delivery") == inside.count(DELIVERY)
        assert figures.count("delivery_delay") == inside.count(DELAY)


def test_quantiles_within_sketch_error() -> None:
    """p50/p95/p99 from log buckets are within 10% of the exact values."""
    sketch = new_sketch()
    values = [float(v) for v in range(1, 10_001)]
    for v in values:
        add(sketch, v)
    for q, exact in ((0.5, 5000), (0.95, 9500), (0.99, 9900)):
        estimate = quantile_of([(sketch, 1.0)], q)
        assert estimate is not None
        assert abs(estimate - exact) / exact < 0.10


def test_sketch_grows_both_ways_and_round_trips() -> None:
    """Buckets below and above the occupied range widen it; the state file form is
    {offset, counts} as before, an empty sketch included."""
    sketch = new_sketch()
    assert list(items(sketch)) == []
    add_index(sketch, 10)
    add_index(sketch, 12, 3)
    add_index(sketch, 7, 2)
    assert list(items(sketch)) == [(7, 2), (10, 1), (12, 3)]
    data = snapshot(sketch)
    assert data == {"offset": 7, "counts": array("I", [2, 0, 0, 1, 0, 3]).tobytes()}
    assert list(items(restore(data))) == [(7, 2), (10, 1), (12, 3)]
    assert snapshot(new_sketch()) == {"offset": 0, "counts": b""}
    assert list(items(restore({"offset": 5, "counts": b""}))) == []


def test_processing_quantiles_per_window() -> None:
    """Processing-time quantiles come per window and fade out with the window."""
    w = DomainWindows(SPECS)
    now = 600.0
    for i in range(100):
        w.delivered(now, now, bucket_of(1000.0 + i * 10), bucket_of(2000.0))
    p50, p95, _ = w.figures(0, now).processing_ms
    assert p50 is not None
    assert 1400 < p50 < 1650
    assert p95 is not None
    assert 1800 < p95 < 2100
    assert w.figures(0, now + 700).processing_ms == (None, None, None)
    assert w.figures(2, now + 700).processing_ms[0] is not None


def test_breakdown_for_alert_text() -> None:
    """Delay types, SMTP codes, MTAs and example message ids are kept, most common first."""
    w = DomainWindows(SPECS)
    now = 100.0
    for i in range(7):
        w.note_problem(
            now,
            now,
            message_id=f"m{i}",
            source="arn:aws:ses:eu-west-1:1:identity/x",
            config_set="cs",
            delay_type="MailboxFull" if i < 5 else "SpamDetected",
            statuses=["4.2.2"],
            diagnostics=["smtp; 452 mailbox full"],
            mta="mx.a",
        )
    top = w.breakdown(0, now)
    assert top.delay_types == [("MailboxFull", 5), ("SpamDetected", 2)]
    assert top.statuses == [("4.2.2", 7)]
    assert top.mtas == [("mx.a", 7)]
    assert len(top.message_ids) == 5
    assert top.sources == ["arn:aws:ses:eu-west-1:1:identity/x"]
    assert top.config_sets == ["cs"]
    assert w.breakdown(0, now + 400).delay_types == []  # gone with the window
