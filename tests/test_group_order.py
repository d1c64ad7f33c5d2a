"""An alert that resolves and fires again while its resolve waits its ``group_wait``:
the new firing joins the group of the rule's firings begun earlier, which goes out
first. Each sink must be told the old incident ended before the new one began:
PagerDuty, sent the firing first, added it to the incident still open (the same
dedup key) and the resolve then closed that incident while the alert fired; an
outbox holding both delivered the resolve alone (a firing whose resolve waits
behind it is of an incident over). The resolve goes ahead of the firing, taken
out of its group; a resolve of the incident a firing in the same batch began still
goes after that firing."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import pytest

from sesd.alerting.alert import Notification
from sesd.alerting.grouping import Groups
from sesd.alerting.rules import Transition
from sesd.config import parse_config
from tests import factory as f
from tests.test_rule_changes import rule
from tests.test_rules import built, feed_spike
from tests.test_sinks import alert

T = f.T0
#: Every sink the same console, so the groups differ by kind alone.
WAITED = '[alerts]\ngroup_wait = "30s"\n[alerts.sinks.pager]\ntype = "console"\n'


def _told(sent: list[Notification]) -> list[tuple[str, list[str]]]:
    return [(n.kind.value, [a.domain for a in n.alerts]) for n in sent]


def test_a_resolve_waiting_its_group_goes_ahead_of_the_alerts_next_firing() -> None:
    """a.example fired and was paged; b.example fires at T+5 (its group due at T+35);
    a.example resolves at T+10 (its resolve's group due at T+40) and fires again at
    T+20, joining b.example's group. At T+35 a.example's resolve goes first, then the
    firing of both; c.example, fired and resolved within the same groups, keeps its
    firing ahead of its resolve."""
    pipeline, evaluator = built(parse_config(WAITED + rule()))
    feed_spike(pipeline, "a.example", T - 100, 6, 4)
    evaluator.evaluate(pipeline.ledger, T - 100)
    assert _told(evaluator.due(T - 100, flush=True)) == [("firing", ["a.example"])]
    feed_spike(pipeline, "b.example", T + 5, 6, 4)
    feed_spike(pipeline, "c.example", T + 5, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 5)
    feed_spike(pipeline, "a.example", T + 10, 0, 90)  # 6 in 100: under 20%
    feed_spike(pipeline, "c.example", T + 10, 0, 90)
    kinds = [(a.domain, a.kind) for a in evaluator.evaluate(pipeline.ledger, T + 10)]
    assert kinds == [("a.example", Transition.RESOLVED), ("c.example", Transition.RESOLVED)]
    feed_spike(pipeline, "a.example", T + 20, 60, 0)  # 66 in 160: over 20%
    (fired,) = evaluator.evaluate(pipeline.ledger, T + 20)
    assert (fired.domain, fired.kind) == ("a.example", Transition.FIRING)
    assert _told(evaluator.due(T + 35)) == [
        ("resolved", ["a.example"]),
        ("firing", ["b.example", "c.example", "a.example"]),
    ]
    # c.example's resolve waits its group_wait, as before.
    assert _told(evaluator.due(T + 40)) == [("resolved", ["c.example"])]


def test_an_alert_firing_resolving_and_firing_within_one_group_is_told_in_that_order() -> None:
    """a.example fires at T+5 beside b.example (their group due at T+35), resolves at
    T+10 and fires again at T+20, joining that group a second time. At T+35 the sinks
    are told the first firing (beside b.example), its resolve, then the new firing:
    not both firings, then the resolve a group_wait later, which closed the incident
    while the alert fired (PagerDuty: one dedup key an alert; an outbox holding the
    resolve behind both firings sent Alertmanager neither)."""
    pipeline, evaluator = built(parse_config(WAITED + rule()))
    feed_spike(pipeline, "a.example", T + 5, 6, 4)
    feed_spike(pipeline, "b.example", T + 5, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 5)
    feed_spike(pipeline, "a.example", T + 10, 0, 90)  # 6 in 100: under 20%
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 10)
    assert (resolved.domain, resolved.kind) == ("a.example", Transition.RESOLVED)
    feed_spike(pipeline, "a.example", T + 20, 60, 0)  # 66 in 160: over 20%
    (fired,) = evaluator.evaluate(pipeline.ledger, T + 20)
    assert (fired.domain, fired.kind) == ("a.example", Transition.FIRING)
    assert _told(evaluator.due(T + 35)) == [
        ("firing", ["a.example", "b.example"]),
        ("resolved", ["a.example"]),
        ("firing", ["a.example"]),
    ]
    assert evaluator.due(T + 40) == []


def test_a_resolve_in_a_group_due_first_waits_for_the_firing_it_ends() -> None:
    """c.example resolves at T (its firing long sent), so the rule's group of resolves
    is due at T+30; a.example fires at T+5 (its group due at T+35) and resolves at T+10,
    into the group due first. At T+30 c.example's resolve goes, a.example's waits: sent
    then, it went ahead of the firing it ends, and PagerDuty, told the trigger after the
    resolve, kept an incident open for an alert that had ended. At T+35 the firing goes,
    then its resolve."""
    pipeline, evaluator = built(parse_config(WAITED + rule()))
    feed_spike(pipeline, "c.example", T - 100, 6, 4)
    evaluator.evaluate(pipeline.ledger, T - 100)
    assert _told(evaluator.due(T - 100, flush=True)) == [("firing", ["c.example"])]
    feed_spike(pipeline, "c.example", T, 0, 90)
    evaluator.evaluate(pipeline.ledger, T)
    feed_spike(pipeline, "a.example", T + 5, 6, 4)
    evaluator.evaluate(pipeline.ledger, T + 5)
    feed_spike(pipeline, "a.example", T + 10, 0, 90)
    evaluator.evaluate(pipeline.ledger, T + 10)
    assert _told(evaluator.due(T + 30)) == [("resolved", ["c.example"])]
    assert _told(evaluator.due(T + 35)) == [
        ("firing", ["a.example"]),
        ("resolved", ["a.example"]),
    ]


def test_a_repeat_and_its_resolve_waiting_go_ahead_of_the_alerts_next_firing() -> None:
    """b.example fires at T-10 (the rule's group of firings due at T+20); c.example,
    paging for hours, is reminded at T (its repeat due at T+30), resolves at T+5 (due
    at T+35, kept behind the repeat) and fires again at T+10, joining b.example's
    group. At T+20 the sinks are told b.example, c.example's repeat and resolve, then
    its new firing: sent after it, the old repeat and resolve reopened and closed the
    new incident (PagerDuty: one dedup key an alert)."""
    (delays,) = parse_config(WAITED + rule()).alerts.rules
    groups = Groups(30.0)
    for at, domain, kind in [
        (T - 10, "b.example", Transition.FIRING),
        (T, "c.example", Transition.REPEAT),
        (T + 5, "c.example", Transition.RESOLVED),
        (T + 10, "c.example", Transition.FIRING),
    ]:
        groups.add(delays, alert(domain, kind=kind), at, ("pager",))
    assert _told(groups.due(T + 20, lambda r, d: "", flush=False, rules=None)) == [
        ("firing", ["b.example"]),
        ("repeat", ["c.example"]),
        ("resolved", ["c.example"]),
        ("firing", ["c.example"]),
    ]
    assert groups.waiting() == []


def test_a_resolve_under_a_new_severity_still_waits_for_the_alerts_repeat() -> None:
    """b.example resolves at T-10 (the rule's group of resolves due at T+20); c.example
    is reminded at T under ``warning`` (its repeat due at T+30); a reload makes the rule
    ``critical`` and c.example resolves at T+5, into the group due first. At T+20
    b.example's resolve goes, c.example's waits; at T+30 the repeat, then the resolve:
    PagerDuty tells alerts apart by rule and domain alone, and told the old repeat
    after the resolve, opened an incident for an alert that had ended."""
    (delays,) = parse_config(WAITED + rule()).alerts.rules
    groups = Groups(30.0)
    for at, domain, kind, severity in [
        (T - 10, "b.example", Transition.RESOLVED, "critical"),
        (T, "c.example", Transition.REPEAT, "warning"),
        (T + 5, "c.example", Transition.RESOLVED, "critical"),
    ]:
        made = replace(alert(domain, kind=kind), severity=severity)
        groups.add(delays, made, at, ("pager",))
    assert _told(groups.due(T + 20, lambda r, d: "", flush=False, rules=None)) == [
        ("resolved", ["b.example"])
    ]
    assert _told(groups.due(T + 30, lambda r, d: "", flush=False, rules=None)) == [
        ("repeat", ["c.example"]),
        ("resolved", ["c.example"]),
    ]


#: The model's alerts: two rules, three domains, each (rule, domain) told to fixed sinks.
_RULES = parse_config(
    '[alerts.sinks.p]\ntype = "console"\n[alerts.sinks.s]\ntype = "console"\n'
    + rule("r1", 'sinks = ["p", "s"]\n')
    + rule("r2", 'sinks = ["p", "s"]\n')
).alerts.rules
_DOMAINS = ("a.example", "b.example", "c.example")
_SINKS = (("p",), ("p", "s"), ("s",))
#: repeat_interval no shorter than group_wait, as configured (4h and 30s by default).
_TICK, _WAIT, _REPEAT = 5.0, 30.0, 40.0
#: What a reload may set a rule's alerts' severity and labels to.
_SEVERITIES = ("critical", "warning")
_LABELS: tuple[tuple[tuple[str, str], ...], ...] = ((), (("team", "mail"),))
#: Each alert's transitions, made once (the model numbers them by their value).
_ALERTS = {
    (r.name, d, kind): replace(alert(d, kind=kind), rule=r.name)
    for r in _RULES
    for d in _DOMAINS
    for kind in Transition
}


@dataclass(slots=True)
class _Added:
    """One alert as the model added it: what, when, and when its key's group began."""

    who: tuple[str, str]
    kind: Transition
    sinks: tuple[str, ...]
    at: float
    group_at: float
    sent: float | None = None
    call: int = -1  # the due() call that sent it
    place: int = -1  # its notification's place in that call's list


def _run(seed: int) -> tuple[list[_Added], list[tuple[float, bool]]]:
    """A seeded random history of firings, repeats and resolves added to :class:`Groups`
    at each tick (two in one tick at times: a held resolve breaching again), with
    ``due`` asked at each (now and then flushed, for a rule alone); every alert added,
    marked with the call and place that sent it."""
    rng = random.Random(seed)
    groups = Groups(_WAIT)
    groups.tick = _TICK
    sinks = {(r.name, d): rng.choice(_SINKS) for r in _RULES for d in _DOMAINS}
    firing: set[tuple[str, str]] = set()
    told: dict[tuple[str, str], float] = {}  # when each last changed or repeated
    # Each rule's severity and labels, as a reload leaves them: an alert is still the
    # one PagerDuty's dedup key names (rule and label), whatever they are.
    relabelled: dict[str, tuple[str, tuple[tuple[str, str], ...]]]
    relabelled = {r.name: ("critical", ()) for r in _RULES}
    added: list[_Added] = []
    waiting: dict[tuple[str, Transition, tuple[str, ...]], list[_Added]] = {}
    calls: list[tuple[float, bool]] = []
    for i in range(rng.randint(5, 40)):
        now = T + i * _TICK
        if rng.random() < 0.1:
            name = rng.choice(_RULES).name
            relabelled[name] = (rng.choice(_SEVERITIES), rng.choice(_LABELS))
        for r in _RULES:
            for d in _DOMAINS:
                who = (r.name, d)
                for _ in range(2 if rng.random() < 0.1 else 1):
                    if rng.random() < 0.6:
                        continue
                    if who not in firing:
                        kind = Transition.FIRING
                    elif now - told[who] >= _REPEAT and rng.random() < 0.3:
                        kind = Transition.REPEAT
                    else:
                        kind = Transition.RESOLVED
                    firing ^= {who} if kind is not Transition.REPEAT else set()
                    told[who] = now
                    key = (r.name, kind, sinks[who])
                    same = [a for a in waiting.get(key, []) if a.sent is None]
                    entry = _Added(who, kind, sinks[who], now, same[0].group_at if same else now)
                    waiting[key] = [*same, entry]
                    severity, labels = relabelled[r.name]
                    made = replace(
                        _ALERTS[r.name, d, kind],
                        value=float(len(added)),
                        severity=severity,
                        labels=dict(labels),
                    )
                    added.append(entry)
                    groups.add(r, made, now, sinks[who])
        # A reload owing a rule's resolves flushes that rule's groups, then the tick's.
        flushed = [{rng.choice(_RULES).name}] if rng.random() < 0.05 else []
        for only in [*flushed, None]:
            sent = groups.due(now, lambda r, d: "", flush=only is not None, rules=only)
            _mark(seed, added, sent, now, len(calls))
            calls.append((now, only is not None))
    end = T + 1000 * _TICK
    _mark(seed, added, groups.due(end, lambda r, d: "", flush=True, rules=None), end, len(calls))
    calls.append((end, True))
    return added, calls


def _mark(seed: int, added: list[_Added], sent: list[Notification], now: float, call: int) -> None:
    """Each alert in ``sent`` (by its number in ``added``) marked as sent by ``call``."""
    for place, n in enumerate(sent):
        for a in n.alerts:
            entry = added[int(a.value or 0)]
            assert entry.sent is None, f"seed {seed}: {entry} sent twice"
            assert (n.rule, n.kind, n.sinks) == (entry.who[0], entry.kind, entry.sinks)
            entry.sent, entry.call, entry.place = now, call, place


@pytest.mark.parametrize("seeds", [range(300)])
def test_each_sink_is_told_each_alerts_transitions_in_turn_and_in_their_time(
    seeds: range,
) -> None:
    """Random (seeded) histories of two rules' firings, repeats and resolves on three
    domains to overlapping sinks, held to a plain model: each sink is told each alert's
    transitions once each, in the order they happened (a resolve never ahead of the
    firing it ends, nor behind the next firing); none goes before its group's
    group_wait, but a resolve sent with a later transition of its own alert; none
    waits past its group's group_wait, but one behind an earlier transition of its
    own alert that waited a later group."""
    wait = _WAIT - _TICK / 10
    for seed in seeds:
        added, calls = _run(seed)
        regular = [t for t, flush in calls if not flush]
        for who in {a.who for a in added}:
            mine = [a for a in added if a.who == who]
            for sink in ("p", "s"):
                told = [a for a in mine if sink in a.sinks]
                in_turn = sorted(told, key=lambda a: (a.call, a.place))
                assert in_turn == told, f"seed {seed}: {who} told {sink} out of turn"
            for i, a in enumerate(mine):
                assert a.sent is not None, f"seed {seed}: {a} never sent"
                with_later = any(b.call == a.call for b in mine[i + 1 :])
                early = with_later  # sent before its own later transition
                flushed = calls[a.call][1]
                assert flushed or early or a.sent >= a.group_at + wait, f"seed {seed}: {a} early"
                due = next((t for t in regular if t >= max(a.at, a.group_at + wait)), calls[-1][0])
                behind = max((b.sent or 0 for b in mine[:i]), default=0)
                assert a.sent <= max(due, behind), f"seed {seed}: {a} late"
