"""A resolve left undelivered at a stop is saved as the alert still firing (the sinks
have it so) and made again after the restart. Where the restart's rules owe that
resolve themselves (the rule removed, or its sink dropped), it tells the figure the
alert resolved at, as the resolve made by an evaluation does: not "no data", which
reads as though the domain's mail had stopped."""

from __future__ import annotations

import pytest

from sesd.alerting.rules import FIRING, AlertState, Transition, step
from sesd.runtime.state import snapshot
from tests import test_rules
from tests.test_owed_ended_restart import resolve_left_unsent, restarted
from tests.test_rule_changes import SINKS, WINDOWS, T, rule

HOUR = 3600.0


@pytest.mark.parametrize(
    "rules",
    [rule(name="other"), rule(extra='sinks = ["chat"]\n')],
    ids=["rule removed", "sink dropped"],
)
def test_a_resolve_owed_by_the_restarts_rules_tells_its_figure(rules: str) -> None:
    """a.example fires at 60% on the pager and resolves at 10%; the pager has not taken
    the resolve when sesd stops. The restart's rules no longer page the pager with it:
    the resolve they owe it says 10%."""
    blob = resolve_left_unsent()
    after, _ = restarted(blob, SINKS + rules, WINDOWS, T + 4)
    owed = [
        (n.sinks, a.value) for n in after.due(T + 4) for a in n.alerts
        if a.kind is Transition.RESOLVED
    ]  # fmt: skip
    assert owed == [(("pager",), 0.1)]


def test_a_resolve_owed_after_a_stop_longer_than_its_window_tells_its_figure() -> None:
    """As above, the restart's rules unchanged, but sesd was down an hour: its 5m window
    holds nothing of before the stop, and the first evaluation reads no data. The resolve
    it makes again is the one decided before the stop: at 10%, ended when it ended. Told
    "no data" at the restart, it read as though the domain's mail had stopped, and the
    incident as lasting through the downtime."""
    blob = resolve_left_unsent(["5m"])
    after, ledger = restarted(blob, SINKS + rule(), ["5m"], T + 3600)
    after.evaluate(ledger, T + 3600)
    sent = [
        (n.sinks, a.kind, a.value, a.at) for n in after.due(T + 3600, flush=True)
        for a in n.alerts
    ]  # fmt: skip
    assert sent == [(("pager",), Transition.RESOLVED, 0.1, T + 2)]


def test_a_thin_window_after_the_restart_keeps_the_figure_an_owed_resolve_tells() -> None:
    """As above, but the first start reads its backlog far behind, its window empty
    (too thin to resolve on: the alert stays firing), and sesd stops again before it
    catches up. The start after that, its window empty too, makes the resolve at 10%:
    the thin window's "no data" was no figure the alert resolved at."""
    blob = resolve_left_unsent(["5m"])
    between, ledger = restarted(blob, SINKS + rule(), ["5m"], T + 3600)
    ledger.tallies.received("q", T + 3600, 3000.0)  # reading 50 min behind
    assert between.evaluate(ledger, T + 3600) == []
    blob = snapshot(ledger, between, T + 3601, (), True)
    after, ledger = restarted(blob, SINKS + rule(), ["5m"], T + 7200)
    after.evaluate(ledger, T + 7200)
    sent = [(a.kind, a.value) for n in after.due(T + 7200, flush=True) for a in n.alerts]
    assert sent == [(Transition.RESOLVED, 0.1)]


def test_an_owed_resolve_held_longer_than_its_window_tells_its_figure_once_caught_up() -> None:
    """As above, but the first start drains its backlog for longer than the window
    (held meanwhile, told resolved at 10%, ending when it ended: Alertmanager posted it
    so), and its window is empty once it catches up. The resolve then made is the one
    every sink was told meanwhile, not "no data" ending at the catch-up: the pager's
    incident would read as lasting through the downtime and the backlog."""
    blob = resolve_left_unsent(["5m"])
    after, ledger = restarted(blob, SINKS + rule(), ["5m"], T + 3600)
    ledger.tallies.received("q", T + 3600, 3000.0)  # reading 50 min behind
    assert after.evaluate(ledger, T + 3600) == []
    ledger.tallies.received("q", T + 4000, 1.0)  # caught up, no mail in the window
    after.evaluate(ledger, T + 4000)
    sent = [
        (n.sinks, a.kind, a.value, a.at) for n in after.due(T + 4000, flush=True)
        for a in n.alerts
    ]  # fmt: skip
    assert sent == [(("pager",), Transition.RESOLVED, 0.1, T + 2)]


@pytest.mark.parametrize(
    ("figure", "told"),
    [(0.02, (0.02, T - 100)), (0.08, (None, T + 3600))],
    ids=["the rule in force clears at it", "the rule in force fires at it"],
)
def test_an_owed_resolve_on_an_empty_window_keeps_its_figure_where_the_rule_clears(
    figure: float, told: tuple[float | None, float]
) -> None:
    """A resolve decided before the stop at ``figure``, the window empty after it: made
    again at its figure and end where the rule in force clears at that figure; where
    it fires at it (above 10%, clearing below 5%: a reload between), "resolved at 8%"
    would read against thresholds that keep it firing, and the resolve says no data."""
    state = AlertState(FIRING, since=T - 600, last_sent=T - 600, value=figure,
                       resolved_at=T - 100)  # fmt: skip
    made = step(test_rules.rule(), state, None, 0, T + 3600, HOUR, blind=True)
    assert made is Transition.RESOLVED
    assert (state.value, state.resolved_at) == told
