"""An alert whose resolve a stop left undelivered, held by a window too thin to make
that resolve again (sesd reading a backlog far behind), is told resolved meanwhile
(Alertmanager is posted it so): should it fire still once the window fills, its
resolve goes as told, then a new firing, paged once to every sink of the rule. It
stays so across a second stop made while the window was still thin, and through a
silence in force when it fires anew: its page then goes out once the silence ends,
as any silenced firing's does."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.retiring import undelivered
from sesd.alerting.rules import FIRING, AlertState, Transition
from sesd.alerting.silences import Silence, SilenceSet
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_alerts import _state
from tests.test_rule_changes import SINKS, T, rule
from tests.test_rules import feed_spike
from tests.test_thin_window_reminders import _restored_thin

PAGER = 'sinks = ["pager"]\n'


def test_a_stop_while_the_window_is_thin_keeps_a_held_resolve_a_new_firing() -> None:
    """Held on the thin window (told resolved), sesd stops again before it catches up;
    the start after that reads a full window that fires: the resolve as told, then a
    new firing from then, paged to the pager, not the old incident going on."""
    before, pipeline = _restored_thin(PAGER)
    blob = snapshot(pipeline.ledger, before, T + 5, (), True)
    config = parse_config(SINKS + rule(extra=PAGER + "clear_below = 0.05\n"))
    pipeline = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, ["5m"])
    restore(blob, pipeline.ledger, after, T + 6)
    feed_spike(pipeline, "a.example", T + 6, 60, 0)
    pipeline.ledger.tallies.received("q", T + 6, 1.0)  # a full window
    resolved, fired = after.evaluate(pipeline.ledger, T + 6)
    assert (resolved.kind, resolved.at) == (Transition.RESOLVED, T + 2)
    assert (fired.kind, fired.since) == (Transition.FIRING, T + 6)
    sent = [(n.kind, n.sinks) for n in after.due(T + 6, flush=True)]
    assert sent == [(Transition.RESOLVED, ("pager",)), (Transition.FIRING, ("pager",))]


def test_a_held_resolve_firing_anew_under_a_silence_is_paged_once_it_ends() -> None:
    """Held on the thin window, the alert fires anew on a full one while a silence
    holds a.example: its resolve goes as told (a silence holds firings back, not the
    end of an incident the sinks have), the new firing not; once the silence ends, the
    new firing is paged, as any firing a silence held back is (reminders alone were not
    the page)."""
    after, pipeline = _restored_thin(PAGER)
    silence = Silence(id="s1", comment="deploy", starts_at=T, ends_at=T + 600, domain="a.example")
    after.silences = SilenceSet([silence])
    feed_spike(pipeline, "a.example", T + 5, 60, 0)
    pipeline.ledger.tallies.received("q", T + 5, 1.0)  # caught up
    after.evaluate(pipeline.ledger, T + 5)
    assert [(n.kind, n.sinks) for n in after.due(T + 5, flush=True)] == [
        (Transition.RESOLVED, ("pager",))
    ]
    feed_spike(pipeline, "a.example", T + 600, 60, 0)
    pipeline.ledger.tallies.received("q", T + 600, 1.0)
    after.evaluate(pipeline.ledger, T + 600)
    sent = [(n.kind, n.sinks) for n in after.due(T + 600, flush=True)]
    assert sent == [(Transition.FIRING, ("pager",))]


def test_a_held_resolve_firing_anew_ends_its_until_resolved_silence_at_once() -> None:
    """Held on the thin window, the alert fires anew on a full one while an
    ``--until-resolved`` silence mutes its reminders: the resolve goes as told and ends
    that silence, and the new firing, a new incident, is paged in the same evaluation,
    not held back by the silence its own resolve ended (a page a tick late)."""
    after, pipeline = _restored_thin(PAGER)
    until = Silence(id="s1", comment="known", starts_at=T, ends_at=None, until_resolved=True)
    after.silences = SilenceSet([until])
    feed_spike(pipeline, "a.example", T + 5, 60, 0)
    pipeline.ledger.tallies.received("q", T + 5, 1.0)  # caught up
    after.evaluate(pipeline.ledger, T + 5)
    assert (after.ended_silences, after.held) == ({"s1"}, [])
    assert [(n.kind, n.sinks) for n in after.due(T + 5, flush=True)] == [
        (Transition.RESOLVED, ("pager",)),
        (Transition.FIRING, ("pager",)),
    ]


def test_a_state_file_of_an_earlier_build_reads_its_alerts_not_held() -> None:
    """A row of six items (no build before this one saved whether an alert was held)
    reads as not held; a seventh item other than true is none either."""
    six = ["firing", T, T, 0.1, T + 2, True]
    assert _state(six) == AlertState(FIRING, T, T, 0.1, T + 2, True)
    for row, held in ((six, False), ([*six, 1], False), ([*six, True], True)):
        state = _state(row)
        assert state is not None
        assert state.held is held


@pytest.mark.parametrize(
    "delivered", [0, 20, 100], ids=["as it was", "between the thresholds", "under clear_below"]
)
def test_a_held_resolve_reading_under_its_threshold_once_the_window_fills_resolves(
    delivered: int,
) -> None:
    """Held on the thin window (told resolved at 10%, ending at T+2: Alertmanager was
    posted it so), the window fills with nothing past the 20% a firing needs: 10% as it
    was, 7.5% (over the 5% the restart's rule clears at) or 3.75%. That is no new
    firing (a page "10.0% above 20.0%" for an incident told ended): the resolve goes
    out as it was told, at 10% and ending at T+2, not at what the window reads now nor
    at this evaluation (endsAt and "fired for" stretched by the downtime and the
    backlog)."""
    after, pipeline = _restored_thin(PAGER)
    feed_spike(pipeline, "a.example", T + 5, 0, delivered)
    pipeline.ledger.tallies.received("q", T + 5, 1.0)  # caught up
    (resolved,) = after.evaluate(pipeline.ledger, T + 5)
    told = (resolved.kind, resolved.value, resolved.since, resolved.at)
    assert told == (Transition.RESOLVED, 0.1, T, T + 2)
    sent = [(n.kind, n.sinks) for n in after.due(T + 5, flush=True)]
    assert sent == [(Transition.RESOLVED, ("pager",))]
    assert list(after.firing()) == []
    assert after.evaluate(pipeline.ledger, T + 6) == []


def test_a_held_resolve_breaching_once_the_window_fills_waits_its_for() -> None:
    """Held on the thin window (told resolved), the window fills breaching a rule with
    `for = "1m"`: a new firing waits its `for`, as any does. Its resolve goes out
    meanwhile as it was told (10%, ending when it ended), and the firing a minute
    after the evaluation that found it breaching (pending from then, not from the
    evaluation after: a page a tick late)."""
    after, pipeline = _restored_thin(PAGER + 'for = "1m"\n')
    feed_spike(pipeline, "a.example", T + 5, 60, 0)
    pipeline.ledger.tallies.received("q", T + 5, 1.0)  # caught up
    (resolved,) = after.evaluate(pipeline.ledger, T + 5)
    told = (resolved.kind, resolved.value, resolved.since, resolved.at)
    assert told == (Transition.RESOLVED, 0.1, T, T + 2)
    sent = [(n.kind, n.sinks) for n in after.due(T + 5, flush=True)]
    assert sent == [(Transition.RESOLVED, ("pager",))]
    assert after.evaluate(pipeline.ledger, T + 30) == []
    pipeline.ledger.tallies.received("q", T + 60, 1.0)
    assert after.evaluate(pipeline.ledger, T + 60) == []
    (fired,) = after.evaluate(pipeline.ledger, T + 65)
    assert (fired.kind, fired.since) == (Transition.FIRING, T + 65)
    sent = [(n.kind, n.sinks) for n in after.due(T + 65, flush=True)]
    assert sent == [(Transition.FIRING, ("pager",))]


def test_a_resolve_this_build_left_undelivered_goes_at_the_restart_not_held() -> None:
    """The same stop saved by this build: the resolve the pager had not taken is kept
    apart (``retired``), not among the rule's states as firing (an earlier build's way,
    which the tests above restore). The restart, reading 200 s behind the 5m window,
    sends it at once, as made (10%, ending at T+2), and holds nothing."""
    first = parse_config(SINKS + rule(extra=PAGER))
    before = Pipeline(core_settings(first))
    feed_spike(before, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, ["5m"])
    evaluator.evaluate(before.ledger, T)
    evaluator.due(T, flush=True)
    feed_spike(before, "a.example", T + 2, 0, 50)
    evaluator.evaluate(before.ledger, T + 2)  # the resolve waits its group at the stop
    unsent = undelivered([], evaluator, frozenset())
    assert (unsent.again, len(unsent.retired)) == ([], 1)
    blob = snapshot(before.ledger, evaluator, T + 3, unsent.again, True, unsent.retired)
    pipeline = Pipeline(core_settings(first))
    after = Evaluator(first.alerts, ["5m"])
    restore(blob, pipeline.ledger, after, T + 4)
    assert list(after.firing()) == []
    pipeline.ledger.tallies.received("q", T + 4, 200.0)
    assert after.evaluate(pipeline.ledger, T + 4) == []
    (sent,) = after.due(T + 4, flush=True)
    (resolved,) = sent.alerts
    assert (sent.kind, sent.sinks) == (Transition.RESOLVED, ("pager",))
    assert (resolved.value, resolved.since, resolved.at) == (0.1, T, T + 2)
