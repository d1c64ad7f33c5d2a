"""A label whose last step left it inactive is not measured again until something it
reads has changed: a write to its windows, the bucket the clock is in (where a bucket
that entered or left its window holds something: tests/test_quiet_buckets.py), its
pending count (for a rule on pending delays, the one metric that reads it), or the
rules. Each test changes one of them and no other, and shows the step then sees it;
the last compares whole runs with an evaluator that measures every label at every
step."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.windows import DomainWindows
from tests import factory as f
from tests.test_rules import built

EXAMPLES = 20 if os.environ.get("SESD_MUTATION") else 100
RATIO = (
    '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\n'
    'window = "5m"\nabove = 0.5\nclear_below = 0.4\nmin_events = 1\ndomains = ["*"]\n'
)
#: A rule on pending delays, beside RATIO's: the one metric that reads pending counts.
STUCK = (
    '[[alerts.rules]]\nname = "stuck"\nmetric = "pending_delays"\nwindow = "5m"\nabove = 2\n'
    'domains = ["*"]\n'
)
#: The 5m window's buckets are 10 s wide (the default windows): T0 + 2 and T0 + 8 are
#: in one bucket, T0 + 12 in the next.
T0 = f.T0 - f.T0 % 10


def deliver(pipeline: Pipeline, n: int, at: float, now: float, domain: str = "a.example") -> None:
    for i in range(n):
        pipeline.feed(f.raw(f.delivery([f"ok{i}-{at}@{domain}"], at=at)), "q", now)


def delay(
    pipeline: Pipeline, n: int, at: float, now: float, expires: float, domain: str = "a.example"
) -> None:
    for i in range(n):
        event = f.delay([f"d{i}-{at}@{domain}"], at=at, expires=expires)
        pipeline.feed(f.raw(event), "q", now)


def test_a_write_in_the_same_bucket_is_seen() -> None:
    """Below the threshold; then three recipients delayed in the same bucket whose
    delays have expired already (more delays counted, the pending count as it was):
    the next step, in that bucket still, fires."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 3, T0 + 1, T0 + 1)
    first = f.delay(["late@a.example"], at=T0 + 1, expires=T0 + 3600, message_id="m1")
    pipeline.feed(f.raw(first), "q", T0 + 1)
    assert evaluator.evaluate(pipeline.ledger, T0 + 2) == []
    for second in (3, 4, 5):
        over = f.delay([f"gone{second}@a.example"], at=T0 + second, expires=T0 + second)
        pipeline.feed(f.raw(over), "q", T0 + second)
    assert pipeline.ledger.pending.count("a.example", T0 + 8) == 1
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 8)
    assert (alert.domain, alert.kind.value, alert.value) == ("a.example", "firing", 4 / 7)


def test_a_bucket_leaving_the_window_is_seen() -> None:
    """Deliveries early in the window, delays late: no write after the first step, but
    once the deliveries' bucket leaves the window the ratio is the delays' alone, and
    the step that reads it fires."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 9, T0 + 1, T0 + 1)
    delay(pipeline, 3, T0 + 200, T0 + 200, expires=T0 + 3600)
    assert evaluator.evaluate(pipeline.ledger, T0 + 290) == []
    assert evaluator.evaluate(pipeline.ledger, T0 + 295) == []  # the same bucket
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 302)
    assert (alert.kind.value, alert.value) == ("firing", 1.0)


def test_a_pending_count_that_changes_is_seen() -> None:
    """Pending delays that expire between two steps in one bucket, with no write: the
    state holds the new count (what the status page shows)."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "stuck"\n'
        'metric = "pending_delays"\nwindow = "5m"\nabove = 5\ndomains = ["*"]\n'
    )
    pipeline, evaluator = built(config)
    delay(pipeline, 3, T0 + 1, T0 + 1, expires=T0 + 5)
    evaluator.evaluate(pipeline.ledger, T0 + 2)
    assert evaluator.states["stuck"]["a.example"].value == 3.0
    evaluator.evaluate(pipeline.ledger, T0 + 8)
    state = evaluator.states["stuck"]["a.example"]
    assert (state.status, state.value) == (Status.INACTIVE, 0.0)


def test_a_pending_count_does_not_step_a_rule_that_does_not_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same expiry between two steps in one bucket, under a delay ratio (which
    counts delays in the window, not pending ones): the second step reads no window,
    and the value stays what it is."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 3, T0 + 1, T0 + 1)
    delay(pipeline, 1, T0 + 1, T0 + 1, expires=T0 + 5)
    reads = window_reads(monkeypatch)
    evaluator.evaluate(pipeline.ledger, T0 + 2)
    assert pipeline.ledger.pending.count("a.example", T0 + 8) == 0
    evaluator.evaluate(pipeline.ledger, T0 + 8)
    assert reads == [T0 + 2]
    state = evaluator.states["r"]["a.example"]
    assert (state.status, state.value) == (Status.INACTIVE, 1 / 4)


def test_a_rule_changed_under_its_name_is_seen() -> None:
    """A reload that lowers a rule's threshold, nothing else changed: the next step,
    in the same bucket, fires."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 6, T0 + 1, T0 + 1)
    delay(pipeline, 4, T0 + 1, T0 + 1, expires=T0 + 3600)
    assert evaluator.evaluate(pipeline.ledger, T0 + 2) == []
    lower = parse_config(RATIO.replace("above = 0.5", "above = 0.3").replace("0.4", "0.2"))
    assert evaluator.configure(lower.alerts, ["5m", "15m", "1h"], T0 + 3) == []
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 4)
    assert (alert.kind.value, alert.value) == ("firing", 0.4)


def test_an_evicted_label_leaves_nothing_behind() -> None:
    """Domains come and go: once a quiet domain is evicted and stepped without
    windows, the evaluator holds nothing of it (its memory stays bounded by the
    tracked domains, however many pass)."""
    config = parse_config(RATIO + '[domains]\nidle_evict = "1h"\n')
    pipeline, evaluator = built(config)
    deliver(pipeline, 3, T0 + 1, T0 + 1)
    evaluator.evaluate(pipeline.ledger, T0 + 2)
    assert "a.example" in evaluator._quiet["r"]
    later = T0 + 2 * 3600
    assert "a.example" in pipeline.housekeep(later)
    evaluator.evaluate(pipeline.ledger, later)
    assert evaluator._quiet.get("r", {}) == {}
    assert evaluator.states["r"] == {}


def test_a_quiet_label_does_not_hold_back_the_labels_after_it() -> None:
    """a.example, sorted first, is quiet; b.example crosses the threshold in the same
    bucket: it fires (a quiet label is passed over, not the end of the rule's labels)."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 3, T0 + 1, T0 + 1, "a.example")
    deliver(pipeline, 3, T0 + 1, T0 + 1, "b.example")
    assert evaluator.evaluate(pipeline.ledger, T0 + 2) == []
    delay(pipeline, 9, T0 + 3, T0 + 3, expires=T0 + 3600, domain="b.example")
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 4)
    assert (alert.domain, alert.kind.value) == ("b.example", "firing")
    assert "a.example" in evaluator._quiet["r"]


def test_a_providers_pending_count_is_its_own() -> None:
    """A provider rule reads the provider's pending count, not a domain's of that
    name: three delayed recipients at two domains of one provider are three."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "stuck"\n'
        'metric = "pending_delays"\nwindow = "5m"\nabove = 2\nproviders = ["google"]\n'
    )
    pipeline, evaluator = built(config)
    assert pipeline.ledger.providers is not None
    for domain in ("one.example", "two.example"):
        pipeline.ledger.providers.remember(domain, "google", T0 + 86400)
    delay(pipeline, 2, T0 + 1, T0 + 1, expires=T0 + 3600, domain="one.example")
    delay(pipeline, 1, T0 + 1, T0 + 1, expires=T0 + 3600, domain="two.example")
    (alert,) = evaluator.evaluate(pipeline.ledger, T0 + 2)
    assert (alert.domain, alert.kind.value, alert.value) == ("google", "firing", 3.0)


#: A step: write deliveries or delays (how many, seconds after the last step), or
#: evaluate (seconds after the last step).
steps = st.lists(
    st.tuples(
        st.sampled_from(["deliver", "delay", "evaluate"]),
        st.integers(0, 9),
        st.integers(0, 40),
        st.sampled_from(["a.example", "b.example"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_runs_are_as_if_every_label_were_measured_at_every_step(
    steps: list[tuple[str, int, int, str]],
) -> None:
    """Any run of writes and steps: the same alerts, at the same steps, with the same
    values, as an evaluator that forgets what it read before each step; under a delay
    ratio and under a rule on pending delays, which alone reads pending counts."""
    ratio = RATIO.replace("min_events = 1", 'min_events = 3\nfor = "20s"')
    config = parse_config(ratio + STUCK)
    pipeline = Pipeline(core_settings(config))
    quiet, measured = (Evaluator(config.alerts, ["5m", "15m", "1h"]) for _ in range(2))
    now = T0
    for kind, n, gap, domain in steps:
        now += gap
        if kind == "deliver":
            deliver(pipeline, n, now, now, domain)
        elif kind == "delay":
            delay(pipeline, n, now, now, expires=now + 25, domain=domain)
        else:
            measured._quiet.clear()
            got = [
                (a.rule, a.domain, a.kind, a.value) for a in quiet.evaluate(pipeline.ledger, now)
            ]
            want = [
                (a.rule, a.domain, a.kind, a.value) for a in measured.evaluate(pipeline.ledger, now)
            ]
            assert got == want
            for rule in ("r", "stuck"):
                assert {d: (s.status, s.value) for d, s in quiet.states[rule].items()} == {
                    d: (s.status, s.value) for d, s in measured.states[rule].items()
                }


def _write(kind: str, pipeline: Pipeline, i: int, at: float) -> None:
    """One write of a kind, the ``i``-th: each changes the rule's value again."""
    if kind == "delivery":
        deliver(pipeline, 1, at, at)
    elif kind == "bounce":
        pipeline.feed(f.raw(f.bounce([f"b{i}@a.example"], at=at)), "q", at)
    elif kind == "suppressed":
        event = f.bounce([f"s{i}@a.example"], at=at, subkind="OnAccountSuppressionList")
        pipeline.feed(f.raw(event), "q", at)
    else:  # a delay that ends: its duration is observed
        event = f.delivery([f"late{i}@a.example"], at=at, message_id=f"late{i}")
        pipeline.feed(f.raw(event), "q", at)


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("delivery", 'metric = "delay_ratio"\nabove = 0.9'),
        ("bounce", 'metric = "bounce_ratio"\nabove = 0.9'),
        ("suppressed", 'metric = "bounce_ratio"\nabove = 0.9\ninclude_suppressed = true'),
        ("duration", 'metric = "delay_duration_p95_seconds"\nabove = 99999'),
    ],
)
def test_each_kind_of_write_is_seen_however_many(kind: str, rule: str) -> None:
    """Steps in one bucket, each after one more write of a kind (a delivery, a bounce,
    a suppressed address, the end of a delay): each step's value is the one an
    evaluator that measures every step finds, and it moves with every write."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "r"\nwindow = "5m"\n'
        f'min_events = 1\ndomains = ["*"]\n{rule}\n'
    )
    pipeline = Pipeline(core_settings(config))
    quiet, measured = (Evaluator(config.alerts, ["5m", "15m", "1h"]) for _ in range(2))
    for i in range(4):
        event = f.delay([f"late{i}@a.example"], at=T0 + 1 - 60 * i, message_id=f"late{i}")
        pipeline.feed(f.raw(event), "q", T0 + 1)
    deliver(pipeline, 4, T0 + 1, T0 + 1)
    values = []
    for i in range(4):
        _write(kind, pipeline, i, T0 + 2 + i)
        measured._quiet.clear()
        quiet.evaluate(pipeline.ledger, T0 + 2 + i)
        measured.evaluate(pipeline.ledger, T0 + 2 + i)
        values.append(quiet.states["r"]["a.example"].value)
        assert values[-1] == measured.states["r"]["a.example"].value
    assert len(set(values)) == 4


def window_reads(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The times at which a label's windows are read for counts from now on (a step
    that passes a label over reads none), appended as they come."""
    reads: list[float] = []
    counts = DomainWindows.counts

    def counted(self: DomainWindows, index: int, now: float) -> tuple[int, ...]:
        reads.append(now)
        return counts(self, index, now)

    monkeypatch.setattr(DomainWindows, "counts", counted)
    return reads


def test_a_label_nothing_touched_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the skipping is for: a second step in the same bucket, with nothing
    written, reads no window; a write makes the next step read it again."""
    pipeline, evaluator = built(parse_config(RATIO))
    deliver(pipeline, 4, T0 + 1, T0 + 1)
    reads = window_reads(monkeypatch)
    evaluator.evaluate(pipeline.ledger, T0 + 2)
    evaluator.evaluate(pipeline.ledger, T0 + 3)
    deliver(pipeline, 1, T0 + 4, T0 + 4)
    evaluator.evaluate(pipeline.ledger, T0 + 5)
    assert reads == [T0 + 2, T0 + 5]


@pytest.mark.parametrize(("include", "value"), [("false", 0.2), ("true", 2 / 6)])
def test_suppressed_addresses_count_as_bounced_only_where_the_rule_asks(
    include: str, value: float
) -> None:
    """Four deliveries, a bounce and an address on the suppression list: a bounce
    ratio that leaves suppressed addresses out reads one bounce in five; one that
    asks for them, two in six."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "r"\nwindow = "5m"\n'
        f'min_events = 1\ndomains = ["*"]\nmetric = "bounce_ratio"\nabove = 0.9\n'
        f"include_suppressed = {include}\n"
    )
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    deliver(pipeline, 4, T0 + 1, T0 + 1)
    _write("bounce", pipeline, 0, T0 + 2)
    _write("suppressed", pipeline, 0, T0 + 2)
    evaluator.evaluate(pipeline.ledger, T0 + 3)
    assert evaluator.states["r"]["a.example"].value == pytest.approx(value)
