"""A pending alert (a rule with ``for``) survives a restart with its start: a restart
(a deploy, an OOM kill) must not push the page back by the time it had waited. The
real state file's snapshot and restore, and the evaluator."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.test_rules import feed_spike

T = f.T0
RULE = """
[[alerts.rules]]
name = "delays"
metric = "delay_ratio"
window = "1h"
above = 0.2
min_events = 4
for = "10m"
"""


def test_a_pending_alert_keeps_its_start_across_a_restart() -> None:
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    feed_spike(pipeline, "a.example", T, 5, 5)
    evaluator.evaluate(pipeline.ledger, T)
    blob = snapshot(pipeline.ledger, evaluator, T + 300)  # saved 5 min into the 10 min
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, [s.name for s in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 330)  # restarted 30 s later
    after.evaluate(fresh.ledger, T + 330)
    fired = after.evaluate(fresh.ledger, T + 601)
    assert [a.kind.value for a in fired] == ["firing"]
