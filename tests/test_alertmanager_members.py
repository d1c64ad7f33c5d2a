"""An Alertmanager HA pair: members gossip silences, not alerts, so each member must
get each alert; a member that fails or hangs must not cost the others."""

from __future__ import annotations

import io

import aiohttp
import anyio
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.rules import Transition
from sesd.alerting.service import Alerting
from sesd.config import AlertmanagerConfig, Duration, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from tests.proxy import Proxy
from tests.receivers import NGINX_MOST_BODY, WebhookReceiver
from tests.test_routing import RULE, T
from tests.test_rules import feed_spike
from tests.test_sinks import alert, notification


class _Member(WebhookReceiver):
    """One member's alerts endpoint (200 on POST /api/v2/alerts), behind a proxy that
    answers 413 to a body over ``most`` bytes (nginx's 1 MiB by default)."""

    def __init__(self, most: int = NGINX_MOST_BODY) -> None:
        super().__init__(path="/api/v2/alerts", status=200, most=most)
        self.url = f"http://127.0.0.1:{self.port}"


def _ended(body: list[dict[str, str]]) -> bool:
    """Whether a post holds the resolve (its endsAt is the resolve's time)."""
    return any(alert["endsAt"] == "2027-01-15T08:00:00Z" for alert in body)


async def test_a_member_that_missed_the_resolve_gets_it_without_another_notification() -> None:
    """A resolve is posted once (firings are posted again every resend period). A
    member that answered 503 to it is owed it: the outbox posts it there once the
    member's time out (a resend period) is over, though nothing else happens, and only
    there; a member that took it hears nothing more."""
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        config = AlertmanagerConfig(urls=[a.url, b.url], resend_every=Duration("1s"))
        sink = AlertmanagerSink(config, session, "am")
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        outbox = Outbox(sink, size=10, counter=counter)
        await sink.send(notification())
        a.status = 503
        await sink.send(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
        assert [_ended(body) for body in a.bodies] == [False, True]  # refused
        assert [_ended(body) for body in b.bodies] == [False, True]  # taken
        assert sink.owing() is not None
        a.status = 200
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await a.wait_for(lambda body: len(a.bodies) == 3)
                tg.cancel_scope.cancel()
        assert _ended(a.bodies[2])
        assert len(b.bodies) == 2


async def test_a_resolve_is_owed_to_a_member_until_it_takes_it_and_no_longer() -> None:
    """What a member is owed waits out its time out (a resend period after it failed),
    goes once it answers, and then is no longer owed; one a member never took is let
    go once that member has ended the alert by itself."""
    now, wall = [0.0], [1.8e9]
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        config = AlertmanagerConfig(urls=[a.url, b.url])
        sink = AlertmanagerSink(config, session, "am", lambda: now[0], lambda: wall[0])
        a.status = 503
        await sink.send(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
        assert sink.owing() == 60.0
        a.status = 200
        await sink.catch_up()  # its time out is not over
        assert len(a.bodies) == 1
        await sink.send(notification())  # sits out: b alone
        assert (len(a.bodies), len(b.bodies)) == (1, 2)
        now[0] = 60.0
        await sink.catch_up()
        assert len(a.bodies) == 2
        assert _ended(a.bodies[1])
        assert sink.owing() is None
        await sink.catch_up()
        assert len(a.bodies) == 2
        a.status = 503
        await sink.send(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
        wall[0] += 241.0
        assert sink.owing() is None  # four resend periods on, a has ended it itself


async def test_a_hung_member_costs_one_timeout_not_one_per_notification() -> None:
    """A member that accepts and never answers (its node gone) is posted to at the same
    time as the other, then sits out a resend period: five notifications reach the
    live member, and the hung one is tried once, not five times at 10 s each."""
    async with (
        _Member() as live,
        _Member() as behind,
        Proxy(behind.port) as hung,
        aiohttp.ClientSession() as session,
    ):
        hung.stall()
        config = AlertmanagerConfig(urls=[hung.url, live.url], timeout=Duration("2s"))
        sink = AlertmanagerSink(config, session, "am")
        failed: list[str] = []
        sink.on_member_failed = failed.append  # the daemon counts it (member_failed)
        with anyio.fail_after(8):  # one timeout (2 s), not five
            for _ in range(5):
                await sink.send(notification())
    assert len(live.bodies) == 5
    assert hung.attempts == 1
    assert failed == [hung.url]
    assert behind.bodies == []


async def test_a_firing_whose_resolve_waits_behind_it_is_posted_as_resolved_only() -> None:
    """Both members down while an alert fires and resolves: once they answer, they get
    the resolve alone (Alertmanager sends nothing for a new group of resolved alerts),
    not the firing first, which with its old startsAt would page at once and stay
    open a group interval. The notification's other alert still fires, and is posted."""
    waiting, release = anyio.Event(), anyio.Event()

    async def gate(seconds: float) -> None:
        waiting.set()
        await release.wait()

    over, firing = alert("over.example"), alert("still.example")
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        a.status = b.status = 503
        config = AlertmanagerConfig(urls=[a.url, b.url])
        sink = AlertmanagerSink(config, session, "am")
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        outbox = Outbox(sink, size=10, counter=counter, sleep=gate)
        outbox.put(notification(over, firing))
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await waiting.wait()  # the first attempt failed: its backoff
                resolved = alert("over.example", kind=Transition.RESOLVED)
                outbox.put(notification(resolved, kind=Transition.RESOLVED))
                a.status = b.status = 200
                down = len(a.bodies), len(b.bodies)
                release.set()
                await outbox.wait_empty()
                tg.cancel_scope.cancel()
    for member, before in zip((a, b), down, strict=True):
        posts = [
            {doc["labels"]["domain"]: _ended([doc]) for doc in body}
            for body in member.bodies[before:]
        ]
        assert posts == [{"still.example": False}, {"over.example": True}]


async def test_a_member_failing_beside_one_that_takes_the_post_is_counted() -> None:
    """The daemon's alerting counts a member that failed while the other took the
    post, under sesd_notifications_total{outcome="member_failed"}: the fleet rule
    SesdAlertmanagerMemberFailing reads it (a pair on one member is not HA)."""
    async with _Member() as down, _Member() as up, aiohttp.ClientSession() as session:
        down.status = 503
        config = parse_config(
            '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
            f'urls = ["{down.url}", "{up.url}"]\n' + RULE + 'sinks = ["am"]\n'
        )
        pipeline = Pipeline(core_settings(config))
        evaluator = Evaluator(config.alerts, [spec.name for spec in pipeline.ledger.specs])
        metrics = Metrics(pipeline.ledger, [], lambda: T, evaluator=evaluator)
        alerting = Alerting(
            config,
            pipeline.ledger,
            evaluator,
            lambda: T,
            notifications=metrics.notifications,
            evaluation_errors=metrics.evaluation_errors,
            faults=metrics.task_failures.labels("alerting"),
            console=io.StringIO(),
        )
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(alerting.outboxes["am"].run)
                await alerting.outboxes["am"].wait_empty()
                tg.cancel_scope.cancel()
        assert len(up.bodies) == len(down.bodies) == 1

        def counted(outcome: str) -> float | None:
            labels = {"sink": "am", "outcome": outcome}
            return metrics.registry.get_sample_value("sesd_notifications_total", labels)

        assert (counted("member_failed"), counted("sent")) == (1.0, 1.0)


async def test_a_resolve_a_member_refuses_for_good_is_not_owed_to_it() -> None:
    """A member that answers 400 to a resolve would refuse it again: it is not owed
    (attached to every later post, it made each of them refused too, valid firings
    of other alerts included). And what a member was owed goes once it refuses a post
    for good."""
    now = [0.0]
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        config = AlertmanagerConfig(urls=[a.url, b.url])
        sink = AlertmanagerSink(config, session, "am", lambda: now[0])
        a.status = 400
        await sink.send(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
        assert sink.owing() is None
        a.status = 200
        now[0] += 60.0  # its time out (a resend period) over
        await sink.send(notification(alert("other.example")))
        assert [doc["labels"]["domain"] for doc in a.bodies[-1]] == ["other.example"]
        a.status = 503  # passing: owed
        await sink.send(notification(alert(kind=Transition.RESOLVED), kind=Transition.RESOLVED))
        assert sink.owing() is not None
        a.status = 400  # then refused for good, with what it was owed
        now[0] += 60.0
        await sink.send(notification(alert("third.example")))
        assert len(a.bodies[-1]) == 2  # the owed resolve went with it
        assert sink.owing() is None


def test_an_alert_posted_to_alertmanager_never_starts_after_it_ends() -> None:
    """An alert whose start the clock put ahead (a step back since) ends no earlier
    than it starts: Alertmanager refuses one that does (HTTP 400)."""
    import dataclasses

    from sesd.alerting.documents import alertmanager_documents

    ahead = dataclasses.replace(alert(kind=Transition.RESOLVED), since=1.8e9 + 600)
    (doc,) = alertmanager_documents(notification(ahead, kind=Transition.RESOLVED), 60.0)
    assert doc["startsAt"] <= doc["endsAt"] == "2027-01-15T08:00:00Z"
    firing = dataclasses.replace(alert(), since=1.8e9 + 3600)
    (doc,) = alertmanager_documents(notification(firing), 60.0, 1.8e9)
    assert doc["startsAt"] <= doc["endsAt"]
