"""A webhook part posted again stays within the 256 KiB bound, however what it says
widened since its parts were cut.

A part is cut when the notification is first sent, and a retry (a 5xx, a timeout, a
restart) posts the parts not taken as they were cut, each made again. Two things may
have widened a part meanwhile: the replica's name (``host``: a VM's host renamed, then
a reload made the sink anew, which reads it again), and a clock step measured (its
alerts' ``since`` and ``at`` moved: a time on a whole second gains its microseconds,
and how long an alert has fired may cross a second). A part cut to the byte for what it
said first passed the bound, and a receiver behind a gateway at that bound refused it
for good (413): its alerts were lost. Against such a receiver, through the real sink
and outbox, with part 2 as full as the parts are cut."""

from __future__ import annotations

import math
import socket
from dataclasses import replace
from pathlib import Path

import aiohttp
import anyio
import pytest

from sesd.alerting.alert import Notification
from sesd.alerting.documents import MOST_BODY_BYTES, MOST_MOVED_BYTES, webhook_documents
from sesd.alerting.render import describe, details
from sesd.alerting.webhook import WebhookSink
from sesd.config import parse_config
from sesd.core.timestamps import iso
from sesd.io.replica import MOST_NAME, replica_name
from tests.receivers import WebhookReceiver
from tests.test_reload_sinks import _drained
from tests.test_routing import RULE, _alerting
from tests.test_sinks import alert
from tests.test_webhook_parts import _SLOWER, SECRET, _config, _incident

#: The replica's name as it starts, and as its host was renamed while it ran: as long
#: as a replica's name can be.
BEFORE = "mail-1"
AFTER = "mail-1-relay." + "x" * (MOST_NAME - len("mail-1-relay..example.test")) + ".example.test"


def _filled(wide: Notification) -> Notification:
    """``wide`` with part 2's first alert padded (a label) as far as part 2 still holds
    the alerts it held: that part as full as the parts are cut."""
    made, _ = webhook_documents(wide, host=BEFORE)
    second = made.ends[0]

    def padded(n: int) -> Notification:
        alerts = list(wide.alerts)
        alerts[second] = replace(alerts[second], labels={"pad": "x" * n})
        return replace(wide, alerts=tuple(alerts))

    low, high = 0, MOST_BODY_BYTES
    while low < high:  # the longest pad that leaves the parts as they were
        middle = (low + high + 1) // 2
        if webhook_documents(padded(middle), host=BEFORE)[0].ends == made.ends:
            low = middle
        else:
            high = middle - 1
    return padded(low)


#: A measured step of the clock that moves a time on a whole second off it, and whose
#: two sums, rounded apart, put a span of just under a second at a second.
STEP = -3600.5 + 2.0**-23


def _late(wide: Notification) -> Notification:
    """``wide`` with each alert told just under a second after it fired (on a whole
    second): a step of STEP makes each as wide as a step can."""
    since = alert().since
    late = since + 1.0 - math.ulp(since)
    return replace(wide, alerts=tuple(replace(a, at=late) for a in wide.alerts))


def _hook(url: str) -> str:
    sink = f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{url}"\nsecret = "{SECRET}"\n'
    return sink + RULE + 'sinks = ["hook"]\n'


async def test_a_part_posted_again_after_the_host_was_renamed_stays_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The incident's part 2, as full as parts are cut, fails (500). While the outbox
    waits to try again, the host is renamed (a name as long as a replica's can be) and
    a reload changes the sink's timeout: the sink made anew names the new host. The
    clock steps too, taking the room kept for a step (a name's difference is less than
    an alert's room: renamed alone, a part cut with no room for the name still fit).
    Part 2 goes again within the bound, and the receiver takes every part once, part 2
    and those after it naming the new host. Cut for the old name, part 2 passed the
    bound by the names' difference, and was refused for good."""
    monkeypatch.setattr(socket, "gethostname", lambda: BEFORE)
    wide = _filled(_late(_incident(200)))
    async with (
        WebhookReceiver(secret=SECRET, most=MOST_BODY_BYTES) as hook,
        aiohttp.ClientSession() as session,
    ):
        text = _hook(hook.url)
        alerting, _pipeline, now = _alerting(text)
        alerting.open(session)
        outbox = alerting.outboxes["hook"]
        hook.next_statuses.extend([204, 500])
        outbox.put(wide)

        async def meanwhile(seconds: float) -> None:
            monkeypatch.setattr(socket, "gethostname", lambda: AFTER)
            alerting.reconfigure(parse_config(text.replace("[alerts.sinks.hook]\n", _SLOWER)))
            now[0] += STEP
            alerting.stepped(now[0], STEP)
            await anyio.lowlevel.checkpoint()

        await _drained(outbox, meanwhile)
    assert len(replica_name()) == MOST_NAME
    assert hook.too_large == []
    assert [body["part"] for body in hook.bodies] == [1, 2, 2, 3]
    assert [body["host"] for body in hook.bodies] == [BEFORE, BEFORE, AFTER, AFTER]
    assert all(a["details"]["firing_for"] == "1s" for a in hook.bodies[2]["alerts"])


async def test_parts_saved_before_the_host_was_renamed_go_on_after_the_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stop left the incident part-sent, part 2 as full as parts are cut; the host
    was renamed before the restart, and the restart moves the alerts' times (the
    clock stepped back meanwhile: the room kept for a step taken). The restarted sink
    goes on with it from part 2, under its ``id``: each part fits the bound with the
    new name. Cut for the old name, part 2 passed it, and the notification went again
    whole, under a new ``id`` (a receiver gathering parts never had the first whole)."""
    wide = _filled(_late(_incident(200)))
    made, _ = webhook_documents(wide, host=BEFORE)
    restored = replace(wide, alerts=tuple(a.moved(STEP) for a in wide.alerts))
    monkeypatch.setattr(socket, "gethostname", lambda: AFTER)
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink(_config("http://127.0.0.1:9/hook"), session, "hook")
        assert sink.resume(restored, (1, made), [])
        assert sink.progress(restored) == ((1, made), [])


async def test_a_part_posted_again_after_a_clock_step_stays_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The incident's alerts each fired on a whole second and are told just under a
    second after. Part 2, as full as parts are cut, fails (500); while the outbox waits
    to try again, the clock steps back an hour and half a second. Each alert of part 2
    is then as wide as a step can make it: its ``since`` and ``at`` gain their
    microseconds, and it is told a second after it fired, which its ``details`` and
    description now say. Part 2 goes again within the bound: the room kept for a step
    was all taken. Cut for what the alerts said first, it passed
    the bound by about 6 KB, and was refused for good."""
    monkeypatch.setattr(socket, "gethostname", lambda: BEFORE)
    wide = _filled(_late(_incident(200)))
    moved = wide.alerts[0].moved(STEP)
    assert "firing_for" not in details(wide.alerts[0])
    assert details(moved)["firing_for"] == "1s"
    assert "firing for 1s" in describe(moved)
    async with (
        WebhookReceiver(secret=SECRET, most=MOST_BODY_BYTES) as hook,
        aiohttp.ClientSession() as session,
    ):
        alerting, _pipeline, now = _alerting(_hook(hook.url))
        alerting.open(session)
        outbox = alerting.outboxes["hook"]
        hook.next_statuses.extend([204, 500])
        outbox.put(wide)

        async def meanwhile(seconds: float) -> None:
            now[0] += STEP
            alerting.stepped(now[0], STEP)
            await anyio.lowlevel.checkpoint()

        await _drained(outbox, meanwhile)
    assert hook.too_large == []
    assert [body["part"] for body in hook.bodies] == [1, 2, 2, 3]
    again = hook.bodies[2]
    assert {(a["since"], a["at"]) for a in again["alerts"]} == {(iso(moved.since), iso(moved.at))}
    assert all(a["details"]["firing_for"] == "1s" for a in again["alerts"])
    made, bodies = webhook_documents(wide, host=BEFORE)
    stepped = replace(wide, alerts=tuple(a.moved(STEP) for a in wide.alerts))
    _, posted = webhook_documents(stepped, made, host=BEFORE)
    assert len(posted[1]) - len(bodies[1]) == len(again["alerts"]) * MOST_MOVED_BYTES
    # All the room kept taken, but the longer name's and the digits of part and parts
    # (counted as up to 200 of 200: 2 of 3 takes four fewer).
    assert len(posted[1]) == MOST_BODY_BYTES - (MOST_NAME - len(BEFORE)) - 4


def test_readme_gives_the_room_each_part_is_cut_with() -> None:
    """README's figures of the room a part is cut with are the code's."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    said = " ".join(readme.split())
    assert f"{MOST_NAME} characters, each alert {MOST_MOVED_BYTES} bytes more" in said
