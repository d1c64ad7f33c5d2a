"""A webhook notification a stop left part-sent, and the restart that goes on with it
stopped in turn before the receiver took the rest (it is down again), or saved before
its outboxes opened: the next save keeps it as the first did, and nothing of it is
lost should the next restart not go on with it (another URL, past
``notification_max_age``): its alerts go whole, as before. So too one saved by an
earlier build whose parts, cut for a narrower envelope, would pass the bound now.

The receiver, the stop during part 2's post and the restarts are those of
tests/test_webhook_parts_restart.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import anyio
import msgspec
import pytest

from sesd.alerting.documents import MOST_BODY_BYTES, webhook_documents
from sesd.alerting.part_saved import SavedPart, url_digest
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state_parts import read_parts
from tests.receivers import WebhookReceiver
from tests.test_reload_sinks import _drained
from tests.test_routing import T, _alerting, alerting_for
from tests.test_rules import feed_spike
from tests.test_sinks import alert, notification
from tests.test_webhook_parts_restart import (
    DOMAINS,
    SECRET,
    _Cut,
    _restarted,
    _stopped_part_sent,
    _text,
    _until,
    _whole,
)

#: The config with the 300 domains' rule removed (another in its place, which stays quiet).
_REMOVED = {'name = "delays"': 'name = "bounces"', "delay_ratio": "bounce_ratio"}


def _removed(url: str) -> str:
    text = _text(url)
    for old, new in _REMOVED.items():
        text = text.replace(old, new)
    return text


async def _resolve_part_sent_by_a_reload(
    hook: _Cut, session: aiohttp.ClientSession, path: Path
) -> None:
    """The first run: the rule fires on the 300 domains (taken whole); a reload removes
    it, and its resolve (two parts) is cut during part 2's post by the stop's save."""
    alerting, pipeline, now = _alerting(_text(hook.url))
    alerting.open(session)
    for domain in DOMAINS:
        feed_spike(pipeline, domain, T, 6, 4)
    alerting.evaluate()
    await _drained(alerting.outboxes["hook"], lambda seconds: anyio.lowlevel.checkpoint())
    now[0], hook._count, hook.cut = T + 60, 0, 2
    alerting.reconfigure(parse_config(_removed(hook.url)))
    stopped = anyio.Event()

    async def stop_when_cut() -> None:
        await hook.arrived.wait()
        saver = StateSaver(str(path), pipeline.ledger, alerting.evaluator, lambda: now[0],
                           unsent=alerting.undelivered)  # fmt: skip
        await saver.save_last(5.0)
        stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_when_cut)
        await _until(alerting.outboxes["hook"], stopped, anyio.sleep_forever)
    hook.release.set()


async def _restarted_and_stopped(
    hook: _Cut, session: aiohttp.ClientSession, path: Path, at: float
) -> None:
    """A restart at ``at`` on the config without the rule, the receiver answering 500:
    stopped (and saved) while its outbox waits out the first."""
    config = parse_config(_removed(hook.url))
    pipeline = Pipeline(core_settings(config))
    now = [at]
    alerting = alerting_for(config, pipeline, now)
    saver = StateSaver(str(path), pipeline.ledger, alerting.evaluator, lambda: now[0],
                       unsent=alerting.undelivered)  # fmt: skip
    saver.load()
    alerting.open(session)
    alerting.evaluate()
    stopped = anyio.Event()

    async def stop_in_backoff() -> None:
        await saver.save_last(5.0)
        stopped.set()
        await anyio.sleep_forever()  # the exit comes first

    hook.status = 500
    await _until(alerting.outboxes["hook"], stopped, stop_in_backoff)
    hook.status = 204
    saver.release()


@pytest.mark.parametrize("late", [False, True])
async def test_a_removed_rule_s_resolve_part_sent_across_two_restarts_is_not_lost(
    tmp_path: Path, late: bool
) -> None:
    """A reload removed the rule; its resolve of the 300 domains was cut during part 2
    by the stop. The restart goes on with it, the receiver answers 500, and sesd stops
    again. The next restart, within ``notification_max_age``, goes on with part 2
    under the resolve's ``id``; one after it (``late``) sends the resolve whole, as a
    notification of its own. Either way the receiver has every domain's resolve.
    Before, the second save kept the resolve only as part-sent (the rule, removed, was
    no longer known to keep it under): the late restart sent nothing, and 50 domains
    stayed firing in the receiver."""
    path = tmp_path / "state"
    async with _Cut() as hook, aiohttp.ClientSession() as session:
        await _resolve_part_sent_by_a_reload(hook, session, path)
        (first,) = [body for body in hook.accepted if body["kind"] == "resolved"]
        await _restarted_and_stopped(hook, session, path, T + 90)
        at = T + 60 + 3700 if late else T + 120
        await _restarted(hook, session, path, at, text=_removed(hook.url))
    resolves = [body for body in hook.accepted if body["kind"] == "resolved"]
    if late:
        assert {body["id"] for body in resolves[1:]} != {first["id"]}
    else:
        told = [(body["id"], body["part"]) for body in resolves]
        assert told == [(first["id"], 1), (first["id"], 2)]
    domains = {alert["domain"] for body in resolves for alert in body["alerts"]}
    assert sorted(domains) == DOMAINS


@pytest.mark.parametrize("late", [False, True])
async def test_a_save_before_the_outboxes_open_keeps_the_part_sent_notification(
    tmp_path: Path, late: bool
) -> None:
    """The stop during part 2's post of the 300 domains' firing; the restart reads the
    file, and a save comes before its outboxes open (a second stop signal while the
    start waits on SQS). The start after that goes on with the firing from part 2 under
    its ``id``: every domain once. Before, that save wrote the firing as taken by the
    webhook (the restart had counted it the sink's) and not as part-sent: the receiver
    never had parts 2 and 3. ``late``: that save comes half an hour into the start and
    the next start half an hour after it, past ``notification_max_age`` (an hour) of the
    first try: the firing goes whole (before, the half hour was not counted, and the
    receiver, which gave the notification up, had parts 2 and 3 of it alone)."""
    path = tmp_path / "state"
    async with _Cut() as hook, aiohttp.ClientSession() as session:
        await _stopped_part_sent(hook, session, path, "firing", "post")
        (first,) = hook.accepted
        config = parse_config(_text(hook.url))
        pipeline = Pipeline(core_settings(config))
        now = [T + 20]
        alerting = alerting_for(config, pipeline, now)
        saver = StateSaver(str(path), pipeline.ledger, alerting.evaluator, lambda: now[0],
                           unsent=alerting.undelivered)  # fmt: skip
        saver.load()
        now[0] += 1800 * late
        await saver.save_last(5.0, after="signal")
        saver.release()
        await _restarted(hook, session, path, T + 3650 if late else T + 40)
    if late:
        _whole(hook.accepted[1:], first["id"])
        return
    assert [(body["id"], body["part"]) for body in hook.accepted] == [
        (first["id"], part) for part in range(1, first["parts"] + 1)
    ]
    assert [alert["domain"] for body in hook.accepted for alert in body["alerts"]] == DOMAINS


#: What a document without ``host`` lacks: an earlier build wrote none.
_NO_HOST = len(b',"host":""')


async def test_parts_cut_by_an_earlier_build_for_a_narrower_envelope_keep_the_bound() -> None:
    """A file saved by an earlier build, whose documents had no ``host``: the 300
    domains' firing part-sent (part 1 taken), part 2 cut to exactly MOST_BODY_BYTES
    without one. The receiver is behind a gateway that refuses a body past that bound
    (413). This build's envelope is wider by the replica's name: part 2 as cut would
    be refused and its domains lost (before: sent as cut, past the bound by its
    ``host`` field). The firing goes again whole instead, under a new
    ``id``, each part within the bound, as one the restart cannot go on with does."""
    domains = [alert(domain) for domain in DOMAINS]
    wide = replace(notification(*domains), sinks=("hook",))
    made, _ = webhook_documents(wide, host="")
    second = made.ends[0]  # part 2's first alert, padded to the bound without `host`
    padded = list(domains)
    padded[second] = replace(domains[second], labels={"pad": ""})
    wide = replace(wide, alerts=tuple(padded))
    size = len(webhook_documents(wide, made, host="")[1][1]) - _NO_HOST
    padded[second] = replace(domains[second], labels={"pad": "x" * (MOST_BODY_BYTES - size)})
    wide = replace(wide, alerts=tuple(padded))
    assert len(webhook_documents(wide, made, host="")[1][1]) - _NO_HOST == MOST_BODY_BYTES
    async with (
        WebhookReceiver(secret=SECRET, most=MOST_BODY_BYTES) as hook,
        aiohttp.ClientSession() as session,
    ):
        config = parse_config(_text(hook.url))
        saved = SavedPart(
            "hook", url_digest(hook.url), wide.rule, wide.kind, wide.severity, wide.sinks,
            wide.at, wide.silence, wide.mutes, wide.alerts, made.ends, made.at, made.id, 1,
            (), 1.0,
        )  # fmt: skip
        data = {"part_sent": msgspec.to_builtins([saved])}
        resumed, skipped = read_parts(data, config.alerts, T + 29, T + 30, 0.0)
        assert (len(resumed), skipped) == (1, 0)
        alerting = alerting_for(config, Pipeline(core_settings(config)), [T + 30])
        alerting.evaluator.resumed = resumed
        alerting.open(session)
        await _drained(alerting.outboxes["hook"], lambda seconds: anyio.lowlevel.checkpoint())
    assert hook.too_large == []
    _whole(hook.accepted, made.id)
