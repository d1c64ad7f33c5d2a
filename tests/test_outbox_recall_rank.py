"""What a recall leaves of a queued notification takes its place in the queue by its
own urgency: a critical page of critical and warning alerts, its critical alerts
silenced, is a warning page, and goes after the critical pages queued behind it, not
before them (a PagerDuty storm's critical pages held behind it). Never behind its own
rule's later notifications: a trigger after its resolve keeps an incident open. The
PagerDuty-like receiver and the real sink and outbox."""

from __future__ import annotations

import dataclasses

import aiohttp
import anyio

from sesd.alerting.alert import Alert, Notification, with_alerts
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import PagerDutySink
from tests.receivers import Answer, Receiver
from tests.test_sinks import HeldSleeps, alert, delivering, notification, pagerduty_config


def _of(rule: str, *alerts: Alert, kind: Transition = Transition.FIRING) -> Notification:
    made = notification(*alerts, kind=kind)
    return dataclasses.replace(made, rule=rule, alerts=tuple(
        dataclasses.replace(a, rule=rule) for a in made.alerts
    ))  # fmt: skip


async def _delivered(queued: list[Notification], swap: tuple[int, tuple[str, ...]]) -> list[str]:
    """``queued`` put behind a page PagerDuty answers 503 first; meanwhile the one at
    ``swap[0]`` keeps only the alerts of ``swap[1]``. The order the events arrive in."""
    sleeps = HeldSleeps()
    blocker = _of("first", alert("0.example"))
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(503))
        async with delivering(PagerDutySink(pagerduty_config(pd.url), session), sleeps) as (box, _):
            box.put(blocker)
            with anyio.fail_after(10):
                await sleeps.waiting.wait()
            for each in queued:
                box.put(each)
            old = queued[swap[0]]
            kept = tuple(a for a in old.alerts if a.domain in swap[1])
            box.swap(old, with_alerts(old, kept))
            sleeps.release.set()
            with anyio.fail_after(10):
                await box.wait_empty()
    return [f"{e['event_action']} {e['dedup_key']}" for e in pd.accepted]


async def test_a_page_left_warning_by_a_recall_goes_after_the_critical_ones() -> None:
    warning = dataclasses.replace(alert("w.example"), severity="warning")
    mixed = _of("delays", alert("c.example"), warning)
    assert mixed.severity == "critical"
    critical = _of("down", alert("d.example"))
    events = await _delivered([mixed, critical], (0, ("w.example",)))
    assert events == [
        "trigger sesd:first:0.example",
        "trigger sesd:down:d.example",
        "trigger sesd:delays:w.example",
    ]


async def test_a_page_left_warning_by_a_recall_stays_before_its_own_resolve() -> None:
    warning = dataclasses.replace(alert("w.example"), severity="warning")
    mixed = _of("delays", alert("c.example"), warning)
    other = _of("down", alert("d.example"))
    resolve = _of(
        "delays", dataclasses.replace(alert("x.example", kind=Transition.RESOLVED)),
        kind=Transition.RESOLVED,
    )  # fmt: skip
    events = await _delivered([mixed, resolve, other], (0, ("w.example",)))
    # The firing moves no later than its rule's resolve queued after it.
    assert events.index("trigger sesd:delays:w.example") < events.index(
        "resolve sesd:delays:x.example"
    )
