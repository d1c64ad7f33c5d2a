"""An alert whose resolve a stop left undelivered, and a restart whose wall clock has
stepped an hour ahead or an hour back meanwhile (NTP setting a host's clock at boot, a
VM restored from a snapshot). The resolve goes out once, when and at the figure it
resolved at (never after the restart's clock: Alertmanager refuses an end ahead of its
start), and nothing is paged firing. ``sesd run`` as a real process under libfaketime
(its wall clock stepped, its monotonic clock left alone), with a real Alertmanager."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import AlertmanagerConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import snapshot
from sesd.runtime.state_bytes import write_state
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import WebhookReceiver
from tests.sesd_process import config_file, sesd_process
from tests.test_alertmanager import alertmanager
from tests.test_clock_steps import _faketime_library
from tests.test_rule_changes import rule
from tests.test_rules import feed_spike


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _sinks(am: str) -> str:
    return (
        '[alerts]\ngroup_wait = "0s"\nevaluate_every = "100ms"\n'
        f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["{am}"]\nresend_every = "1h"\n'
        + rule(extra='sinks = ["am"]\n')
    )


async def _owed(text: str, base: float, receiver: WebhookReceiver) -> bytes:
    """The state file of a stop at ``base + 61``: a.example fired at 60% at ``base``
    (Alertmanager notified it) and resolved at 10% at ``base + 60``; Alertmanager had
    not taken the resolve."""
    config = parse_config(text)
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", base, 6, 4)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    evaluator.evaluate(pipeline.ledger, base)
    sink_config = config.alerts.named_sinks()["am"]
    assert isinstance(sink_config, AlertmanagerConfig)
    async with aiohttp.ClientSession() as session:
        sink = AlertmanagerSink(sink_config, session, "am")
        for notification in evaluator.due(base, flush=True):
            await sink.send(notification)
    with anyio.fail_after(30):
        await receiver.wait_for(lambda body: body["status"] == "firing")
    feed_spike(pipeline, "a.example", base + 60, 0, 50)
    (resolved,) = evaluator.evaluate(pipeline.ledger, base + 60)
    assert (resolved.kind, resolved.value) == (Transition.RESOLVED, 0.1)
    unsent = [("delays", "a.example", Transition.RESOLVED)]
    return snapshot(pipeline.ledger, evaluator, base + 61, unsent, True)


def _faketime(library: str, offset: Path) -> dict[str, str]:
    """The environment that runs sesd on the wall clock ``offset`` says (its monotonic
    clock left true, as a real step leaves it). The file is written once, before the
    start: libfaketime may keep what it read (its cache, 10 s). Read again at every
    clock call (``FAKETIME_NO_CACHE``, which tests/test_clock_steps.py needs for steps
    while sesd runs), it slowed sesd so that the module took 36 s, not 16."""
    return {
        "LD_PRELOAD": library,
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def _kinds(records: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("kind")) for r in records if r.get("event") == "sesd.notify.sent"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("step", [3600, -3600], ids=["an hour ahead", "an hour back"])
async def test_an_owed_resolve_across_a_clock_step_is_posted_once_when_it_ended(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, step: int
) -> None:
    """Stopped with the resolve owed, restarted with the wall clock an hour off: the
    resolve is posted to Alertmanager at 10%, ending when it resolved (an hour ahead,
    that time; an hour back, its times move back with the clock, as far as the file
    was saved ahead of it: it ends a second before the restart, as it ended a second
    before the stop, no later than the restart's clock, and starts a minute before
    that, as it fired a minute), and Alertmanager notifies it resolved; nothing is
    posted firing."""
    library = _faketime_library()
    offset = tmp_path / "faketime"
    offset.write_text(f"{step:+d}\n")
    base = float(int(time.time()) - 120)
    url, _ = await make_queue(sqs)
    async with WebhookReceiver() as receiver, alertmanager(tmp_path, receiver.url) as am:
        text = _sinks(am)
        state = tmp_path / "state.bin"
        write_state(str(state), await _owed(text, base, receiver))
        config = config_file(
            tmp_path,
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            f'[state]\npath = "{state}"\n' + text,
        )
        env = _faketime(library, offset)
        started = time.time() + step
        async with sesd_process(config, env=env) as sesd:
            with anyio.fail_after(30):
                body = await receiver.wait_for(lambda b: b["status"] == "resolved")
            (alert,) = body["alerts"]
            assert alert["labels"]["domain"] == "a.example"
            assert "10.0%" in alert["annotations"]["summary"]
            ends, starts = _at(alert["endsAt"]), _at(alert["startsAt"])
            if step > 0:
                assert (starts, ends) == (base, base + 60)
            else:
                assert ends - starts == pytest.approx(60, abs=0.01)
                assert started - 5 <= ends <= time.time() + step
            # sesd's log is read as far as a test waits on it: to the resolve's post.
            with anyio.fail_after(10):
                await sesd.wait_for(lambda r: "resolved" in _kinds([r]))
            assert "firing" not in _kinds(sesd.records)
            assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]


def _reminded(hook: str) -> str:
    """Reminders every second to a webhook (no resends: each post is a reminder)."""
    return (
        '[alerts]\ngroup_wait = "0s"\nevaluate_every = "100ms"\nrepeat_interval = "1s"\n'
        f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{hook}"\n'
        + rule(extra='sinks = ["hook"]\n')
    )


def _firing(text: str, base: float) -> bytes:
    """The state file of a stop at ``base + 61``: a.example fired at 60% at ``base``,
    and its sinks were told."""
    config = parse_config(text)
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", base, 6, 4)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    (fired,) = evaluator.evaluate(pipeline.ledger, base)
    assert fired.kind is Transition.FIRING
    evaluator.due(base, flush=True)
    return snapshot(pipeline.ledger, evaluator, base + 61, [], True)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("step", [3600, -3600], ids=["an hour ahead", "an hour back"])
async def test_a_held_alert_across_a_clock_step_is_reminded_at_its_interval(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, step: int
) -> None:
    """a.example fired at 60% before a stop; restarted with the wall clock an hour off,
    sesd reads 200 s behind (ten deliveries stamped so by the restart's clock: 0%, which
    would resolve it, in a 5m window holding too little of its span; read by short
    polls, whose empty answers say nothing of what waits, where a long poll's would
    read the queue caught up once they are in): the alert is
    held firing, and reminded at the 1s repeat_interval, at once (an hour ahead, its
    last page an hour old by the clock; an hour back, its times moved back with the
    clock, as far as the file was saved ahead of it: two minutes old), then a second
    apart (not at every evaluation, nor an hour on); each tells when the alert fired
    (an hour ahead, as saved; an hour back, a minute before the save by the new clock:
    a minute before the restart, not the restart), and 60%, the figure it fired at,
    with the note that it is held; nothing resolves it."""
    library = _faketime_library()
    offset = tmp_path / "faketime"
    offset.write_text(f"{step:+d}\n")
    base = float(int(time.time()) - 120)
    url, _ = await make_queue(sqs)
    async with WebhookReceiver() as hook:
        text = _reminded(hook.url)
        state = tmp_path / "state.bin"
        write_state(str(state), _firing(text, base))
        late = time.time() + step - 200
        bodies = [f.raw(f.delivery([f"ok{i}@a.example"], at=late)) for i in range(10)]
        await send_bodies(sqs, url, bodies)
        config = config_file(
            tmp_path,
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
            f'[state]\npath = "{state}"\n' + text,
        )
        env = _faketime(library, offset)
        started = time.time() + step
        async with sesd_process(config, env=env) as sesd:
            with anyio.fail_after(20):
                await sesd.wait_for(lambda r: r.get("event") == "sesd.sqs.batch")
                read = time.time() + step
                await hook.wait_for(lambda _: len(hook.bodies) >= 2)
        reminders = [a for body in hook.bodies for a in body["alerts"]]
        assert [(body["kind"], a["domain"]) for body in hook.bodies for a in body["alerts"]] == [
            ("repeat", "a.example")
        ] * len(reminders)
        ats = [_at(a["at"]) for a in reminders]
        assert ats[0] <= read + 1  # due at once: its last page is minutes old or more
        assert ats[1] - ats[0] >= 0.9  # at its interval, not every evaluation
        for since in {_at(a["since"]) for a in reminders}:
            if step > 0:
                assert since == base
            else:  # the restart's clock, at the restore, less the 61 s before the save
                assert started - 61 <= since <= read - 61
        for alert in reminders:
            assert "60.0%" in alert["summary"]
            assert "held firing: its window has too few events" in alert["description"]
