"""What a reload keeps of a removed rule while its alerts are undelivered: every
place they wait counts, whichever sinks the config names after the one a resolve
waits for. A removed rule forgotten while its resolve is queued is a resolve the stop
cannot save (no rule to tell it under): after the restart the incident stays open."""

from __future__ import annotations

import aiohttp
import pytest

from sesd.alerting.rules import Transition
from sesd.config import parse_config
from tests.test_owed_firing_restart import HEAD
from tests.test_routing import AM, RULE, T, _alerting
from tests.test_rules import feed_spike


@pytest.mark.parametrize("after", ["", AM], ids=["pagerduty", "alertmanager"])
async def test_a_removed_rules_resolve_queued_for_a_sink_before_others_is_kept(
    after: str,
) -> None:
    """a.example fires to Slack (the first sink the config names; PagerDuty and, in
    one case, an Alertmanager after it) and Slack takes the firing. A reload removes
    the rule: its resolve is queued for Slack, and the rule is kept for it, so the
    stop's save holds the resolve under it. Counted from the last outbox alone (or
    from the Alertmanager's owed resolves alone), the rule went."""
    head = HEAD + after
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(head + RULE + 'sinks = ["slack"]\n')
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        (fired,) = alerting.evaluate()
        alerting.outboxes["slack"].swap(fired, None)  # taken
        now[0] = T + 1
        alerting.reconfigure(parse_config(head))
        (resolve,) = alerting.outboxes["slack"].waiting()
        assert resolve.kind is Transition.RESOLVED
        owed = [(rule.name, rule.sinks, a.domain) for rule, a in alerting.undelivered().retired]
        assert owed == [("delays", ["slack"], "a.example")]
