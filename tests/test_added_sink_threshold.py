"""A sink a rule names anew is paged for the alerts it fires: each told under the rule
it fired under (its value against that threshold), as its resolve to a sink the
rule dropped is, whether the sink was added by a reload or in the config while sesd
was down. Under the thresholds in force, a page after the restart read "60% above
30%" for an alert the other sinks were told fired above 20%."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike


@pytest.mark.parametrize("added", ["by a reload", "while sesd was down"])
def test_a_sink_added_with_new_thresholds_is_paged_under_the_rule_it_fired_under(
    added: str,
) -> None:
    """a.example fires above 20% on the pager; the rule then also names the chat and
    fires above 30%. The chat is paged with the threshold the alert fired at (20%),
    under the severity in force."""
    first = parse_config(SINKS + rule())
    changed = 'sinks = ["pager", "chat"]\nseverity = "critical"\n'
    later = parse_config(SINKS + rule(extra=changed).replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    (fired,) = evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    if added == "by a reload":
        evaluator.configure(later.alerts, WINDOWS, T + 1, pipeline.ledger)
    else:
        blob = snapshot(pipeline.ledger, evaluator, T + 1, [], True)
        evaluator = Evaluator(later.alerts, WINDOWS)
        restore(blob, Pipeline(core_settings(later)).ledger, evaluator, T + 1)
    (page,) = evaluator.due(T + 1)
    assert (page.kind, page.sinks, page.severity) == (Transition.FIRING, ("chat",), "critical")
    assert [(a.threshold, a.severity) for a in page.alerts] == [(fired.threshold, "critical")]
