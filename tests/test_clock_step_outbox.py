"""A wall-clock step sesd measures while a resolve waits to be delivered: the resolve
waiting in the outbox (Alertmanager down) and the one a member is owed move their
times with the clock, as the evaluator's do (sesd.alerting.clock_steps). Unmoved, a
resolve waiting across an hour's step back was posted with an end an hour ahead
(Alertmanager kept the alert firing for the step's length), and a save wrote its old
start and end (after a restart, an incident "firing for 0s"). Two Alertmanager-like
members, the real sink, outbox and alerting."""

from __future__ import annotations

from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aiohttp import web

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.rules import Status, Transition
from sesd.core.timestamps import iso
from sesd.runtime.state import snapshot
from tests.receivers import Answer, Receiver
from tests.test_alertmanager_members import _Member
from tests.test_reload_sinks import _at_pagerduty, _drained, _fired
from tests.test_routing import RULE, T, _alerting
from tests.test_rules import feed_spike

STEP = -3600.0


async def test_a_resolve_waiting_across_a_clock_step_back_ends_on_the_new_clock() -> None:
    """delays/a.example fires at T at members a and b; both are down when it resolves
    at T + 600, so the resolve waits in the outbox and is owed to each. The clock steps
    an hour back (measured): the state saved then keeps the resolve owed as fired an hour
    earlier and resolved at T + 600 - 1h, and once the members are back every copy of
    the resolve posted says so (startsAt T - 1h, endsAt T + 600 - 1h)."""
    waiting, release = anyio.Event(), anyio.Event()

    async def gate(seconds: float) -> None:
        waiting.set()
        await release.wait()

    head = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        members = f'urls = ["{a.url}", "{b.url}"]\nresend_every = "1h"\n'
        alerting, pipeline, now = _alerting(head + members + RULE + 'sinks = ["am"]\n')
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        outbox._sleep = gate
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await _fired(alerting, pipeline, outbox)
                a.status = b.status = 503
                now[0] = T + 600
                assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
                await waiting.wait()
                now[0] = T + 601 + STEP
                alerting.stepped(now[0], STEP)
                unsent = alerting.undelivered()
                blob = snapshot(
                    pipeline.ledger, alerting.evaluator, now[0], unsent.again, True,
                    unsent.retired, unsent.firing, unsent.resolves,
                )  # fmt: skip
                a.status = b.status = 200
                release.set()
                await outbox.wait_empty()
                tg.cancel_scope.cancel()
    # Owed to a sink that tells alerts apart by their labels: kept with its rule.
    ((_, rows, _),) = msgspec.msgpack.decode(blob)["retired"]
    row = rows["a.example"]
    assert (row[0], row[1], row[4]) == (Status.FIRING.value, T + STEP, T + 600 + STEP)
    posted: list[dict[str, Any]] = [doc for member in (a, b) for doc in member.bodies[-1]]
    assert len(posted) == 4  # to each member: the resolve it is owed, the outbox's
    assert {(doc["startsAt"], doc["endsAt"]) for doc in posted} == {
        (iso(T + STEP), iso(T + 600 + STEP))
    }


async def test_a_wide_page_under_retry_across_a_clock_step_goes_on_from_the_first_event_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PagerDuty takes the first of three alerts' triggers, then answers 500; while the
    outbox waits to try again the clock steps an hour back (measured). The notification
    under retry moves to the new clock, and goes on from the second event: told apart
    by the object, the moved one was a notification never begun, and its first event
    went again (a trigger for an incident the on-call may have resolved by hand opens
    a new one)."""
    monkeypatch.setenv("SESD_TEST_ROUTING_KEY", "key-1")
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        pd.script(Answer(202), Answer(500))
        _text, alerting, pipeline, now = _at_pagerduty(pd.url, session)
        for domain in ("a.example", "b.example", "c.example"):
            feed_spike(pipeline, domain, T, 6, 4)
        alerting.evaluate()

        async def meanwhile(seconds: float) -> None:
            now[0] += STEP
            alerting.stepped(now[0], STEP)
            await anyio.lowlevel.checkpoint()

        await _drained(alerting.outboxes["pd"], meanwhile)
    assert [e["payload"]["component"] for e in pd.accepted] == [
        "a.example",
        "b.example",
        "c.example",
    ]
    # Sent on the new clock: the events' times moved with it.
    assert pd.accepted[1]["payload"]["timestamp"] < pd.accepted[0]["payload"]["timestamp"]


class _Held(_Member):
    """A member whose answers wait until :attr:`go` is set (:attr:`asked`: one came)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked, self.go = anyio.Event(), anyio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        self.asked.set()
        await self.go.wait()
        return await super()._handle(request)


async def test_a_resolve_a_member_misses_in_a_post_across_a_step_is_owed_on_the_new_clock() -> None:
    """delays/a.example fires at T at members a and b, and resolves at T + 600. While
    the resolve's post waits on a, the clock steps an hour back (measured); then a
    answers 503, b took it. The resolve a is owed is on the new clock: saved fired an
    hour earlier and resolved at T + 600 - 1h, and posted to a so once it is back.
    Recorded with the times the post began on, it ended an hour ahead: a kept the
    alert firing that long."""
    head = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
    async with _Held() as a, _Member() as b, aiohttp.ClientSession() as session:
        members = f'urls = ["{a.url}", "{b.url}"]\nresend_every = "1h"\n'
        alerting, pipeline, now = _alerting(head + members + RULE + 'sinks = ["am"]\n')
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        sink = outbox.sink
        assert isinstance(sink, AlertmanagerSink)
        a.go.set()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await _fired(alerting, pipeline, outbox)
                a.status, a.go, a.asked = 503, anyio.Event(), anyio.Event()
                now[0] = T + 600
                assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
                await a.asked.wait()
                now[0] = T + 601 + STEP
                alerting.stepped(now[0], STEP)
                a.go.set()
                await outbox.wait_empty()
                tg.cancel_scope.cancel()
        (owed,) = sink.owed_alerts()
        assert (owed.since, owed.at) == (T + STEP, T + 600 + STEP)
        a.status = 200
        await sink.catch_up(every=True)
    assert [(doc["startsAt"], doc["endsAt"]) for doc in a.bodies[-1]] == [
        (iso(T + STEP), iso(T + 600 + STEP))
    ]


async def test_a_resolve_owed_is_let_go_on_the_daemons_clock() -> None:
    """A member misses delays/a.example's resolve at T + 600 (resend_every 1m): it is
    owed while the member could still hold the alert firing on sesd's clock, and let go
    once that clock is four resend periods on. Read on the host's clock instead, a
    resolve posted between a step and sesd measuring it was on the new clock, then
    moved by the step again: a step back let it go at once."""
    head = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        members = f'urls = ["{a.url}", "{b.url}"]\nresend_every = "1m"\n'
        alerting, pipeline, now = _alerting(head + members + RULE + 'sinks = ["am"]\n')
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        sink = outbox.sink
        assert isinstance(sink, AlertmanagerSink)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await _fired(alerting, pipeline, outbox)
                a.status = 503
                now[0] = T + 600
                assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
                await outbox.wait_empty()
                tg.cancel_scope.cancel()
        now[0] = T + 600 + 4 * 60 - 1
        assert sink.owed() == [("delays", "a.example")]
        now[0] = T + 600 + 4 * 60 + 1
        assert sink.owed() == []
