"""A webhook notification a stop left part-sent goes on after the restart where it was
left: the receiver, gathering parts by ``id``, gets each part once under one ``id``.

A rule fires (or resolves) on 300 domains: three parts of at most 256 KiB. The
receiver takes part 1; the stop comes while part 2 is under way (its answer never
comes) or while the outbox waits out the receiver's 500 to it. The state is saved as
a stop saves it (sesd.runtime.saver), and a new alerting on a new ledger restores it
and runs its first evaluation, through the real sink and outbox to a local receiver.
Before, the restart sent the notification again whole, under another ``id`` and
``at``: parts 1 to 3 again, and the first notification never whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from sesd.alerting.documents import webhook_documents
from sesd.alerting.outbox import Outbox
from sesd.alerting.part_saved import MOST_SAVED, SavedPart, resume, saved_parts, url_digest
from sesd.alerting.service import Alerting
from sesd.alerting.webhook import WebhookSink
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state_parts import read_parts
from tests.receivers import WebhookReceiver
from tests.test_reload_sinks import _drained
from tests.test_routing import RULE, T, _alerting, alerting_for
from tests.test_rules import feed_spike
from tests.test_sinks import alert, notification

SECRET = "s3cret-for-the-hook"
DOMAINS = [f"mx{i:03}.example.net" for i in range(300)]


def _text(url: str, max_age: str = "1h") -> str:
    return (
        f'[domains]\nmax_tracked = 600\n[alerts]\ngroup_wait = "0s"\n'
        f'notification_max_age = "{max_age}"\n'
        f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{url}"\nsecret = "{SECRET}"\n'
        + RULE
        + 'sinks = ["hook"]\n'
    )


class _Cut(WebhookReceiver):
    """The receiver; the answer to body ``cut`` (from 1) is held until the test lets it
    go, then it is a 503, the body not taken (the stop cut the post)."""

    def __init__(self) -> None:
        super().__init__(secret=SECRET)
        self.cut = 0
        self.arrived, self.release, self._count = anyio.Event(), anyio.Event(), 0

    async def _handle(self, request: web.Request) -> web.Response:
        self._count += 1
        if self._count == self.cut:
            self.arrived.set()
            await self.release.wait()
            return web.Response(status=503)
        return await super()._handle(request)


async def _until(
    outbox: Outbox, stopped: anyio.Event, pause: Callable[[], Awaitable[None]]
) -> None:
    """Run ``outbox`` until ``stopped`` is set; ``pause`` in place of each backoff."""

    async def sleep(seconds: float) -> None:
        await pause()

    outbox._sleep = sleep
    async with anyio.create_task_group() as tg:
        tg.start_soon(outbox.run)
        with anyio.fail_after(10):
            await stopped.wait()
        tg.cancel_scope.cancel()


class _Stop:
    """A stop: the exit's last save of ``path`` (the notifications not sent with it),
    and ``done`` once it came."""

    def __init__(self, path: Path, pipeline: Pipeline, alerting: Alerting, now: list[float]):
        self.done = anyio.Event()
        self._saver = StateSaver(str(path), pipeline.ledger, alerting.evaluator,
                                 lambda: now[0], unsent=alerting.undelivered)  # fmt: skip

    async def __call__(self) -> None:
        await self._saver.save_last(5.0)
        self.done.set()

    async def in_backoff(self) -> None:
        """The stop, in place of a backoff: the exit comes first."""
        await self()
        await anyio.sleep_forever()


async def _stopped_part_sent(
    hook: _Cut, session: aiohttp.ClientSession, path: Path, kind: str, during: str
) -> None:
    """The first run: ``kind``'s notification of the 300 domains part-sent when sesd
    stops ``during`` part 2's post or the backoff after its 500, and the stop's save."""
    alerting, pipeline, now = _alerting(_text(hook.url))
    alerting.open(session)
    for domain in DOMAINS:
        feed_spike(pipeline, domain, T, 6, 4)
    alerting.evaluate()
    outbox = alerting.outboxes["hook"]
    if kind == "resolved":
        await _drained(outbox, lambda seconds: anyio.lowlevel.checkpoint())
        hook.bodies.clear()
        hook.statuses.clear()
        now[0] = T + 400
        for domain in DOMAINS:
            feed_spike(pipeline, domain, now[0], 0, 10)
        alerting.evaluate()
        hook._count = 0
    stop = _Stop(path, pipeline, alerting, now)
    async with anyio.create_task_group() as tg:
        if during == "post":
            hook.cut = 2

            async def when_cut() -> None:
                await hook.arrived.wait()
                await stop()

            tg.start_soon(when_cut)
            await _until(outbox, stop.done, anyio.sleep_forever)
        else:
            hook.next_statuses.extend([204, 500])
            await _until(outbox, stop.done, stop.in_backoff)
    hook.release.set()
    assert [body["part"] for body in hook.accepted] == [1]
    saved = await anyio.Path(path).read_bytes()
    assert hook.url.encode() not in saved
    assert SECRET.encode() not in saved


async def _restarted(
    hook: WebhookReceiver,
    session: aiohttp.ClientSession,
    path: Path,
    at: float,
    url: str = "",
    text: str = "",
    opened: float | None = None,
    step: float = 0.0,
) -> Alerting:
    """The restart at ``at`` (its webhook to ``url``, by default the first's; or on the
    config ``text``): state restored, the outboxes opened (at ``opened``: the start took
    that long; with a clock step of ``step`` seconds measured before), the first
    evaluation, the webhook's outbox emptied."""
    config = parse_config(text or _text(url or hook.url))
    pipeline = Pipeline(core_settings(config))
    now = [at]
    alerting = alerting_for(config, pipeline, now)
    saver = StateSaver(str(path), pipeline.ledger, alerting.evaluator, lambda: now[0])
    saver.load()
    saver.release()
    now[0] = at if opened is None else opened
    if step:
        now[0] += step
        alerting.stepped(now[0], step)
    alerting.open(session)
    alerting.evaluate()
    await _drained(alerting.outboxes["hook"], lambda seconds: anyio.lowlevel.checkpoint())
    return alerting


def _told(bodies: list[Any]) -> list[tuple[str, str, int, int]]:
    return [(body["id"], body["kind"], body["part"], body["parts"]) for body in bodies]


@pytest.mark.parametrize("during", ["post", "backoff"])
@pytest.mark.parametrize("kind", ["firing", "resolved"])
async def test_a_notification_part_sent_at_a_stop_goes_on_from_its_part_after_the_restart(
    tmp_path: Path, kind: str, during: str
) -> None:
    """The receiver took part 1 of 3 of the 300 domains' firing (or resolve); the stop
    came during part 2's post, or while the outbox waited out the 500 to it. After the
    restart the receiver gets parts 2 and 3 of the same notification (its ``id``, its
    ``at``), and nothing more: each part once, under one ``id``, every domain once."""
    path = tmp_path / "state"
    async with _Cut() as hook, aiohttp.ClientSession() as session:
        await _stopped_part_sent(hook, session, path, kind, during)
        (first,) = hook.accepted
        await _restarted(hook, session, path, T + 30 if kind == "firing" else T + 430)
    told, parts = _told(hook.accepted), first["parts"]  # 3 of the firing, 2 of the resolve
    assert told == [(first["id"], kind, part, parts) for part in range(1, parts + 1)]
    assert {body["at"] for body in hook.accepted} == {first["at"]}
    domains = [alert["domain"] for body in hook.accepted for alert in body["alerts"]]
    assert domains == DOMAINS
    assert hook.rejected == 0


async def test_a_clock_step_while_starting_moves_the_part_sent_notification(
    tmp_path: Path,
) -> None:
    """The same stop during part 2's post of the firing; while the restart starts, after
    the file is read, the clock steps an hour ahead (measured). Parts 2 and 3 go on under
    the first's ``id``: the hour is a step, not an hour of its age. Their alerts start an
    hour later, on the new clock, as those of a notification waiting in an outbox move
    (before: on the old clock)."""
    path = tmp_path / "state"
    async with _Cut() as hook, aiohttp.ClientSession() as session:
        await _stopped_part_sent(hook, session, path, "firing", "post")
        (first,) = hook.accepted
        await _restarted(hook, session, path, T + 30, step=3600.0)
    told = _told(hook.accepted)
    assert told == [(first["id"], "firing", part, 3) for part in (1, 2, 3)]
    since = {alert["since"] for alert in first["alerts"]}
    moved = {alert["since"] for body in hook.accepted[1:] for alert in body["alerts"]}
    assert since == {"2027-01-15T08:00:00Z"}
    assert moved == {"2027-01-15T09:00:00Z"}


async def test_part_sent_ones_past_the_outbox_size_drop_as_a_smaller_outbox_does() -> None:
    """Three part-sent notifications of three rules in the file, in the order they were
    to go; the outbox holds two now (``outbox_size`` lowered while sesd was stopped).
    The restart goes on with the last two, in that order, and drops the first, logged
    and counted: as a reload making an outbox of three hold two drops the oldest of
    those begun (tests/test_outbox_full.py), not the newest."""
    url = "http://127.0.0.1:9/hook"
    config = parse_config(_text(url).replace("[alerts]\n", "[alerts]\noutbox_size = 2\n"))
    parts = []
    for rule in "abc":
        wide = replace(notification(alert(f"{rule}.example")), rule=rule, sinks=("hook",))
        made, _ = webhook_documents(wide)
        parts.append(SavedPart(
            "hook", url_digest(url), wide.rule, wide.kind, wide.severity, wide.sinks,
            wide.at, wide.silence, wide.mutes, wide.alerts, made.ends, made.at, made.id, 0,
            (), 1.0,
        ))  # fmt: skip
    resumed, _ = read_parts({"part_sent": msgspec.to_builtins(parts)}, config.alerts, T, T, 0.0)
    alerting = alerting_for(config, Pipeline(core_settings(config)), [T])
    alerting.evaluator.resumed = resumed
    async with aiohttp.ClientSession() as session:
        with capture_logs() as logs:
            alerting.open(session)
        assert [n.rule for n in alerting.outboxes["hook"].unsent()] == ["b", "c"]
    assert [e["rule"] for e in logs if e["event"] == "sesd.notify.dropped"] == ["a"]


#: An entry's damage (a hand's edit, a flipped byte): a part past its last; an ``id`` or
#: an ``at`` not as sesd writes them (control characters a receiver would be sent).
_DAMAGE = {"next": 3, "id": "\x1b[31m\u202e\x00evil\n", "made_at": "2027-01-15T08:00:00Z\r"}


@pytest.mark.parametrize("how", ["dropped", *_DAMAGE])
async def test_a_state_file_read_without_its_part_sent_sends_the_notification_whole(
    tmp_path: Path, how: str
) -> None:
    """The same stop during part 2's post of the firing, the file read as a build that
    does not know its key ``part_sent`` reads it (the key dropped), or with its entry
    damaged (a part past its last, an ``id`` or ``at`` not as sesd writes them: skipped,
    and counted): the firing goes again whole, as before, parts 1 to its last under a
    new ``id``; no domain is lost, and the receiver is sent no damaged ``id`` or ``at``."""
    path = tmp_path / "state"
    async with _Cut() as hook, aiohttp.ClientSession() as session:
        await _stopped_part_sent(hook, session, path, "firing", "post")
        data = msgspec.msgpack.decode(path.read_bytes())
        assert [part["next"] for part in data["part_sent"]] == [1]
        if how == "dropped":
            del data["part_sent"]
        else:
            data["part_sent"][0][how] = _DAMAGE[how]
        path.write_bytes(msgspec.msgpack.encode(data))
        first = hook.accepted[0]
        with capture_logs() as logs:
            await _restarted(hook, session, path, T + 30)
    _whole(hook.accepted[1:], first["id"])
    (restored,) = [e for e in logs if e["event"] == "sesd.state.restored"]
    assert restored["entries_skipped"] == ({} if how == "dropped" else {"part_sent": 1})


@pytest.mark.parametrize("why", ["url", "max_age", "max_age_starting"])
async def test_a_part_sent_notification_to_another_url_or_past_its_age_goes_whole(
    tmp_path: Path, why: str
) -> None:
    """The same stop; the restart's config points the webhook at another receiver, or
    comes after ``notification_max_age`` (the receiver gave the notification up), or
    reaches it while starting (the file read at 30 s, the outboxes open an hour later:
    before, that hour was not counted, and parts 2 and 3 went on under the first
    ``id``): the firing goes whole to the receiver the config names, as a new
    notification, and the one stopped is not gone on with."""
    path = tmp_path / "state"
    async with (
        _Cut() as hook,
        WebhookReceiver(secret=SECRET) as other,
        aiohttp.ClientSession() as session,
    ):
        await _stopped_part_sent(hook, session, path, "firing", "post")
        first = hook.accepted[0]
        if why == "url":
            await _restarted(other, session, path, T + 30)
            got = other.accepted
        else:
            opened = T + 3700 if why == "max_age_starting" else None
            await _restarted(hook, session, path, T + 3700 if opened is None else T + 30,
                             opened=opened)  # fmt: skip
            # (Started an hour after the data, the alert then resolves: its own matter.)
            got = [body for body in hook.accepted[1:] if body["kind"] == "firing"]
    _whole(got, first["id"])


def _whole(bodies: list[Any], stopped: str) -> None:
    """``bodies`` are one firing of every domain, whole (parts 1 to its last), under one
    ``id`` other than ``stopped``'s."""
    (told,) = {body["id"] for body in bodies}
    assert told != stopped
    parts = bodies[0]["parts"]
    assert _told(bodies) == [(told, "firing", part, parts) for part in range(1, parts + 1)]
    assert [alert["domain"] for body in bodies for alert in body["alerts"]] == DOMAINS


async def test_the_file_keeps_and_reads_part_sent_notifications_to_their_bounds() -> None:
    """Ten part-sent notifications in a webhook's outbox (begun, stepped aside): a save
    keeps the first eight. Ten of one sink in a file (a hand's edit), and one of 9 MiB of
    strangers' text before them: the restart goes on with the first eight, and skips
    the one past the bytes the file keeps of them (counted), whatever its sink."""
    config = parse_config(_text("http://127.0.0.1:9/hook"))
    wide = replace(notification(alert("a.example")), sinks=("hook",))
    made, _ = webhook_documents(wide)
    part = SavedPart(
        "hook", url_digest("http://127.0.0.1:9/hook"), wide.rule, wide.kind, wide.severity,
        wide.sinks, wide.at, wide.silence, wide.mutes, wide.alerts, made.ends, made.at,
        made.id, 0, (), 1.0,
    )  # fmt: skip
    huge = msgspec.structs.replace(
        part, alerts=(replace(wide.alerts[0], notes=("x" * (9 << 20),)),)
    )
    data = {"part_sent": msgspec.to_builtins([huge, *[part] * 10])}
    resumed, skipped = read_parts(data, config.alerts, T, T + 1, 0.0)
    assert (len(resumed), skipped) == (MOST_SAVED, 1)
    assert resumed[0].progress == (0, made)
    assert resumed[0].age == 2.0  # a second old at the save, a second down
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink(config.alerts.named_sinks()["hook"], session, "hook")  # type: ignore[arg-type]
        outbox = Outbox(sink, size=100, counter=Counter("n", "n", ["sink", "outcome"],
                                                         registry=CollectorRegistry()))  # fmt: skip
        for each in resumed + resumed[:2]:
            copy = replace(each.notification)  # another notification
            assert resume(outbox, each._replace(notification=copy), each.age)
        assert len(outbox.unsent()) == 10
        assert len(saved_parts([outbox])) == MOST_SAVED
