"""When an Alertmanager sink's firing alerts are posted again: at the evaluation once
``resend_every`` has passed, measured on the wall clock while the ticks run on the
monotonic one, so a span of ticks may read a little short."""

from __future__ import annotations

import aiohttp
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.resends import Resends
from sesd.alerting.rules import Transition
from sesd.config import AlertmanagerConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_rule_changes import SINKS, T, rule
from tests.test_rules import feed_spike


async def test_a_resend_is_due_at_the_tick_a_slewed_clock_reads_a_little_short() -> None:
    """A clock slewed slow (chrony, by up to 8%) reads the twelve 5s ticks of a 1m
    resend_every as 59.9s: the resend goes at that tick, as a repeat_interval or a
    group_wait counts a tenth of a tick short as waited. Else each resend came a tick
    late, past the wait the config's check of resend_every counts on."""
    am = '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\n'
    config = parse_config(SINKS + am + rule(extra='sinks = ["pager", "am"]\n'))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m"])
    feed_spike(pipeline, "a.example", T, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, T)
    assert fired.kind is Transition.FIRING
    evaluator.due(T, flush=True)
    sink_config = config.alerts.named_sinks()["am"]
    assert isinstance(sink_config, AlertmanagerConfig)
    counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
    resends = Resends()
    resends.at_once("am")
    async with aiohttp.ClientSession() as session:
        posted = []
        for now in (T + 5, T + 5 + 59.9):
            # A fresh outbox each time: the last post was delivered.
            outbox = Outbox(AlertmanagerSink(sink_config, session, "am"), size=10, counter=counter)
            resends.post(evaluator, {"am": outbox}, now)
            posted.append([n.kind for n in outbox.unsent()])
    assert posted == [[Transition.REPEAT], [Transition.REPEAT]]
