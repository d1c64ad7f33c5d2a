"""A resolve a restart owes a sink, still waiting its ``group_wait``, when a reload
removes that sink from the config: it is sent to the sink before its outbox closes,
as a reload sends a removed sink every resolve the change owes it. Left to wait, it
found no sink when due: the incident stayed open there, for a person to close."""

from __future__ import annotations

import aiohttp
import msgspec
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_owed_firing_restart import HEAD
from tests.test_routing import RULE, T, _alerting
from tests.test_rules import feed_spike

WAITING = HEAD.replace('group_wait = "0s"', 'group_wait = "30s"')
BOTH = WAITING + RULE + 'sinks = ["slack", "pagerduty"]\n'
#: PagerDuty taken out of the config.
SLACK_ONLY = WAITING.split("[alerts.sinks.pagerduty]")[0] + RULE + 'sinks = ["slack"]\n'


def _owing_pagerduty() -> bytes:
    """A file saved as a.example's resolve is owed to PagerDuty alone."""
    config = parse_config(BOTH)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    feed_spike(pipeline, "a.example", T + 1, 0, 400)
    (resolve,) = evaluator.evaluate(pipeline.ledger, T + 1)
    assert resolve.kind is Transition.RESOLVED
    rule = msgspec.structs.replace(config.alerts.rules[0], sinks=["pagerduty"])
    return snapshot(pipeline.ledger, evaluator, T + 2, retired=[(rule, resolve)])


async def test_a_resolve_owed_a_sink_a_reload_removes_is_sent_before_it_closes() -> None:
    blob = _owing_pagerduty()
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(BOTH)
        restore(blob, pipeline.ledger, alerting.evaluator, T + 3)
        alerting.open(session)
        assert alerting.evaluator.waiting() == [("delays", "a.example", Transition.RESOLVED)]
        now[0] = T + 4
        alerting.reconfigure(parse_config(SLACK_ONLY))
        assert alerting.waiting() == {"console": 0, "slack": 0, "pagerduty": 1}
        with capture_logs() as logs:
            now[0] = T + 60
            alerting.evaluate()
        assert "sesd.notify.sink_gone" not in [line["event"] for line in logs]
