"""A fleet's replica killed (-9) between its count of a message and its delete: how
long the fleet's figures hold that message twice (README, "Fleet mode").

Two replicas on one queue, in process: replica A counts a Delivery, its state is saved
(a periodic save between the count and the kill), and A is killed before its delete.
SQS hands the message out again after its visibility timeout, to B, which counts it.
A restarted from its file would have dropped it (its duplicate filter is restored), but
B cannot know. The fleet's windows (the sums the fleet rules and the dashboard read)
hold it twice until it leaves each window, by its event time; B's counter keeps it."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from sesd.runtime.state import restore, snapshot
from tests import factory as f

T = f.T0
DOMAIN = {"domain": "one.com", "event_type": "delivery"}


def test_a_message_counted_twice_after_a_kill_leaves_the_fleet_s_windows_by_their_length() -> None:
    """A counts the Delivery at T and is killed after a save; B counts it again 30 s
    later, and A restarted from its file drops it. The fleet's 5m window has it twice
    until T+5m, its 1h window until T+1h, then once no more; B's counter keeps it."""
    config = parse_config("")
    now = [T]
    body = f.raw(f.delivery(["a@one.com"], at=T))
    a = Pipeline(core_settings(config))
    a.feed(body, "q", T)
    evaluator = Evaluator(config.alerts, [spec.name for spec in a.ledger.specs])
    saved = snapshot(a.ledger, evaluator, T)  # the save before the kill
    restarted, b = Pipeline(core_settings(config)), Pipeline(core_settings(config))
    restore(saved, restarted.ledger, Evaluator(config.alerts, evaluator.window_names), T + 30)
    b.feed(body, "q", T + 30)  # SQS hands it out again, to B
    restarted.feed(body, "q", T + 30)  # to A alone, it was dropped
    fleet = [Metrics(p.ledger, [], lambda: now[0]) for p in (restarted, b)]

    def summed(name: str, **labels: str) -> float:
        return sum(m.registry.get_sample_value(name, {**DOMAIN, **labels}) or 0.0 for m in fleet)

    now[0] = T + 60
    assert summed("sesd_window_recipient_events", window="5m") == 2
    now[0] = T + 301
    assert summed("sesd_window_recipient_events", window="5m") == 0
    assert summed("sesd_window_recipient_events", window="1h") == 2
    now[0] = T + 3601
    assert summed("sesd_window_recipient_events", window="1h") == 0
    assert fleet[1].registry.get_sample_value("sesd_recipient_events_total", DOMAIN) == 1
