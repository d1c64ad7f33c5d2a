"""A reload relabels a rule (``team = "mail"`` to ``"ops"``) while its Alertmanager
takes nothing: what the stop leaves queued under the old labels is owed under them.
The state file keeps those resolves apart, for that sink alone, and the restart
queues them under the labels Alertmanager had; saved among the rule's own states, the
restart would have resolved them under the new labels, which Alertmanager never had,
and left the old ones firing. A sink that does not tell alerts apart by labels
(Slack) is owed its queued firing as the rule's, whatever labels it was made under.
Local Alertmanager-like members."""

from __future__ import annotations

import aiohttp
import anyio

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_alertmanager_members import _Member
from tests.test_routing import RULE, T, _alerting, _queued
from tests.test_rules import feed_spike


async def test_resolves_queued_under_labels_a_reload_changed_are_kept_under_them() -> None:
    """a.example and b.example fire, and Alertmanager takes both under ``team =
    "mail"``. Then it takes nothing more: b.example ends (its resolve queued, under the
    old labels), and a reload relabels the rule (a.example's old labels' resolve and new
    labels' firing queued). sesd stops. After the restart the two resolves go to the
    Alertmanager sink alone, under ``team = "mail"``; a.example's state is the new
    labels' (the first evaluation fires it again, its firing not taken)."""
    async with _Member() as a, aiohttp.ClientSession() as session:
        head = (
            '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
            f'urls = ["{a.url}"]\nresend_every = "1h"\n'
        )

        def text(team: str) -> str:
            return head + RULE + f'sinks = ["am"]\nlabels = {{ team = "{team}" }}\n'

        alerting, pipeline, now = _alerting(text("mail"))
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run)
            for domain in ("a.example", "b.example"):
                feed_spike(pipeline, domain, T, 6, 4)
            alerting.evaluate()
            with anyio.fail_after(10):
                await outbox.wait_empty()
            tg.cancel_scope.cancel()  # from here on it takes nothing
        assert [alert["labels"]["team"] for alert in a.bodies[0]] == ["mail", "mail"]
        now[0] = T + 1
        feed_spike(pipeline, "b.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        ops = parse_config(text("ops"))
        alerting.reconfigure(ops)
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )

    fresh = Pipeline(core_settings(ops))
    after = Evaluator(ops.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    ((resolves),) = after.due(T + 3)
    assert (resolves.kind, resolves.sinks) == (Transition.RESOLVED, ("am",))
    assert sorted((x.domain, x.labels["team"]) for x in resolves.alerts) == [
        ("a.example", "mail"),
        ("b.example", "mail"),
    ]
    assert list(after.states["delays"]) == ["a.example"]
    assert after.states["delays"]["a.example"].notified is False


async def test_a_firing_queued_for_slack_across_a_relabel_pages_after_a_restart() -> None:
    """a.example fires while Slack takes nothing, and a reload relabels the rule. Slack
    tells alerts apart by rule and domain alone: the firing queued under the old labels
    is the rule's firing still, so the stop saves it as not sent, owed to Slack, and the
    restart pages it there. Taken for another alert (as Alertmanager would see it), it
    was saved as sent and Slack never heard of the incident."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n'
        '[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "http://127.0.0.1:9/s"\n'
    )

    def text(team: str) -> str:
        return head + RULE + f'sinks = ["slack"]\nlabels = {{ team = "{team}" }}\n'

    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(text("mail"))
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        assert [n.kind for n in alerting.evaluate()] == [Transition.FIRING]  # queued
        ops = parse_config(text("ops"))
        alerting.reconfigure(ops)
        unsent = alerting.undelivered()
        assert unsent.firing == {("delays", "a.example"): ["slack"]}
        blob = snapshot(
            pipeline.ledger,
            alerting.evaluator,
            T + 2,
            unsent.again,
            True,
            unsent.retired,
            unsent.firing,
        )

    fresh = Pipeline(core_settings(ops))
    after = Evaluator(ops.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    assert after.states["delays"]["a.example"].notified is False
    assert [alert.domain for alert in after.evaluate(fresh.ledger, T + 4)] == ["a.example"]
    (firing,) = after.due(T + 4)
    assert (firing.kind, firing.sinks) == (Transition.FIRING, ("slack",))


async def test_a_resolve_queued_for_a_webhook_across_a_relabel_keeps_its_labels() -> None:
    """A webhook takes a.example's firing under ``team = "mail"`` at severity warning,
    then takes nothing more; the alert ends, and a reload makes the rule critical,
    ``team = "ops"``. The webhook tells alerts apart by rule and domain alone, so the
    resolve is the rule's still, but its document shows severity and labels: after a
    restart the resolve says what the firing it ends said, not the rule in force."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n'
        '[alerts.sinks.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/h"\n'
    )

    def text(severity: str, team: str) -> str:
        told = f'severity = "{severity}"\nlabels = {{ team = "{team}" }}\n'
        return head + RULE + 'sinks = ["hook"]\n' + told

    later = parse_config(text("critical", "ops"))
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(text("warning", "mail"))
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "hook") == [("firing", ["a.example"])]  # taken
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        alerting.reconfigure(later)
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )

    fresh = Pipeline(core_settings(later))
    after = Evaluator(later.alerts, [spec.name for spec in fresh.ledger.specs])
    restore(blob, fresh.ledger, after, T + 3)
    (resolve,) = after.due(T + 3)
    assert (resolve.kind, resolve.sinks, resolve.severity) == (
        Transition.RESOLVED,
        ("hook",),
        "warning",
    )
    assert [(a.severity, a.labels) for a in resolve.alerts] == [("warning", {"team": "mail"})]
