"""A reload that removes a ``[domains]`` group while an alert on it fires: the alert
resolves at once, its resolve sent, as a removed rule's does, rather than firing on for
a window's length on a label nothing counts under any more (its domains count under
their own labels from the reload on)."""

from __future__ import annotations

import aiohttp

from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.test_routing import alerting_for
from tests.test_state_removed import GROUP, RULE

WITHOUT = GROUP.replace('groups = { Consumer-MS = ["hotmail.com"] }\n', "") + RULE


async def test_a_group_a_reload_removes_resolves_its_alert_at_once() -> None:
    """bounces/Consumer-MS fires; a reload removes the group. The reload queues the
    resolve, saying why; the group's label and windows are gone, so no evaluation after
    fires it again; hotmail.com's next bounce counts (and fires) under its own label."""
    config = parse_config(GROUP + RULE)
    pipeline = Pipeline(core_settings(config))
    now = [f.T0]
    alerting = alerting_for(config, pipeline, now)
    evaluator = alerting.evaluator
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
        (fired,) = alerting.evaluate()
        assert [a.domain for a in fired.alerts] == ["Consumer-MS"]
        outbox = alerting.outboxes["console"]
        outbox.swap(fired, None)  # delivered

        now[0] = f.T0 + 10
        without = parse_config(WITHOUT)
        pipeline.reconfigure(core_settings(without))
        alerting.reconfigure(without)
        (resolve,) = outbox.waiting()
        assert resolve.kind is Transition.RESOLVED
        ((alert),) = resolve.alerts
        assert alert.domain == "Consumer-MS"
        assert alert.notes == ("the group was removed from the config",)
        assert "Consumer-MS" not in pipeline.ledger.windows
        assert "Consumer-MS" not in evaluator.states["r"]

        now[0] = f.T0 + 20
        pipeline.feed(f.raw(f.bounce(["c@hotmail.com"], at=now[0])), "q", now[0])
        (again,) = alerting.evaluate()
        assert (again.kind, [a.domain for a in again.alerts]) == (
            Transition.FIRING,
            ["hotmail.com"],
        )


async def test_a_group_whose_name_a_rule_tracks_as_a_domain_is_not_resolved() -> None:
    """Group ``microsoft`` (a name in a domain's normal form) is removed while a rule
    still names ``microsoft``: the name stays a tracked label, as a domain, its windows
    kept, so the reload does not resolve its alert (the next evaluation would fire it
    again on those windows): it goes on as that label's windows say."""
    group = '[domains]\nidle_evict = "1h"\ngroups = { microsoft = ["hotmail.com"] }\n'
    rule = RULE + 'domains = ["microsoft"]\n'
    config = parse_config(group + rule)
    pipeline = Pipeline(core_settings(config))
    alerting = alerting_for(config, pipeline, [f.T0 + 10])
    evaluator = alerting.evaluator
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
        evaluator.evaluate(pipeline.ledger, f.T0)
        assert [n.kind for n in evaluator.due(f.T0)] == [Transition.FIRING]
        without = parse_config(
            group.replace('groups = { microsoft = ["hotmail.com"] }\n', "") + rule
        )
        pipeline.reconfigure(core_settings(without))
        alerting.reconfigure(without)
        assert "microsoft" in pipeline.ledger.windows
        assert alerting.outboxes["console"].waiting() == []
        assert evaluator.evaluate(pipeline.ledger, f.T0 + 20) == []
