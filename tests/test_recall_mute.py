"""The ``sesd silence add`` line a notification offers the on-call engineer (Slack's
"mute:", PagerDuty's ``custom_details.mute``, the webhook's ``mute``) after a silence
recalls some of its alerts: it names the domains left in the page. Left naming the
whole group (``--domain '*'``), it would mute domains the page no longer shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sesd.alerting.documents import webhook_document
from sesd.alerting.render import pagerduty_events
from sesd.alerting.render_slack import slack_message
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from tests.test_routing import T, _silenceable
from tests.test_rules import feed_spike

pytestmark = pytest.mark.timeout(30)


async def test_what_a_silence_leaves_of_a_page_offers_to_mute_only_what_is_left(
    tmp_path: Path,
) -> None:
    """a.example and b.example fire in one page, queued; a silence recalls a.example.
    The page left mutes b.example alone, in every sink's words."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    (queued,) = alerting.outboxes["ops"]._queue
    assert "--domain '*'" in queued.silence
    held = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 60, domain="a.example")
    SilenceFile(str(silences)).add(held, T)
    now[0] = T + 1
    alerting.evaluate()
    (left,) = alerting.outboxes["ops"]._queue
    assert [a.domain for a in left.alerts] == ["b.example"]
    line = alerting.evaluator.mute("delays", ["b.example"])
    assert "--domain b.example" in line
    assert left.silence == line
    assert left.mutes == (("b.example", line),)
    closing = slack_message(left)["blocks"][-1]["elements"]
    assert closing[-1]["text"] == f"mute: {line}"
    (event,) = pagerduty_events(left, "key", "sesd")
    assert json.loads(event)["payload"]["custom_details"]["mute"] == line
    assert json.loads(webhook_document(left))["mute"] == line


async def test_what_a_silence_leaves_of_a_resolve_offers_to_mute_nothing(
    tmp_path: Path,
) -> None:
    """a.example and b.example fire in one page and resolve in one message, both
    queued; a silence recalls a.example's firing, and with it a.example's resolve (the
    sink never had the firing). What is left of the resolve is b.example's, and like
    any resolve it offers no line to mute it: the incident is over."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    now[0] = T + 1
    feed_spike(pipeline, "a.example", T + 1, 0, 100)
    feed_spike(pipeline, "b.example", T + 1, 0, 100)
    alerting.evaluate()
    queued = [(n.kind.value, [a.domain for a in n.alerts]) for n in alerting.outboxes["ops"]._queue]
    both = ["a.example", "b.example"]
    assert queued == [("firing", both), ("resolved", both)]
    held = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 60, domain="a.example")
    SilenceFile(str(silences)).add(held, T + 1)
    now[0] = T + 2
    alerting.evaluate()
    firing, resolve = alerting.outboxes["ops"]._queue
    assert [a.domain for a in firing.alerts] == [a.domain for a in resolve.alerts] == ["b.example"]
    assert firing.silence
    assert (resolve.silence, resolve.mutes) == ("", ())
    closing = slack_message(resolve)["blocks"][-1]["elements"]
    assert not any(element["text"].startswith("mute:") for element in closing)
    assert json.loads(webhook_document(resolve))["mute"] is None
