"""Slack and PagerDuty sinks and their outboxes, against receivers that act like the real APIs."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import aiohttp
import anyio
import pytest
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.outbox import Outbox
from sesd.alerting.render import pagerduty_events
from sesd.alerting.render_slack import slack_message
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import PagerDutySink, Sink, SlackSink
from sesd.config import PagerDutyConfig, SlackConfig, parse_config
from sesd.core.windows import Breakdown
from tests.receivers import Answer, Receiver


def alert(
    domain: str = "outlook.example",
    kind: Transition = Transition.FIRING,
    diagnostic: str = "smtp; 421 4.7.0 try again later",
) -> Alert:
    return Alert(
        rule="delays",
        metric="delay_ratio",
        domain=domain,
        kind=kind,
        severity="critical",
        window="15m",
        value=0.42,
        threshold=0.05,
        clear_threshold=0.03,
        at=1.8e9,
        since=1.8e9,
        counts={"send": 0, "delivery": 58, "delivery_delay": 42, "bounce": 0, "complaint": 0},
        breakdown=Breakdown(
            delay_types=[("TransientCommunicationFailure", 42)],
            statuses=[("4.7.0", 42)],
            diagnostics=[(diagnostic, 42)],
            mtas=[("dsn; a1.example", 42)],
            message_ids=[f"0100-{i}" for i in range(5)],
            sources=["arn:aws:ses:eu-west-1:123456789012:identity/example.com"],
            config_sets=["ConfigSet"],
        ),
        stage="SES -> recipient MTA",
        regions=["eu-west-1"],
        internal=False,
    )


def notification(*alerts: Alert, kind: Transition = Transition.FIRING) -> Notification:
    return Notification(
        rule="delays",
        kind=kind,
        severity="critical",
        sinks=("slack", "pagerduty"),
        alerts=alerts or (alert(),),
        at=1.8e9,
    )


class Sleeps:
    """The outbox's sleep in test mode: records the wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await anyio.lowlevel.checkpoint()


def slack_config(url: str, timeout: str = "5s") -> SlackConfig:
    return parse_config(
        f'[alerts.slack]\nwebhook_url = "{url}"\ntimeout = "{timeout}"\n'
    ).alerts.slack  # type: ignore[return-value]


def pagerduty_config(url: str) -> PagerDutyConfig:
    return parse_config(
        f'[alerts.pagerduty]\nrouting_key = "R0UT1NGKEY"\nevents_url = "{url}"\n'
    ).alerts.pagerduty  # type: ignore[return-value]


@asynccontextmanager
async def delivering(
    sink: Sink, sleeps: Sleeps, size: int = 100
) -> AsyncIterator[tuple[Outbox, Counter]]:
    counter = Counter("sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry())
    outbox = Outbox(sink, size=size, counter=counter, sleep=sleeps, rand=lambda: 0.5)
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        yield outbox, counter
        tg.cancel_scope.cancel()


def outcomes(counter: Counter, sink: str) -> dict[str, float]:
    return {
        outcome: counter.labels(sink, outcome)._value.get()
        for outcome in ("sent", "retried", "rate_limited", "failed", "dropped", "expired")
    }


async def test_slack_429_waits_retry_after_then_sends() -> None:
    """Slack's 429 pauses the sink for exactly Retry-After seconds, then the message goes."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(429, retry_after="7"))
        async with delivering(SlackSink(slack_config(slack.url), session), sleeps) as (box, c):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
    assert sleeps.waits == [7.0]
    assert outcomes(c, "slack") == {
        "sent": 1,
        "retried": 0,
        "rate_limited": 1,
        "failed": 0,
        "dropped": 0,
        "expired": 0,
    }
    assert len(slack.accepted) == 1


@pytest.mark.parametrize(
    ("header", "pause"),
    [
        ("0", 1.0),
        ("-5", 1.0),
        ("nan", 30.0),
        ("soon", 30.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0),  # a date passed: at least a second
        ("299", 299.0),
        ("86400", 300.0),  # a day would hold every page of the sink: five minutes
        ("Fri, 01 Jan 2100 00:00:00 GMT", 300.0),
    ],
)
async def test_a_retry_after_of_nothing_or_forever_is_bounded(header: str, pause: float) -> None:
    """Retry-After 0 (or negative, or not a number) would re-post in a tight loop: at
    least a second, and 30 s when it says nothing usable; an HTTP date (RFC 9110) is
    read; a day, or a date decades away, is waited five minutes."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(429, retry_after=header))
        async with delivering(SlackSink(slack_config(slack.url), session), sleeps) as (box, _):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
    assert sleeps.waits == [pause]


@pytest.mark.parametrize("first", [500, 408])
async def test_5xx_is_retried_with_backoff(first: int) -> None:
    """500 and 503 are retried with growing jittered delays; the third try succeeds. So
    is a 408 (a proxy or load balancer in front timed the request out): RFC 9110 lets
    the client repeat it, and taken as a refusal for good it lost the page."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(first), Answer(503))
        async with delivering(SlackSink(slack_config(slack.url), session), sleeps) as (box, c):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
    assert sleeps.waits == [1.0, 2.0]  # 0.5 * min(60, 1 * 2**attempt)
    assert outcomes(c, "slack")["retried"] == 2
    assert outcomes(c, "slack")["sent"] == 1


async def test_400_is_permanent() -> None:
    """A 4xx other than 429 is not retried: counted as failed, logged, and the next one goes."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(400), Answer(404))
        async with delivering(SlackSink(slack_config(slack.url), session), sleeps) as (box, c):
            for _ in range(3):
                box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
    assert sleeps.waits == []
    assert outcomes(c, "slack")["failed"] == 2
    assert outcomes(c, "slack")["sent"] == 1
    assert slack.answers == [400, 404, 200]


async def test_a_hanging_receiver_times_out_and_is_retried() -> None:
    """A receiver that accepts and never answers times out; the retry gets through."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        slack.script(Answer(hang=True))
        sink = SlackSink(slack_config(slack.url, timeout="300ms"), session)
        async with delivering(sink, sleeps) as (box, c):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
    assert outcomes(c, "slack")["retried"] == 1
    assert outcomes(c, "slack")["sent"] == 1


async def test_a_stuck_sink_does_not_hold_up_another() -> None:
    """While Slack hangs, PagerDuty's outbox delivers at once."""
    sleeps = Sleeps()
    async with (
        Receiver("slack") as slack,
        Receiver("pagerduty") as pd,
        aiohttp.ClientSession() as session,
    ):
        slack.script(Answer(hang=True))
        slow = SlackSink(slack_config(slack.url, timeout="30s"), session)
        fast = PagerDutySink(pagerduty_config(pd.url), session)
        async with (
            delivering(slow, sleeps) as (slack_box, _),
            delivering(fast, sleeps) as (pd_box, _),
        ):
            slack_box.put(notification())
            pd_box.put(notification())
            with anyio.fail_after(5):
                await pd_box.wait_empty()
            assert len(slack_box) == 1  # still stuck


async def test_one_incident_is_one_trigger_and_one_resolve() -> None:
    """Firing then resolved gives a trigger and a resolve with the same stable dedup_key."""
    sleeps = Sleeps()
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        sink = PagerDutySink(pagerduty_config(pd.url), session)
        async with delivering(sink, sleeps) as (box, _):
            box.put(notification())
            with anyio.fail_after(10):
                await pd.wait_for(1)
                box.put(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
                await box.wait_empty()
    trigger, resolve = pd.accepted
    assert trigger["event_action"] == "trigger"
    assert resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "sesd:delays:outlook.example"
    assert trigger["payload"]["component"] == "outlook.example"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["smtp_status"] == {"4.7.0": 42}
    assert trigger["routing_key"] == "R0UT1NGKEY"


@pytest.mark.parametrize("over", [0, 1, 1000])
async def test_a_long_summary_is_cut_with_an_ellipsis_inside_pagerduty_s_limit(
    over: int,
) -> None:
    """A stage text that takes the summary ``over`` characters past PagerDuty's 1,024:
    the event is taken, its summary 1,024 characters ending in an ellipsis, so the
    on-call person sees that it was cut (as every other text sesd cuts); one of exactly
    1,024 is sent whole."""
    bare = pagerduty_events(notification(replace(alert(), stage="")), "K", "sesd")[0]
    head = json.loads(bare)["payload"]["summary"]  # what comes before the stage
    stage = "s" * (1024 - len(head) + over - 1) + "!"
    sleeps = Sleeps()
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        sink = PagerDutySink(pagerduty_config(pd.url), session)
        async with delivering(sink, sleeps) as (box, _):
            box.put(notification(replace(alert(), stage=stage)))
            with anyio.fail_after(10):
                await box.wait_empty()
    (trigger,) = pd.accepted
    summary = trigger["payload"]["summary"]
    assert summary == (head + stage if not over else (head + stage)[:1023] + "…")
    assert len(summary) == 1024


async def test_pagerduty_429_pauses_at_least_30_seconds() -> None:
    """PagerDuty's 429 pauses the sink for at least 30 s, whatever Retry-After says."""
    sleeps = Sleeps()
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(429, retry_after="2"))
        async with delivering(PagerDutySink(pagerduty_config(pd.url), session), sleeps) as (box, c):
            box.put(notification())
            with anyio.fail_after(10):
                await box.wait_empty()
    assert sleeps.waits == [30.0]
    assert outcomes(c, "pagerduty")["sent"] == 1


async def test_pagerduty_goes_on_from_the_first_event_not_taken() -> None:
    """Five alerts; PagerDuty takes two, answers 429, takes the rest after the pause:
    each event reaches it once (sending all five again would spend every minute of
    its rate limit on the same first ones). An event refused for good (400) does not
    hold back the ones after it, and the notification counts as failed."""
    domains = [f"d{i}.example" for i in range(5)]
    sleeps = Sleeps()
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(202), Answer(429, retry_after="1"))
        async with delivering(PagerDutySink(pagerduty_config(pd.url), session), sleeps) as (box, c):
            box.put(notification(*(alert(d) for d in domains)))
            with anyio.fail_after(10):
                await box.wait_empty()
            assert [e["payload"]["component"] for e in pd.accepted] == domains
            assert outcomes(c, "pagerduty")["sent"] == 1
            # A refusal before a 429 is still counted once the rest has gone.
            pd.script(
                Answer(202), Answer(400, body='{"status": "invalid event"}'),
                Answer(429, retry_after="1"),
            )  # fmt: skip
            box.put(notification(*(alert(d) for d in domains)))
            with anyio.fail_after(10):
                await box.wait_empty()
    assert [e["payload"]["component"] for e in pd.accepted[5:]] == [
        d for i, d in enumerate(domains) if i != 1
    ]
    assert outcomes(c, "pagerduty")["failed"] == 1


async def test_pagerduty_is_not_paged_for_an_incident_that_ended_while_it_was_down() -> None:
    """A firing waits out PagerDuty's 5xx while one of its two alerts resolves: once
    PagerDuty answers it takes the other's trigger, then the resolve; not a trigger
    that would phone the on-call for an incident over before it arrived."""
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(500))
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        resolved = alert("over.example", kind=Transition.RESOLVED)

        async def meanwhile(seconds: float) -> None:
            outbox.put(notification(resolved, kind=Transition.RESOLVED))
            await anyio.lowlevel.checkpoint()

        sink = PagerDutySink(pagerduty_config(pd.url), session)
        outbox = Outbox(sink, size=10, counter=counter, sleep=meanwhile, rand=lambda: 0.5)
        outbox.put(notification(alert("over.example"), alert("still.example")))
        async with anyio.create_task_group() as tg:
            tg.start_soon(outbox.run)
            with anyio.fail_after(10):
                await outbox.wait_empty()
            tg.cancel_scope.cancel()
    assert pd.answers[0] == 500
    assert [(e["event_action"], e["dedup_key"]) for e in pd.accepted] == [
        ("trigger", "sesd:delays:still.example"),
        ("resolve", "sesd:delays:over.example"),
    ]


async def test_full_outbox_drops_the_oldest_and_counts_it() -> None:
    """The outbox is bounded: past its size the oldest queued notification is dropped."""
    sleeps = Sleeps()
    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        sink = SlackSink(slack_config(slack.url), session)
        counter = Counter(
            "sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry()
        )
        box = Outbox(sink, size=2, counter=counter, sleep=sleeps)
        for domain in ("a.example", "b.example", "c.example", "d.example"):
            box.put(notification(alert(domain)))
        async with anyio.create_task_group() as tg:
            tg.start_soon(box.run)
            with anyio.fail_after(10):
                await box.wait_empty()
            tg.cancel_scope.cancel()
    assert outcomes(counter, "slack")["dropped"] == 2
    sent = [request["text"] for request in slack.accepted]
    assert len(sent) == 2
    assert "c.example" in sent[0]
    assert "d.example" in sent[1]


def test_slack_message_respects_slacks_limits() -> None:
    """80 domains with long diagnostics: at most 50 blocks, sections and text within 3000."""
    many = tuple(alert(f"d{i}.example", diagnostic="x" * 5000) for i in range(80))
    message = slack_message(notification(*many))
    assert len(message["blocks"]) <= 50
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert len(message["text"]) <= 3000
    assert "more" in sections[-1]["text"]["text"]
    assert "d79.example" in sections[-1]["text"]["text"]


def test_pagerduty_summary_is_at_most_1024_characters() -> None:
    """A huge domain label still gives a summary within PagerDuty's 1024 characters."""
    (event,) = pagerduty_events(notification(alert("x" * 3000)), "key", "sesd")
    assert len(json.loads(event)["payload"]["summary"]) == 1024


@pytest.mark.parametrize("kind", [Transition.FIRING, Transition.RESOLVED])
async def test_slack_receiver_accepts_what_sesd_sends(kind: Transition) -> None:
    """The Slack-like receiver (which rejects what Slack rejects) accepts sesd's messages."""
    sleeps = Sleeps()
    many = tuple(alert(f"d{i}.example", kind=kind, diagnostic="y" * 4000) for i in range(70))
    async with (
        Receiver("slack") as slack,
        aiohttp.ClientSession() as session,
        delivering(SlackSink(slack_config(slack.url), session), sleeps) as (box, _),
    ):
        box.put(notification(*many, kind=kind))
        with anyio.fail_after(10):
            await box.wait_empty()
    assert slack.answers == [200]


#: Text that grows the most as Slack gets it (each ``&``, ``<`` and ``>`` an entity).
_HOSTILE = "&<>`*_~" * 28


def _hostile(i: int, kind: Transition) -> Alert:
    """An alert at every bound at once: a 253-character domain, a 64-character rule,
    each breakdown bucket at its 64 values of strangers' text, links near their bound."""
    buckets = [(f"{_HOSTILE}{j}", 1) for j in range(64)]
    return replace(
        alert(("x" * 60 + ".") * 3 + f"d{i}".rjust(7, "x") + ".example", kind=kind),
        rule="r" * 64,
        breakdown=Breakdown(
            delay_types=buckets,
            statuses=buckets,
            diagnostics=buckets,
            mtas=buckets,
            causes=[(_HOSTILE, 3)],
            domains=buckets,
            message_ids=[_HOSTILE] * 5,
            sources=[_HOSTILE] * 64,
            config_sets=[_HOSTILE] * 64,
        ),
        notes=(_HOSTILE,) * 10,
        runbook_url="https://runbooks.example/" + "a&" * 700,
        dashboard_url="https://dash.example/" + "b" * 700,
    )


@pytest.mark.parametrize("kind", [Transition.FIRING, Transition.RESOLVED])
async def test_a_wide_notification_at_every_bound_reaches_slack_and_pagerduty(
    kind: Transition,
) -> None:
    """Sixty alerts, each at every bound sesd keeps (domain, rule, buckets, links) and
    full of text that grows as Slack escapes it, with a mute line naming the longest
    domain: the receivers, which refuse what the real APIs document refusing (Slack's
    blocks, text objects, context elements; PagerDuty's dedup_key, summary, 512 KB),
    take every post, so no part of it is lost to a 400."""
    sleeps = Sleeps()
    alerts = tuple(_hostile(i, kind) for i in range(60))
    wide = replace(
        notification(*alerts, kind=kind),
        rule="r" * 64,
        silence=f"sesd silence add --rule {'r' * 64} --domain {alerts[0].domain} --for 4h",
    )
    async with (
        Receiver("slack") as slack,
        Receiver("pagerduty") as pagerduty,
        aiohttp.ClientSession() as session,
    ):
        sinks: list[Sink] = [
            SlackSink(slack_config(slack.url), session),
            PagerDutySink(pagerduty_config(pagerduty.url), session),
        ]
        for sink in sinks:
            async with delivering(sink, sleeps) as (box, _):
                box.put(wide)
                with anyio.fail_after(10):
                    await box.wait_empty()
    assert slack.answers == [200]
    assert len(pagerduty.requests) == len(pagerduty.accepted) == 60


class AgingSleeps(Sleeps):
    """Test-mode sleep that moves a clock on by each wait."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    async def __call__(self, seconds: float) -> None:
        self.now += seconds
        await super().__call__(seconds)


async def test_a_notification_that_keeps_failing_expires_and_the_line_moves_on() -> None:
    """A receiver that answers 503 for ever: the notification is given up once its next
    attempt would come past max_age (counted as expired, logged), and the next one is
    delivered."""
    slack = Receiver("slack")
    sleeps = AgingSleeps()
    async with slack, aiohttp.ClientSession() as session:
        # Waits of 2, 4, 8, 16, 32, 60, 60, 60 s after the first eight: 242 s. The ninth
        # attempt fails at 242 s; a wait of 60 more would pass 300 s, so it expires.
        slack.script(*[Answer(503)] * 9)
        counter = Counter(
            "sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry()
        )
        box = Outbox(
            SlackSink(slack_config(slack.url), session),
            size=10,
            counter=counter,
            sleep=sleeps,
            rand=lambda: 1.0,
            max_age=300.0,
            clock=lambda: sleeps.now,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(box.run)
            box.put(notification(kind=Transition.FIRING))
            with anyio.fail_after(10):
                await box.wait_empty()
            box.put(notification(kind=Transition.RESOLVED))
            with anyio.fail_after(10):
                await box.wait_empty()
            tg.cancel_scope.cancel()
    assert sleeps.waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert slack.answers == [503] * 9 + [200]
    counts = outcomes(counter, "slack")
    assert counts["expired"] == 1
    assert counts["sent"] == 1
    assert slack.accepted[0]["text"].startswith(":white_check_mark: RESOLVED")


class BrokenSink:
    """A sink with a bug: every send raises."""

    name = "slack"

    async def send(self, notification: Notification) -> None:
        raise RuntimeError("a rendering bug")


async def test_a_sink_bug_is_logged_with_its_traceback_and_counted(json_logs: io.StringIO) -> None:
    """An unexpected exception in a sink is counted as failed and logged with the
    traceback, so the bug can be found; the outbox keeps delivering."""
    async with delivering(BrokenSink(), Sleeps()) as (box, counter):
        box.put(notification())
        box.put(notification())
        with anyio.fail_after(10):
            await box.wait_empty()
    assert outcomes(counter, "slack")["failed"] == 2
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    failed = [line for line in lines if line["event"] == "sesd.notify.failed"]
    assert len(failed) == 2
    assert "Traceback" in failed[0]["exception"]
    assert "a rendering bug" in failed[0]["exception"]


class _Recorded:
    name = "slack"

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)


async def test_a_fault_in_the_outbox_costs_that_notification_only(json_logs: io.StringIO) -> None:
    """A bug around the send (not in the sink) is counted and logged with its traceback
    like a sink's; raised, it failed the task group every sink's outbox runs in, and
    the notifications they were delivering were lost. The next one is delivered."""
    sink = _Recorded()
    async with delivering(sink, Sleeps()) as (box, counter):
        current, faults = box._current, [RuntimeError("a bug")]

        def faulty(found: Notification) -> Notification | None:
            if faults:
                raise faults.pop()
            return current(found)

        box._current = faulty  # type: ignore[method-assign, assignment]
        box.put(notification(alert("first.example")))
        box.put(notification(alert("second.example")))
        with anyio.fail_after(10):
            await box.wait_empty()
    assert [n.alerts[0].domain for n in sink.sent] == ["second.example"]
    assert outcomes(counter, "slack")["failed"] == 1
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (failed,) = [line for line in lines if line["event"] == "sesd.notify.failed"]
    assert "a bug" in failed["exception"]


async def test_a_fault_after_a_delivery_is_counted_and_the_outbox_runs_on(
    json_logs: io.StringIO,
) -> None:
    """A bug in what follows a delivery (the ``on_done`` callback: the state saved at
    once), after the first notification was sent: counted as a fault and logged with
    its traceback, and the outbox goes on to deliver the second. Raised, it ended the
    outbox's task and the second was never sent."""
    sink = _Recorded()
    counter = Counter("sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry())
    faults = Counter("sesd_task_failures", "f", registry=CollectorRegistry())
    box = Outbox(sink, size=10, counter=counter, faults=faults.inc)
    planted = [RuntimeError("a bug after the delivery")]

    def on_done(done: Notification) -> None:
        if planted:
            raise planted.pop()

    box.on_done = on_done
    async with anyio.create_task_group() as tg:
        tg.start_soon(box.run)
        box.put(notification(alert("first.example")))
        box.put(notification(alert("second.example")))
        with anyio.fail_after(10):
            await box.wait_empty()
        tg.cancel_scope.cancel()
    assert [n.alerts[0].domain for n in sink.sent] == ["first.example", "second.example"]
    assert faults._value.get() == 1
    assert outcomes(counter, "slack")["sent"] == 2
    assert outcomes(counter, "slack")["failed"] == 0
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (fault,) = [line for line in lines if line["event"] == "sesd.notify.followup_failed"]
    assert "a bug after the delivery" in fault["exception"]
    assert fault["sink"] == "slack"


class _CancelledUnder(_Recorded):
    """A sink whose first send meets a ``CancelledError`` nobody asked for: a future
    of its HTTP client's, cancelled under the send."""

    async def send(self, notification: Notification) -> None:
        if not self.sent:
            self.sent.append(notification)
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            await future
        self.sent.append(notification)


async def test_a_cancellation_no_stop_asked_for_costs_that_notification_only(
    json_logs: io.StringIO,
) -> None:
    """A send that raises ``CancelledError`` though nothing is stopping: counted as
    failed and logged with its traceback, like a bug, and the next notification is
    delivered. Let pass as a stop, it cancelled the task group every sink's outbox
    and the evaluations run in, which then ended quietly: alerting gone, unlogged."""
    sink = _CancelledUnder()
    async with delivering(sink, Sleeps()) as (box, counter):
        box.put(notification(alert("first.example")))
        box.put(notification(alert("second.example")))
        with anyio.fail_after(10):
            await box.wait_empty()
    assert [n.alerts[0].domain for n in sink.sent] == ["first.example", "second.example"]
    assert outcomes(counter, "slack")["failed"] == 1
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (failed,) = [line for line in lines if line["event"] == "sesd.notify.failed"]
    assert failed["error"] == "CancelledError"


async def test_a_stop_during_a_delivery_is_a_stop_not_a_fault() -> None:
    """sesd stopping while a send waits on a sink: the outbox's task ends at once,
    nothing counted as failed."""
    started = anyio.Event()

    class Hanging(_Recorded):
        async def send(self, notification: Notification) -> None:
            started.set()
            await anyio.sleep_forever()

    counter = Counter("sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry())
    box = Outbox(Hanging(), size=10, counter=counter)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(box.run)
            box.put(notification())
            await started.wait()
            tg.cancel_scope.cancel()
    assert outcomes(counter, "slack")["failed"] == 0


class _Owing(_Recorded):
    """An Alertmanager-like sink that owes a member a resolve it posts in ``catch_up``;
    its first catch-up meets a bug."""

    name = "am"

    def __init__(self) -> None:
        super().__init__()
        self.caught_up = 0
        self.bug = [RuntimeError("a bug in the catch-up")]

    def owing(self) -> float | None:
        return 0.0 if self.caught_up == 0 else None

    async def catch_up(self) -> None:
        if self.bug:
            raise self.bug.pop()
        self.caught_up += 1


async def test_a_fault_in_a_catch_up_is_counted_and_the_outbox_runs_on(
    json_logs: io.StringIO,
) -> None:
    """A bug while posting what a member missed (Alertmanager's owed resolves), with
    nothing queued: counted as a fault and logged with its traceback; the next
    notification is delivered at once, and the catch-up is tried again (the owed
    resolve posted). Raised, it ended the outbox's task (every sink's, and the
    evaluations, until alerting started again)."""
    sink = _Owing()
    counter = Counter("sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry())
    faults = Counter("sesd_task_failures", "f", registry=CollectorRegistry())
    box = Outbox(sink, size=10, counter=counter, faults=faults.inc, clock=lambda: 1.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(box.run)
        with anyio.fail_after(10):
            while not faults._value.get():
                await anyio.lowlevel.checkpoint()
            box.put(notification(alert("next.example")))
            await box.wait_empty()
            while not sink.caught_up:
                await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()
    assert [n.alerts[0].domain for n in sink.sent] == ["next.example"]
    assert faults._value.get() == 1
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (fault,) = [line for line in lines if line["event"] == "sesd.notify.catch_up_failed"]
    assert "a bug in the catch-up" in fault["exception"]
    assert fault["sink"] == "am"


class HeldSleeps(Sleeps):
    """Sleeps that wait for the test the first time: something can arrive meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = anyio.Event()
        self.release = anyio.Event()

    async def __call__(self, seconds: float) -> None:
        if not self.waits:
            self.waiting.set()
            await self.release.wait()
        await super().__call__(seconds)


async def test_a_critical_page_does_not_wait_behind_warnings_at_pagerdutys_rate() -> None:
    """Five warnings' events; PagerDuty takes two and answers 429. A critical
    notification queued during the pause goes first, then the warnings go on from the
    first event not taken: each event reaches PagerDuty once. Queued together, the
    critical one is taken before the warnings put ahead of it."""
    import dataclasses

    sleeps = HeldSleeps()
    warnings = dataclasses.replace(
        notification(*(alert(f"w{i}.example") for i in range(5))), severity="warning"
    )
    critical = dataclasses.replace(notification(alert("c.example")), rule="providers")
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(202), Answer(429, retry_after="1"))
        async with delivering(PagerDutySink(pagerduty_config(pd.url), session), sleeps) as (box, c):
            box.put(warnings)
            with anyio.fail_after(10):
                await sleeps.waiting.wait()
            box.put(critical)
            sleeps.release.set()
            with anyio.fail_after(10):
                await box.wait_empty()
            assert outcomes(c, "pagerduty")["sent"] == 2
            box.put(dataclasses.replace(warnings, at=2e9))
            box.put(dataclasses.replace(critical, at=2e9))
            with anyio.fail_after(10):
                await box.wait_empty()
    sent = [e["payload"]["component"] for e in pd.accepted]
    order = ["w0.example", "w1.example", "c.example", "w2.example", "w3.example", "w4.example"]
    assert sent[:6] == order
    assert sent[6] == "c.example"  # queued after the warnings, delivered first


async def test_a_full_outbox_drops_the_least_urgent_first() -> None:
    """Past its size the outbox drops the oldest of its least urgent notifications, not
    a critical page that came first."""
    import dataclasses

    async with Receiver("slack") as slack, aiohttp.ClientSession() as session:
        counter = Counter(
            "sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry()
        )
        box = Outbox(SlackSink(slack_config(slack.url), session), size=2, counter=counter)
        box.put(notification(alert("critical.example")))
        box.put(dataclasses.replace(notification(alert("old.example")), severity="warning"))
        box.put(dataclasses.replace(notification(alert("new.example")), severity="warning"))
    assert [n.alerts[0].domain for n in box._queue] == ["critical.example", "new.example"]
    assert outcomes(counter, "slack")["dropped"] == 1


async def test_a_rules_notifications_keep_their_order_whatever_their_severity() -> None:
    """A firing being delivered does not step aside for a more urgent notification of
    its own rule (a reload made the rule critical, and its resolve came): a resolve
    ahead of its firing would leave the incident open."""
    import dataclasses

    from structlog.testing import capture_logs

    sleeps = HeldSleeps()
    firing = dataclasses.replace(
        notification(*(alert(f"w{i}.example") for i in range(3))), severity="warning"
    )
    resolved = notification(alert("w0.example", kind=Transition.RESOLVED), kind=Transition.RESOLVED)
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(429, retry_after="1"))
        async with delivering(PagerDutySink(pagerduty_config(pd.url), session), sleeps) as (box, _):
            box.put(firing)
            with anyio.fail_after(10):
                await sleeps.waiting.wait()
            box.put(resolved)
            with capture_logs() as logs:
                sleeps.release.set()
                with anyio.fail_after(10):
                    await box.wait_empty()
    assert [e["event_action"] for e in pd.accepted] == ["trigger"] * 3 + ["resolve"]
    assert "sesd.notify.stepped_aside" not in [e["event"] for e in logs]


async def test_a_pagerduty_notification_under_way_sends_nothing_a_new_silence_holds() -> None:
    """PagerDuty took two of five triggers and asked for a pause; meanwhile the on-call
    silenced two of the rest: after the pause only the third goes, and each event
    left out is logged as recalled. A resolve is never held back (its firing went)."""
    from structlog.testing import capture_logs

    sleeps = HeldSleeps()
    domains = [f"d{i}.example" for i in range(5)]
    silenced: set[str] = set()
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(202), Answer(429, retry_after="1"))
        sink = PagerDutySink(pagerduty_config(pd.url), session)
        sink.held = lambda rule, label, kind: label in silenced
        async with delivering(sink, sleeps) as (box, _):
            box.put(notification(*(alert(d) for d in domains)))
            with anyio.fail_after(10):
                await sleeps.waiting.wait()
            silenced.update({"d3.example", "d4.example"})
            with capture_logs() as logs:
                sleeps.release.set()
                with anyio.fail_after(10):
                    await box.wait_empty()
            resolved = [alert(d, kind=Transition.RESOLVED) for d in domains]
            box.put(notification(*resolved, kind=Transition.RESOLVED))
            with anyio.fail_after(10):
                await box.wait_empty()
    taken = [(e["event_action"], e["payload"]["component"]) for e in pd.accepted[:3]]
    assert taken == [("trigger", d) for d in domains[:3]]
    assert [e["event_action"] for e in pd.accepted[3:]] == ["resolve"] * 5
    recalled = [e["domain"] for e in logs if e["event"] == "sesd.alert.recalled"]
    assert recalled == ["d3.example", "d4.example"]


async def test_an_hours_retry_after_holds_the_sink_five_minutes() -> None:
    """A proxy in front of Slack answers 429 asking for two hours: the firing is posted
    again five minutes later and delivered, not given up, nor every page held two
    hours."""
    slack = Receiver("slack")
    sleeps = AgingSleeps()
    async with slack, aiohttp.ClientSession() as session:
        slack.script(Answer(429, retry_after="7200"))
        async with delivering(SlackSink(slack_config(slack.url), session), sleeps) as (box, c):
            box.put(notification(kind=Transition.FIRING))
            with anyio.fail_after(10):
                await box.wait_empty()
    assert sleeps.waits == [300.0]
    assert slack.answers == [429, 200]
    assert (outcomes(c, "slack")["expired"], outcomes(c, "slack")["sent"]) == (0, 1)


async def test_a_429_that_gives_up_a_notification_still_pauses_the_sink() -> None:
    """Slack answers 429 asking for more than a notification may wait (five minutes,
    against an age limit of two): the firing is given up at once, and the resolve behind
    it waits out the pause (up to the age limit) before it is posted. Posted at once, it
    met the same 429 and was given up too: every notification queued, the resolves with
    them, lost in milliseconds by posts the sink had asked not to get."""
    slack = Receiver("slack")
    sleeps = AgingSleeps()
    async with slack, aiohttp.ClientSession() as session:
        slack.script(Answer(429, retry_after="300"))
        counter = Counter(
            "sesd_notifications", "n", ["sink", "outcome"], registry=CollectorRegistry()
        )
        box = Outbox(
            SlackSink(slack_config(slack.url), session),
            size=10,
            counter=counter,
            sleep=sleeps,
            max_age=120.0,
            clock=lambda: sleeps.now,
        )
        box.put(notification(kind=Transition.FIRING))
        box.put(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
        async with anyio.create_task_group() as tg:
            tg.start_soon(box.run)
            with anyio.fail_after(10):
                await box.wait_empty()
            tg.cancel_scope.cancel()
    assert sleeps.waits == [120.0]
    assert slack.answers == [429, 200]
    assert slack.accepted[0]["text"].startswith(":white_check_mark: RESOLVED")
    counts = outcomes(counter, "slack")
    assert (counts["expired"], counts["sent"]) == (1, 1)
