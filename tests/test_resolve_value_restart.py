"""A resolve left undelivered at a stop is saved as the alert still firing (the sinks
have it so) and made again after the restart. Where the restart's rules owe that
resolve themselves (the rule removed, or its sink dropped), it tells the figure the
alert resolved at, as the resolve made by an evaluation does: not "no data", which
reads as though the domain's mail had stopped."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike


@pytest.mark.parametrize(
    "restarted",
    [rule(name="other"), rule(extra='sinks = ["chat"]\n')],
    ids=["rule removed", "sink dropped"],
)
def test_a_resolve_owed_by_the_restarts_rules_tells_its_figure(restarted: str) -> None:
    """a.example fires at 60% on the pager and resolves at 10%; the pager has not taken
    the resolve when sesd stops. The restart's rules no longer page the pager with it:
    the resolve they owe it says 10%."""
    first = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    feed_spike(pipeline, "a.example", T + 2, 0, 50)
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 2)
    assert (resolved.kind, resolved.value) == (Transition.RESOLVED, 0.1)
    unsent = [("delays", "a.example", Transition.RESOLVED)]
    blob = snapshot(pipeline.ledger, evaluator, T + 3, unsent, True)
    later = parse_config(SINKS + restarted)
    after = Evaluator(later.alerts, WINDOWS)
    restore(blob, Pipeline(core_settings(later)).ledger, after, T + 4)
    owed = [
        (n.sinks, a.value) for n in after.due(T + 4) for a in n.alerts
        if a.kind is Transition.RESOLVED
    ]  # fmt: skip
    assert owed == [(("pager",), 0.1)]
