"""A notification that steps aside for a more urgent one still goes before its own
rule's later notifications: PagerDuty given a trigger after its resolve keeps an
incident open that nothing resolves. The PagerDuty-like receiver and the real sink and
outbox."""

from __future__ import annotations

import dataclasses

import aiohttp
import anyio

from sesd.alerting.rules import Transition
from sesd.alerting.sinks import PagerDutySink
from tests.receivers import Answer, Receiver
from tests.test_sinks import HeldSleeps, alert, delivering, notification, pagerduty_config


async def test_a_stepped_aside_firing_still_goes_before_its_resolve() -> None:
    sleeps = HeldSleeps()
    firing = dataclasses.replace(notification(alert("w.example")), rule="slow", severity="warning")
    resolved = dataclasses.replace(
        notification(alert("w.example", kind=Transition.RESOLVED), kind=Transition.RESOLVED),
        rule="slow",
        severity="warning",
    )
    critical = dataclasses.replace(notification(alert("c.example")), rule="down")
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(503))  # PagerDuty has a bad second: the firing backs off
        async with delivering(PagerDutySink(pagerduty_config(pd.url), session), sleeps) as (box, _):
            box.put(firing)
            with anyio.fail_after(10):
                await sleeps.waiting.wait()
            box.put(resolved)  # the alert clears meanwhile
            box.put(critical)  # and a critical page arrives
            sleeps.release.set()
            with anyio.fail_after(10):
                await box.wait_empty()
    events = [(e["event_action"], e["dedup_key"]) for e in pd.accepted]
    # The critical first; the warning's trigger is left out (its resolve waited behind
    # it), and above all comes no later than its resolve.
    assert events == [("trigger", "sesd:delays:c.example"), ("resolve", "sesd:delays:w.example")]
