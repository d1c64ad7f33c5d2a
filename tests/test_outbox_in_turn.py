"""A sink down while an alert fires, resolves and fires again (or is reminded,
resolves and fires again): its outbox holds all three. Back up, the sink is told
them in turn and the new incident is paged: only what a resolve queued behind it
ends is left out (PagerDuty and Alertmanager need no trigger for an incident that is
over), never the firing after that resolve, which nothing would page again until its
next repeat. The Slack-, PagerDuty- and Alertmanager-like receivers, the real sinks
and outbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import aiohttp
import anyio
import pytest

from sesd.alerting.alert import Notification
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.rules import Transition
from sesd.alerting.sinks import PagerDutySink, Sink, SlackSink
from sesd.config import AlertmanagerConfig
from tests.receivers import Answer, Receiver
from tests.test_alertmanager_members import _ended, _Member
from tests.test_sinks import (
    HeldSleeps,
    alert,
    delivering,
    notification,
    pagerduty_config,
    slack_config,
)

#: When the alert fired again: the new incident's start.
AGAIN = 1.8e9 + 600


def _history(first: Transition) -> list[Notification]:
    """``first`` (a firing or a repeat) of w.example, its resolve, its next firing."""
    kinds = [(first, 1.8e9), (Transition.RESOLVED, 1.8e9), (Transition.FIRING, AGAIN)]
    return [
        notification(dataclasses.replace(alert("w.example", kind=kind), since=since), kind=kind)
        for kind, since in kinds
    ]


async def _told(kind: str, history: list[Notification]) -> list[str]:
    """The sink answers 503 to the first of ``history``; the rest come during its
    backoff. What it takes once back, in order: firing, repeat or resolved (for
    Alertmanager, firing or resolved, by endsAt)."""
    sleeps = HeldSleeps()
    async with aiohttp.ClientSession() as session:
        if kind == "alertmanager":
            async with _Member() as member:
                member.status = 503
                sink: Sink = AlertmanagerSink(AlertmanagerConfig(urls=[member.url]), session, "am")
                refused: list[int] = []

                def back() -> None:
                    refused.append(len(member.bodies))
                    member.status = 200

                await _through(sink, sleeps, history, back)
                return [_am_kind(body) for body in member.bodies[refused[0] :]]
        async with Receiver(kind) as receiver:
            receiver.script(Answer(503))
            if kind == "pagerduty":
                sink = PagerDutySink(pagerduty_config(receiver.url), session)
            else:
                sink = SlackSink(slack_config(receiver.url), session)
            await _through(sink, sleeps, history, lambda: None)
            return [_kind_of(document) for document in receiver.accepted]


async def _through(
    sink: Sink, sleeps: HeldSleeps, history: list[Notification], back: Callable[[], None]
) -> None:
    async with delivering(sink, sleeps) as (box, _):
        box.put(history[0])
        with anyio.fail_after(10):
            await sleeps.waiting.wait()
        for later in history[1:]:
            box.put(later)
        back()
        sleeps.release.set()
        with anyio.fail_after(10):
            await box.wait_empty()


def _am_kind(body: list[dict[str, str]]) -> str:
    return "resolved" if _ended(body) else "firing"


def _kind_of(document: dict[str, object]) -> str:
    """A PagerDuty event's or a Slack message's kind."""
    action = document.get("event_action")
    if action is not None:
        return {"trigger": "firing", "resolve": "resolved"}[str(action)]
    text = str(document).lower()
    return next(k for k in ("resolved", "repeat", "firing") if k in text)


@pytest.mark.parametrize("first", [Transition.FIRING, Transition.REPEAT])
@pytest.mark.parametrize(
    ("kind", "told"),
    [
        ("slack", None),  # a history of messages: each, in turn
        ("pagerduty", ["resolved", "firing"]),
        ("alertmanager", ["resolved", "firing"]),
    ],
)
async def test_a_slow_sink_tells_a_firing_its_resolve_and_the_next_firing_in_turn(
    first: Transition, kind: str, told: list[str] | None
) -> None:
    """w.example fires (or is reminded) while the sink is down, resolves, and fires
    again. Once the sink is back it is told the resolve, then the new firing: none
    ahead of its turn, the new firing not left out as if its incident were over."""
    got = await _told(kind, _history(first))
    assert got == (told or [first.value, "resolved", "firing"])
