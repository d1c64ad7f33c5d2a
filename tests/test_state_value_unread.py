"""An alert state's figure in the state file that is no number a window gives (not a
number, or infinite: a flipped byte in a float's exponent, a hand's edit) is read as
no figure, as a state saved before any was read: a resolve a change of rules owes at
the restart, and the status page, said "nan%" or "inf%" where the figure goes."""

from __future__ import annotations

import math

import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import headline
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike


@pytest.mark.parametrize("figure", [math.nan, math.inf, -math.inf])
def test_a_figure_that_is_no_number_reads_as_none(figure: float) -> None:
    """a.example fires and is paged; its saved figure is damaged, and the config drops
    the rule while sesd is down: the restart owes the pager the resolve, which says
    it has no figure (read as none) rather than "nan%"."""
    config = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(config.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, T + 1, [], True))
    data["alerts"]["delays"]["a.example"][3] = figure
    emptied = parse_config(SINKS + rule(name="other"))
    after = Evaluator(emptied.alerts, WINDOWS)
    restored = restore(msgspec.msgpack.encode(data), Pipeline(core_settings(emptied)).ledger,
                       after, T + 2)  # fmt: skip
    (told,) = after.due(T + 2)
    (alert,) = told.alerts
    assert (told.kind, told.sinks, alert.domain) == (Transition.RESOLVED, ("pager",), "a.example")
    assert alert.value is None
    assert "no data" in headline(alert)
    assert not restored["entries_skipped"]
