"""A resolve left undelivered at a stop keeps its alert firing in the state file, and
a sink the restart's rules name anew is owed the alert's firing only should the first
evaluation find it firing still (tests/test_owed_ended_restart.py). Should sesd stop
again before that evaluation, the next start owes the sink as much: the save keeps
the firing as taken by the sinks that had it alone (key ``heard``). Lost, the resolve
would go to a sink never paged, and an alert firing still would page no one new.
Found firing still, the alert is an incident going on, held through no data as any
firing alert is, not as the resolve decided before the stop."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_owed_ended_restart import resolve_left_unsent
from tests.test_rule_changes import SINKS, WINDOWS, T, rule

NAMED = 'sinks = ["pager", "chat"]\n'


def _stopped_twice(last: str) -> list[tuple[Transition, tuple[str, ...]]]:
    """a.example fires at 60% on the pager and resolves at 10%, the resolve not taken
    at the stop; the restart names the chat too and stops before it evaluates; what
    the first evaluation of the start after that (under ``last``) sends."""
    blob = resolve_left_unsent()
    named = parse_config(SINKS + rule(extra=NAMED))
    between = Evaluator(named.alerts, WINDOWS)
    ledger = Pipeline(core_settings(named)).ledger
    restore(blob, ledger, between, T + 4)
    assert between.due(T + 4, flush=True) == []
    blob = snapshot(ledger, between, T + 5, (), True)
    later = parse_config(SINKS + rule(extra=last))
    after = Evaluator(later.alerts, WINDOWS)
    ledger = Pipeline(core_settings(later)).ledger
    restore(blob, ledger, after, T + 6)
    after.evaluate(ledger, T + 6)
    return [(n.kind, n.sinks) for n in after.due(T + 6, flush=True)]


def test_a_second_stop_keeps_the_resolve_from_a_sink_never_paged() -> None:
    """The alert resolves at the first evaluation: the pager alone is told."""
    assert _stopped_twice(NAMED) == [(Transition.RESOLVED, ("pager",))]


def test_a_second_stop_keeps_the_page_owed_a_sink_named_anew() -> None:
    """The rule clears only below 5%: the alert fires still at 10%, and the chat alone
    is paged it (the pager had it)."""
    assert _stopped_twice(NAMED + "clear_below = 0.05\n") == [(Transition.FIRING, ("chat",))]


def test_an_alert_found_firing_still_after_the_restart_holds_through_a_stall() -> None:
    """As the second, one stop only: the first evaluation after the restart finds the
    alert firing at 10%, an incident going on. Later sesd stalls, and its window is
    empty when it reads again: no data then says nothing of the incident, and the alert
    stays firing, as one that fired since the restart does. Resolved there on no data,
    the pager was told it ended, and paged again for it when data came back."""
    blob = resolve_left_unsent()
    later = parse_config(SINKS + rule(extra='sinks = ["pager"]\nclear_below = 0.05\n'))
    after = Evaluator(later.alerts, WINDOWS)
    ledger = Pipeline(core_settings(later)).ledger
    restore(blob, ledger, after, T + 4)
    assert after.evaluate(ledger, T + 4) == []
    after.blind(T + 400)  # a stall: the window (5m) has emptied since
    assert after.evaluate(ledger, T + 400) == []
    assert after.states["delays"]["a.example"].status.value == "firing"
