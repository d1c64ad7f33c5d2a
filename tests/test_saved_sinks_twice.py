"""A state file saved while a rule named one sink twice (before a config refused
that): the resolve it owes under that rule is queued once on the sink, not once per
time the saved rule names it (a second PagerDuty resolve, a second Slack post)."""

from __future__ import annotations

import aiohttp
import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore
from tests.test_owed_ended_restart import resolve_left_unsent
from tests.test_routing import alerting_for
from tests.test_rule_changes import SINKS, WINDOWS, T, rule


def _named_twice(blob: bytes) -> bytes:
    """``blob`` as a build that let a rule name its sink twice saved it."""
    data = msgspec.msgpack.decode(blob)
    assert data["rules"]["delays"]["sinks"] == ["pager"]
    data["rules"]["delays"]["sinks"] = ["pager", "pager"]
    return msgspec.msgpack.encode(data)


async def test_a_resolve_owed_under_a_rule_naming_its_sink_twice_is_queued_once() -> None:
    """The pager had not taken a.example's resolve at the stop; the restart's config no
    longer has the rule: the resolve goes to the pager, once."""
    blob = _named_twice(resolve_left_unsent())
    config = parse_config(SINKS + rule("other", 'sinks = ["chat"]\n'))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    restore(blob, pipeline.ledger, evaluator, T + 4)
    alerting = alerting_for(config, pipeline, [T + 4], evaluator)
    async with aiohttp.ClientSession() as session:
        alerting.open(session)
        alerting.evaluate(flush=True)
        queued = [(n.kind.value, n.rule) for n in alerting.outboxes["pager"].unsent()]
        assert queued == [("resolved", "delays")]
        assert alerting.outboxes["chat"].unsent() == []
