"""A wall-clock step never blinds the windows.

Unit tests of the anchored clock, then ``sesd run`` as a real process under
libfaketime (its wall clock stepped through a file sesd's libfaketime re-reads,
its monotonic clock left alone, as an NTP step leaves it).
"""

from __future__ import annotations

import glob
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.clock import TOLERANCE, AnchoredClock
from tests import factory as f
from tests.conftest import make_queue, require_tool, send_bodies
from tests.sesd_process import SesdProcess, config_file, sesd_process


class Clocks:
    """A wall clock and a monotonic clock under the test's control."""

    def __init__(self) -> None:
        self.wall = 1_000_000.0
        self.monotonic = 50.0
        self.steps: list[float] = []

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.monotonic += seconds


def test_the_clock_follows_the_monotonic_clock_between_steps() -> None:
    """Wall jitter under a second is smoothed away; a step beyond it re-anchors, is
    counted and reported once, and time goes on from the new wall time."""
    c = Clocks()
    clock = AnchoredClock(lambda: c.wall, lambda: c.monotonic, on_step=c.steps.append)
    assert clock() == 1_000_000.0
    c.tick(10)
    c.wall += 0.5  # NTP slewing, or a read racing a tick: not a step
    assert clock() == 1_000_010.0
    c.wall += 600  # a step ahead
    assert clock() == pytest.approx(1_000_610.5)
    assert clock.steps == 1
    c.tick(5)
    assert clock() == pytest.approx(1_000_615.5)
    c.wall -= 7200  # a step back
    assert clock() == pytest.approx(1_000_615.5 - 7200)
    assert clock.steps == 2
    assert c.steps == [pytest.approx(600.5), pytest.approx(-7200)]


@pytest.mark.parametrize("off", [TOLERANCE, -TOLERANCE], ids=["ahead", "behind"])
def test_a_wall_clock_off_by_the_tolerance_is_no_step(off: float) -> None:
    """The wall clock a whole TOLERANCE off the anchor's reckoning, no more, is jitter:
    no step counted or reported, and time goes on as the monotonic clock carries it."""
    c = Clocks()
    clock = AnchoredClock(lambda: c.wall, lambda: c.monotonic, on_step=c.steps.append)
    c.tick(10)
    c.wall += off
    assert clock() == 1_000_010.0
    assert clock.steps == 0
    assert c.steps == []


class HeldAt(Clocks):
    """Clocks whose thread is held at chosen reads (either clock's, counted from the
    next one): both clocks move on by the hold before that read answers."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.holds: dict[int, float] = {}

    def hold(self, read: int, seconds: float) -> None:
        """Hold the thread ``seconds`` at the ``read``-th read from now (0: the next)."""
        self.holds[self.reads + read] = seconds

    def _answer(self) -> None:
        self.tick(self.holds.pop(self.reads, 0.0))
        self.reads += 1

    def read_wall(self) -> float:
        self._answer()
        return self.wall

    def read_monotonic(self) -> float:
        self._answer()
        return self.monotonic


def at(seconds: float, within: float = 1e-6) -> Any:
    """``seconds``, give or take ``within`` (pytest.approx's own tolerance, relative,
    is a second at these times)."""
    return pytest.approx(seconds, rel=0, abs=within)


#: Where a call's thread is held: its reads are the monotonic clock's, the wall
#: clock's, the monotonic clock's again.
HOLDS = {"before the wall read": (1,), "after it": (2,), "both": (1, 2)}


@pytest.mark.parametrize("reads", HOLDS.values(), ids=HOLDS.keys())
def test_a_thread_held_between_its_reads_is_not_a_step(reads: tuple[int, ...]) -> None:
    """Held three seconds between a call's reads of the two clocks, the clocks moved
    together: no step counted or reported, and time goes on as they say."""
    c = HeldAt()
    clock = AnchoredClock(c.read_wall, c.read_monotonic, on_step=c.steps.append)
    c.tick(10)
    for read in reads:
        c.hold(read, 3.0)
    assert clock() == at(c.wall)
    assert clock.steps == 0
    assert c.steps == []
    c.tick(1)
    assert clock() == at(c.wall)
    assert clock.steps == 0


@pytest.mark.parametrize(
    ("read", "off"), [(1, 0.4), (2, -0.4)], ids=["before the wall read", "after it"]
)
def test_a_step_during_a_held_read_is_measured_within_half_the_hold(read: int, off: float) -> None:
    """A real step made while the thread was held (under a second, so no read again)
    is counted once, measured as the step give or take half the hold (the wall read
    taken at the middle of the monotonic ones), and the clock carries on from the new
    time as far off."""
    c = HeldAt()
    clock = AnchoredClock(c.read_wall, c.read_monotonic, on_step=c.steps.append)
    c.wall += 600
    c.hold(read, 0.8)
    assert clock() == at(c.wall + off - 0.4)  # the wall clock's time when read
    assert clock.steps == 1
    assert c.steps == [at(600 + off)]
    c.tick(5)
    assert clock() == at(c.wall + off)
    assert clock.steps == 1


@pytest.mark.parametrize(
    ("read", "step"), [(2, 2.0), (1, -2.0)], ids=["ahead, held after", "back, held before"]
)
def test_a_step_a_held_call_hides_is_seen_at_the_next(read: int, step: float) -> None:
    """The wall clock steps two seconds while a call is held three on the side that
    hides it (after the wall read for a step ahead, before it for one back): that call
    counts none and goes on on the old time; the next, not held, counts the step once,
    as made, and reads the wall clock's time."""
    c = HeldAt()
    clock = AnchoredClock(c.read_wall, c.read_monotonic, on_step=c.steps.append)
    c.wall += step
    c.hold(read, 3.0)
    assert clock() == at(c.wall - step)
    assert clock.steps == 0
    c.tick(1)
    assert clock() == at(c.wall)
    assert clock.steps == 1
    assert c.steps == [at(step)]


def test_a_thread_held_while_the_clock_is_made_is_not_a_step() -> None:
    """Held three seconds between the reads that anchor a new clock (a loaded host at
    sesd's start), the clocks moved together: the first call counts no step, reports
    none, and reads the wall clock's time."""
    c = HeldAt()
    c.hold(1, 3.0)
    clock = AnchoredClock(c.read_wall, c.read_monotonic, on_step=c.steps.append)
    c.tick(1)
    assert clock() == at(c.wall)
    assert clock.steps == 0
    assert c.steps == []


@pytest.mark.parametrize("read", [1, 2], ids=["before the wall read", "after it"])
@pytest.mark.parametrize("step", [600.0, -600.0], ids=["ahead", "back"])
def test_a_step_during_a_long_hold_is_counted_once(read: int, step: float) -> None:
    """The wall clock steps while the thread is held six seconds at a call's read: the
    step is counted and reported once, as made, and the clock goes on from the wall
    clock's new time. Before, the new anchor, taken in the middle of the held reads,
    was three seconds off, and the next call counted that as a second step."""
    c = HeldAt()
    clock = AnchoredClock(c.read_wall, c.read_monotonic, on_step=c.steps.append)
    c.wall += step
    c.hold(read, 6.0)
    assert clock() == at(c.wall)
    c.tick(1)
    assert clock() == at(c.wall)
    assert clock.steps == 1
    assert c.steps == [at(step)]


#: Holds at a step's reads (counted from the call's first: the reads again are the
#: fourth to sixth and the seventh to ninth), and how far off the read that anchors is.
HELD_EACH_TIME = {
    "the third closest": ({1: 2.0, 4: 3.0}, 0.0),
    "the first closest": ({2: 2.0, 4: 3.0, 7: 2.5}, -1.0),
}


@pytest.mark.parametrize(("holds", "off"), HELD_EACH_TIME.values(), ids=HELD_EACH_TIME.keys())
def test_a_step_held_at_each_read_is_anchored_by_the_closest_of_three(
    holds: dict[int, float], off: float
) -> None:
    """The wall clock steps while the thread is held between a call's reads, then
    between those of the reads again: the clocks are read three times at most, and the
    read whose monotonic reads lie closest anchors (held after the wall read, it is
    off by half the hold). The clock goes on that far off, within TOLERANCE: the next
    call counts no second step. Taken by how far the wall read is from the monotonic
    read after it rather than before, a read held before its wall read looks closest."""
    c = HeldAt()
    clock = AnchoredClock(c.read_wall, c.read_monotonic, on_step=c.steps.append)
    c.wall += 600
    for read, seconds in holds.items():
        c.hold(read, seconds)
    clock()
    c.tick(1)
    assert clock() == at(c.wall + off)
    assert clock.steps == 1
    assert c.steps == [at(600 + off)]


#: ``sesd run`` whose housekeeping passes come every second rather than every ten: the
#: pass after a step that the test waits for comes as soon, and the same code runs at
#: each pass (more of them see the stepped clock).
QUICK_HOUSEKEEPING = """
import sys
from sesd.runtime import janitor
janitor.EVERY = 1.0
from sesd.commands.main import main
sys.exit(main())
"""


def _faketime_library() -> str:
    """libfaketime's thread-safe build. sesd runs threads besides its event loop's (its
    worker threads; each waiting for the GIL asks libfaketime the time too), and the
    plain build parses the file into state every thread shares, unlocked: a read that
    races another's as the file is replaced may return the offset before it, a step
    back and one ahead that the wall clock never made (a loaded machine makes the
    race likelier). The thread-safe build takes one call at a time."""
    require_tool("faketime")
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    if not found:
        pytest.fail("faketime is installed but libfaketimeMT.so.1 is not where Debian puts it")
    return found[0]


def _value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def _in_window(scrape: dict[Any, float], window: str, event_type: str) -> float:
    """one.example's recipients of a type in a window, as scraped."""
    labels = {"domain": "one.example", "window": window, "event_type": event_type}
    return _value(scrape, "sesd_window_recipient_events", **labels)


async def _fired_since(sesd: SesdProcess) -> float:
    """When the status API says the alert of rule ``delays`` fired."""
    url = f"http://127.0.0.1:{sesd.port}/api/v1/status"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await response.json()
    (row,) = [row for row in body["alerts"]["items"] if row["rule"] == "delays"]
    return float(row["since"])


def _steps(sesd: SesdProcess) -> list[float]:
    """The steps sesd measured, as it logged them (to the millisecond). A step is the
    wall clock's new time less the one the monotonic clock carried on: the offset the
    test wrote, give or take the time between sesd's reads of the two clocks, which
    a loaded machine makes long (a tenth of a second, more). The alert's start moves
    by the step measured, and only by it."""
    return [r["step_seconds"] for r in sesd.records if r.get("event") == "sesd.clock.stepped"]


async def _stepped(sesd: SesdProcess, offset: Path, text: str, steps: int) -> None:
    """Move sesd's wall clock (libfaketime re-reads the file at every call) and wait
    until sesd has logged the step. The file is replaced whole: written in place, a
    read between its truncation and its write finds it empty, the offset 0 for that
    call (two steps more, there and back, for a clock read at that moment)."""
    written = offset.with_suffix(".next")
    await anyio.Path(written).write_text(text + "\n")
    os.replace(written, offset)
    with anyio.fail_after(20):
        while sum(r.get("event") == "sesd.clock.stepped" for r in sesd.records) < steps:
            await sesd.wait_for_event("sesd.clock.stepped")


@pytest.mark.timeout(120)
async def test_steps_ahead_and_back_leave_every_figure_as_the_events_say(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """The clock of a running sesd steps ten minutes ahead, then back, then two hours
    back. Ahead, the 5m window reads what the events say for that time (nothing) and
    pending delays past their expiry do not count; events keep arriving at their own
    times. Back, every figure counts every event, before and during the step, and the
    pending delays are all there: nothing was lost. Two hours back, events stamped
    ahead of the clock count at once (clamped to it). Each step is counted. An alert
    firing on the 5m window all along is neither resolved while the step empties the
    window nor fired again after it: one incident, one page; its start moves with each
    step, as far (two hours back, it fired two hours earlier by the new clock, not at
    the step)."""
    library = _faketime_library()
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    url, _ = await make_queue(sqs)
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        '[alerts]\nevaluate_every = "1s"\n[[alerts.rules]]\nname = "delays"\n'
        'metric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\nmin_events = 5\n',
    )
    env = {
        "LD_PRELOAD": library,
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    domain = {"domain": "one.example"}
    quick = [sys.executable, "-c", QUICK_HOUSEKEEPING]
    async with sesd_process(config, env=env, command=quick) as sesd:
        t = time.time()
        before = [f.raw(f.delivery([f"a{i}@one.example"], at=t)) for i in range(10)]
        delays = [f.raw(f.delay([f"d{i}@one.example"], at=t, expires=t + 300)) for i in range(2)]
        await send_bodies(sqs, url, before + delays)
        with anyio.fail_after(30):
            await sesd.wait_for_received(12)
        scrape = await sesd.metrics()
        window = {**domain, "window": "5m"}
        assert _value(scrape, "sesd_window_recipient_events", **window, event_type="delivery") == 10
        assert _value(scrape, "sesd_delayed_recipients_pending", **domain) == 2
        assert _value(scrape, "sesd_window_processing_seconds_count", **window) == 10
        with anyio.fail_after(30):
            await sesd.logged("sesd.alert.firing")
        fired = await _fired_since(sesd)

        # Ten minutes ahead, long enough for a housekeeping pass (every second here),
        # which must not forget the delays that have expired by the stepped clock.
        await _stepped(sesd, offset, "+600", 1)
        with anyio.fail_after(30):
            await sesd.wait_for_event("sesd.housekeeping.done")
        during = [f.raw(f.delivery([f"b{i}@one.example"], at=time.time())) for i in range(5)]
        await send_bodies(sqs, url, during)
        with anyio.fail_after(30):
            await sesd.wait_for_received(17)
        scrape = await sesd.metrics()
        assert _value(scrape, "sesd_window_recipient_events", **window, event_type="delivery") == 0
        assert _value(scrape, "sesd_window_processing_seconds_count", **window) == 0
        hour = {**domain, "window": "1h"}
        assert _value(scrape, "sesd_window_recipient_events", **hour, event_type="delivery") == 15
        assert _value(scrape, "sesd_delayed_recipients_pending", **domain) == 0  # expired then
        assert _value(scrape, "sesd_late_events_total") == 0

        # And back: every event is in every window, the delays are pending again.
        await _stepped(sesd, offset, "+0", 2)
        scrape = await sesd.metrics()
        for name in ("5m", "15m", "1h"):
            labels = {**domain, "window": name}
            assert _in_window(scrape, name, "delivery") == 15
            assert _in_window(scrape, name, "delivery_delay") == 2
            assert _value(scrape, "sesd_window_processing_seconds_count", **labels) == 15
            assert _value(scrape, "sesd_window_delay_ratio", **labels) == pytest.approx(2 / 17)
        assert _value(scrape, "sesd_delayed_recipients_pending", **domain) == 2
        assert _value(scrape, "sesd_alerts_firing", rule="delays", **domain) == 1
        alerts = [
            r["event"]
            for r in sesd.records
            if r["event"].startswith("sesd.alert.") and r["event"] != "sesd.alert.evaluated"
        ]
        assert alerts == ["sesd.alert.firing"]
        assert _steps(sesd) == pytest.approx([600, -600], abs=TOLERANCE)
        assert await _fired_since(sesd) == pytest.approx(fired + sum(_steps(sesd)), abs=0.002)

        # Two hours back: new events are ahead of the clock and count at its time.
        await _stepped(sesd, offset, "-7200", 3)
        after = [f.raw(f.delay([f"c{i}@one.example"], at=time.time())) for i in range(4)]
        await send_bodies(sqs, url, after)
        with anyio.fail_after(30):
            await sesd.wait_for_received(21)
        scrape = await sesd.metrics()
        for name in ("5m", "15m", "1h"):
            assert _in_window(scrape, name, "delivery_delay") == 4
        assert _value(scrape, "sesd_delayed_recipients_pending", **domain) == 6
        assert _value(scrape, "sesd_clock_steps_total") == 3
        assert _steps(sesd) == pytest.approx([600, -600, -7200], abs=TOLERANCE)
        assert await _fired_since(sesd) == pytest.approx(fired + sum(_steps(sesd)), abs=0.002)
        assert sesd.process.returncode is None
