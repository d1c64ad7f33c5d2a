"""The canary across a restart under another host name: a Kubernetes pod has a new
name each time it starts, its state file (on a volume) goes on."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import core_settings, parse_config
from sesd.core.canary import CANARY_TAG, CanaryTracker
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.fake_ses import FakeSes, Reply
from tests.test_alerting_e2e import Clock
from tests.test_canary import CANARY, SIM, T0
from tests.test_canary_e2e import canary_config, cut_off_after

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")

BEFORE, AFTER, OTHER = "sesd-7d4b9-x2x7q", "sesd-7d4b9-kq8zt", "sesd-7d4b9-m4n5p"


def tagged_delivery(message_id: str, sent: float, name: str) -> str:
    """The Delivery event of a canary SES took at ``sent``, tagged as ``name`` sent it."""
    event = f.delivery([SIM], at=sent + 1, sent=sent, message_id=message_id)
    event["mail"]["tags"] = {CANARY_TAG: [name], "ses:configuration-set": ["sesd"]}
    return f.sns(event)


async def test_canaries_sent_before_a_restart_under_another_host_name_are_this_sesd_s(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pod sends a canary (its id saved in the state file) and another whose call
    times out though SES sent it (no id to save), and is restarted as a pod of another
    name on the same state file. Both canaries' events then arrive, tagged with the old
    name: the first is matched, the second is this sesd's own lost canary, not another
    sesd's, so a canary of the new pod that goes missing is not blamed on "another
    sesd". The canary of a live replica of another name is still told apart, and named."""
    url, _ = await make_queue(sqs)
    clock = Clock(f.T0)
    alerts = f'[state]\npath = "{tmp_path / "state.bin"}"\n'
    async with FakeSes() as ses:
        endpoint = f'endpoint_url = "{ses.url}"\n'
        config = canary_config(local_sqs, url, canary=endpoint, alerts=alerts)
        monkeypatch.setattr(socket, "gethostname", lambda: BEFORE)
        async with running(config, clock=clock) as daemon:
            tracker = daemon.ledger.canary
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: tracker.sent_total == 1)
            sent = tracker.canaries[0]
            sender = daemon.canary.sender
            assert sender is not None
            clock.now = f.T0 + 60
            ses.script(Reply(hold=True))
            cut_off_after(sender, "1s")
            with anyio.fail_after(10):
                await sender.send_once()  # cut off after send_timeout; SES went on
            ses.release()
            assert tracker.errors == {"timeout": 1}
        clock.now = f.T0 + 3600
        monkeypatch.setattr(socket, "gethostname", lambda: AFTER)
        async with running(config, clock=clock) as daemon:
            tracker = daemon.ledger.canary
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: tracker.sent_total == 1)
            assert ses.requests[-1]["EmailTags"][0]["Value"] == AFTER
            lost = tagged_delivery("sent-as-the-call-timed-out", f.T0 + 60, BEFORE)
            await send_bodies(sqs, url, [tagged_delivery(sent.message_id, f.T0, BEFORE), lost])
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: sum(tracker.events.values()) == 2)
            assert tracker.events == {"matched": 1, "unmatched": 1}
            assert tracker.last_done is not None
            assert tracker.last_done.message_id == sent.message_id
            assert (tracker.foreign_at, tracker.foreign_from) == (None, "")
            # The new pod's canary is missing: the stage is not "another sesd".
            clock.now = f.T0 + 3600 + 121
            stage = tracker.stage("canary_missing", clock.now, 900)
            assert not stage.startswith("unsure"), stage
            # A live replica of another name sends to this queue: it is told, and named.
            theirs = tagged_delivery("theirs", f.T0 + 3610, OTHER)
            await send_bodies(sqs, url, [theirs])
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: sum(tracker.events.values()) == 3)
            assert tracker.foreign_from == OTHER
            stage = tracker.stage("canary_missing", clock.now, 900)
            assert stage.startswith(f"unsure: canary events of another sesd ({OTHER})"), stage


def test_a_live_sesd_with_a_name_this_one_had_before_a_restart_is_told_apart() -> None:
    """This sesd's canaries of a name it had before a restart are its own when SES took
    them before its first canary of this run. One of that name that SES took later is
    another live sesd's (a copy of the state file started beside it; a host that took
    the old name): named as this one's name before a restart, and the stage says
    "unsure"."""
    config = parse_config(CANARY)
    before = Pipeline(core_settings(config)).ledger
    before.canary.instance = BEFORE
    before.canary.sent("m-1", T0, 0.1)
    evaluator = Evaluator(config.alerts, [])
    pipeline = Pipeline(core_settings(config))
    tracker = pipeline.ledger.canary
    restore(snapshot(before, evaluator, T0 + 1), pipeline.ledger, evaluator, T0 + 600)
    assert tracker.former == (BEFORE,)
    tracker.instance = AFTER
    tracker.sent("m-2", T0 + 600, 0.1)
    pipeline.feed(tagged_delivery("lost", T0 + 30, BEFORE), "events", T0 + 601, T0 + 601)
    assert (tracker.events, tracker.foreign_at) == ({"unmatched": 1}, None)
    pipeline.feed(tagged_delivery("theirs", T0 + 900, BEFORE), "events", T0 + 901, T0 + 901)
    assert tracker.foreign_at == T0 + 901
    assert tracker.foreign_from == f"{BEFORE}, this one's name before a restart"
    assert tracker.stage("canary_missing", T0 + 1000, 900).startswith(
        f"unsure: canary events of another sesd ({BEFORE}, this one's name before a restart)"
    )


def test_the_state_file_keeps_the_last_sixteen_names_each_once_this_run_s_last() -> None:
    """Each run adds its name (once: a restart under the same name adds none), the
    newest last, up to 16; a run without the canary keeps them as they were. What the
    file holds is the kind of name a sesd sends: anything else read back is dropped. A
    file from before the names were kept restores none."""
    tracker = CanaryTracker(120.0, "events")
    for run in range(20):
        names = tracker.names()
        tracker = CanaryTracker(120.0, "events")
        tracker.restore([], T0, names)
        tracker.instance = f"pod-{run}"
    assert tracker.former == tuple(f"pod-{n}" for n in range(3, 19))
    assert tracker.names() == [f"pod-{n}" for n in range(4, 20)]
    again = CanaryTracker(120.0, "events")
    again.restore([], T0, tracker.names())
    again.instance = "pod-10"
    assert again.names() == [f"pod-{n}" for n in (*range(4, 10), *range(11, 20), 10)]
    idle = CanaryTracker(120.0, "events")
    idle.restore([], T0, tracker.names())
    assert idle.names() == tracker.names()
    idle.restore([], T0, ["pod-1", "\x1b[2J<!channel>", 7, "x" * 65, "pod.eu_2"])
    assert idle.former == ("pod-1", "pod.eu_2")
    old = CanaryTracker(120.0, "events")
    old.restore([], T0)
    assert old.names() == []
