"""The state file's share stops answering as sesd restores it, after the read: the
restore's own steps on the disk (its count in ``PATH.restoring``, a file sesd cannot
use moved to ``PATH.unusable``) are waited for within the read's bound, off the event
loop. Past it the start fails, saying which step in one line (``sesd run`` exits 2);
a stop meanwhile ends sesd at once. The count's last word once the restore is over
(removed, or put back at a stop) is waited for, a stop's too, within the stop's last
save's bound; past it sesd goes on, started or stopped, the count left said. On the
event loop, each held sesd without a word, no port, no stop heard, until the
supervisor's kill.

The hang is real: the step waits in the thread that makes it until the test lets it
answer (tests.test_state_start_hung.Hung)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import MutableMapping
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from structlog.testing import capture_logs

import sesd.config.sections
import sesd.io.hung
import sesd.runtime.state_start as start
from sesd.runtime.daemon import Daemon, StartError
from tests.conftest import running
from tests.test_state_restore_killed import _stopping_restore
from tests.test_state_start_hung import BOUND, Hung, _config, _saved, stopped_while_hung

pytestmark = pytest.mark.timeout(30)

#: Each step that fails the start past the bound: what the start names when it does
#: not answer, and why it fails then; the function that does it.
STEPS = {
    "count": (
        "count of the restore (the .restoring file beside it)",
        "not restored uncounted: a restore that kills sesd (out of memory) would be "
        "tried at each start for ever",
        "_mark",
    ),
    "aside": (
        "move to PATH.unusable, as sesd cannot use it,",
        "not started without it: where the file is stays unknown until it answers, and "
        "a save would hang, or replace it",
        "_keep_aside",
    ),
}
#: How a stop while each hangs leaves the file, as said: true once sesd has exited,
#: which ends the thread the step waits in.
AFTER = {
    "count": "nothing restored, and the next start restores it; the count as it was, "
    "unless written before sesd ended (then it counts this start as one killed while "
    "restoring)",
    "aside": "where it is stays unknown until it answers (moved, if the move went through "
    "before sesd ended), and the next start looks again",
}
#: What each leaves once it answers at last: the file kept aside or not, the count.
LEFT = {"count": (False, False), "aside": (True, False)}


async def _file(path: Path, step: str) -> bytes:
    """The state file ``step`` is taken on: a saved one, or one sesd cannot use."""
    if step == "aside":
        await anyio.Path(path).write_bytes(b"\xffdamaged")
    else:
        await _saved(path)
    return await anyio.Path(path).read_bytes()


async def _threads_ended() -> None:
    """Once every thread the start's disk work left behind has come back."""
    for thread in threading.enumerate():
        if thread.name == "sesd-state-read":
            await anyio.to_thread.run_sync(thread.join, 10)
            assert not thread.is_alive()


def _left(path: Path, blob: bytes, step: str) -> None:
    """The file where the step, answered at last, leaves it, and no count of a restore
    that did not run (or ran to its end)."""
    aside, counted = LEFT[step]
    kept = path.with_name(f"{path.name}.unusable")
    assert (kept.read_bytes() if aside else path.read_bytes()) == blob
    assert kept.exists() is aside
    assert path.with_name(f"{path.name}.restoring").exists() is counted


def _last_word_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The count's last word is given what the stop's last save has (LAST_SAVE), not the
    read's bound, longer than some stops' budgets: the read's set past what the test
    waits, so a wait that takes it fails."""
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 60.0)
    monkeypatch.setattr(sesd.config.sections, "LAST_SAVE", BOUND)


@pytest.mark.parametrize("step", list(STEPS))
async def test_a_restore_step_that_hangs_fails_the_start_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """The file read, the restore's step on the disk does not answer: the start fails
    within the bound, naming the file and the step, the event loop going on meanwhile
    (a task of the test's keeps running). Counting the restore: no restore uncounted.
    Once the share answers, the step left to its thread ends as it should: a count for
    the start given up put back, the count of one that restored removed, the file sesd
    cannot use kept aside."""
    path = tmp_path / "state.bin"
    blob = await _file(path, step)
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    what, why, name = STEPS[step]
    hung = Hung(monkeypatch, name, start)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        await anyio.to_thread.run_sync(hung.entered.wait, 5)
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    try:
        with anyio.fail_after(10 * BOUND):
            async with anyio.create_task_group() as tg:
                tg.start_soon(ticking)
                with pytest.raises(StartError) as caught:
                    await Daemon(_config(path)).run(handle_signals=False)
                tg.cancel_scope.cancel()
        waited = time.monotonic() - hung.at
        assert [(thread.name, thread.daemon) for thread in hung.held] == [("sesd-state-read", True)]
    finally:
        hung.answer()
    assert str(caught.value) == (
        f"state.path: {path}: its {what} did not answer within 0.5 s (a file on a hung "
        f"mount?); {why}"
    )
    assert ticks > 100  # the loop went on while the step hung
    assert waited < 8  # not once the step answered (the hang's end)
    await hung.ended()
    await _threads_ended()
    _left(path, blob, step)


@pytest.mark.parametrize("step", list(STEPS))
async def test_a_stop_while_a_restore_step_hangs_ends_sesd_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """systemd's SIGTERM while the restore's step on the disk hangs is heard at once,
    not once the bound is out: the run ends as after any stop while starting, saying
    what it waited on. Once the share answers, the step ends as it should."""
    path = tmp_path / "state.bin"
    blob = await _file(path, step)
    what, _, name = STEPS[step]
    hung = Hung(monkeypatch, name, start)  # the bound left at sesd's 30 s
    logs = await stopped_while_hung(hung, path)
    (said,) = [line for line in logs if line["event"].endswith("_stopped") and "hint" in line]
    assert said["path"] == str(path)
    assert said["hint"].startswith(f"a stop came while the state file's {what} had not ")
    assert said["hint"].endswith(f"(a file on a hung mount?): {AFTER[step]}")
    assert [line["event"] for line in logs][-1] == "sesd.daemon.stopped"
    await hung.ended()
    await _threads_ended()
    _left(path, blob, step)


async def test_a_stop_while_restoring_puts_the_count_back_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM as the file is restored, watched (``sesd run``'s daemon), the share
    hanging as the count is put back: the stop's handler leaves that to the restore
    given up, off the event loop (its own wait, within the bound, not cut short by the
    stop it is for). Past the bound the stop ends as one during the read does, no
    failed start (``sesd run`` exits 0, not 2: `systemctl stop` would leave the unit
    failed), the count left said in one line naming the file and what to remove. In
    the handler, it held the loop, the stop unheard. Once the share answers, the
    count is put back."""
    path = tmp_path / "state.bin"
    blob = await _file(path, "count")
    _last_word_bound(monkeypatch)
    monkeypatch.setattr(start, "restore", _stopping_restore)
    hung = Hung(monkeypatch, "_unmark", start)
    try:
        with capture_logs() as logs, anyio.fail_after(10 * BOUND):
            await Daemon(_config(path)).run(handle_signals=True)
        assert time.monotonic() - hung.at < 8
        # Once, in a thread: not in the handler first, holding the event loop there.
        assert [(thread.name, thread.daemon) for thread in hung.held] == [("sesd-state-read", True)]
    finally:
        hung.answer()
    (left,) = [line for line in logs if line["event"] == "sesd.state.count_left"]
    assert left["log_level"] == "warning"
    assert left["error"] == (
        f"state.path: {path}: its count of the restore (the .restoring file beside it), "
        "put back as a stop came, did not answer within 0.5 s (a file on a hung mount?); "
        "the stop goes on without it: left, it counts this start as one killed while "
        "restoring"
    )
    assert left["hint"] == (
        f"remove {path}.restoring once the share answers, if sesd has stopped by then"
    )
    events = [line["event"] for line in logs]
    assert "sesd.state.restore_stopped" in events
    assert events[-1] == "sesd.daemon.stopped"
    await hung.ended()
    await _threads_ended()
    _left(path, blob, "count")


#: The count of a restore that ended, left past the bound: the line that says so.
UNCOUNT_LEFT = (
    "its count of the restore (the .restoring file beside it), removed as it ended, did "
    "not answer within 0.5 s (a file on a hung mount?); sesd goes on without it, removed "
    "once it answers while sesd runs: left, it counts this start as one killed while "
    "restoring"
)


def _count_left(logs: list[MutableMapping[str, Any]], path: Path) -> None:
    """The one line that says the count of a restore that ended was left."""
    (left,) = [line for line in logs if line["event"] == "sesd.state.count_left"]
    assert left["log_level"] == "warning"
    assert left["error"] == f"state.path: {path}: {UNCOUNT_LEFT}"
    assert left["hint"] == (
        f"remove {path}.restoring once the share answers, if sesd has stopped by then"
    )


async def test_a_count_not_removed_in_time_as_the_restore_ends_leaves_sesd_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file restored, the share stops answering as its count is removed: the
    restore is over, so past the bound sesd starts (its saves on that share said as
    they fail, as for a share that hangs later), the count left to its thread said in
    one line naming the file to remove. A failed start (exit 2) would end that thread
    with the process, the count never removed: the next start would take this one for
    one killed while restoring, and two in a row keep a good file aside. Once the share
    answers, the count is removed."""
    path = tmp_path / "state.bin"
    await _saved(path)
    _last_word_bound(monkeypatch)
    hung = Hung(monkeypatch, "_unmark", start)
    marker = path.with_name(f"{path.name}.restoring")
    try:
        with capture_logs() as logs, anyio.fail_after(10 * BOUND):
            async with running(_config(path)) as daemon:
                assert daemon.http_port
                assert marker.read_bytes() == b"1"  # the share still hangs
        assert [(thread.name, thread.daemon) for thread in hung.held] == [("sesd-state-read", True)]
    finally:
        hung.answer()
    _count_left(logs, path)
    await hung.ended()
    await _threads_ended()
    assert not marker.exists()


async def test_a_stop_as_the_count_is_removed_waits_for_it_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM as the count of a restore that ended is removed, the share slow: the wait
    is not cut short by the stop (its exit would race the thread, the count left for
    the next start to take for a kill), bounded all the same. Past the bound, sesd
    stops as asked (exit 0, not a failed start), the count left said."""
    path = tmp_path / "state.bin"
    await _saved(path)
    _last_word_bound(monkeypatch)
    hung = Hung(monkeypatch, "_unmark", start)
    try:
        with capture_logs() as logs, anyio.fail_after(10 * BOUND):
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(Daemon(_config(path)).run, handle_signals=True))
                assert await anyio.to_thread.run_sync(hung.entered.wait, 5)
                os.kill(os.getpid(), signal.SIGTERM)
        assert time.monotonic() - hung.at >= BOUND  # the stop waited for it
    finally:
        hung.answer()
    _count_left(logs, path)
    events = [line["event"] for line in logs]
    assert "sesd.state.count_stopped" not in events
    assert events[-1] == "sesd.daemon.stopped"
    await hung.ended()
    await _threads_ended()
    assert not path.with_name(f"{path.name}.restoring").exists()
