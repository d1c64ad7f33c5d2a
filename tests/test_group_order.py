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

from sesd.alerting.alert import Notification
from sesd.alerting.rules import Transition
from sesd.config import parse_config
from tests import factory as f
from tests.test_rule_changes import rule
from tests.test_rules import built, feed_spike

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
