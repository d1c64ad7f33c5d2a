"""An alert whose resolve a stop left undelivered, after a restart whose first
evaluations read more than half a window behind (a backlog draining: too thin to make
the resolve again). The restart posts every firing alert to Alertmanager at once; this
one is posted as sesd last knew it, resolved, when and at the figure it resolved at
(the status page reads it so, and Slack and PagerDuty are told no reminder of it),
not "firing" at the figure that resolved it. Should it fire still once the window
fills, the resolve is posted as told, then a new firing, posted once. The real
Alertmanager, routing to a local webhook receiver."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.resends import Resends
from sesd.alerting.rules import Transition
from sesd.config import AlertmanagerConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.receivers import WebhookReceiver
from tests.test_alertmanager import alertmanager
from tests.test_alertmanager_owed_restart import _firing
from tests.test_rule_changes import rule
from tests.test_rules import feed_spike


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _resolved(body: dict[str, Any]) -> bool:
    return bool(body["status"] == "resolved")


async def _deliver(outbox: Outbox, receiver: WebhookReceiver, wanted: Any) -> dict[str, Any]:
    """Run ``outbox`` until Alertmanager notified ``receiver`` a body ``wanted`` takes."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        with anyio.fail_after(30):
            body: dict[str, Any] = await receiver.wait_for(wanted)
        tg.cancel_scope.cancel()
    return body


@pytest.mark.timeout(90)
async def test_an_owed_resolve_is_posted_resolved_while_the_window_is_too_thin(
    tmp_path: Path,
) -> None:
    """delays/a.example fired at 60% and Alertmanager holds it firing; it resolved at
    10% and sesd stopped before the resolve went out. Restarted 200 s behind its 5m
    window, sesd posts it at once, resolved at the time it resolved and at 10%:
    Alertmanager notifies it resolved. The window then fills with delays: its resolve
    is posted as told, then it fires anew, and Alertmanager notifies that firing,
    begun then, once."""
    base = float(int(time.time()) - 120)
    async with (
        WebhookReceiver() as receiver,
        alertmanager(tmp_path, receiver.url) as am,
        aiohttp.ClientSession() as session,
    ):
        sinks = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
        sinks += f'urls = ["{am}"]\nresend_every = "1h"\n'
        config = parse_config(sinks + rule(extra='sinks = ["am"]\n'))
        sink_config = config.alerts.named_sinks()["am"]
        assert isinstance(sink_config, AlertmanagerConfig)
        sink = AlertmanagerSink(sink_config, session, "am")
        pipeline = Pipeline(core_settings(config))
        feed_spike(pipeline, "a.example", base, 6, 4)
        before = Evaluator(config.alerts, ["5m"])
        before.evaluate(pipeline.ledger, base)
        for notification in before.due(base, flush=True):
            await sink.send(notification)
        with anyio.fail_after(30):
            await receiver.wait_for(lambda body: body["status"] == "firing")
        assert await anyio.to_thread.run_sync(_firing, am) == ["a.example"]
        feed_spike(pipeline, "a.example", base + 60, 0, 50)
        (resolve,) = before.evaluate(pipeline.ledger, base + 60)
        assert (resolve.kind, resolve.value) == (Transition.RESOLVED, 0.1)
        unsent = [("delays", "a.example", Transition.RESOLVED)]
        blob = snapshot(pipeline.ledger, before, base + 61, unsent, True)

        # The restart, reading 200 s behind the 5m window.
        restarted = Pipeline(core_settings(config))
        ledger = restarted.ledger
        after = Evaluator(config.alerts, ["5m"])
        restore(blob, ledger, after, base + 100)
        ledger.tallies.received("q", base + 100, 200.0)
        assert after.evaluate(ledger, base + 100) == []
        assert after.due(base + 100, flush=True) == []
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        outbox = Outbox(sink, size=10, counter=counter)
        resends = Resends()
        resends.post(after, {"am": outbox}, base + 100)
        assert [n.kind for n in outbox.unsent()] == [Transition.RESOLVED]
        body = await _deliver(outbox, receiver, _resolved)
        (alert,) = body["alerts"]
        assert alert["labels"]["domain"] == "a.example"
        assert _at(alert["endsAt"]) == base + 60
        assert "10.0%" in alert["annotations"]["summary"]
        assert await anyio.to_thread.run_sync(_firing, am) == []

        # Caught up, the window full of delays: the resolve as told, then a new firing,
        # posted once.
        feed_spike(restarted, "a.example", base + 110, 60, 0)
        ledger.tallies.received("q", base + 110, 1.0)
        resolved, fired = after.evaluate(ledger, base + 110)
        assert (resolved.kind, resolved.at) == (Transition.RESOLVED, base + 60)
        assert (fired.kind, fired.since) == (Transition.FIRING, base + 110)
        sent = after.due(base + 110, flush=True)
        kinds = [(n.kind, n.sinks) for n in sent]
        assert kinds == [(Transition.RESOLVED, ("am",)), (Transition.FIRING, ("am",))]
        for notification in sent:
            outbox.put(notification)
        resends.post(after, {"am": outbox}, base + 110)  # not due again for an hour
        assert len(outbox) == 2

        def anew(body: dict[str, Any]) -> bool:
            return bool(body["status"] == "firing") and any(
                _at(a["startsAt"]) == base + 110 for a in body["alerts"]
            )

        await _deliver(outbox, receiver, anew)
        assert await anyio.to_thread.run_sync(_firing, am) == ["a.example"]
