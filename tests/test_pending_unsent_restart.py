"""A resolve left undelivered at a stop while its alert breaches again (pending a new
firing under its rule's `for`) is saved as the alert still firing, and the restart
makes it again. The pending state holds the new breach, not the incident the resolve
ends: the resolve saved tells its own figure, start and end, as made before the stop,
not "no data" from the new breach's start (after its own end)."""

from __future__ import annotations

import aiohttp

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status, Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import snapshot
from tests.test_owed_ended_restart import restarted
from tests.test_routing import _alerting, _queued
from tests.test_rule_changes import SINKS, T, rule
from tests.test_rules import feed_spike

FOR = 'sinks = ["pager"]\nfor = "1m"\n'


def test_a_resolve_unsent_while_its_alert_is_pending_again_keeps_its_figure() -> None:
    """a.example fires at 60% a minute after it breached, resolves at 10% two seconds
    on, and breaches again (pending) before the pager takes the resolve; sesd stops.
    An hour later the restart's resolve says 10%, since the firing, ended when it
    ended."""
    config = parse_config(SINKS + rule(extra=FOR))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m"])
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, T) == []
    (fired,) = evaluator.evaluate(pipeline.ledger, T + 60)
    assert (fired.kind, fired.since) == (Transition.FIRING, T + 60)
    evaluator.due(T + 60)
    feed_spike(pipeline, "a.example", T + 62, 0, 50)
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 62)
    told = (resolved.kind, resolved.value, resolved.since, resolved.at)
    assert told == (Transition.RESOLVED, 0.1, T + 60, T + 62)
    feed_spike(pipeline, "a.example", T + 70, 60, 0)
    assert evaluator.evaluate(pipeline.ledger, T + 70) == []
    assert evaluator.states["delays"]["a.example"].status is Status.PENDING
    unsent = [("delays", "a.example", Transition.RESOLVED)]
    blob = snapshot(pipeline.ledger, evaluator, T + 71, unsent, True, resolves=[resolved])

    assert _told_an_hour_on(blob, SINKS + rule(extra=FOR)) == [
        (("pager",), Transition.RESOLVED, 0.1, T + 60, T + 62)
    ]


async def test_a_resolve_queued_while_its_alert_is_pending_again_keeps_its_figure() -> None:
    """As above, as the daemon saves it: the pager (down) took the firing and not the
    resolve, queued; what the alerting says is undelivered goes into the file (that
    resolve kept apart, as made, with the pager owed it). The restart resolves the
    pager's incident at 10%, since the firing, ended when it ended."""
    head = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pager]\ntype = "pagerduty"\n'
    head += 'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(head + rule(extra=FOR))
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        now[0] = T + 60
        alerting.evaluate()
        assert _queued(alerting, "pager") == [("firing", ["a.example"])]  # taken
        now[0] = T + 62
        feed_spike(pipeline, "a.example", T + 62, 0, 50)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        now[0] = T + 70
        feed_spike(pipeline, "a.example", T + 70, 60, 0)
        assert alerting.evaluate() == []
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 71, unsent.again, True, unsent.retired,
            unsent.firing, unsent.resolves,
        )  # fmt: skip
    assert _told_an_hour_on(blob, head + rule(extra=FOR)) == [
        (("pager",), Transition.RESOLVED, 0.1, T + 60, T + 62)
    ]


def _told_an_hour_on(
    blob: bytes, text: str
) -> list[tuple[tuple[str, ...], Transition, float | None, float, float]]:
    """(sinks, kind, value, since, end) of what the first evaluation of a start an
    hour after the stop, on the config ``text``, sends."""
    after, ledger = restarted(blob, text, ["5m"], T + 3671)
    after.evaluate(ledger, T + 3671)
    return [
        (n.sinks, a.kind, a.value, a.since, a.at) for n in after.due(T + 3671, flush=True)
        for a in n.alerts
    ]  # fmt: skip
