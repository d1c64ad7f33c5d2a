"""An evaluation in slices (sesd.alerting.slices): the daemon steps a range of labels
at a time and gives the event loop back between slices, so a poll or a scrape waits
for one slice, not for a hundred rules over a thousand domains. What it decides is
what one whole evaluation decides; a stop, a save or a reload that comes between two
slices finds no evaluation half done."""

from __future__ import annotations

from collections.abc import MutableMapping
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from structlog.testing import capture_logs

from sesd.alerting import slices
from sesd.alerting.alert import Alert, Notification
from sesd.alerting.evaluations import LINES
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.retiring import Undelivered
from sesd.alerting.rules import Transition
from sesd.alerting.service import Alerting
from sesd.alerting.silences import Silence, SilenceSet
from sesd.config import Config, core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore
from tests import factory as f
from tests.test_routing import alerting_for
from tests.test_rules import feed_spike

T = f.T0
RULES = """
[domains]
max_tracked = 2000
[providers]
enabled = true
[alerts]
group_wait = "0s"
[[alerts.rules]]
name = "delays"
metric = "delay_ratio"
window = "5m"
above = 0.3
min_events = 5
domains = ["*"]
[[alerts.rules]]
name = "bounces"
metric = "bounce_ratio"
window = "15m"
above = 0.3
min_events = 5
domains = ["*"]
[[alerts.rules]]
name = "provider-delays"
metric = "delay_ratio"
window = "5m"
above = 0.01
min_events = 5
providers = ["*"]
"""


def _domains(n: int) -> list[str]:
    return [f"d{i:04}.example" for i in range(n)]


def _world(n: int) -> tuple[Config, Pipeline]:
    """``n`` domains with four deliveries each, spread over five providers."""
    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    cache = pipeline.ledger.providers
    assert cache is not None
    for i, domain in enumerate(_domains(n)):
        cache.remember(domain, ("google", "yahoo", "apple", "other", "microsoft")[i % 5], T + 1e6)
        for k in range(4):
            pipeline.feed(f.raw(f.delivery([f"ok{k}@{domain}"], at=T)), "q", T)
    return config, pipeline


def _bounces(pipeline: Pipeline, domain: str, t: float) -> None:
    for k in range(6):
        pipeline.feed(f.raw(f.bounce([f"b{k}-{t}@{domain}"], at=t)), "q", t)


def _evaluator(config: Config) -> Evaluator:
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    held = Silence(
        id="s1", comment="known", starts_at=T, ends_at=T + 3600, rule="bounces", domain="d0015.*"
    )
    evaluator.silences = SilenceSet([held])
    return evaluator


def _in_slices(evaluator: Evaluator, ledger: Ledger, now: float) -> tuple[list[Alert], int]:
    """An evaluation as the daemon runs it: its slices, then its decisions."""
    count = sum(1 for _ in evaluator.slices(ledger, now))
    return evaluator.evaluate(ledger, now), count


def _seen(evaluator: Evaluator, now: float) -> dict[str, Any]:
    """Everything an evaluation leaves that sinks, the state file or the page read."""
    return {
        "states": {
            rule: {label: (s.status, s.value, s.since, s.notified) for label, s in states.items()}
            for rule, states in evaluator.states.items()
        },
        "held": evaluator.held,
        "current": list(evaluator.current.items()),
        "due": [
            (n.rule, n.kind, n.sinks, [a.domain for a in n.alerts])
            for n in evaluator.due(now, flush=True)
        ],
    }


def test_an_evaluation_in_slices_decides_what_a_whole_one_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """300 domains and five providers under three rules, over three evaluations: some
    domains fire (delays late in the labels' order, bounces early, one of them
    silenced), then resolve, while the providers fire. Cut into slices of 37 steps
    (over ten slices, their bounds inside a rule's labels), the evaluations return
    the same alerts in the same order, leave the same states, hold back the same
    alerts under the silence, and queue the same notifications in the same order
    (a rule's group before the next rule's) as evaluations that step each rule on
    every label at once, one rule after the other."""
    config, pipeline = _world(300)
    whole, sliced = _evaluator(config), _evaluator(config)
    late, early = _domains(300)[250:260], _domains(300)[10:20]
    counts, kinds, held = [], set(), []
    for tick, now in enumerate((T + 1, T + 61, T + 121)):
        for domain in late if tick == 0 else late[:5]:
            feed_spike(pipeline, domain, now - 1, 6 if tick == 0 else 0, 0 if tick == 0 else 40)
        for domain in early if tick == 0 else ():
            _bounces(pipeline, domain, now - 1)
        monkeypatch.setattr(slices, "STEPS", 10**9)
        expected, parts = _in_slices(whole, pipeline.ledger, now)
        assert parts == 3  # the labels listed, the domains stepped, the providers: whole
        monkeypatch.setattr(slices, "STEPS", 37)
        found, count = _in_slices(sliced, pipeline.ledger, now)
        assert found == expected
        assert _seen(sliced, now) == _seen(whole, now)
        counts.append(count)
        kinds |= {(a.rule, a.kind) for a in found}
        held += sliced.held
    assert min(counts) > 10
    assert kinds >= {
        ("delays", Transition.FIRING),
        ("delays", Transition.RESOLVED),
        ("bounces", Transition.FIRING),
        ("provider-delays", Transition.FIRING),
    }
    assert ("bounces", "d0015.example", "firing", "s1") in held


def _alerting(config: Config, pipeline: Pipeline, clock: list[float] | None = None) -> Alerting:
    """The daemon's alerting (a console sink), its clock at ``clock[0]`` (T + 1)."""
    return alerting_for(config, pipeline, clock if clock is not None else [T + 1])


async def _watch_first_evaluation(alerting: Alerting, *, stop_midway: bool) -> list[int]:
    """Run the daemon's alerting beside a task that notes, each time the event loop
    runs it, how many (rule, label) states the evaluator holds, until the first
    evaluation is done (or, with ``stop_midway``, until it sees one under way, and
    then cancels alerting as a stop does). Returns what it noted."""
    seen: list[int] = []
    states = alerting.evaluator.states
    async with aiohttp.ClientSession() as session:
        alerting.open(session)

        async def watch() -> None:
            while alerting.evaluations == 0:
                seen.append(sum(map(len, states.values())))
                if stop_midway and seen[-1] > 0:
                    break
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(alerting.run)
                tg.start_soon(watch)
    return seen


async def test_other_tasks_run_between_the_slices_of_an_evaluation() -> None:
    """As many domains as a slice has steps, under three rules: the first evaluation
    takes several slices, and a task beside it runs between them (it finds some
    labels stepped and not others), where a whole evaluation would hold the loop
    from the first label to the last."""
    config, pipeline = _world(slices.STEPS)
    alerting = _alerting(config, pipeline)
    seen = await _watch_first_evaluation(alerting, stop_midway=False)
    total = sum(map(len, alerting.evaluator.states.values()))
    assert total == 2 * slices.STEPS + 5
    assert len([n for n in seen if 0 < n < total]) >= 2


async def test_a_stop_between_slices_waits_for_the_evaluation_to_end() -> None:
    """A stop (alerting cancelled) that comes while an evaluation is between two
    slices: the evaluation ends first. Every label is stepped, and the firing of the
    last domain, stepped after the stop came, is queued for its sink, not lost
    half-decided."""
    config, pipeline = _world(slices.STEPS)
    last = _domains(slices.STEPS)[-1]
    feed_spike(pipeline, last, T, 6, 0)
    alerting = _alerting(config, pipeline)
    seen = await _watch_first_evaluation(alerting, stop_midway=True)
    assert alerting.evaluations == 1
    total = sum(map(len, alerting.evaluator.states.values()))
    assert 0 < seen[-1] < total == 2 * slices.STEPS + 5
    assert ("delays", last, Transition.FIRING) in alerting.unsent()


async def test_a_drain_between_slices_evaluates_after_the_evaluation_under_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stop's last evaluation (the drain), asked for while the alerting loop's
    evaluation is between two slices and the clock has moved on: the one under way
    is finished first, then the drain's runs at the later moment, and the loop takes
    the alerts of its own. Evaluations go forward: none runs at the first moment
    again after the drain's."""
    begun: list[float] = []
    init = slices.Evaluation.__init__

    def noted(self: slices.Evaluation, evaluator: Evaluator, ledger: Ledger, now: float) -> None:
        begun.append(now)
        init(self, evaluator, ledger, now)

    monkeypatch.setattr(slices.Evaluation, "__init__", noted)
    config, pipeline = _world(slices.STEPS)
    last = _domains(slices.STEPS)[-1]
    feed_spike(pipeline, last, T, 6, 0)
    clock = [T + 1]
    alerting = _alerting(config, pipeline, clock)
    states = alerting.evaluator.states
    async with aiohttp.ClientSession() as session:
        alerting.open(session)

        async def stop_midway() -> None:
            while not any(states.values()):
                await anyio.lowlevel.checkpoint()
            clock[0] = T + 100
            await alerting.drain()
            tg.cancel_scope.cancel()

        with capture_logs() as logs, anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(alerting.run)
                tg.start_soon(stop_midway)
    assert begun == [T + 1, T + 100]
    assert alerting.evaluations == 2
    fired = [(e["domain"], e["value"]) for e in logs if e["event"] == "sesd.alert.firing"]
    assert fired == [(last, 0.6)]
    assert alerting.notifications.labels("console", "sent")._value.get() == 1


async def test_an_evaluation_asked_for_between_slices_reads_what_came_since() -> None:
    """An evaluation asked for at once (``Alerting.evaluate``: a drain, a test) while
    the loop's evaluation is between two slices, at the same moment, after a spike on
    a domain the loop's had already stepped: it is an evaluation of its own, which
    reads the spike and sends its firing (not the loop's, which read the domain
    before). The loop's then ends without sending it again."""
    config, pipeline = _world(slices.STEPS)
    first = _domains(slices.STEPS)[0]
    alerting = _alerting(config, pipeline)
    states = alerting.evaluator.states
    sent: list[list[tuple[str, str]]] = []
    async with aiohttp.ClientSession() as session:
        alerting.open(session)

        async def midway() -> None:
            while first not in states["delays"]:
                await anyio.lowlevel.checkpoint()
            feed_spike(pipeline, first, T, 6, 0)
            sent.append([(n.kind, a.domain) for n in alerting.evaluate() for a in n.alerts])
            while alerting.evaluations < 2:
                await anyio.lowlevel.checkpoint()
            await alerting.outboxes["console"].wait_empty()
            tg.cancel_scope.cancel()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(alerting.run)
                tg.start_soon(midway)
    assert sent == [[(Transition.FIRING, first)]]
    assert alerting.notifications.labels("console", "sent")._value.get() == 1


async def test_a_save_between_slices_keeps_a_firing_as_not_sent(tmp_path: Path) -> None:
    """A state save that comes between two slices, after a slice stepped a domain into
    firing: the evaluation is finished first, so the firing is waiting for its sink
    and saved as not sent; a restart from that file sends it (it is not taken as
    sent and lost)."""
    config, pipeline = _world(slices.STEPS)
    first = _domains(slices.STEPS)[0]
    feed_spike(pipeline, first, T, 6, 0)
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    path = tmp_path / "state"
    waiting = lambda: Undelivered(evaluator.waiting(), [], {})  # noqa: E731
    saver = StateSaver(str(path), pipeline.ledger, evaluator, lambda: T + 1, waiting)
    evaluation = evaluator.slices(pipeline.ledger, T + 1)
    while first not in evaluator.states["delays"]:
        next(evaluation)
    await saver.save()
    again = _world(0)[1]
    restarted = Evaluator(config.alerts, [spec.name for spec in again.ledger.specs])
    restore(path.read_bytes(), again.ledger, restarted, T + 2)
    assert restarted.states["delays"][first].notified is False
    for _ in evaluation:
        pass  # the slices the save left run out: the firing is this evaluation's
    assert [a.domain for a in evaluator.evaluate(pipeline.ledger, T + 1)] == [first]


def test_a_reload_between_slices_comes_after_the_evaluation() -> None:
    """A reload that removes a rule while an evaluation is between two slices: the
    evaluation ends first, under the rules it began with (the removed rule's firing
    among its alerts), then the reload resolves that firing, as when the reload
    comes after a whole evaluation."""
    config, pipeline = _world(slices.STEPS)
    last = _domains(slices.STEPS)[-1]
    _bounces(pipeline, last, T)
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    evaluation = evaluator.slices(pipeline.ledger, T + 1)
    next(evaluation)
    head, _, rest = RULES.partition('[[alerts.rules]]\nname = "bounces"')
    fewer = parse_config(head + rest[rest.index("[[alerts.rules]]") :])
    assert [r.name for r in fewer.alerts.rules] == ["delays", "provider-delays"]
    resolves = evaluator.configure(fewer.alerts, evaluator.window_names, T + 2)
    assert [(a.rule, a.domain, a.kind) for a in resolves] == [
        ("bounces", last, Transition.RESOLVED)
    ]
    for _ in evaluation:
        pass  # as the alerting loop runs out its slices after the reload
    found = evaluator.evaluate(pipeline.ledger, T + 1)
    assert ("bounces", last, Transition.FIRING) in [(a.rule, a.domain, a.kind) for a in found]


async def test_a_storm_of_alerts_is_logged_a_few_hundred_lines_at_a_time() -> None:
    """Bounces on every one of 500 domains: one evaluation fires the bounce rule on
    all of them, one firing held back by a silence. Evaluated in slices beside a task
    that counts, each time the event loop runs it, the firings logged so far: it runs
    while some are logged and not others (the loop given back every few hundred
    lines, as between slices), where logging a storm in one piece would hold the loop
    from the first line to the last. The lines, the silenced one and the
    notifications are those of a whole evaluation of the same ledger, in the same
    order."""
    n = 2 * LINES + 100
    config, pipeline = _world(n)
    for domain in _domains(n):
        _bounces(pipeline, domain, T)
    whole, sliced = _alerting(config, pipeline), _alerting(config, pipeline)
    whole.evaluator.silences = sliced.evaluator.silences = _evaluator(config).silences
    seen: list[int] = []
    async with aiohttp.ClientSession() as session:
        # Their sinks' outboxes, as the daemon's (nothing delivers from them here).
        whole.open(session)
        sliced.open(session)

        def told(logs: list[MutableMapping[str, Any]]) -> list[tuple[str, str, str]]:
            return [(e["event"], e["rule"], e["domain"]) for e in logs if "rule" in e]

        def sent(notifications: list[Notification]) -> list[tuple[str, str, list[str]]]:
            return [(n.rule, n.kind, [a.domain for a in n.alerts]) for n in notifications]

        with capture_logs() as expected:
            notifications = whole.evaluate()
        with capture_logs() as logs, anyio.fail_after(30):

            async def watch() -> None:
                while sliced.evaluations == 0:
                    seen.append(sum(e["event"] == "sesd.alert.firing" for e in logs))
                    await anyio.lowlevel.checkpoint()

            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                found = await sliced.evaluate_in_slices()
    firings = n - 1
    assert told(logs) == told(expected)
    assert len([e for e in logs if e["event"] == "sesd.alert.firing"]) == firings
    assert ("sesd.alert.silenced", "bounces", "d0015.example") in told(logs)
    assert sent(found) == sent(notifications)
    assert len({count for count in seen if 0 < count < firings}) >= 2


def test_an_evaluation_asked_for_whole_weighs_no_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluations asked for at once (``Evaluator.evaluate``: replay's, every few
    seconds of event time, thousands of them), over 300 domains and five providers
    with some domains firing: none weighs its labels into slices or bounds them
    (that costs about what stepping the quiet labels costs, for no one), and each
    decides what the same evaluation in slices decides, the alerts in the same order."""
    weighed: list[int] = []
    ranges = slices._Scoped.ranges

    def counted(self: Any) -> Any:
        weighed.append(len(self.weights))
        return ranges(self)

    monkeypatch.setattr(slices._Scoped, "ranges", counted)
    config, pipeline = _world(300)
    whole, sliced = _evaluator(config), _evaluator(config)
    monkeypatch.setattr(slices, "STEPS", 37)
    fired: set[tuple[str, Transition]] = set()
    for now in (T + 1, T + 61):
        for domain in _domains(300)[10:20]:
            _bounces(pipeline, domain, now - 1)
        expected, _ = _in_slices(sliced, pipeline.ledger, now)
        assert len(weighed) == 2  # the domains, the providers: weighed into slices
        assert min(weighed) > 0
        weighed.clear()
        assert whole.evaluate(pipeline.ledger, now) == expected
        assert weighed == []
        assert _seen(whole, now) == _seen(sliced, now)
        fired.update((a.rule, a.kind) for a in expected)
    assert ("bounces", Transition.FIRING) in fired


def test_a_storm_of_firings_is_stepped_a_hundred_alerts_a_slice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bounces on every one of 300 domains: the bounce rule fires on each, in one
    evaluation in slices. A step that makes an alert costs what many quiet steps
    cost, so no slice makes more alerts than its cost allows (STEPS steps that run,
    an alert ALERT / RUN of them) and one label's rules more: the firings are spread
    over several slices, where slices of so many steps each made all 300 in one.
    The first slice's 50 domains cost their 100 steps, RUN - 1 more for each step
    that ran (all of them) and ALERT - RUN more for each of their 49 alerts (d0015's
    is held by its silence); the next slice is as long as that cost allows. What it
    decides is what a whole evaluation of the same ledger decides."""
    costs: list[float] = []
    step_range = slices.Evaluation._step_range

    def counted(self: Any, *args: Any) -> float:
        costs.append(step_range(self, *args))
        return costs[-1]

    monkeypatch.setattr(slices.Evaluation, "_step_range", counted)
    config, pipeline = _world(300)
    for domain in _domains(300):
        _bounces(pipeline, domain, T)
    whole, sliced = _evaluator(config), _evaluator(config)
    # After each slice, how many labels fire so far.
    firing = [0, *(len(list(sliced.firing())) for _ in sliced.slices(pipeline.ledger, T + 1))]
    made = [after - before for before, after in pairwise(firing)]
    assert costs[0] == 100 + 100 * (slices.RUN - 1) + 49 * (slices.ALERT - slices.RUN)
    # The next 93 domains: 186 steps, the first past STEPS * RUN * 100 / 2705.
    assert costs[1] == 186 + 186 * (slices.RUN - 1) + 93 * (slices.ALERT - slices.RUN)
    limit = slices.STEPS * slices.RUN // slices.ALERT + len(config.alerts.rules)
    assert sum(made) == 300
    assert max(made) <= limit
    assert len([n for n in made if n]) >= 300 // limit
    expected = whole.evaluate(pipeline.ledger, T + 1)
    assert sliced.evaluate(pipeline.ledger, T + 1) == expected
    assert len(expected) == 299  # d0015's held back by its silence
    assert _seen(sliced, T + 1) == _seen(whole, T + 1)


def test_each_slice_is_as_long_as_what_the_last_one_cost_allows() -> None:
    """3,000 labels, the first 50 stepped by two rules each: the first slice is a tenth
    of STEPS steps (50 labels), before any cost is seen; quiet steps (costing what they
    are) make the next STEPS steps; steps costing ten times as much (an alert storm)
    make the next half as long; then what is left, to the last label (None)."""
    scoped = slices._Scoped(Ledger(core_settings(parse_config(""))).by_domain)
    names = _domains(3000)
    scoped.weights.update({name: 2 if i < 50 else 1 for i, name in enumerate(names)})
    ranges = scoped.ranges()
    assert next(ranges) == names[50]
    assert ranges.send(100.0) == names[1050]
    assert ranges.send(10_000.0) == names[1550]
    assert ranges.send(500.0) == names[2550]
    assert ranges.send(1000.0) is None


def test_what_silences_held_is_told_rule_by_rule_across_slices() -> None:
    """Bounces on all 300 domains and delays on d0200 (in a later slice than d0015): a
    silence holds the bounce rule's firing on d0015, another the delay rule's on
    d0200. The slices step d0015 first, but the held alerts are told in the rules'
    order, the delay rule first as configured (not by name, where bounces come
    first)."""
    config, pipeline = _world(300)
    for domain in _domains(300):
        _bounces(pipeline, domain, T)
    for k in range(12):
        pipeline.feed(f.raw(f.delay([f"late{k}@d0200.example"], at=T)), "q", T)
    sliced = _evaluator(config)
    held = Silence(
        id="s2", comment="known", starts_at=T, ends_at=T + 3600, rule="delays", domain="d0200.*"
    )
    sliced.silences = SilenceSet([*sliced.silences.items, held])
    assert _in_slices(sliced, pipeline.ledger, T + 1)[1] > 2
    assert [(rule, domain) for rule, domain, _, _ in sliced.held] == [
        ("delays", "d0200.example"),
        ("bounces", "d0015.example"),
    ]


def test_rules_on_no_windows_leave_the_others_stepped_in_slices() -> None:
    """A canary rule configured before the domain rules (it is decided when the slices
    are done, not listed), then a provider rule with no provider known (no label to
    step): the rules after them are listed and stepped all the same, and the bounces
    on d0001 fire."""
    first = (
        '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "sesd"\n'
        '[[alerts.rules]]\nname = "canary-missing"\nmetric = "canary_missing"\n'
        'window = "15m"\nabove = 0\n'
        '[[alerts.rules]]\nname = "providers-first"\nmetric = "delay_ratio"\n'
        'window = "5m"\nabove = 0.01\nproviders = ["*"]\n'
    )
    config = parse_config(RULES.replace("[[alerts.rules]]", first + "[[alerts.rules]]", 1))
    assert [rule.name for rule in config.alerts.rules[:2]] == ["canary-missing", "providers-first"]
    pipeline = Pipeline(core_settings(config))
    _bounces(pipeline, "d0001.example", T)
    alerts, _ = _in_slices(_evaluator(config), pipeline.ledger, T + 1)
    assert [(a.rule, a.domain) for a in alerts] == [("bounces", "d0001.example")]


def test_an_evaluation_with_no_labels_to_step_is_no_slice() -> None:
    """No domain seen yet: nothing is listed or stepped, so the evaluation is decided
    at once, without giving the loop back for nothing."""
    config = parse_config(RULES)
    ledger = Pipeline(core_settings(config)).ledger
    assert _in_slices(_evaluator(config), ledger, T) == ([], 0)


def test_listing_labels_is_a_slice_each_time_its_cost_reaches_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """300 domains under two rules and five providers under one: each label listed
    costs LISTING steps (15 a domain rule, a quarter of one for the providers). With
    slices of 15 steps the listing is three slices (each domain rule's its own, what
    is left another); with slices of 20, two (the domain rules' 30 steps, then what
    is left); with slices of a quarter step, one a rule and nothing left."""
    steps_run = 0
    step_range = slices.Evaluation._step_range

    def counted(self: Any, *args: Any) -> float:
        nonlocal steps_run
        steps_run += 1
        return step_range(self, *args)

    monkeypatch.setattr(slices.Evaluation, "_step_range", counted)
    config, pipeline = _world(300)
    for steps, listing in ((15, 3), (20, 2), (0.25, 3)):
        monkeypatch.setattr(slices, "STEPS", steps)
        steps_run = 0
        count = sum(1 for _ in _evaluator(config).slices(pipeline.ledger, T + 1))
        assert count - steps_run == listing


@pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["an hour back", "an hour ahead"])
async def test_a_clock_step_between_slices_leaves_the_group_wait_whole(step: float) -> None:
    """The last domain fires under a group_wait of 30 s; while the evaluation that
    fires it is between two slices, the wall clock steps an hour (told from another
    task, as the daemon tells it). The evaluation ends on the clock it began on and
    its group's start moves with the clock: what is due is then asked on the new
    clock too. The page waits its 30 s (asked at the old moment, an hour after the
    moved start, a step back sent it at once), and goes once they are over."""
    config = parse_config(RULES.replace('group_wait = "0s"', 'group_wait = "30s"'))
    pipeline = _world(slices.STEPS)[1]
    last = _domains(slices.STEPS)[-1]
    feed_spike(pipeline, last, T, 6, 0)
    clock = [T + 1]
    alerting = _alerting(config, pipeline, clock)
    states = alerting.evaluator.states
    async with aiohttp.ClientSession() as session:
        alerting.open(session)

        async def step_midway() -> None:
            while not any(states.values()):
                await anyio.lowlevel.checkpoint()
            clock[0] = T + 1 + step
            alerting.stepped(clock[0], step)  # as the daemon does
            tg.cancel_scope.cancel()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(alerting.evaluate_in_slices)
                tg.start_soon(step_midway)
    assert alerting.evaluations == 1
    assert len(alerting.outboxes["console"]) == 0
    assert alerting.evaluator.waiting() == [("delays", last, Transition.FIRING)]
    clock[0] = T + 30 + step
    assert alerting.evaluate() == []
    clock[0] = T + 31 + step
    assert [(n.kind, [a.domain for a in n.alerts]) for n in alerting.evaluate()] == [
        (Transition.FIRING, [last])
    ]


async def test_each_evaluation_tells_the_status_page_once_its_notifications_are_queued() -> None:
    """The daemon sets ``on_evaluated`` (the status page's wake-up) after alerting is
    made. Each evaluation calls it once as it ends, whole or in slices, flushed or not:
    counted, and with what it made due queued, so the page redrawn on it shows them
    (told before, or never, the page lagged an evaluation behind the outboxes)."""
    config, pipeline = _world(20)
    clock = [T + 1]
    alerting = _alerting(config, pipeline, clock)
    heard: list[tuple[int, int]] = []
    alerting.on_evaluated = lambda: heard.append(
        (alerting.evaluations, sum(alerting.waiting().values()))
    )
    sent: list[int] = []
    async with aiohttp.ClientSession() as session:
        alerting.open(session)  # the outboxes, not delivering: what is queued stays
        _bounces(pipeline, "d0003.example", T)
        sent.append(len(alerting.evaluate()))
        clock[0] = T + 2
        _bounces(pipeline, "d0004.example", T + 2)
        sent.append(len(await alerting.evaluate_in_slices()))
        clock[0] = T + 3
        sent.append(len(alerting.evaluate(flush=True)))  # as a stop's last (drain's)
    assert sent == [1, 1, 0]  # the bounce rule fired on each domain in its turn
    assert heard == [(1, 1), (2, 2), (3, 2)]
