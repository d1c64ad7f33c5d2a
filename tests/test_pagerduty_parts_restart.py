"""A PagerDuty page a stop left part-sent goes on after the restart from the first event
PagerDuty did not take: each alert's trigger (or resolve) reaches it once.

A rule fires (or resolves) on three domains: one notification, three events. PagerDuty
takes the first; the stop comes while the second's post is under way (its answer never
comes) or while the outbox waits out PagerDuty's 500 to it. The state is saved as a
stop saves it (sesd.runtime.saver), and a new alerting on a new ledger restores it and
runs its first evaluation, through the real sink and outbox to a local PagerDuty.
Before, the restart sent the notification again whole: the first trigger again, which
opens a second incident (and pages again) where the on-call resolved the first by
hand meanwhile, and spends PagerDuty's rate limit on events it has."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import anyio
import msgspec
import pytest
from aiohttp import web

from sesd.alerting.service import Alerting
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from tests.receivers import Answer, Receiver
from tests.test_reload_sinks import _drained
from tests.test_routing import RULE, T, _alerting, alerting_for
from tests.test_rules import feed_spike
from tests.test_webhook_parts_restart import _Stop, _until

KEY = "0123456789abcdef0123456789abcdef"
#: Stands for the local PagerDuty's URL until it is up.
PD_URL = "http://pagerduty.invalid/v2/enqueue"
DOMAINS = ["a.example", "b.example", "c.example"]


class _PagerDuty(Receiver):
    """PagerDuty's Events API; a request scripted to hang has its body read first (the
    stop cuts its post: its answer never comes)."""

    def __init__(self) -> None:
        super().__init__("pagerduty")

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()  # kept by the request for the reader's own read
        return await super()._handle(request)


def _text(url: str, key: str = KEY, max_age: str = "1h") -> str:
    return (
        f'[alerts]\ngroup_wait = "0s"\nnotification_max_age = "{max_age}"\n'
        f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "{key}"\n'
        f'events_url = "{url}"\n' + RULE + 'sinks = ["pd"]\n'
    )


async def _stopped_part_sent(
    pd: _PagerDuty,
    session: aiohttp.ClientSession,
    path: Path,
    kind: str,
    during: str,
    text: str = "",
    held: str = "",
) -> None:
    """The first run, on the config ``text`` (by default :func:`_text`'s): ``kind``'s
    page of the three domains part-sent when sesd stops ``during`` the second event's
    post or the backoff after PagerDuty's 500 to it, and the stop's save. ``held``: a
    domain a silence added once the page was made holds back (until T+20), its trigger
    not sent; the post under way is then the next one's."""
    from sesd.alerting.silences import Silence

    alerting, pipeline, now = _alerting(text or _text(pd.url))
    alerting.open(session)
    for domain in DOMAINS:
        feed_spike(pipeline, domain, T, 6, 4)
    alerting.evaluate()
    if held:  # the sink asks the silences before each event
        alerting.silences.silences.items = [
            Silence(id="s", comment="c", starts_at=T, ends_at=T + 20, domain=held)
        ]
    outbox = alerting.outboxes["pd"]
    if kind == "resolved":
        await _drained(outbox, lambda seconds: anyio.lowlevel.checkpoint())
        now[0] = T + 400
        for domain in DOMAINS:
            feed_spike(pipeline, domain, now[0], 0, 10)
        alerting.evaluate()
    before = len(pd.requests)
    stop = _Stop(path, pipeline, alerting, now)
    async with anyio.create_task_group() as tg:
        if during == "post":
            pd.script(Answer(202), Answer(503, hang=True))

            async def when_under_way() -> None:
                await pd.wait_arrived(before + 2)
                await stop()

            tg.start_soon(when_under_way)
            await _until(outbox, stop.done, anyio.sleep_forever)
        else:
            pd.script(Answer(202), Answer(500))
            await _until(outbox, stop.done, stop.in_backoff)
    action = "trigger" if kind == "firing" else "resolve"
    assert [e["dedup_key"] for e in pd.accepted if e["event_action"] == action] == [
        f"sesd:delays:{DOMAINS[0]}"
    ]
    assert KEY.encode() not in await anyio.Path(path).read_bytes()


async def _restarted(session: aiohttp.ClientSession, path: Path, at: float, text: str) -> Alerting:
    """The restart at ``at`` on the config ``text``: state restored, the outboxes opened,
    the first evaluation, PagerDuty's outbox emptied."""
    config = parse_config(text)
    pipeline = Pipeline(core_settings(config))
    now = [at]
    alerting = alerting_for(config, pipeline, now)
    saver = StateSaver(str(path), pipeline.ledger, alerting.evaluator, lambda: now[0])
    saver.load()
    saver.release()
    alerting.open(session)
    alerting.evaluate()
    await _drained(alerting.outboxes["pd"], lambda seconds: anyio.lowlevel.checkpoint())
    return alerting


def _told(pd: _PagerDuty, action: str) -> list[str]:
    return [e["dedup_key"] for e in pd.accepted if e["event_action"] == action]


@pytest.mark.parametrize("during", ["post", "backoff"])
@pytest.mark.parametrize("kind", ["firing", "resolved"])
async def test_a_page_part_sent_at_a_stop_goes_on_from_its_event_after_the_restart(
    tmp_path: Path, kind: str, during: str
) -> None:
    """PagerDuty took the first of the three domains' triggers (or resolves); the stop
    came during the second's post, or while the outbox waited out the 500 to it. After
    the restart PagerDuty gets the second and third, and nothing more: each domain's
    event once (before: the first again, a second incident where the on-call had
    resolved the first by hand)."""
    path = tmp_path / "state"
    async with _PagerDuty() as pd, aiohttp.ClientSession() as session:
        await _stopped_part_sent(pd, session, path, kind, during)
        await _restarted(session, path, T + 30 if kind == "firing" else T + 430, _text(pd.url))
    keys = [f"sesd:delays:{domain}" for domain in DOMAINS]
    assert _told(pd, "trigger") == keys
    assert _told(pd, "resolve") == ([] if kind == "firing" else keys)


@pytest.mark.parametrize("why", ["key", "max_age", "dropped"])
async def test_a_part_sent_page_to_another_key_or_past_its_age_goes_whole(
    tmp_path: Path, why: str
) -> None:
    """The same stop during the second trigger's post; the restart's config routes to
    another service (its key rotated), or comes past ``notification_max_age``, or the
    file is read as a build that does not know its part-sent pages (the key dropped):
    the firing goes whole, every domain's trigger, as before, and none is lost."""
    path = tmp_path / "state"
    async with _PagerDuty() as pd, aiohttp.ClientSession() as session:
        await _stopped_part_sent(pd, session, path, "firing", "post")
        text, at = _text(pd.url), T + 30
        if why == "key":
            text = _text(pd.url, key="fedcba9876543210fedcba9876543210")
        elif why == "max_age":
            text = _text(pd.url, max_age="20s")
        else:
            data = msgspec.msgpack.decode(path.read_bytes())
            del data["part_sent"]
            path.write_bytes(msgspec.msgpack.encode(data))
        await _restarted(session, path, at, text)
    keys = [f"sesd:delays:{domain}" for domain in DOMAINS]
    assert _told(pd, "trigger") == keys[:1] + keys


@pytest.mark.parametrize("others", [False, True])
async def test_a_trigger_a_silence_held_back_before_the_stop_pages_after_the_restart(
    tmp_path: Path, others: bool
) -> None:
    """PagerDuty took a.example's trigger; a silence (until T+20) held b.example's back,
    not sent; the stop came during c.example's post. The rule pages PagerDuty alone, or a
    console sink too (which took b.example's firing). The restart, at T+30, goes on from
    c.example, and b.example, never PagerDuty's, still fires with its silence over: its
    trigger goes too, each domain's once (before: the restart counted the page's
    b.example as PagerDuty's and never paged it)."""
    path = tmp_path / "state"
    text = _text(PD_URL)
    if others:
        text = text.replace('sinks = ["pd"]', 'sinks = ["pd", "ops"]')
        text += '[alerts.sinks.ops]\ntype = "console"\n'
    async with _PagerDuty() as pd, aiohttp.ClientSession() as session:
        text = text.replace(PD_URL, pd.url)
        await _stopped_part_sent(pd, session, path, "firing", "post", text, held=DOMAINS[1])
        assert pd.arrived == 2  # b.example's held back, c.example's under way
        await _restarted(session, path, T + 30, text)
    assert sorted(_told(pd, "trigger")) == [f"sesd:delays:{domain}" for domain in DOMAINS]
