"""Alert rules: the pure state machine, the evaluator over a pipeline (grouping,
repeats, resolves, the domains a rule watches, where an alert places a delay) and
every rule metric."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status, Transition, measure, step
from sesd.config import Config, RuleConfig, core_settings, parse_config
from sesd.core.events import EVENT_TYPES
from sesd.core.pipeline import Pipeline
from sesd.core.windows import Figures, Summary
from tests import factory as f

HOUR = 3600.0
NOW = f.T0 + 10


def rule(**overrides: object) -> RuleConfig:
    fields = {
        "name": "r",
        "metric": "delay_ratio",
        "window": "5m",
        "above": 0.1,
        "clear_below": 0.05,
        "min_events": 10,
    }
    fields.update(overrides)
    body = "\n".join(f"{k} = {_toml(v)}" for k, v in fields.items())
    return parse_config(f"[[alerts.rules]]\n{body}\n").alerts.rules[0]


def _toml(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def run(
    r: RuleConfig,
    values: Sequence[float | None],
    *,
    volume: int = 100,
    dt: float = 5.0,
    repeat: float = 4 * HOUR,
) -> list[tuple[float, Transition]]:
    state, out = AlertState(), []
    for i, value in enumerate(values):
        transition = step(r, state, value, volume, i * dt, repeat)
        if transition is not None:
            out.append((i * dt, transition))
    return out


def test_fires_at_once_with_no_for() -> None:
    """for = 0: the first breaching evaluation fires."""
    assert run(rule(), [0.0, 0.2]) == [(5.0, Transition.FIRING)]


def test_for_delays_firing_and_a_dip_restarts_it() -> None:
    """The breach must hold for `for`; a dip below `above` while pending starts over."""
    r = rule(**{"for": "10s"})
    assert run(r, [0.2, 0.2, 0.2]) == [(10.0, Transition.FIRING)]
    assert run(r, [0.2, 0.2, 0.0, 0.2, 0.2]) == []
    assert run(r, [0.2, 0.2, 0.0, 0.2, 0.2, 0.2]) == [(25.0, Transition.FIRING)]


def test_for_held_a_tenth_of_a_tick_short_has_held() -> None:
    """Evaluations every 5 s on a wall clock slewed 1% slow read 4.95 s apart: ``for =
    "10s"`` fires at the third (9.9 s read), not a tick later. Shorter by more than a
    tenth of a tick (9.4 s) has not held; without ticks (``tick`` 0) ``for`` is exact."""
    r = rule(**{"for": "10s"})

    def steps(times: list[float], tick: float) -> list[Transition | None]:
        state = AlertState()
        return [step(r, state, 0.2, 100, t, 4 * HOUR, tick=tick) for t in times]

    assert steps([0.0, 4.95, 9.9], tick=5.0) == [None, None, Transition.FIRING]
    assert steps([0.0, 4.7, 9.4], tick=5.0) == [None, None, None]
    assert steps([0.0, 4.95, 9.9], tick=0.0) == [None, None, None]


def test_a_repeat_due_a_tenth_of_a_tick_early_is_sent_at_that_tick() -> None:
    """Evaluations every 5 s on a wall clock slewed 1% slow read 4.95 s apart: with
    ``repeat_interval`` 10 s the repeat goes at the tick that reads 9.9 s after the
    firing, not one tick late, as ``for`` does. Shorter by more than a tenth of a tick
    (9.4 s) is not due; without ticks (``tick`` 0) the interval is exact."""
    r = rule()

    def steps(times: list[float], tick: float) -> list[Transition | None]:
        state = AlertState()
        return [step(r, state, 0.2, 100, t, 10.0, tick=tick) for t in times]

    fired, repeat = Transition.FIRING, Transition.REPEAT
    assert steps([0.0, 4.95, 9.9], tick=5.0) == [fired, None, repeat]
    assert steps([0.0, 4.7, 9.4], tick=5.0) == [fired, None, None]
    assert steps([0.0, 4.95, 9.9], tick=0.0) == [fired, None, None]


def test_hysteresis_holds_until_clear_below() -> None:
    """A firing alert stays firing between clear_below and above; it resolves below clear_below."""
    assert run(rule(), [0.2, 0.08, 0.06, 0.11, 0.07, 0.04]) == [
        (0.0, Transition.FIRING),
        (25.0, Transition.RESOLVED),
    ]


def test_flapping_input_does_not_flap_the_alert() -> None:
    """A value oscillating around `above` gives one firing and no resolve."""
    values = [0.12 if i % 2 else 0.09 for i in range(40)]
    assert run(rule(), values) == [(5.0, Transition.FIRING)]


def test_too_few_events_never_fire() -> None:
    """Below min_events a 100% delay ratio does not fire."""
    assert run(rule(), [1.0] * 10, volume=9) == []
    assert run(rule(), [1.0], volume=10) == [(0.0, Transition.FIRING)]


def test_no_data_resolves() -> None:
    """When the window empties (no value), a firing alert resolves."""
    assert run(rule(), [0.5, None]) == [(0.0, Transition.FIRING), (5.0, Transition.RESOLVED)]


def test_repeat_while_firing() -> None:
    """While firing, a repeat is due every repeat_interval, not more often."""
    out = run(rule(), [0.5] * 13, dt=10.0, repeat=30.0)
    assert out == [
        (0.0, Transition.FIRING),
        (30.0, Transition.REPEAT),
        (60.0, Transition.REPEAT),
        (90.0, Transition.REPEAT),
        (120.0, Transition.REPEAT),
    ]


def test_clear_below_defaults_to_above() -> None:
    """Without clear_below the alert resolves as soon as the value is at or below above."""
    fields = {"name": "r", "metric": "delay_ratio", "window": "5m", "above": 0.1}
    body = "\n".join(f"{k} = {_toml(v)}" for k, v in fields.items())
    r = parse_config(f"[[alerts.rules]]\n{body}\n").alerts.rules[0]
    assert r.clear_threshold == 0.1
    assert run(r, [0.2, 0.1]) == [(0.0, Transition.FIRING), (5.0, Transition.RESOLVED)]
    # "above = 0" (any at all) resolves when the value is back to 0.
    zero = parse_config(
        '[[alerts.rules]]\nname = "z"\nmetric = "pending_delays"\nwindow = "5m"\nabove = 0\n'
    ).alerts.rules[0]
    assert run(zero, [3.0, 0.0]) == [(0.0, Transition.FIRING), (5.0, Transition.RESOLVED)]
    # Leaving clear_below out is exactly clear_below = above, at the boundary too.
    for values in ([0.2, 0.1], [0.2, 0.1 + 1e-9, 0.1], [0.2, 0.2, 0.1 - 1e-9], [0.2, None]):
        assert run(r, values) == run(rule(clear_below=0.1, min_events=0), values)


def test_hysteresis_boundary() -> None:
    """A firing alert keeps firing just above clear_below and resolves at exactly it."""
    assert run(rule(), [0.2, 0.05 + 1e-9, 0.05]) == [
        (0.0, Transition.FIRING),
        (10.0, Transition.RESOLVED),
    ]


# --- the evaluator over a pipeline ---------------------------------------------

CONFIG = """
[alerts]
group_wait = "30s"
[[alerts.rules]]
name = "delays"
metric = "delay_ratio"
window = "5m"
above = 0.2
clear_below = 0.1
min_events = 4
severity = "critical"
"""


def built(config: Config) -> tuple[Pipeline, Evaluator]:
    """A pipeline and an evaluator of ``config`` (the default windows)."""
    return Pipeline(core_settings(config)), Evaluator(config.alerts, ["5m", "15m", "1h"])


def feed_spike(
    pipeline: Pipeline,
    domain: str,
    t: float,
    delayed: int,
    delivered: int,
    delay_type: str = "TransientCommunicationFailure",
) -> None:
    for i in range(delayed):
        pipeline.feed(
            f.raw(f.delay([f"d{i}@{domain}"], at=t, delay_type=delay_type, expires=t + HOUR)),
            "q",
            t,
        )
    for i in range(delivered):
        pipeline.feed(f.raw(f.delivery([f"ok{i}@{domain}"], at=t)), "q", t)


def test_alerts_of_one_rule_within_group_wait_are_one_notification() -> None:
    """Three domains breaching within group_wait go out together; a quiet domain does not."""
    config = parse_config(CONFIG)
    pipeline, evaluator = built(config)
    t = f.T0
    feed_spike(pipeline, "a.example", t, 5, 5)
    feed_spike(pipeline, "quiet.example", t, 0, 10)
    assert [a.domain for a in evaluator.evaluate(pipeline.ledger, t)] == ["a.example"]
    feed_spike(pipeline, "b.example", t + 10, 5, 5)
    feed_spike(pipeline, "c.example", t + 20, 5, 5)
    evaluator.evaluate(pipeline.ledger, t + 10)
    evaluator.evaluate(pipeline.ledger, t + 20)
    assert evaluator.due(t + 29) == []
    (notification,) = evaluator.due(t + 30)
    assert notification.kind is Transition.FIRING
    assert [a.domain for a in notification.alerts] == ["a.example", "b.example", "c.example"]
    assert notification.severity == "critical"
    assert sorted(evaluator.firing()) == [
        ("delays", d) for d in ("a.example", "b.example", "c.example")
    ]


def test_a_group_begun_before_a_clock_step_back_is_due_at_once() -> None:
    """A page waiting its group_wait when the wall clock steps back an hour goes out
    at the next evaluation, not an hour later."""
    config = parse_config(CONFIG)
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 5, 5)
    evaluator.evaluate(pipeline.ledger, f.T0)
    assert evaluator.due(f.T0 + 29) == []
    (notification,) = evaluator.due(f.T0 - 3600)
    assert [a.domain for a in notification.alerts] == ["a.example"]


def test_alert_carries_what_is_needed_to_act() -> None:
    """Counts, delay types, SMTP codes, MTAs, message ids, identity, region, config set."""
    config = parse_config(CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"'))
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.value == pytest.approx(0.6)
    assert alert.counts["delivery_delay"] == 6
    assert alert.counts["delivery"] == 4
    assert alert.breakdown.delay_types == [("TransientCommunicationFailure", 6)]
    assert alert.breakdown.statuses == [("4.4.1", 6)]
    assert alert.breakdown.mtas == [("a8-70.smtp-out.amazonses.com", 6)]  # "dsn; " dropped
    assert len(alert.breakdown.message_ids) == 5
    assert alert.regions == ["eu-west-1"]
    assert alert.breakdown.config_sets == ["ConfigSet"]
    assert alert.stage == "SES -> recipient MTA"
    assert not alert.internal
    assert alert.dedup_key == "sesd:delays:a.example"


def test_internal_delays_carry_the_aws_support_facts() -> None:
    """InternalFailure delays are flagged as inside SES."""
    config = parse_config(CONFIG)
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4, delay_type="InternalFailure")
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.internal
    assert alert.stage == "inside SES"


def test_a_bounce_alert_names_the_bounces_and_a_delay_alert_the_delays() -> None:
    """Both rules on one window with delays and hard bounces: each alert's SMTP codes
    and MTAs are its own events'."""
    config = parse_config(
        CONFIG + '[[alerts.rules]]\nname = "bounces"\nmetric = "bounce_ratio"\nwindow = "5m"\n'
        "above = 0.2\nmin_events = 4\n"
    )
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    for i in range(3):
        pipeline.feed(f.raw(f.bounce([f"b{i}@a.example"])), "q", f.T0)
    by_rule = {a.rule: a for a in evaluator.evaluate(pipeline.ledger, f.T0)}
    assert by_rule["delays"].breakdown.statuses == [("4.4.1", 6)]
    assert by_rule["bounces"].breakdown.statuses == [("5.1.1", 3)]
    assert by_rule["bounces"].breakdown.mtas == [("mta.example.com", 3)]
    # 3 bounced of 7 delivered or bounced; no suppressed recipient asked for, none added.
    assert by_rule["bounces"].value == pytest.approx(3 / 7)


def test_a_few_internal_delays_among_many_at_the_recipient_do_not_make_it_ses() -> None:
    """Three InternalFailure delays beside ten the recipient's MTA answered: the page
    points at the recipient's side, not at an AWS Support case, as does half of them;
    a majority of them points inside SES."""
    config = parse_config(CONFIG)
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 10, 4)
    for i in range(3):
        pipeline.feed(f.raw(f.delay([f"i{i}@a.example"], delay_type="InternalFailure")), "q", f.T0)
    feed_spike(pipeline, "b.example", f.T0, 3, 4)
    for i in range(4):
        pipeline.feed(f.raw(f.delay([f"i{i}@b.example"], delay_type="InternalFailure")), "q", f.T0)
    feed_spike(pipeline, "c.example", f.T0, 3, 4)
    for i in range(3):
        pipeline.feed(f.raw(f.delay([f"i{i}@c.example"], delay_type="InternalFailure")), "q", f.T0)
    by_domain = {a.domain: a for a in evaluator.evaluate(pipeline.ledger, f.T0)}
    for domain in ("a.example", "c.example"):
        assert (by_domain[domain].internal, by_domain[domain].stage) == (
            False, "SES -> recipient MTA",
        )  # fmt: skip
    assert (by_domain["b.example"].internal, by_domain["b.example"].stage) == (True, "inside SES")


def test_resolve_when_the_spike_leaves_the_window() -> None:
    """Once the delays age out of the window and deliveries continue, the alert resolves."""
    config = parse_config(CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"'))
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    evaluator.evaluate(pipeline.ledger, f.T0)
    later = f.T0 + 400
    feed_spike(pipeline, "a.example", later, 0, 20)
    (alert,) = evaluator.evaluate(pipeline.ledger, later)
    assert alert.kind is Transition.RESOLVED
    assert alert.since == f.T0
    assert evaluator.states["delays"]["a.example"].status is Status.INACTIVE


def test_rule_validation_errors() -> None:
    """Unknown metric, unknown sink, unconfigured sink, window not configured, bad hysteresis."""
    from sesd.config import ConfigError

    cases = {
        'metric = "latency"': "metric: 'latency' is unknown",
        'sinks = ["email"]': "(x).sinks[0]: sink 'email' is not configured (configured: console;",
        'sinks = ["slack"]': "(x).sinks[0]: sink 'slack' is not configured",
        'window = "10m"': "(x).window: '10m' is not one of windows.sizes",
        "clear_below = 0.5": "(x).clear_below: 0.5 is above `above` (0.2)",
    }
    base = {"name": '"x"', "metric": '"delay_ratio"', "window": '"5m"', "above": "0.2"}
    for line, message in cases.items():
        key = line.split(" = ")[0]
        fields = {**base, key: line.split(" = ", 1)[1]}
        text = "[[alerts.rules]]\n" + "\n".join(f"{k} = {v}" for k, v in fields.items())
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config(text)


def test_an_unknown_window_lists_the_windows_shortest_first() -> None:
    """The windows a rule may read are listed by duration, as written (sorted as text,
    1h came before 5m and 90s after 15m)."""
    from sesd.config import ConfigError

    text = (
        '[windows]\nsizes = ["1h", "90s", "15m", "5m"]\n'
        '[[alerts.rules]]\nname = "x"\nmetric = "delay_ratio"\nwindow = "10m"\nabove = 0.2\n'
    )
    with pytest.raises(ConfigError, match=r"is not one of windows\.sizes \(90s, 5m, 15m, 1h\)"):
        parse_config(text)


@pytest.mark.parametrize(
    ("metric", "threshold", "message"),
    [
        ("delay_ratio", "above = -1", "delay_ratio is never below 0, so the rule would fire"),
        ("delay_ratio", "above = 5", "a ratio is at most 1, so the rule would never fire"),
        ("delivery_ratio", "below = 0", "delivery_ratio is never below 0, so the rule would ne"),
        ("delivery_ratio", "below = 1.5", "a ratio is at most 1, so the rule would fire on every"),
        ("processing_p95_seconds", "above = -0.5", "is never below 0"),
        ("sending_paused", "above = 1", "sending_paused reads 1 or 0, so the rule would never"),
        ("reputation_impact", "above = 1", "reads 1 or 0, so the rule would never fire"),
        ("delay_ratio", "above = 0.2\nclear_below = -0.01", "a firing alert would never resolve"),
        ("delivery_ratio", "below = 0.95\nclear_above = 97", "is at most 1, so a firing alert"),
        # NaN compares false with everything: never fires, or resolves at every tick.
        ("delay_ratio", "above = nan", "above: nan: give a finite number"),
        ("delay_ratio", "above = 0.2\nclear_below = nan", "clear_below: nan: give a finite"),
        ("processing_p95_seconds", "above = inf", "above: inf: give a finite number"),
        ("delivery_ratio", "below = nan", "below: nan: give a finite number"),
        ("delivery_ratio", "below = 0.9\nclear_above = nan", "clear_above: nan: give a fin"),
        # Exclusions that leave nothing to watch.
        ("delay_ratio", 'above = 0.1\nexclude_domains = ["*"]', "leaves out every one of the do"),
        (
            "delay_ratio",
            'above = 0.1\ndomains = ["Gmail.com", "*.de"]\nexclude_domains = ["gmail.*", "*.de"]',
            "exclude_domains: leaves out every one of the domains the rule watches",
        ),
        ("delay_ratio", 'above = 0.1\nproviders = ["gmail"]\nexclude_providers = ["*"]', "every"),
        # A domain however written: the evaluator takes its label in normal form.
        (
            "delay_ratio",
            'above = 0.1\ndomains = ["Bücher.de"]\nexclude_domains = ["xn--bcher-kva.de"]',
            "leaves out every one of the domains",
        ),
        ("tenant_sending_paused", 'above = 0\nexclude_tenants = ["*"]', "leaves out every one"),
        # Stars alone are ``*``.
        ("delay_ratio", 'above = 0.1\nproviders = ["g*"]\nexclude_providers = ["**"]', "every"),
        ("tenant_sending_paused", 'above = 0\nexclude_tenants = ["***"]', "leaves out every one"),
    ],
)
def test_a_threshold_no_value_can_cross_or_every_value_crosses_is_refused(
    metric: str, threshold: str, message: str
) -> None:
    """A rule that would fire on any window with data, or never, or whose alert would
    never resolve while mail flows: refused at load."""
    from sesd.config import ConfigError

    text = f'[[alerts.rules]]\nname = "x"\nmetric = "{metric}"\nwindow = "5m"\n{threshold}\n'
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_exclusions_that_leave_a_name_to_watch_are_taken() -> None:
    """A glob watched beside a narrower glob excluded may still fire (``*.example.com``
    less ``?.example.com`` fires on mail.example.com): taken, as are exclusions that
    leave one named domain."""
    for watched, excluded in (
        ('["*.example.com"]', '["?.example.com"]'),
        ('["*"]', '["[!m]*"]'),
        ('["gmail.com", "yahoo.com"]', '["gmail.*"]'),
    ):
        parse_config(
            '[[alerts.rules]]\nname = "x"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            f"above = 0.1\ndomains = {watched}\nexclude_domains = {excluded}\n"
        )
    # A tenant is a label as written: "acme" does not leave out "Acme".
    parse_config(
        '[tenants]\nenabled = true\n[[alerts.rules]]\nname = "t"\n'
        'metric = "tenant_sending_paused"\nwindow = "5m"\nabove = 0\n'
        'tenants = ["Acme"]\nexclude_tenants = ["acme"]\n'
    )


def test_thresholds_at_the_edges_of_their_range_are_taken() -> None:
    """0 (any delay at all) and 1 (anything short of all delivered) are real rules, and
    so are clear thresholds at 0 and 1, and a yes-or-no metric above 0."""
    for metric, threshold in (
        ("delay_ratio", "above = 0"),
        ("delivery_ratio", "below = 1"),
        ("processing_p95_seconds", "above = 600"),
        ("delay_ratio", "above = 0.2\nclear_below = 0"),
        ("delivery_ratio", "below = 0.95\nclear_above = 1"),
        ("sending_paused", "above = 0"),
        ("processing_p95_seconds", "below = 5\nclear_above = 90"),
    ):
        parse_config(
            f'[[alerts.rules]]\nname = "x"\nmetric = "{metric}"\nwindow = "5m"\n{threshold}\n'
        )


# --- every rule metric: its value and the volume min_events is held to ----------------


def _figures() -> Figures:
    counts = [0] * len(EVENT_TYPES)
    for name, n in (
        ("send", 100),
        ("delivery", 60),
        ("delivery_delay", 20),
        ("bounce", 10),
        ("complaint", 3),
    ):
        counts[EVENT_TYPES.index(name)] = n
    return Figures(
        tuple(counts),
        processing=Summary(7, 9000.0, 800.0, 2500.0, 4000.0),
        delay_duration=Summary(4, 200_000.0, 40_000.0, 90_000.0, 95_000.0),
    )


@pytest.mark.parametrize(
    ("metric", "value", "volume"),
    [
        ("delay_ratio", 20 / 80, 80),
        ("delayed_recipients", 20.0, 80),
        ("bounce_ratio", 10 / 70, 70),
        ("complaint_ratio", 3 / 70, 70),
        ("delivery_ratio", 60 / 100, 100),
        ("processing_p95_seconds", 2.5, 7),
        ("delay_duration_p95_seconds", 90.0, 4),
        ("pending_delays", 5.0, 80),
    ],
)
def test_each_rule_metric_reads_its_figure_and_volume(
    metric: str, value: float, volume: int
) -> None:
    """Sent 100, delivered 60, delayed 20, bounced 10, complained 3; 7 processing
    times (p95 2.5 s), 4 delay durations (p95 90 s), 5 pending: each metric's value,
    and the volume its min_events counts (a quantile's is its observations)."""
    found, counted = measure(metric, _figures(), pending=5)
    assert found == pytest.approx(value)
    assert counted == volume


def test_quantile_metrics_without_observations_have_no_value() -> None:
    """An empty window has no quantile, so no value (and the alert resolves)."""
    empty = Figures((0,) * len(EVENT_TYPES))
    assert measure("processing_p95_seconds", empty, 0) == (None, 0)
    assert measure("delay_duration_p95_seconds", empty, 0) == (None, 0)


def test_an_unknown_metric_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="unknown metric 'latency'"):
        measure("latency", _figures(), 0)


def test_the_state_records_each_step() -> None:
    """Pending while `for` runs; firing clears an earlier resolve time; resolving
    records when."""
    r = rule(**{"for": "10s"})
    state = AlertState()
    assert step(r, state, 0.5, 100, 0.0, HOUR) is None
    assert (state.status, state.since) == (Status.PENDING, 0.0)
    assert step(r, state, 0.5, 100, 10.0, HOUR) is Transition.FIRING
    assert (state.status, state.since, state.last_sent) == (Status.FIRING, 10.0, 10.0)
    assert step(r, state, 0.0, 100, 20.0, HOUR) is Transition.RESOLVED
    assert (state.status, state.resolved_at, state.value) == (Status.INACTIVE, 20.0, 0.0)
    step(r, state, 0.5, 100, 30.0, HOUR)
    assert step(r, state, 0.5, 100, 40.0, HOUR) is Transition.FIRING
    assert state.resolved_at is None


def test_reading_further_behind_than_a_window_is_judged_on_the_queues_read_within_it() -> None:
    """A count of pending delays says nothing while sesd reads further behind than the
    rule's window (the deliveries that end them may wait in the queue): judged on the
    queues read within that window, a lag of exactly the window not yet behind it."""
    from sesd.alerting.rules import Blindness
    from sesd.core.tallies import Tallies

    tallies = Tallies()
    blindness = Blindness(tallies=tallies)
    now = 10_000.0
    tallies.latest["q"] = (now - 10, 300.0)
    assert not blindness.unseen(300.0, now)  # exactly a window behind
    tallies.latest["q"] = (now - 10, 7200.0)
    assert blindness.unseen(300.0, now)
    tallies.latest["q"] = (now - 400, 7200.0)  # read 400 s ago: not within a 5m window
    assert not blindness.unseen(300.0, now)
    assert blindness.unseen(900.0, now)  # within a 15m one
    assert not Blindness().unseen(300.0, now)  # nothing read: nothing to judge


def test_a_clock_step_back_costs_at_most_one_for_or_repeat_interval() -> None:
    """The wall clock stepped back an hour: an alert pending since before the step
    fires `for` after it (not an hour later), and a firing one repeats
    repeat_interval after the step; a tiny step back sends no repeat early."""
    r = rule(**{"for": "60s"})
    state = AlertState()
    assert step(r, state, 0.5, 100, 10_000.0, HOUR) is None  # pending from 10,000
    assert step(r, state, 0.5, 100, 10_000.0 - HOUR, HOUR) is None
    assert step(r, state, 0.5, 100, 10_000.0 - HOUR + 59, HOUR) is None
    assert step(r, state, 0.5, 100, 10_000.0 - HOUR + 60, HOUR) is Transition.FIRING
    fired_at = stepped = state.last_sent
    stepped -= HOUR  # another step back, while it fires
    assert step(r, state, 0.5, 100, stepped, HOUR) is None
    # It fired no later than now by the corrected clock: a start ahead of the clock
    # would end before it began (Alertmanager refuses such an alert, and its resolve).
    assert state.since == stepped < fired_at
    assert step(r, state, 0.5, 100, stepped + HOUR - 1, HOUR) is None
    assert step(r, state, 0.5, 100, stepped + HOUR, HOUR) is Transition.REPEAT
    assert step(r, state, 0.5, 100, stepped + HOUR - 0.5, HOUR) is None  # not early
    assert state.since == stepped
    assert step(r, state, 0.0, 100, stepped + HOUR, HOUR) is Transition.RESOLVED
    assert state.resolved_at is not None
    assert state.resolved_at >= state.since


# --- what the evaluator watches, and what an alert says and when -------------------


def test_an_alert_on_an_evicted_domain_resolves() -> None:
    """A domain with a firing alert goes idle and is evicted with its windows: the
    alert still resolves at the next evaluation, and the resolve goes out."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"') + '[domains]\nidle_evict = "1h"\n'
    )
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert fired.kind is Transition.FIRING
    later = f.T0 + 2 * 3600
    assert pipeline.housekeep(later) == ["a.example"]
    (resolved,) = evaluator.evaluate(pipeline.ledger, later)
    assert (resolved.kind, resolved.domain) == (Transition.RESOLVED, "a.example")
    (notification,) = [n for n in evaluator.due(later) if n.kind is Transition.RESOLVED]
    assert [a.domain for a in notification.alerts] == ["a.example"]
    assert evaluator.evaluate(pipeline.ledger, later + 5) == []
    assert "a.example" not in evaluator.states["delays"]  # forgotten once inactive


def test_a_resolve_for_an_evicted_domain_counts_nothing() -> None:
    """The domain's windows are gone: its resolve carries zero counts, not made-up ones."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"') + '[domains]\nidle_evict = "1h"\n'
    )
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    evaluator.evaluate(pipeline.ledger, f.T0)
    later = f.T0 + 2 * 3600
    pipeline.housekeep(later)
    (resolved,) = evaluator.evaluate(pipeline.ledger, later)
    assert set(resolved.counts.values()) == {0}


def test_repeats_come_every_repeat_interval_and_none_before() -> None:
    """A firing alert is repeated every repeat_interval (10 min here), not at the
    group_wait (1 min) or any tick in between, over an hour of 5 s ticks."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "1m"\nrepeat_interval = "10m"').replace(
            'window = "5m"', 'window = "1h"'
        )
    )
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    sent: list[tuple[float, Transition]] = []
    for tick in range(0, 3000, 5):
        now = f.T0 + tick
        evaluator.evaluate(pipeline.ledger, now)
        sent += [(n.at - f.T0, n.kind) for n in evaluator.due(now)]
    assert sent == [(60.0, Transition.FIRING)] + [
        (60.0 + 600.0 * i, Transition.REPEAT) for i in range(1, 5)
    ]


def test_a_rules_explicit_domains_are_the_only_ones_evaluated() -> None:
    """domains = ["b.example", "microsoft"]: a spike on a.example fires nothing; one on
    b.example and on a microsoft member fires, the latter under the group's name."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"')
        + 'domains = ["b.example", "microsoft"]\n'
        + '[domains]\ngroups = {microsoft = ["outlook.com", "hotmail.com"]}\n'
    )
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "a.example", f.T0, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, f.T0) == []
    feed_spike(pipeline, "b.example", f.T0, 6, 4)
    feed_spike(pipeline, "hotmail.com", f.T0, 6, 4)
    fired = evaluator.evaluate(pipeline.ledger, f.T0)
    assert sorted(a.domain for a in fired) == ["b.example", "microsoft"]


def test_explicit_domains_are_matched_in_normal_form() -> None:
    """domains = ["Example.COM."] watches example.com."""
    config = parse_config(
        CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"') + 'domains = ["Example.COM."]\n'
    )
    pipeline, evaluator = built(config)
    feed_spike(pipeline, "example.com", f.T0, 6, 4)
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.domain == "example.com"


@pytest.mark.parametrize(
    ("status", "diagnostic", "mta", "internal"),
    [
        ("4.4.1", "", "", False),
        ("", "smtp; 421 try later", "", False),
        ("", "", "dsn; mx.example", False),
        ("", "", "", True),
    ],
)
def test_any_sign_from_the_recipients_side_places_the_delay_there(
    status: str, diagnostic: str, mta: str, internal: bool
) -> None:
    """An SMTP status, a diagnostic or a reporting MTA alone is enough to place the delay
    between SES and the recipient's MTA; none of them points inside SES."""
    config = parse_config(CONFIG.replace('group_wait = "30s"', 'group_wait = "0s"'))
    pipeline, evaluator = built(config)
    for i in range(6):
        body = f.delay([f"d{i}@a.example"], at=f.T0, status=status, diagnostic=diagnostic, mta=mta)
        pipeline.feed(f.raw(body), "q", f.T0)
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.internal is internal
    assert alert.stage == ("inside SES" if internal else "SES -> recipient MTA")


def test_a_processing_time_alert_points_inside_ses() -> None:
    """processing_p95_seconds measures SES's own time: the alert says so."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "slow"\n'
        'metric = "processing_p95_seconds"\nwindow = "5m"\nabove = 60\n'
    )
    pipeline, evaluator = built(config)
    pipeline.feed(f.raw(f.delivery(["a@a.example"], at=f.T0, processing_ms=120_000)), "q", f.T0)
    (alert,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert alert.stage == "inside SES (processing time)"
    assert not alert.internal


def test_a_pending_delays_rule_reads_the_domains_pending_count() -> None:
    """pending_delays above 2: three recipients delayed and not delivered fire it, at 3."""
    config = parse_config(
        '[alerts]\ngroup_wait = "0s"\n[[alerts.rules]]\nname = "stuck"\n'
        'metric = "pending_delays"\nwindow = "5m"\nabove = 2\n'
    )
    pipeline, evaluator = built(config)
    for i in range(3):
        pipeline.feed(f.raw(f.delay([f"d{i}@a.example"], at=NOW)), "q", NOW)
    pipeline.feed(f.raw(f.delay(["e@b.example"], at=NOW)), "q", NOW)
    (alert,) = evaluator.evaluate(pipeline.ledger, NOW)
    assert (alert.domain, alert.value) == ("a.example", 3.0)


def _read(pipeline: Pipeline, domain: str, at: float, received: float, n: int) -> None:
    """``n`` delays and ``n`` deliveries to ``domain`` made at ``at``, read at
    ``received`` (what the poller passes)."""
    for i in range(n):
        delay = f.delay([f"d{i}-{at}@{domain}"], at=at, expires=at + HOUR)
        pipeline.feed(f.raw(delay), "q", received, received)
        pipeline.feed(f.raw(f.delivery([f"ok{i}-{at}@{domain}"], at=at)), "q", received, received)


def test_an_alert_stays_firing_while_sesd_reads_events_older_than_its_window() -> None:
    """A replica falls behind by more than the rule's window (a starved CPU, a stalled
    process) while the incident goes on: its window empties because what would fill
    it waits in the queue, so the alert is not resolved as "no data" (one incident,
    one page). A queue that went quiet (nothing read for a window) resolves it."""
    for behind in (True, False):
        pipeline, evaluator = built(parse_config(CONFIG))
        t = f.T0
        _read(pipeline, "a.example", t, t, 5)
        assert [a.kind for a in evaluator.evaluate(pipeline.ledger, t)] == [Transition.FIRING]
        later = t + 600  # the 5m window holds nothing of the last 5 minutes
        if behind:
            _read(pipeline, "a.example", t + 240, later - 10, 5)  # read 6 minutes late
        assert pipeline.ledger.tallies.behind(later, 300) == (350.0 if behind else 0.0)
        kinds = [a.kind for a in evaluator.evaluate(pipeline.ledger, later)]
        assert kinds == ([] if behind else [Transition.RESOLVED]), behind


def test_one_late_message_in_a_batch_of_current_mail_is_not_reading_behind() -> None:
    """SQS keeps no order: a receive of five current deliveries brings, last, a delay
    made six minutes ago. sesd reads current mail, so it is not behind and the alert
    resolves on the current deliveries; a receive that brings only old events is a
    backlog (behind, the resolve held)."""
    for backlog in (False, True):
        pipeline, evaluator = built(parse_config(CONFIG))
        t = f.T0
        _read(pipeline, "a.example", t, t, 5)
        assert [a.kind for a in evaluator.evaluate(pipeline.ledger, t)] == [Transition.FIRING]
        later = t + 600
        made = later - 360 if backlog else later - 11
        for i in range(5):
            event = f.delivery([f"now{i}@a.example"], at=made)
            pipeline.feed(f.raw(event), "q", later - 10, later - 10)
        late = f.delay(["late@a.example"], at=later - 360, expires=later + HOUR)
        pipeline.feed(f.raw(late), "q", later - 10, later - 10)  # the same receive
        assert pipeline.ledger.tallies.behind(later, 300) == (350.0 if backlog else 1.0)
        kinds = [a.kind for a in evaluator.evaluate(pipeline.ledger, later)]
        assert kinds == ([] if backlog else [Transition.RESOLVED]), backlog


@pytest.mark.parametrize(("read_ago", "blind"), [(400, True), (1000, False)])
def test_only_a_queue_read_within_the_window_counts_as_behind_it(
    read_ago: float, blind: bool
) -> None:
    """A 15m rule: a queue read 400 s ago, its latest event 1,000 s old then, is read
    behind the window (an empty window resolves nothing); one read 1,000 s ago, longer
    than the window, has gone quiet since (an empty window resolves)."""
    pipeline, evaluator = built(parse_config(CONFIG.replace('window = "5m"', 'window = "15m"')))
    t = f.T0
    _read(pipeline, "a.example", t, t, 5)
    assert [a.kind for a in evaluator.evaluate(pipeline.ledger, t)] == [Transition.FIRING]
    later = t + 2000
    _read(pipeline, "b.example", later - read_ago - 1000, later - read_ago, 1)
    kinds = [a.kind for a in evaluator.evaluate(pipeline.ledger, later) if a.domain == "a.example"]
    assert kinds == ([] if blind else [Transition.RESOLVED])


def test_how_far_behind_counts_the_queues_read_in_the_last_five_minutes() -> None:
    """sesd is as far behind as the latest event of its furthest queue, among the
    queues read in the last five minutes (a queue read 300 s ago no longer counts)."""
    from sesd.core.tallies import Tallies

    tallies = Tallies()
    assert tallies.furthest(f.T0) == ("", 0.0)
    tallies.latest["a"] = (f.T0, 30.0)
    tallies.latest["b"] = (f.T0 - 300, 900.0)
    assert tallies.furthest(f.T0) == ("a", 30.0)
    assert tallies.behind(f.T0) == 30.0
    assert tallies.furthest(f.T0 - 1) == ("b", 900.0)
    assert tallies.behind(f.T0 - 1) == 900.0


def test_a_receive_bringing_a_late_message_then_a_less_late_one_is_of_two_in_a_row() -> None:
    """A current receive, then one whose first event is ten minutes old and whose next
    five minutes: the two receives are in a row, so the queue is as far behind as the
    first (a trickle's late messages, not a backlog), whatever order the second's come
    in."""
    from sesd.core.tallies import Tallies

    tallies = Tallies()
    tallies.received("q", f.T0, 5.0)
    tallies.received("q", f.T0 + 10, 600.0)
    assert tallies.latest["q"] == (f.T0 + 10, 5.0)
    tallies.received("q", f.T0 + 10, 300.0)
    assert tallies.receives["q"] == (f.T0 + 10, 300.0, f.T0, 5.0)
    assert tallies.latest["q"] == (f.T0 + 10, 5.0)


def test_after_an_empty_long_poll_one_old_receive_is_a_straggler_and_two_a_backlog() -> None:
    """A backlog read 900 s behind drains and a long poll comes back empty: sesd reads
    the queue caught up. One receive then bringing an old event alone is a straggler
    (still 0 s behind); a second in a row is a new backlog (900 s behind), as after a
    receive of current mail. Events of a batch received before the empty answer and
    judged after it read no further behind than it (the backlog had drained)."""
    from sesd.core.tallies import Tallies

    tallies = Tallies()
    tallies.received("q", f.T0, 900.0)
    tallies.received("q", f.T0 + 1, 900.0)
    assert tallies.behind(f.T0 + 1) == 900.0
    tallies.caught_up("q", f.T0 + 20)
    assert tallies.behind(f.T0 + 20) == 0.0
    tallies.received("q", f.T0 + 19.5, 900.0)  # another poller's batch, judged after
    assert tallies.behind(f.T0 + 20) == 0.0
    tallies.caught_up("q", f.T0 + 40)
    tallies.received("q", f.T0 + 41, 900.0)
    assert tallies.behind(f.T0 + 41) == 0.0
    tallies.received("q", f.T0 + 42, 900.0)
    assert tallies.behind(f.T0 + 42) == 900.0


def test_the_messages_of_every_queue_are_summed_by_outcome() -> None:
    """What sesd logs at a stop: each outcome's messages over every queue, the
    processed ones being the events and SES's tenant events."""
    from sesd.core.tallies import Tallies

    tallies = Tallies()
    for queue, outcome in [("a", "skipped"), ("b", "skipped"), ("b", "invalid"), ("b", "skipped")]:
        tallies.message(queue, outcome)
    tallies.queue_counts("a")[0] += 3
    tallies.notices["b"] = 2
    assert tallies.by_outcome() == {"skipped": 3, "invalid": 1, "processed": 5}
