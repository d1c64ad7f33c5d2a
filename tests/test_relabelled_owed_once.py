"""Alertmanager tells alerts apart by their labels, so a reload that relabels a rule
owes it the resolve of the labels it had. Relabelled again and again while it takes
nothing, each reload added another resolve per alert (of labels whose firing it
never took, queued behind that resolve): past the one per sink and alert the state
file's bound sets aside (sesd.runtime.state_size), so a file at its caps would be
set aside unread at the restart, every window and alert state with it. It is owed
one: the oldest, the labels it had before it stopped taking."""

from __future__ import annotations

import aiohttp

from sesd.alerting.rules import Transition
from sesd.config import parse_config
from tests.test_routing import RULE, T, _alerting
from tests.test_rules import feed_spike

HEAD = (
    '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
    'urls = ["http://127.0.0.1:9"]\nresend_every = "1h"\n'
    '[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "http://127.0.0.1:9/s"\n'
)


def _text(team: str) -> str:
    return HEAD + RULE + f'sinks = ["am", "slack"]\nlabels = {{ team = "{team}" }}\n'


async def test_a_sink_down_across_relabels_is_owed_the_resolve_of_the_labels_it_had() -> None:
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(_text("mail"))
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        for sink in ("am", "slack"):
            alerting.outboxes[sink]._queue.clear()  # both took the page, under "mail"
        for i, team in enumerate(("ops", "web", "dev", "sec")):  # neither takes more
            now[0] = T + 1 + i
            alerting.reconfigure(parse_config(_text(team)))
            alerting.evaluate()
        now[0] = T + 10
        feed_spike(pipeline, "a.example", T + 10, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        unsent = alerting.undelivered()
    owed = sorted(
        (sink, alert.domain, alert.labels["team"])
        for rule, alert in unsent.retired
        for sink in rule.sinks
    )
    # Slack, which relabels do not reach, is owed the resolve of the alert's end.
    assert owed == [("am", "a.example", "mail"), ("slack", "a.example", "sec")]
    # Those of later labels are of firings it never took: owed to no one, not counted.
    assert unsent.relabelled == 0


async def test_a_later_firing_taken_owes_the_first_resolve_the_other_counted() -> None:
    """Alertmanager took the firing of the second labels but not the resolve of the
    first (a member that missed it): it is owed the first resolve alone, and the one
    of the second labels not kept is counted for the stop's save to say."""
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(_text("mail"))
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        for sink in ("am", "slack"):
            alerting.outboxes[sink]._queue.clear()
        now[0] = T + 1
        alerting.reconfigure(parse_config(_text("ops")))
        alerting.evaluate()
        queue = alerting.outboxes["am"]._queue
        firing = [n for n in queue if n.kind is Transition.FIRING]
        assert len(firing) == 1
        queue.remove(firing[0])  # taken, the resolve before it missed
        now[0] = T + 10
        feed_spike(pipeline, "a.example", T + 10, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        unsent = alerting.undelivered()
    owed = sorted(
        (sink, alert.labels["team"]) for rule, alert in unsent.retired for sink in rule.sinks
    )
    assert owed == [("am", "mail"), ("slack", "ops")]
    assert unsent.relabelled == 1
