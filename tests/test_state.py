"""The state file: a restart keeps windows and alert states, and sends nothing twice."""

from __future__ import annotations

import io
import json
import os
import stat
from array import array
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.events import EVENT_TYPE_INDEX, LONGEST_DELAY
from sesd.core.pipeline import Pipeline
from sesd.core.text import MAX_CHARS, clean
from sesd.core.windows.breakdown import CONFIG_SET, DIAGNOSTIC, MESSAGE_ID, MTA
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import STATE_VERSION, StateError, read_state, write_state
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.test_alerting_e2e import (
    ROUTING_KEY,
    Clock,
    answered_until,
    short_polled,
    spike,
    stateful,
)
from tests.test_rules import CONFIG, feed_spike

NOW = f.T0 + 10
DELAY = EVENT_TYPE_INDEX["delivery_delay"]

RULES = """
[dimensions]
tags = ["campaign"]
[[alerts.rules]]
name = "delays"
metric = "delay_ratio"
window = "5m"
above = 0.2
clear_below = 0.1
min_events = 4
"""


def test_snapshot_round_trip(tmp_path: Path) -> None:
    """Windows, labels, tags, pending delays, duplicates and firing alerts survive a round trip
    through the file, which only its owner can read."""
    config = parse_config(RULES)
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    tags = {"campaign": ["spring"]}
    for i in range(6):
        pipeline.feed(
            f.raw(f.delay([f"d{i}@a.example"], expires=f.T0 + 3600, tags=tags)), "q", f.T0
        )
    duplicate = f.raw(f.delivery(["x@a.example"], message_id="m-dup"))
    pipeline.feed(duplicate, "q", f.T0)
    pipeline.feed(f.raw(f.delivery(["a@b.example"], processing_ms=2500)), "q", f.T0)
    assert [a.domain for a in evaluator.evaluate(pipeline.ledger, f.T0)] == ["a.example"]
    path = tmp_path / "state.bin"
    write_state(str(path), snapshot(pipeline.ledger, evaluator, f.T0))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    fresh, fresh_evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    blob = read_state(str(path))
    assert blob is not None
    summary = restore(blob, fresh.ledger, fresh_evaluator, f.T0 + 5)
    assert summary["alerts"] == 1
    for index in range(3):
        assert fresh.ledger.windows["a.example"].figures(
            index, f.T0 + 1
        ) == pipeline.ledger.windows["a.example"].figures(index, f.T0 + 1)
    assert fresh.ledger.windows["b.example"].figures(0, f.T0).processing_ms[1] is not None
    assert (
        fresh.ledger.tag_windows[("campaign", "spring")].figures(0, f.T0).count("delivery_delay")
        == 6
    )
    assert fresh.ledger.pending.count("a.example", f.T0 + 1) == 6
    assert fresh.feed(duplicate, "q", f.T0 + 5).outcome == "duplicate"
    assert fresh_evaluator.evaluate(fresh.ledger, f.T0 + 5) == []  # still firing: nothing new
    assert sorted(fresh.ledger.domains.labels()) == ["a.example", "b.example"]


def test_a_map_no_sesd_wrote_is_not_said_to_be_an_earlier_sesds() -> None:
    """A msgpack map without an integer format version (another program's file at the
    path, a hand-made one) is not a sesd state file: the reason says so, not that an
    earlier sesd wrote it (which sends the one on call looking for a rollback)."""
    import msgspec

    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m"])
    for document in ({"cache": [1, 2]}, {"version": "4"}, {"version": True}, {"version": 0}):
        with pytest.raises(StateError) as refused:
            restore(msgspec.msgpack.encode(document), pipeline.ledger, evaluator, f.T0)
        assert str(refused.value).startswith("not a sesd state file"), document
        assert "earlier sesd" not in str(refused.value)


def test_unusable_state_files_are_refused_cleanly(tmp_path: Path) -> None:
    """Garbage or another version is a StateError with a reason, never a crash."""
    config = parse_config(RULES)
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    with pytest.raises(StateError, match="not a sesd state file"):
        restore(b"\xc1garbage", pipeline.ledger, evaluator, f.T0)
    import msgspec

    with pytest.raises(StateError, match="version"):
        restore(msgspec.msgpack.encode({"version": 99}), pipeline.ledger, evaluator, f.T0)
    with pytest.raises(StateError, match="damaged"):
        restore(
            msgspec.msgpack.encode({"version": STATE_VERSION}), pipeline.ledger, evaluator, f.T0
        )
    assert read_state(str(tmp_path / "missing")) is None


def _spiked_blob() -> tuple[Any, bytes]:
    """A config and the snapshot of a firing spike with pending delays and tags."""
    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    for i in range(6):
        body = f.delay([f"d{i}@a.example"], expires=f.T0 + 3600, tags={"campaign": ["x"]})
        pipeline.feed(f.raw(body), "q", f.T0)
    evaluator.evaluate(pipeline.ledger, f.T0)
    return config, snapshot(pipeline.ledger, evaluator, f.T0)


def test_any_damage_is_refused_whole_and_loads_nothing() -> None:
    """Bytes flipped anywhere in a real file, a document that is not a map, or a store
    of the wrong type: each either restores (the damage hit a value that still reads)
    or is a StateError that left the ledger and the alert states as they were, empty,
    never a crash at start or windows without the alert states that go with them."""
    import random

    import msgspec

    config, blob = _spiked_blob()
    rng = random.Random(7)
    refused = 0
    damaged = [b"\x00", msgspec.msgpack.encode([1]), msgspec.msgpack.encode("state")]
    for store in ("windows", "pending", "alerts", "dedup"):
        data = msgspec.msgpack.decode(blob)
        data[store] = []
        damaged.append(msgspec.msgpack.encode(data))
    for _ in range(400):
        flipped = bytearray(blob)
        for _ in range(rng.randint(1, 3)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        damaged.append(bytes(flipped))
    for bad in damaged:
        fresh = Pipeline(core_settings(config))
        evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
        try:
            restore(bad, fresh.ledger, evaluator, f.T0)
        except StateError:
            refused += 1
            assert not fresh.ledger.windows
            assert len(fresh.ledger.pending) == len(fresh.ledger.dedup) == 0
            assert all(not states for states in evaluator.states.values())
    assert refused > 100


def test_a_file_sesd_cannot_use_is_kept_aside_and_sesd_starts_empty(tmp_path: Path) -> None:
    """A damaged file (or one of another version, after a rollback) is moved to
    PATH.unusable, so the next save does not destroy what a person may want back; the
    log line says where it went."""
    from structlog.testing import capture_logs

    config, blob = _spiked_blob()
    path = tmp_path / "state.bin"
    path.write_bytes(blob[: len(blob) // 2])
    fresh = Pipeline(core_settings(config))
    saver = StateSaver(str(path), fresh.ledger, Evaluator(config.alerts, ["5m"]), lambda: f.T0)
    with capture_logs() as logs:
        saver.load()
    saver.release()
    (line,) = logs
    assert line["event"] == "sesd.state.ignored"
    assert line["kept_as"] == f"{path}.unusable"
    assert not path.exists()
    assert (tmp_path / "state.bin.unusable").read_bytes() == blob[: len(blob) // 2]
    assert not fresh.ledger.windows


def test_a_file_of_another_version_names_the_alerts_left_firing(tmp_path: Path) -> None:
    """A file of another version (an upgrade over a format change) is refused whole, so
    no resolve will come for the alerts it had firing: the log names them, to be
    resolved by hand."""
    import msgspec
    from structlog.testing import capture_logs

    config, blob = _spiked_blob()
    document = msgspec.msgpack.decode(blob)
    document["version"] = 3
    path = tmp_path / "state.bin"
    path.write_bytes(msgspec.msgpack.encode(document))
    fresh = Pipeline(core_settings(config))
    saver = StateSaver(str(path), fresh.ledger, Evaluator(config.alerts, ["5m"]), lambda: f.T0)
    with capture_logs() as logs:
        saver.load()
    saver.release()
    ignored, named = logs
    assert ignored["event"] == "sesd.state.ignored"
    assert ignored["reason"] == (
        "state file format version 3 is an earlier sesd's, which this one no longer reads "
        "(it reads 4)"
    )
    assert named["event"] == "sesd.state.rules_unknown"
    assert named["rules"] == {"delays": ["a.example"]}
    assert "resolve them in their sinks by hand" in named["hint"]


def test_alerts_not_delivered_are_saved_as_not_sent() -> None:
    """A firing not delivered is saved not notified (the next start sends it); a resolve
    not delivered keeps its alert firing (the next start resolves it again); a repeat,
    and a rule the config no longer has, change nothing."""
    import msgspec

    from sesd.alerting.rules import AlertState, Status, Transition

    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    states = evaluator.states["delays"]
    states["a.example"] = AlertState(Status.FIRING, f.T0, f.T0, 0.5, None, True)
    states["b.example"] = AlertState(Status.FIRING, f.T0, f.T0, 0.5, None, True)
    states["c.example"] = AlertState(Status.INACTIVE, f.T0 - 60, f.T0 - 60, 0.0, f.T0, False)
    unsent = [
        ("delays", "a.example", Transition.FIRING),
        ("delays", "b.example", Transition.REPEAT),
        ("delays", "c.example", Transition.RESOLVED),
        ("delays", "gone.example", Transition.RESOLVED),
        ("removed-rule", "a.example", Transition.FIRING),
    ]
    saved = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 5, unsent))
    firing = Status.FIRING.value
    assert saved["alerts"] == {
        "delays": {
            "a.example": [firing, f.T0, f.T0, 0.5, None, False],
            "b.example": [firing, f.T0, f.T0, 0.5, None, True],
            # When the resolve was decided: the next start sends it without waiting;
            # the figure it resolved at, for a resolve the next start's rules owe.
            "c.example": [firing, f.T0 - 60, f.T0 - 60, 0.0, f.T0, True],
            "gone.example": [firing, f.T0 + 5, f.T0 + 5, None, f.T0 + 5, True],
        }
    }


def test_one_state_file_is_used_by_one_sesd_at_a_time(tmp_path: Path) -> None:
    """A second sesd on the same file (replicas sharing a volume) does not start, naming
    the file; once the first is done with it, it may."""
    from sesd.runtime.http import StartError

    config = parse_config(RULES)
    path = str(tmp_path / "state.bin")

    def saver() -> StateSaver:
        fresh = Pipeline(core_settings(config))
        return StateSaver(path, fresh.ledger, Evaluator(config.alerts, ["5m"]), lambda: f.T0)

    first = saver()
    first.load()
    with pytest.raises(StartError, match=r"another sesd is using it \(.*state.bin.lock is held"):
        saver().load()
    first.release()
    second = saver()
    second.load()
    second.release()


def test_values_out_of_range_are_a_damaged_file() -> None:
    """Cells naming a bucket the ring does not have, or a head that is no number, are
    refused as damage, not a crash at start-up."""
    import msgspec

    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delivery(["a@a.example"], at=f.T0)), "q", f.T0)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), f.T0 + 1)
    bad_cells = array("I", [1 << 24 | 200]).tobytes()  # past the largest sketch bucket
    for key, value in (("cells", bad_cells), ("cells", b"\x01"), ("head", "soon")):
        data = msgspec.msgpack.decode(blob)
        data["windows"]["a.example"]["rings"][0][key] = value
        fresh = Pipeline(core_settings(config))
        with pytest.raises(StateError, match="damaged"):
            restore(
                msgspec.msgpack.encode(data), fresh.ledger, Evaluator(config.alerts, ["5m"]), f.T0
            )


def test_a_delay_expiry_years_away_in_an_older_file_ends_16_hours_after_the_delay(
    tmp_path: Path,
) -> None:
    """A state file written by a build that took a DeliveryDelay's expirationTime at its
    word holds a recipient pending until 9999. Restored, it is pending as long as a new
    delay could be, 16 hours after its delay's time, then expires: it pins neither the
    pending table nor its domain's label for ever. A delay expiring sooner keeps its own
    expiry."""
    import msgspec

    config = parse_config(RULES)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delay(["far@a.example"], at=f.T0)), "q", f.T0)
    pipeline.feed(f.raw(f.delay(["near@b.example"], at=f.T0, expires=f.T0 + 600)), "q", f.T0)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), f.T0 + 1)
    data = msgspec.msgpack.decode(blob)
    year_9999 = 253402300799.0
    rows = data["pending"]["pending"]
    rows[:] = [(*row[:3], year_9999) if row[1][0] == "a.example" else row for row in rows]
    path = tmp_path / "state.bin"
    write_state(str(path), msgspec.msgpack.encode(data))
    old = read_state(str(path))
    assert old is not None

    fresh = Pipeline(core_settings(config))
    restore(old, fresh.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), f.T0 + 2)
    pending = fresh.ledger.pending
    end = f.T0 + LONGEST_DELAY
    assert (pending.count("a.example", end - 1), pending.count("a.example", end)) == (1, 0)
    assert (pending.count("b.example", f.T0 + 599), pending.count("b.example", f.T0 + 600)) == (
        1,
        0,
    )
    assert pending.expire(end) == 2
    assert len(pending) == 0


def test_changed_window_layout_keeps_alerts_drops_windows() -> None:
    """After a change of windows, the windows that did not change are kept and the
    others start empty (with none in common, every window is dropped); alert states
    load, and a firing alert whose window starts empty is not resolved by it."""
    config = parse_config(RULES)
    pipeline, evaluator = (
        Pipeline(core_settings(config)),
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
    )
    for i in range(6):
        pipeline.feed(f.raw(f.delay([f"d{i}@a.example"], tags={"campaign": ["spring"]})), "q", f.T0)
    assert evaluator.evaluate(pipeline.ledger, f.T0)
    blob = snapshot(pipeline.ledger, evaluator, f.T0)
    other = parse_config(RULES + '[windows]\nsizes = ["5m", "15m", "2h"]\n')
    fresh, fresh_evaluator = (
        Pipeline(core_settings(other)),
        Evaluator(other.alerts, ["5m", "15m", "2h"]),
    )
    summary = restore(blob, fresh.ledger, fresh_evaluator, f.T0 + 5)
    assert (summary["windows"], summary["windows_started_empty"]) == (1, ["2h"])
    assert summary["alerts"] == 1
    windows = fresh.ledger.windows["a.example"]
    assert [windows.counts(i, f.T0 + 5)[DELAY] for i in range(3)] == [6, 6, 0]
    assert fresh_evaluator.evaluate(fresh.ledger, f.T0 + 5) == []  # still firing
    # Each kept window from its own place in the file, not from the same place.
    shifted = parse_config(RULES + '[windows]\nsizes = ["1m", "5m", "1h"]\n')
    moved = Pipeline(core_settings(shifted))
    summary = restore(blob, moved.ledger, Evaluator(shifted.alerts, ["1m", "5m", "1h"]), f.T0 + 5)
    assert summary["windows_started_empty"] == ["1m"]
    for windows in (
        moved.ledger.windows["a.example"],
        moved.ledger.tag_windows[("campaign", "spring")],
    ):
        assert [windows.counts(i, f.T0 + 5)[DELAY] for i in range(3)] == [0, 6, 6]

    apart = parse_config(RULES.replace('"5m"', '"10m"') + '[windows]\nsizes = ["10m"]\n')
    dropped, dropped_evaluator = Pipeline(core_settings(apart)), Evaluator(apart.alerts, ["10m"])
    summary = restore(blob, dropped.ledger, dropped_evaluator, f.T0 + 5)
    assert summary["windows"] == "dropped: window layout changed"
    assert dropped.ledger.windows == {}
    # Its window reads no data: for the window's length that says nothing.
    assert dropped_evaluator.evaluate(dropped.ledger, f.T0 + 5) == []
    assert dropped_evaluator.states["delays"]["a.example"].status == "firing"
    (resolved,) = dropped_evaluator.evaluate(dropped.ledger, f.T0 + 5 + 600)
    assert resolved.kind == "resolved"


async def test_restart_sends_nothing_twice_and_a_resolve_during_downtime_is_sent(
    local_sqs: Any, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First run: a spike fires. Second run (state restored): windows intact, no second
    firing message. Third run, after the spike aged out while sesd was down: its window
    reads no data, which for a window's length says nothing (the events queued while
    sesd was down may be on their way); then the resolve.

    The window's length passes while the third run reads its queue, which answers all
    along (answered_until): a queue that answered nothing for that long would be hung,
    and its own hold would keep the alert open a window more."""
    clock = Clock(f.T0)
    async with stateful(local_sqs, sqs, tmp_path, monkeypatch) as world:
        config, url, slack, pd, state = world
        config = short_polled(config, monkeypatch)
        async with running(config, clock=clock) as daemon:
            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(20):
                await slack.wait_for(1)
        assert state.exists()

        clock.now = f.T0 + 30
        async with running(config, clock=clock) as daemon:
            figures = daemon.ledger.windows["outlook.example"].figures(0, clock.now)
            assert figures.count("delivery_delay") == 6
            with anyio.fail_after(20):
                start = daemon.alerting.evaluations
                await daemon.changes.wait_for(lambda: daemon.alerting.evaluations >= start + 5)
        assert len(slack.accepted) == 1

        clock.now = f.T0 + 600
        async with running(config, clock=clock) as daemon:
            with anyio.fail_after(20):
                start = daemon.alerting.evaluations
                await daemon.changes.wait_for(lambda: daemon.alerting.evaluations >= start + 3)
            assert len(slack.accepted) == 1
            await answered_until(daemon, clock, f.T0 + 600 + 300)
            with anyio.fail_after(20):
                await slack.wait_for(2)
    assert slack.accepted[1]["text"].startswith(":white_check_mark: RESOLVED")
    assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve"]
    blob = state.read_bytes()
    assert b"planted-secret-slack" not in blob
    assert ROUTING_KEY.encode() not in blob
    assert b"@outlook.example" not in blob  # no recipient addresses either


async def test_a_page_delivered_is_saved_at_once(
    local_sqs: Any, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash (the OOM killer, a lost node) within save_every of a page must not page
    again after the restart: once the sinks took the firing, the file says so, long
    before the next periodic save (a minute)."""
    import msgspec

    monkeypatch.setattr("sesd.runtime.saver.SOON_GAP", 0.0)
    clock = Clock(f.T0)
    async with stateful(local_sqs, sqs, tmp_path, monkeypatch) as world:
        config, url, slack, pd, state = world
        async with running(short_polled(config, monkeypatch), clock=clock) as daemon:
            saved = anyio.Event()
            daemon.saver.on_saved = saved.set
            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(20):
                await slack.wait_for(1)
                await pd.wait_for(1)
                await saved.wait()
            alerts = msgspec.msgpack.decode(state.read_bytes())["alerts"]
            assert alerts["delay-ratio-high"]["outlook.example"][0] == "firing"


def _saver_soon_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StateSaver:
    """A saver of the rules' state into ``tmp_path``, its SOON_GAP cut to 0.3 s."""
    monkeypatch.setattr("sesd.runtime.saver.SOON_GAP", 0.3)
    config = parse_config(RULES)
    return StateSaver(
        str(tmp_path / "state.bin"),
        Pipeline(core_settings(config)).ledger,
        Evaluator(config.alerts, ["5m", "15m", "1h"]),
        lambda: f.T0,
    )


async def test_saves_pages_ask_for_are_one_every_soon_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save holds the event loop while it builds the snapshot: a burst of pages
    makes one save, and the next waits SOON_GAP after it."""
    saver = _saver_soon_in(tmp_path, monkeypatch)
    times: list[float] = []
    events = [anyio.Event(), anyio.Event()]

    def saved() -> None:
        times.append(anyio.current_time())
        events[len(times) - 1].set()

    saver.on_saved = saved
    async with anyio.create_task_group() as tg:
        started = anyio.current_time()  # before run() reads the time it counts from
        tg.start_soon(saver.run, 3600.0)
        await anyio.wait_all_tasks_blocked()
        for _ in range(3):
            saver.soon()  # a burst: one save
        with anyio.fail_after(10):
            await events[0].wait()
        saver.soon()  # after that save: the next waits SOON_GAP after it
        with anyio.fail_after(10):
            await events[1].wait()
        tg.cancel_scope.cancel()
    assert len(times) == 2
    assert times[0] - started >= 0.3  # SOON_GAP after the start
    assert times[1] - times[0] >= 0.3
    assert (tmp_path / "state.bin").exists()


async def test_a_page_delivered_while_a_save_writes_is_saved_soon_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page taken by a sink while a save writes may be missing from it: the save it
    asks for comes SOON_GAP after that one, not at the next period (an hour here)."""
    saver = _saver_soon_in(tmp_path, monkeypatch)
    write, writes = saver._write, list[int]()

    def writing(path: str, blob: bytes, number: int) -> bool:
        if not writes:
            anyio.from_thread.run_sync(saver.soon)  # a sink took a page meanwhile
        writes.append(number)
        return write(path, blob, number)

    monkeypatch.setattr(saver, "_write", writing)
    saved = anyio.Event()
    saver.on_saved = lambda: saved.set() if len(writes) == 2 else None
    async with anyio.create_task_group() as tg:
        tg.start_soon(saver.run, 3600.0)
        await anyio.wait_all_tasks_blocked()
        saver.soon()
        with anyio.fail_after(10):
            await saved.wait()
        tg.cancel_scope.cancel()
    assert writes == [1, 2]


async def test_an_unreadable_state_file_is_logged_and_sesd_starts_empty(
    local_sqs: Any, sqs: Any, tmp_path: Path, json_logs: io.StringIO
) -> None:
    """A state file of garbage: sesd logs sesd.state.ignored with the reason, starts
    with empty windows, consumes as usual, and replaces the file with a good one."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    state.write_bytes(b"\xc1 not a state file")
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[http]\nlisten = "127.0.0.1:0"\n[state]\npath = "{state}"\n'
    )
    async with running(config) as daemon:
        assert daemon.ledger.windows == {}
        await send_bodies(sqs, url, [f.raw(f.delivery(["a@a.example"]))])
        with anyio.fail_after(20):
            await daemon.changes.wait_for(
                lambda: daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 1
            )
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (ignored,) = [r for r in records if r["event"] == "sesd.state.ignored"]
    assert ignored["path"] == str(state)
    assert "not a sesd state file" in ignored["reason"]
    fresh = Pipeline(core_settings(config))
    restore(state.read_bytes(), fresh.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), f.T0)
    assert fresh.ledger.domains.labels() == ["a.example"]


async def test_state_is_saved_every_save_every_while_running(
    local_sqs: Any, sqs: Any, tmp_path: Path
) -> None:
    """With save_every = 1s the file appears while sesd runs (not only at shutdown),
    and a later save holds what came after the first."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[http]\nlisten = "127.0.0.1:0"\n[alerts]\nevaluate_every = "100ms"\n'
        f'[state]\npath = "{state}"\nsave_every = "1s"\n'
    )

    def saved_domains() -> list[str]:
        if not state.exists():
            return []
        fresh = Pipeline(core_settings(config))
        restore(
            state.read_bytes(), fresh.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), f.T0
        )
        return sorted(fresh.ledger.domains.labels())

    async with running(config) as daemon:
        with anyio.fail_after(20):
            await daemon.changes.wait_for(state.exists)
        await send_bodies(sqs, url, [f.raw(f.delivery(["a@b.example"]))])
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: saved_domains() == ["b.example"])
        assert not daemon.stopping.is_set()


def test_breakdowns_and_examples_survive_the_state_file() -> None:
    """After a restart from the state file, alert text says what it said before."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", NOW, 6, 4)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), NOW)
    fresh = Pipeline(core_settings(config))
    restore(blob, fresh.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), f.T0)
    before = pipeline.ledger.windows["a.example"].breakdown(0, NOW)
    after = fresh.ledger.windows["a.example"].breakdown(0, NOW)
    assert after == before
    assert after.message_ids
    assert after.delay_types == [("TransientCommunicationFailure", 6)]


def test_a_window_holding_suppressed_recipients_survives_the_state_file() -> None:
    """A restart within an hour of a bounce a suppression list kept SES from sending
    (common: SES's global list, an account's own) loads the file whole: the window still
    counts the suppressed recipient beside the delivery, and the delay still pends. The
    suppressed recipients' code is no sketch bucket: taken for one past the largest, it
    had the whole file refused as damaged, windows, delays and alert states with it."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@a.example"], at=NOW, subkind="Suppressed")), "q", NOW)
    pipeline.feed(f.raw(f.delivery(["b@a.example"], at=NOW)), "q", NOW)
    pipeline.feed(f.raw(f.delay(["c@a.example"], at=NOW, expires=NOW + 3600)), "q", NOW)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), NOW)
    fresh = Pipeline(core_settings(config))
    restore(blob, fresh.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), NOW)
    windows = fresh.ledger.windows["a.example"]
    assert [windows.suppressed_count(index, NOW) for index in range(3)] == [1, 1, 1]
    assert windows.figures(0, NOW).count("delivery") == 1
    assert fresh.ledger.pending.count("a.example", NOW) == 1


def test_texts_an_older_build_saved_are_cleaned_as_they_are_restored() -> None:
    """A state file from a build that kept texts as they came (a diagnostic and an MTA
    with a recipient's address and a terminal escape, a message id and a configuration
    set with an address, a diagnostic of a megabyte): after the restore, alert text
    shows them as a live event's are shown, addresses hidden, escapes escaped, cut."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", NOW, 6, 4)
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, NOW))
    hostile = "ann.victim@a.example \x1b[2J"
    saved = data["windows"]["a.example"]
    for details in saved["details"]:
        for row in (row for coarse in (details or {}).values() for row in coarse):
            if row[0] in (DIAGNOSTIC, MTA):
                row[1] = f"smtp; 421 <{hostile}>" if row[0] == DIAGNOSTIC else "x" * 1_000_000
    saved["examples"][MESSAGE_ID][0][1] = f"id {hostile}"
    saved["examples"][CONFIG_SET] = [[NOW, f"set {hostile}"]]
    fresh = Pipeline(core_settings(config))
    restore(msgspec.msgpack.encode(data), fresh.ledger, evaluator, NOW)
    after = fresh.ledger.windows["a.example"].breakdown(0, NOW)
    assert after.diagnostics == [(f"smtp; 421 <{clean(hostile)}>", 6)]
    assert clean(hostile) == "[address] \\u001b[2J"
    assert after.mtas == [("x" * (MAX_CHARS - 1) + "…", 6)]
    assert after.message_ids[-1] == f"id {clean(hostile)}"
    assert after.config_sets == [f"set {clean(hostile)}"]


def test_a_file_saved_ahead_of_the_clock_resolves_nothing_until_the_clock_reaches_it() -> None:
    """sesd restarts on a host whose wall clock is an hour behind the time the file was
    saved (it booted before NTP set its clock, or the clock stepped back): the windows'
    events lie ahead of it and read as none. The firing alert is not resolved on that
    (a resolve, then a second page once NTP steps the clock to the events), neither
    within a window of the start nor after, nor after a queue unread at boot holds
    resolves for a window of its own; once the clock is past the save time, a
    window without data resolves it as it would after any start."""
    config, blob = _spiked_blob()
    fresh = Pipeline(core_settings(config))
    fresh_evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    behind = f.T0 - 3600
    restore(blob, fresh.ledger, fresh_evaluator, behind)
    # A queue not read yet at boot holds resolves from its own time: not cut short.
    fresh_evaluator.blind(behind + 100)
    for now in (behind, behind + 400, behind + 3000):
        assert fresh_evaluator.evaluate(fresh.ledger, now) == [], now
    # NTP steps the clock to the events: still firing, not paged again.
    assert fresh_evaluator.evaluate(fresh.ledger, f.T0 + 10) == []
    assert fresh_evaluator.states["delays"]["a.example"].status == "firing"
    (resolved,) = fresh_evaluator.evaluate(fresh.ledger, f.T0 + 10 + 600)
    assert resolved.kind == "resolved"


def test_a_file_saved_a_day_ahead_holds_resolves_no_longer_than_its_widest_window() -> None:
    """sesd restarts on a clock a day behind the file's save (a dead RTC at boot, no
    NTP yet): its events will not come into a window for a day, so the hold on
    resolves reaches no further than the widest window, then a window of the rule's
    own, as README says; a day's hold would keep an incident long over open."""
    config, blob = _spiked_blob()
    fresh = Pipeline(core_settings(config))
    fresh_evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    behind = f.T0 - 86400
    restore(blob, fresh.ledger, fresh_evaluator, behind)
    held_until = behind + fresh.ledger.horizon + 300  # the rule's window: 5m
    assert fresh.ledger.horizon < 86400 / 2
    assert fresh_evaluator.evaluate(fresh.ledger, held_until - 1) == []
    (resolved,) = fresh_evaluator.evaluate(fresh.ledger, held_until + 1)
    assert resolved.kind == "resolved"


def test_a_file_saved_ahead_of_the_clock_is_said_at_start(tmp_path: Path) -> None:
    """The start on a clock an hour behind the file's save says so, once, with how far:
    the one on call learns why the windows read empty, that it is the clock, and that
    the alert times were moved back with it."""
    from structlog.testing import capture_logs

    config, blob = _spiked_blob()
    path = tmp_path / "state.bin"
    path.write_bytes(blob)
    fresh = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    saver = StateSaver(str(path), fresh.ledger, evaluator, lambda: f.T0 - 3600)
    with capture_logs() as logs:
        saver.load()
    saver.release()
    (ahead,) = [line for line in logs if line["event"] == "sesd.state.saved_ahead"]
    assert ahead["ahead_seconds"] == 3600
    assert "clock" in ahead["hint"]
    assert "alert times are moved back as far" in ahead["hint"]


def test_a_later_build_s_file_says_so_and_an_earlier_copy_kept_aside_stays(
    tmp_path: Path,
) -> None:
    """A rollback at 3 a.m.: the file a later build wrote is refused with a line that
    says it is a later build's (roll forward and put it back to use it), and kept
    aside. The run after (a second rollback, a file damaged by a crash of the host)
    keeps its own refused
    file beside that one rather than over it: a person may want the first back, and
    the copies kept are bounded."""
    import msgspec
    from structlog.testing import capture_logs

    config, blob = _spiked_blob()
    later = msgspec.msgpack.decode(blob)
    later["version"] = STATE_VERSION + 1
    path = tmp_path / "state.bin"
    kept: list[Any] = []
    contents = [msgspec.msgpack.encode(later), *(b"damaged %d" % i for i in range(4))]
    for content in contents:
        path.write_bytes(content)
        saver = StateSaver(
            str(path), Pipeline(core_settings(config)).ledger,
            Evaluator(config.alerts, ["5m"]), lambda: f.T0,
        )  # fmt: skip
        with capture_logs() as logs:
            saver.load()
        saver.release()
        kept.append(logs[0])
    first = kept[0]
    assert first["reason"] == (
        f"state file format version {STATE_VERSION + 1} is a later sesd's (this one reads "
        f"{STATE_VERSION}): to use it, roll forward and put it back at the path (see the hint)"
    )
    # Rolled forward, sesd reads the path, which this run saved over: the file kept
    # aside is used only once put back, which the hint says how to do.
    assert f"move it back to {path} (over what this run saved)" in first["hint"]
    assert (tmp_path / "state.bin.unusable").read_bytes() == contents[0]
    assert [line["kept_as"] for line in kept[1:3]] == [f"{path}.unusable.1", f"{path}.unusable.2"]
    assert (tmp_path / "state.bin.unusable.1").read_bytes() == contents[1]
    # Past the bound, the newest refused file takes the last place.
    assert (tmp_path / "state.bin.unusable.2").read_bytes() == contents[4]
    assert sorted(p.name for p in tmp_path.glob("state.bin.unusable*")) == [
        "state.bin.unusable", "state.bin.unusable.1", "state.bin.unusable.2"
    ]  # fmt: skip
