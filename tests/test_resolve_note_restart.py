"""The resolve of an alert whose rule a reload changed since it fired says so ("the
rule was changed in the config"): a resolve at 25% under ``above = 0.3``, after a page
above 20%, is no contradiction on the pager. Such a resolve left undelivered at a stop
is made again after the restart, and says so again."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike

CHANGED = "the rule was changed in the config (above 0.2 to 0.3)"
#: The resolve at 25%, kind, figure and notes.
RESOLVED = (Transition.RESOLVED, 0.25, (CHANGED,))


def test_a_resolve_left_undelivered_says_again_that_the_rule_changed() -> None:
    """a.example fires at 60% above 20%; a reload moves the rule to 30%, and the alert
    resolves at 25%, saying the rule changed. The pager has not taken the resolve when
    sesd stops: after the restart, the resolve made again says it too."""
    first = parse_config(SINKS + rule())
    later = parse_config(SINKS + rule().replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(later.alerts, WINDOWS, T + 1, pipeline.ledger)
    feed_spike(pipeline, "a.example", T + 2, 0, 14)
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 2)
    assert (resolved.kind, resolved.value, resolved.notes) == RESOLVED
    unsent = [("delays", "a.example", Transition.RESOLVED)]
    blob = snapshot(pipeline.ledger, evaluator, T + 3, unsent, True)
    after = Evaluator(later.alerts, WINDOWS)
    ledger = Pipeline(core_settings(later)).ledger
    restore(blob, ledger, after, T + 4)
    (again,) = after.evaluate(ledger, T + 4)
    assert (again.kind, again.value, again.notes) == RESOLVED
