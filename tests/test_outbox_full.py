"""What a full outbox drops while PagerDuty is down: a resolve dropped leaves its
incident open for ever (nothing sends it again), a firing dropped pages at its next
repeat, a repeat dropped loses nothing. The PagerDuty-like receiver and the real sink
and outbox."""

from __future__ import annotations

import dataclasses

import aiohttp
import anyio

from sesd.alerting.alert import Notification
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import PagerDutySink
from tests.receivers import Answer, Receiver
from tests.test_sinks import HeldSleeps, alert, delivering, notification, pagerduty_config


def warning(domain: str, kind: Transition, rule: str = "slow") -> Notification:
    return dataclasses.replace(
        notification(alert(domain, kind=kind), kind=kind), rule=rule, severity="warning"
    )


async def _events(*queued: Notification) -> list[tuple[str, str]]:
    """PagerDuty answers 503 to a firing of another rule; meanwhile ``queued`` come to
    an outbox of two. What PagerDuty takes once it is back."""
    sleeps = HeldSleeps()
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(503))
        sink = PagerDutySink(pagerduty_config(pd.url), session)
        async with delivering(sink, sleeps, size=2) as (box, _):
            box.put(warning("x.example", Transition.FIRING, rule="other"))
            with anyio.fail_after(10):
                await sleeps.waiting.wait()
            for one in queued:
                box.put(one)
            sleeps.release.set()
            with anyio.fail_after(10):
                await box.wait_empty()
    return [(e["event_action"], e["dedup_key"]) for e in pd.accepted]


async def test_a_full_outbox_drops_a_repeat_before_a_resolve() -> None:
    events = await _events(
        warning("w.example", Transition.RESOLVED),  # its firing was taken before
        warning("z.example", Transition.FIRING),
        warning("y.example", Transition.REPEAT),
    )
    assert events == [
        ("trigger", "sesd:delays:x.example"),
        ("resolve", "sesd:delays:w.example"),
        ("trigger", "sesd:delays:z.example"),
    ]


async def test_a_full_outbox_drops_a_firing_before_a_resolve() -> None:
    events = await _events(
        warning("w.example", Transition.RESOLVED),
        warning("z.example", Transition.FIRING),
        warning("v.example", Transition.FIRING),
    )
    assert events == [
        ("trigger", "sesd:delays:x.example"),
        ("resolve", "sesd:delays:w.example"),
        ("trigger", "sesd:delays:v.example"),
    ]


async def test_a_full_outbox_drops_a_warning_that_comes_rather_than_a_critical_page() -> None:
    def critical(domain: str) -> Notification:
        return dataclasses.replace(notification(alert(domain)), rule="down")

    events = await _events(
        critical("c.example"), critical("d.example"), warning("z.example", Transition.REPEAT)
    )
    assert events == [
        ("trigger", "sesd:delays:c.example"),  # the firing held by the 503 stepped aside
        ("trigger", "sesd:delays:d.example"),
        ("trigger", "sesd:delays:x.example"),
    ]
