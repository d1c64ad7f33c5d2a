"""A quiet label (its last step left it inactive) whose clock has moved into another
bucket, nothing written since, is measured again only when a bucket that entered or
left its window holds something: a count, the counts still staged, or, for a rule
that reads them, a value (a quantile's, a cause's, a suppressed address). Most quiet
domains' buckets are empty; each test here moves the clock over one that is not,
and the last compares whole runs, late events and clock steps back included, with
an evaluator that measures every label at every step."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.test_quiet_labels import RATIO, T0, delay, deliver, window_reads
from tests.test_rules import built

EXAMPLES = 20 if os.environ.get("SESD_MUTATION") else 150
REPUTATION = "smtp; 451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited"
#: Rules on both kinds of read, on windows of 10 s and of 120 s buckets (the 1h
#: window's stage is a tenth of a bucket: twelve stages write one bucket).
RULES = """
[alerts]
group_wait = "0s"
[[alerts.rules]]
name = "ratio"
metric = "delay_ratio"
window = "5m"
above = 0.5
clear_below = 0.3
min_events = 2
for = "20s"
[[alerts.rules]]
name = "suppressed"
metric = "bounce_ratio"
window = "5m"
above = 0.4
min_events = 1
include_suppressed = true
[[alerts.rules]]
name = "cause"
metric = "cause_ratio"
cause = "ip_reputation"
window = "1h"
above = 0.4
min_events = 2
[[alerts.rules]]
name = "duration"
metric = "delay_duration_p95_seconds"
window = "1h"
above = 30
[[alerts.rules]]
name = "hourly"
metric = "delay_ratio"
window = "1h"
above = 0.6
min_events = 3
"""


def suppressed(pipeline: Pipeline, at: float, now: float, tag: str = "") -> None:
    """A recipient a suppression list kept SES from sending to: a value, not a count."""
    event = f.bounce([f"s{tag}-{at}@a.example"], at=at, subkind="OnAccountSuppressionList")
    pipeline.feed(f.raw(event), "q", now)


def test_buckets_that_hold_nothing_are_moved_over_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """What it is for: deliveries in one bucket, and steps in the buckets after it read
    the window once; the step after that bucket (still staged) has left reads it again,
    and finds the window empty."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 4, T0 + 1, T0 + 1)
    reads = window_reads(monkeypatch)
    for now in (T0 + 2, T0 + 12, T0 + 25, T0 + 150, T0 + 299, T0 + 302, T0 + 312):
        evaluator.evaluate(pipeline.ledger, now)
    assert reads == [T0 + 2, T0 + 302]
    assert evaluator.states["r"]["a.example"].value is None


def test_values_alone_leaving_are_seen_by_a_rule_that_reads_them() -> None:
    """A suppressed address (a value, no count) in the first bucket, deliveries after
    it: once its bucket leaves, a bounce ratio counting suppressed addresses is 0."""
    config = parse_config(RULES)
    pipeline, evaluator = built(config)
    suppressed(pipeline, T0 + 1, T0 + 1)
    deliver(pipeline, 3, T0 + 100, T0 + 100)
    assert evaluator.evaluate(pipeline.ledger, T0 + 290) == []
    assert evaluator.states["suppressed"]["a.example"].value == 0.25
    evaluator.evaluate(pipeline.ledger, T0 + 302)
    assert evaluator.states["suppressed"]["a.example"].value == 0.0


def test_a_clock_stepped_back_before_a_bucket_is_seen() -> None:
    """Deliveries, then delays ten buckets later; the clock steps back between the two:
    the delays' bucket is ahead of it, outside the window, and the ratio is 0."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 3, T0 + 1, T0 + 1)
    delay(pipeline, 1, T0 + 100, T0 + 100, expires=T0 + 3600)
    assert evaluator.evaluate(pipeline.ledger, T0 + 105) == []
    assert evaluator.states["r"]["a.example"].value == 0.25
    evaluator.evaluate(pipeline.ledger, T0 + 50)
    assert evaluator.states["r"]["a.example"].value == 0.0


def test_a_staged_bucket_of_values_alone_entering_is_seen() -> None:
    """Deliveries, then suppressed addresses in the next bucket, still staged (values,
    no counts); the clock stepped back before that bucket: a bounce ratio counting
    them is 0 and quiet. Back in their bucket it fires: they count again."""
    pipeline, evaluator = built(parse_config(RULES))
    deliver(pipeline, 3, T0 + 281, T0 + 281)
    for i in range(3):
        suppressed(pipeline, T0 + 301, T0 + 301, str(i))
    assert evaluator.evaluate(pipeline.ledger, T0 + 291) == []
    assert evaluator.states["suppressed"]["a.example"].value == 0.0
    fired = evaluator.evaluate(pipeline.ledger, T0 + 302)
    assert [(a.rule, a.value) for a in fired] == [("suppressed", 0.5)]


def test_staged_counts_leaving_the_hour_window_are_seen() -> None:
    """Delays, then deliveries an hour old written after them (a late batch: the stage
    holds them, in a bucket the 5m window has left already). Once that bucket leaves
    the hour window too, the delays alone are left and the hourly ratio fires."""
    pipeline, evaluator = built(parse_config(RULES))
    # Mid-way through a 120 s bucket: the stage's 10 s bucket is not its first.
    at = T0 - T0 % 120 + 61
    delay(pipeline, 3, at + 600, at + 600, expires=at + 86400)
    deliver(pipeline, 4, at, at + 600)
    assert evaluator.evaluate(pipeline.ledger, at + 605) == []
    assert evaluator.states["hourly"]["a.example"].value == pytest.approx(3 / 7)
    fired = evaluator.evaluate(pipeline.ledger, at + 3600 + 120)
    assert [(a.rule, a.value) for a in fired] == [("hourly", 1.0)]


def test_a_bucket_left_long_ago_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries in the oldest bucket the ring holds and in its newest; the clock
    moves past the newest, over empty buckets: the window is read once, not again at
    each bucket for the oldest one, which left it before the first read."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 2, T0 + 1, T0 + 1)
    deliver(pipeline, 2, T0 + 291, T0 + 291)
    reads = window_reads(monkeypatch)
    for now in (T0 + 305, T0 + 315, T0 + 325, T0 + 335):
        evaluator.evaluate(pipeline.ledger, now)
    assert reads == [T0 + 305]
    assert evaluator.states["r"]["a.example"].value == 0.0


def _write(pipeline: Pipeline, kind: str, n: int, at: float, now: float, domain: str) -> None:
    """``n`` writes of a kind at event time ``at``, read at ``now``."""
    for i in range(n):
        tag = f"{i}-{at}-{now}"
        if kind == "deliver":
            deliver(pipeline, 1, at, now, domain)
        elif kind == "delay":
            event = f.delay([f"d{tag}@{domain}"], at=at, expires=at + 25, diagnostic=REPUTATION)
            pipeline.feed(f.raw(event), "q", now)
        elif kind == "suppressed":
            event = f.bounce([f"s{tag}@{domain}"], at=at, subkind="OnAccountSuppressionList")
            pipeline.feed(f.raw(event), "q", now)
        else:  # a delay that ends: its duration is observed
            for event in (
                f.delay([f"e{tag}@{domain}"], at=at - 40, message_id=f"e{tag}"),
                f.delivery([f"e{tag}@{domain}"], at=at, message_id=f"e{tag}"),
            ):
                pipeline.feed(f.raw(event), "q", now)


#: A step: a write (of a kind, how many, seconds after the last step, how many seconds
#: late its events are, to which domain), or an evaluation (the clock moved by as many
#: seconds: back too).
steps = st.lists(
    st.tuples(
        st.sampled_from(["deliver", "delay", "suppressed", "ended", "evaluate", "evaluate"]),
        st.integers(0, 3),
        st.integers(-40, 90),
        st.sampled_from([0, 0, 5, 60, 400]),
        st.sampled_from(["a.example", "b.example"]),
    ),
    min_size=1,
    max_size=50,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_runs_are_as_if_every_label_were_measured_at_every_step(
    steps: list[tuple[str, int, int, int, str]],
) -> None:
    """Any run of writes (late ones too) and steps (the clock moving either way): the
    same alerts with the same values, and the same states, as an evaluator that
    forgets what it read before each step."""
    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    quiet, measured = (Evaluator(config.alerts, ["5m", "15m", "1h"]) for _ in range(2))
    now = T0
    for kind, n, gap, late, domain in steps:
        now += gap
        if kind != "evaluate":
            _write(pipeline, kind, n, now - late, now, domain)
            continue
        measured._quiet.clear()
        got, want = (
            [(a.rule, a.domain, a.kind, a.value) for a in e.evaluate(pipeline.ledger, now)]
            for e in (quiet, measured)
        )
        assert got == want
        for rule, states in quiet.states.items():
            assert {d: (s.status, s.value) for d, s in states.items()} == {
                d: (s.status, s.value) for d, s in measured.states[rule].items()
            }
