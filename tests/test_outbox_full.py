"""What a full outbox drops while PagerDuty is down: a resolve dropped leaves its
incident open for ever (nothing sends it again), a firing dropped pages at its next
repeat, a repeat dropped loses nothing. The PagerDuty-like receiver and the real sink
and outbox."""

from __future__ import annotations

import dataclasses

import aiohttp
import anyio
from structlog.testing import capture_logs

from sesd.alerting.alert import Notification
from sesd.alerting.outbox import Outbox
from sesd.alerting.queued import Queued
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import PagerDutySink
from sesd.alerting.webhook import WebhookSink
from tests.receivers import Answer, Receiver, WebhookReceiver
from tests.test_sinks import (
    HeldSleeps,
    Sleeps,
    alert,
    delivering,
    notification,
    outcomes,
    pagerduty_config,
)
from tests.test_webhook_parts import SECRET, _config, _incident


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


class _Meanwhile(Sleeps):
    """Each pause the outbox takes, the next of ``arrivals`` comes to ``box``."""

    def __init__(self, *arrivals: Notification) -> None:
        super().__init__()
        self.arrivals = list(arrivals)
        self.box: Outbox | None = None

    async def __call__(self, seconds: float) -> None:
        if self.arrivals and self.box is not None:
            self.box.put(self.arrivals.pop(0))
        await super().__call__(seconds)


async def test_a_full_outbox_keeps_the_rest_of_a_part_sent_notification() -> None:
    """A webhook receiver takes part 1 of a wide warning notification and fails part 2;
    a critical page comes meanwhile, and the warning steps aside for it. The page fails
    too, and while it waits another warning comes to the outbox, full with the part-sent
    one: the warning not begun is dropped, and the receiver, gathering parts by ``id``,
    still gets parts 2 and 3 of the part-sent one. Dropped as the oldest firing of the
    least urgent, parts 1 of 3 were all it ever got."""
    wide = dataclasses.replace(_incident(200), severity="warning")
    critical = dataclasses.replace(notification(alert("c.example")), rule="down")
    later = warning("z.example", Transition.FIRING)
    sleeps = _Meanwhile(critical, later)
    async with WebhookReceiver(secret=SECRET) as hook, aiohttp.ClientSession() as session:
        hook.next_statuses.extend([204, 503, 503])  # part 1, part 2, the page
        sink = WebhookSink(_config(hook.url), session, "hook")
        with capture_logs() as logs:
            async with delivering(sink, sleeps, size=1) as (box, counter):
                sleeps.box = box
                box.put(wide)
                with anyio.fail_after(10):
                    await box.wait_empty()
    assert [(body["rule"], body["part"]) for body in hook.accepted] == [
        ("delays", 1),
        ("down", 1),
        ("delays", 2),
        ("delays", 3),
    ]
    assert {body["parts"] for body in hook.accepted if body["rule"] == "delays"} == {3}
    assert outcomes(counter, "hook")["dropped"] == 1
    (dropped,) = [e for e in logs if e["event"] == "sesd.notify.dropped"]
    assert (dropped["rule"], dropped["kind"]) == ("slow", "firing")


async def test_a_full_outbox_keeps_the_rest_of_a_part_sent_pagerduty_page() -> None:
    """As above at PagerDuty: it takes the trigger of the first of three domains of a
    warning page and answers 503 to the second; the critical page comes and is refused
    once, and another warning comes to the full outbox meanwhile. That one is dropped:
    the part-sent page's other two triggers still go, the incident's siblings."""
    three = dataclasses.replace(
        notification(*(alert(f"w{i}.example") for i in range(3))), severity="warning"
    )
    critical = dataclasses.replace(notification(alert("c.example")), rule="down")
    sleeps = _Meanwhile(critical, warning("z.example", Transition.FIRING))
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(503), Answer(503))  # w0, w1, the page
        sink = PagerDutySink(pagerduty_config(pd.url), session)
        async with delivering(sink, sleeps, size=1) as (box, counter):
            sleeps.box = box
            box.put(three)
            with anyio.fail_after(10):
                await box.wait_empty()
    assert [e["dedup_key"] for e in pd.accepted] == [
        f"sesd:delays:{domain}.example" for domain in ("w0", "c", "w1", "w2")
    ]
    assert outcomes(counter, "pagerduty")["dropped"] == 1


def test_a_smaller_outbox_drops_a_notification_begun_only_once_none_other_is_left() -> None:
    """A reload makes an outbox of three hold one: the two firings not begun go, the
    older first; the one that stepped aside (maybe part-sent), older than both, stays.
    Made to hold none, it would go last (a size is at least one)."""
    begun = warning("b.example", Transition.FIRING)
    older, newer = warning("o.example", Transition.FIRING), warning("n.example", Transition.FIRING)
    queued = Queued(3)
    queued.add(older)
    queued.add(newer)
    queued.step_aside(begun, first=1.8e9)
    assert list(queued.line) == [begun, older, newer]
    queued.size = 1
    assert queued.over() == [older, newer]
    assert list(queued.line) == [begun]
    queued.size = 0
    assert queued.over() == [begun]
