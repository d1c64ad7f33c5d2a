"""The collector and sesd's long-lived state: what lives as long as sesd is frozen out
of the collector's walks (sesd.runtime.collector), at start and after each janitor
round, and cyclic garbage is collected before it could be frozen with it."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime import collector, janitor
from sesd.runtime.health import Changes
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import StateError, write_state
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")

RULE = (
    '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    "above = 0.2\nmin_events = 4\n"
)


def walked(obj: object) -> bool:
    """Whether the collector's generations hold ``obj`` (frozen ones are in none)."""
    return any(o is obj for o in gc.get_objects())


class _Node:
    """An object that can be in a cycle and be watched by a weak reference."""

    me: _Node | None = None


def test_a_settle_freezes_what_lives_and_frees_a_cycle_dropped_before_it() -> None:
    """What is alive at a settle leaves the collector's walks; a cycle already dropped
    is collected first, not frozen where nothing would ever free it."""
    kept = [_Node()]
    dropped = _Node()
    dropped.me = dropped
    gone = weakref.ref(dropped)
    del dropped
    assert walked(kept)

    assert collector.settle()
    assert not walked(kept)
    assert gone() is None


def test_nothing_is_frozen_while_automatic_collection_is_held_off() -> None:
    """A scrape holds automatic collection off while it renders: its samples, alive
    until it ends, are not state to freeze, so a settle then does nothing."""
    samples = [_Node()]
    gc.disable()
    try:
        assert not collector.settle(full=True)
    finally:
        gc.enable()
    assert walked(samples)
    assert gc.get_freeze_count() == 0


def test_a_reexamination_frees_a_cycle_frozen_while_in_use() -> None:
    """A cycle alive at a settle (a request in flight, say) and dropped after it is
    kept by every later settle, and freed by the hourly re-examination."""
    used = _Node()
    used.me = used
    gone = weakref.ref(used)
    assert collector.settle()
    del used
    assert collector.settle()
    assert gone() is not None

    assert (collector.reexamine() or 0) >= 1
    assert gone() is None
    assert gc.get_freeze_count() > 0  # what lives is frozen again


def test_no_reexamination_while_automatic_collection_is_held_off() -> None:
    """During a scrape nothing is let back in: the janitor asks again next round."""
    kept = [_Node()]
    assert collector.settle()
    gc.disable()
    try:
        assert collector.reexamine() is None
        # Still frozen, not back in the oldest generation. (The frozen count is no
        # witness: a frozen object freed by reference counting meanwhile lowers it.)
        assert not walked(kept)
    finally:
        gc.enable()
    assert not walked(kept)


def _collections_during(run: Any) -> int:
    """How many collections start while ``run()`` runs (``gc.callbacks``)."""
    started = 0

    def count(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        started += phase == "start"

    gc.callbacks.append(count)
    try:
        run()
    finally:
        gc.callbacks.remove(count)
    return started


def test_a_restore_runs_with_automatic_collection_held_off() -> None:
    """A restore makes containers by the hundred thousand, all to stay: collections
    during it walked them again and again (over a quarter of its time). None runs
    while a file of 2,000 pending recipients is restored (at most one as it ends),
    and collection is on again after, also when the file is refused; held off already
    (a scrape renders), it stays off."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    for i in range(2000):
        delay = f.delay([f"d{i}@a{i % 50}.example"], expires=f.T0 + 3600)
        pipeline.feed(f.raw(delay), "q", f.T0)
    blob = snapshot(pipeline.ledger, Evaluator(config.alerts, ["5m", "15m", "1h"]), f.T0)

    def restored(blob: bytes) -> int:
        ledger = Pipeline(core_settings(config)).ledger
        evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
        return _collections_during(lambda: restore(blob, ledger, evaluator, f.T0 + 5))

    assert restored(blob) <= 1  # the one due as collection comes back on (18 before)
    assert gc.isenabled()
    with pytest.raises(StateError):
        restored(blob[: len(blob) // 2])
    assert gc.isenabled()
    gc.disable()
    try:
        restored(blob)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _config(local: LocalSqs, url: str, state: Path) -> Config:
    return parse_config(
        f'[aws]\nendpoint_url = "{local.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        f'[http]\nlisten = "127.0.0.1:0"\n[state]\npath = "{state}"\n{RULE}'
    )


async def test_the_daemon_freezes_the_state_it_restored_once_started(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A restart restores a domain's windows and a firing alert's state: once started,
    both are out of the collector's walks, so no full collection walks them again. A
    cycle dropped in the oldest generation before the start is collected, not frozen."""
    url, _ = await make_queue(sqs)
    config = _config(local_sqs, url, tmp_path / "state.bin")
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m", "1h"])
    for i in range(6):
        pipeline.feed(f.raw(f.delay([f"d{i}@a.example"], expires=f.T0 + 3600)), "q", f.T0)
    assert [a.domain for a in evaluator.evaluate(pipeline.ledger, f.T0)] == ["a.example"]
    write_state(str(tmp_path / "state.bin"), snapshot(pipeline.ledger, evaluator, f.T0))
    old = _Node()
    old.me = old
    gone = weakref.ref(old)
    gc.collect(1)  # it outlives the young generations' collections
    del old

    async with running(config, clock=lambda: f.T0 + 5) as sesd:
        windows = sesd.ledger.windows["a.example"]
        alert = sesd.alerting.evaluator.states["delays"]["a.example"]
        assert alert.status == "firing"
        assert not walked(windows)
        assert not walked(alert)
        assert gone() is None


async def test_each_janitor_round_freezes_the_windows_made_since(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A domain first seen while sesd runs: its windows are frozen by the janitor's next
    round, not left for full collections to walk for as long as sesd runs."""
    url, _ = await make_queue(sqs)
    rounds, changes = [0], Changes()
    monkeypatch.setattr(janitor, "EVERY", 0.05)
    async with running(_config(local_sqs, url, tmp_path / "state.bin")) as sesd:
        housekeep = sesd.pipeline.housekeep

        def counted(now: float) -> list[str]:
            rounds[0] += 1
            changes.notify()
            return housekeep(now)

        # A round's housekeeping begins once the round before it is done.
        monkeypatch.setattr(sesd.pipeline, "housekeep", counted)
        await send_bodies(sqs, url, [f.sns(f.delivery(["a@new.example"]))])
        with anyio.fail_after(20):
            await sesd.changes.wait_for(lambda: "new.example" in sesd.ledger.windows)
        windows = sesd.ledger.windows["new.example"]
        seen = rounds[0]
        with anyio.fail_after(20):
            await changes.wait_for(lambda: rounds[0] >= seen + 2)
        assert not walked(windows)


async def test_the_janitor_reexamines_what_it_froze(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once REEXAMINE_EVERY has passed, a janitor round collects everything frozen: a
    cycle frozen while sesd used it, dropped since, does not live as long as sesd."""
    url, _ = await make_queue(sqs)
    monkeypatch.setattr(janitor, "EVERY", 0.05)
    monkeypatch.setattr(collector, "REEXAMINE_EVERY", 0.0)
    changes = Changes()
    async with running(_config(local_sqs, url, tmp_path / "state.bin")) as sesd:
        used = _Node()
        used.me = used
        gone = weakref.ref(used)
        assert collector.settle()
        del used
        rounds, housekeep = [0], sesd.pipeline.housekeep

        def counted(now: float) -> list[str]:
            rounds[0] += 1
            changes.notify()
            return housekeep(now)

        monkeypatch.setattr(sesd.pipeline, "housekeep", counted)
        # The round after the next begins once the next, and its collection, is done.
        with anyio.fail_after(20):
            await changes.wait_for(lambda: rounds[0] >= 2)
        assert gone() is None
