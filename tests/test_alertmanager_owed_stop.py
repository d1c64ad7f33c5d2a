"""At a stop, a resolve an Alertmanager member missed is posted to it once more, its
time out waived (the stop is the last chance); one it still cannot take is what the
stop leaves unsent, which the state file keeps (tests/test_alertmanager_owed_restart.py
restarts from it with real Alertmanagers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import anyio

from sesd.alerting.rules import Transition
from sesd.alerting.service import Alerting
from sesd.config import parse_config
from sesd.core.timestamps import iso
from tests.test_alertmanager_members import _Member
from tests.test_reload_sinks import _fired
from tests.test_routing import RULE, T, _alerting


def _ended(body: list[dict[str, str]]) -> bool:
    """Whether a post holds the resolve (its endsAt is the resolve's time)."""
    return any(alert["endsAt"] == iso(T + 600) for alert in body)


def _pair(a: _Member, b: _Member) -> str:
    """The head of a config whose sink ``am`` is the Alertmanager members a and b."""
    return (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
        f'urls = ["{a.url}", "{b.url}"]\nresend_every = "1h"\n'
    )


@asynccontextmanager
async def _fired_then_down() -> AsyncIterator[tuple[_Member, _Member, Alerting]]:
    """delays/a.example fires at members a and b (10 s at the most from here to the
    end); then a answers 503 and the clock moves on to T + 600, the window empty. The
    outbox runs until the caller is done."""
    async with _Member() as a, _Member() as b, aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(_pair(a, b) + RULE + 'sinks = ["am"]\n')
        alerting.open(session)
        outbox = alerting.outboxes["am"]
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await _fired(alerting, pipeline, outbox)
                a.status = 503
                now[0] = T + 600
                yield a, b, alerting
                tg.cancel_scope.cancel()


async def _stopped_owing(status_at_stop: int) -> tuple[_Member, list[tuple[str, str, Transition]]]:
    """delays/a.example fires at members a and b, then resolves while a answers 503
    (b takes it: a is owed it, and sits out an hour). a answers ``status_at_stop`` when
    sesd drains for a stop; returns a, and what the stop leaves unsent."""
    async with _fired_then_down() as (a, b, alerting):
        outbox = alerting.outboxes["am"]
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        await outbox.wait_empty()
        assert [_ended(body) for body in b.bodies] == [False, True]
        assert alerting.unsent() == [("delays", "a.example", Transition.RESOLVED)]
        a.status = status_at_stop
        await alerting.drain()
    return a, alerting.unsent()


async def test_a_member_back_by_the_stop_gets_the_resolve_it_missed() -> None:
    """a is back when sesd stops, though its time out has most of an hour to run: the
    drain posts it the resolve, and nothing is left unsent."""
    a, unsent = await _stopped_owing(200)
    assert [_ended(body) for body in a.bodies] == [False, True, True]
    assert unsent == []


async def test_a_member_still_down_at_the_stop_is_left_the_resolve_as_unsent() -> None:
    """a still fails at the stop: the drain tried it, and the resolve is left unsent (the
    state file saves it so, and the restarted sesd resolves the alert again)."""
    a, unsent = await _stopped_owing(503)
    assert [_ended(body) for body in a.bodies] == [False, True, True]
    assert unsent == [("delays", "a.example", Transition.RESOLVED)]


async def test_a_removed_rule_is_kept_while_its_resolve_is_owed_and_no_longer() -> None:
    """delays/a.example fires at members a and b; a reload removes the rule while a
    answers 503: b takes the resolve, a is owed it, and the rule is kept (what a stop
    saves with the resolve). Once a has taken it, the next reload forgets the rule:
    removed rules are not kept for ever."""
    async with _fired_then_down() as (a, b, alerting):
        outbox, evaluator = alerting.outboxes["am"], alerting.evaluator
        without = parse_config(
            _pair(a, b) + RULE.replace('"delays"', '"other"') + 'sinks = ["am"]\n'
        )
        alerting.reconfigure(without)
        await outbox.wait_empty()
        assert [_ended(body) for body in b.bodies] == [False, True]
        assert alerting.unsent() == [("delays", "a.example", Transition.RESOLVED)]
        assert list(evaluator.retired) == ["delays"]
        a.status = 200
        await alerting.drain()
        assert alerting.unsent() == []
        alerting.reconfigure(without)
        assert evaluator.retired == {}
