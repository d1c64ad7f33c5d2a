"""What an outbox leaves out of a firing for Alertmanager when a resolve waits behind
it: only that rule's alerts, and all of them when all resolved. Two Alertmanager-like
members, the real sink and outbox."""

from __future__ import annotations

import dataclasses

import aiohttp
import anyio
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.alert import Notification
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Transition
from sesd.config import AlertmanagerConfig
from tests.test_alertmanager_members import _ended, _Member
from tests.test_sinks import alert, notification


async def _deliver(
    first: Notification, later: list[Notification]
) -> list[dict[tuple[str, str], bool]]:
    """Both members answer 503 to ``first``; ``later`` is queued during the backoff;
    then they answer 200. Returns what member a got after the outage: [{domain: ended}]."""
    waiting, release = anyio.Event(), anyio.Event()

    async def gate(seconds: float) -> None:
        waiting.set()
        await release.wait()

    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        a.status = b.status = 503
        sink = AlertmanagerSink(AlertmanagerConfig(urls=[a.url, b.url]), session, "am")
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        outbox = Outbox(sink, size=10, counter=counter, sleep=gate)
        outbox.put(first)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await waiting.wait()
                for n in later:
                    outbox.put(n)
                a.status = b.status = 200
                before = len(a.bodies)
                release.set()
                await outbox.wait_empty()
                tg.cancel_scope.cancel()
        return [
            {(doc["labels"]["alertname"], doc["labels"]["domain"]): _ended([doc]) for doc in body}
            for body in a.bodies[before:]
        ]


async def test_another_rules_resolve_does_not_hold_back_this_rules_firing() -> None:
    """rule "delays" fires on x.example; rule "bounces" resolves on x.example. The
    resolve of "bounces" says nothing of "delays": its firing must still be posted."""
    firing = notification(alert("x.example"))  # rule "delays"
    other = dataclasses.replace(
        notification(
            dataclasses.replace(alert("x.example", kind=Transition.RESOLVED), rule="bounces"),
            kind=Transition.RESOLVED,
        ),
        rule="bounces",
    )
    posts = await _deliver(firing, [other])
    assert any(("delays" in str(k) and not ended) for p in posts for k, ended in p.items()), posts


async def test_a_firing_all_of_whose_alerts_resolved_since_is_not_posted() -> None:
    """the whole notification's alert resolved while Alertmanager was down: only
    the resolve goes (the module docstring; the test suite covers only the case where
    one of two alerts resolved)."""
    firing = notification(alert("x.example"))
    resolved = notification(alert("x.example", kind=Transition.RESOLVED), kind=Transition.RESOLVED)
    posts = await _deliver(firing, [resolved])
    assert all(ended for p in posts for ended in p.values()), posts


async def test_the_sent_line_counts_the_alerts_posted_not_those_left_out() -> None:
    """x.example and y.example fire; x.example's resolve waits behind: y.example alone
    is posted with the firing, and ``sesd.notify.sent`` says one alert, as posted."""
    from structlog.testing import capture_logs

    firing = notification(alert("x.example"), alert("y.example"))
    resolved = notification(alert("x.example", kind=Transition.RESOLVED), kind=Transition.RESOLVED)
    with capture_logs() as logs:
        posts = await _deliver(firing, [resolved])
    assert posts[0] == {("delays", "y.example"): False}, posts
    sent = [r for r in logs if r["event"] == "sesd.notify.sent"]
    assert [(r["kind"], r["alerts"]) for r in sent] == [("firing", 1), ("resolved", 1)]
