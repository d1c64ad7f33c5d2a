"""The starts a step of the wall clock back moved, as each later read of a file not
written yet moves them again: to the read after the step, by the whole of the steps
back measured before it (as far as the clock read before them), as the file still
has them; and what the log says of those the file could not be written with, once
for each, and in full at a stop."""

from __future__ import annotations

import msgspec
import pytest
from structlog.testing import capture_logs

from sesd.alerting.silence_entries import Entry
from sesd.alerting.silence_starts import MovedStarts
from sesd.alerting.silences import Silence, start_moved, started_back

pytestmark = pytest.mark.timeout(10)

PATH = "/var/lib/sesd/silences.json"


def _silence(silence_id: str, start: float) -> Silence:
    return Silence(id=silence_id, comment="maintenance", starts_at=start, ends_at=1e9)


def _read(*silences: Silence) -> list[Entry]:
    """The file as a read has it."""
    return [Entry(n, s, msgspec.Raw(b"{}")) for n, s in enumerate(silences, 1)]


def test_a_read_after_a_step_back_moves_a_start_to_the_read() -> None:
    # The clock stepped from 1600 back to 1000; a silence added the instant before it
    # is read only at 1010, the first step measured.
    starts = MovedStarts()
    starts.measured(1000.0, -600.0)
    added = _silence("a", 1600.0)
    starts.held(_read(added), 1010.0, 1)
    assert added.starts_at == 1010.0
    assert starts.waiting == {"a": (1600.0, 1010.0)}
    assert starts.unread is None


def test_a_read_on_a_clock_behind_the_step_moves_a_start_to_the_step() -> None:
    starts = MovedStarts()
    starts.measured(1000.0, -600.0)
    added = _silence("a", 1300.0)
    starts.held(_read(added), 990.0, 1)
    assert added.starts_at == 1000.0


def test_two_steps_back_before_a_read_move_a_start_by_both() -> None:
    # 1600 back to 1000, then 1000 back to 900: a start at 1550 is 650 ahead.
    starts = MovedStarts()
    starts.measured(1000.0, -600.0)
    starts.measured(900.0, -100.0)
    added = _silence("a", 1550.0)
    starts.held(_read(added), 905.0, 2)
    assert added.starts_at == 905.0


def test_a_step_back_the_clock_went_past_since_adds_nothing_to_the_next() -> None:
    # 1600 back to 1000; the clock reads 2100 when it steps back to 2000 (no file read
    # between: a reload to no silences file, say). A silence added at 2050 moves; one
    # written by hand to start at 2300, ahead of all the clock read, stays pending
    # (before: the steps summed, as if the clock had read 2700).
    starts = MovedStarts()
    starts.measured(1000.0, -600.0)
    starts.measured(2000.0, -100.0)
    added, ahead = _silence("added", 2050.0), _silence("ahead", 2300.0)
    starts.held(_read(added, ahead), 2005.0, 2)
    assert (added.starts_at, ahead.starts_at) == (2005.0, 2300.0)


@pytest.mark.parametrize("forward", [0.0, 0.5])
def test_a_step_forward_after_a_step_back_is_no_step_back(forward: float) -> None:
    # A silence written to start at 1650, ahead of the clock before the step back, was
    # pending then: it stays pending, as written.
    starts = MovedStarts()
    starts.measured(1000.0, -600.0)
    starts.measured(1100.0, forward)
    ahead, in_force = _silence("ahead", 1650.0), _silence("in-force", 1500.0)
    starts.held(_read(ahead, in_force), 1105.0, 2)
    assert ahead.starts_at == 1650.0
    assert in_force.starts_at == 1105.0


def test_a_reload_off_the_file_drops_its_starts_and_keeps_the_step_measured() -> None:
    # The starts waiting are the old file's; the step, measured since the last look,
    # moves a start the next file read (after a reload to none, say) has ahead of it.
    starts = MovedStarts()
    starts.stepped([_silence("old", 1550.0)], 1000.0, -600.0, 1000.0)
    starts.measured(1000.0, -600.0)
    starts.forget()
    assert starts.waiting == {}
    added = _silence("a", 1300.0)
    starts.held(_read(added), 1010.0, 1)
    assert added.starts_at == 1010.0
    assert starts.waiting == {"a": (1300.0, 1010.0)}


def test_a_start_moved_twice_unwritten_moves_from_the_files_start() -> None:
    # The file keeps 1550 through both steps: each read moves it to the last place.
    starts = MovedStarts()
    first = _silence("a", 1550.0)
    starts.stepped([first], 1000.0, -600.0, 1000.0)
    again = _silence("a", 1550.0)
    starts.held(_read(again), 1005.0, 0)
    assert again.starts_at == 1000.0
    starts.stepped([again], 500.0, -505.0, 500.0)
    assert starts.waiting == {"a": (1550.0, 500.0)}
    last = _silence("a", 1550.0)
    starts.held(_read(last), 505.0, 0)
    assert last.starts_at == 500.0


UNWRITABLE_HINT = (
    "in force all the same (a step of the clock back put their start ahead, moved back "
    "to the step); until the file is written with it, sesd silence list shows them "
    "pending: written to the file once it can be"
)
UNWRITTEN_HINT = (
    "a step of the clock back moved their start, but the silences file still holds it "
    "ahead of the clock, and so will the next start: they mute nothing until the clock "
    "reaches it; add each again with sesd silence add to mute its alerts now"
)


def test_a_failed_write_says_the_starts_in_full() -> None:
    with capture_logs() as logs:
        starts = MovedStarts()
        starts.stepped([_silence("b", 1550.0), _silence("a", 1500.0)], 1000.0, -600.0, 1000.0)
        starts.unwritable("Permission denied", False)
    assert logs == [
        {
            "event": "sesd.silences.unwritable",
            "log_level": "error",
            "error": "Permission denied",
            "count": 2,
            "ids": ["a", "b"],
            "hint": UNWRITABLE_HINT,
        }
    ]


def test_a_stop_says_the_starts_unwritten_in_full() -> None:
    with capture_logs() as logs:
        starts = MovedStarts()
        starts.stepped([_silence("b", 1550.0), _silence("a", 1500.0)], 1000.0, -600.0, 1000.0)
        starts.log(PATH)
    assert logs == [
        {
            "event": "sesd.silences.unwritten",
            "log_level": "warning",
            "path": PATH,
            "count": 2,
            "ids": ["a", "b"],
            "hint": UNWRITTEN_HINT,
        }
    ]


def test_a_start_moved_after_a_failure_said_is_said_at_the_next() -> None:
    with capture_logs() as logs:
        starts = MovedStarts()
        starts.stepped([_silence("a", 1550.0)], 1000.0, -600.0, 1000.0)
        starts.unwritable("Permission denied", False)
        starts.stepped([_silence("b", 950.0)], 900.0, -100.0, 900.0)
        starts.unwritable("Permission denied", False)
    assert [(log["count"], log["ids"]) for log in logs] == [(1, ["a"]), (2, ["a", "b"])]


def test_a_start_moved_again_after_a_write_took_is_said_again() -> None:
    with capture_logs() as logs:
        starts = MovedStarts()
        moved = _silence("a", 1550.0)
        starts.stepped([moved], 1000.0, -600.0, 1000.0)
        starts.unwritable("Permission denied", False)
        starts.written({"a": (1550.0, 1000.0)})
        assert starts.waiting == {}
        starts.stepped([moved], 400.0, -605.0, 400.0)
        starts.unwritable("Permission denied", False)
    assert [(log["count"], log["ids"]) for log in logs] == [(1, ["a"]), (1, ["a"])]


def test_a_start_written_then_moved_again_is_said_though_its_reason_was() -> None:
    # Two starts said unwritable; a write takes one (the other moved again meanwhile),
    # whose next failure says the other; a step moves the written one again, and the
    # same reason refuses it: news, as that start was never said since it was written.
    with capture_logs() as logs:
        starts = MovedStarts()
        starts.stepped([_silence("a", 1550.0), _silence("x", 1500.0)], 1000.0, -600.0, 1000.0)
        starts.unwritable("Permission denied", False)
        starts.written({"x": (1500.0, 1000.0)})
        starts.unwritable("Permission denied", False)
        starts.stepped([_silence("x", 1000.0)], 400.0, -605.0, 400.0)
        starts.unwritable("Permission denied", False)
    assert [log["ids"] for log in logs] == [["a", "x"], ["a"], ["a", "x"]]


def test_a_write_failing_for_another_reason_says_the_starts_again() -> None:
    # Refused by the file's permissions, then by a full disk once those are mended:
    # each reason said once, naming the starts (before: the line said the permissions,
    # which the on-call had mended, and never the disk).
    with capture_logs() as logs:
        starts = MovedStarts()
        starts.stepped([_silence("a", 1550.0)], 1000.0, -600.0, 1000.0)
        for error in ("Permission denied", "Permission denied", "No space left on device"):
            starts.unwritable(error, False)
        starts.unwritable("No space left on device", False)
    assert [(log["error"], log["ids"]) for log in logs] == [
        ("Permission denied", ["a"]),
        ("No space left on device", ["a"]),
    ]


def test_reasons_that_alternate_say_the_starts_once_each_until_a_write_takes() -> None:
    # A share failing one way, then another, and back at each evaluation: each reason
    # said once (before: a line at each evaluation). Once a write took (one begun
    # before the start moved: it waits on), a reason said before is news again.
    with capture_logs() as logs:
        starts = MovedStarts()
        starts.stepped([_silence("a", 1550.0)], 1000.0, -600.0, 1000.0)
        for error in ("Stale file handle", "Input/output error") * 3:
            starts.unwritable(error, False)
        starts.written({})
        starts.unwritable("Stale file handle", False)
    assert [log["error"] for log in logs] == [
        "Stale file handle",
        "Input/output error",
        "Stale file handle",
    ]


def test_a_start_already_at_the_step_is_not_moved() -> None:
    # Started at 1000, in force when the clock stepped from 1600 back to 1000: nothing
    # ahead of the clock, nothing to write, nothing to say should a write fail.
    started = _silence("a", 1000.0)
    assert started_back([started], 1000.0, -600.0, 1000.0) == {}
    with capture_logs() as logs:
        starts = MovedStarts()
        starts.stepped([started], 1000.0, -600.0, 1000.0)
        starts.unwritable("Permission denied", False)
    assert starts.waiting == {}
    assert logs == []


def test_a_start_edited_by_hand_meanwhile_stays_as_edited() -> None:
    starts = MovedStarts()
    starts.stepped([_silence("a", 1550.0)], 1000.0, -600.0, 1000.0)
    edited = _silence("a", 1700.0)
    assert not start_moved(_silence("a", 1700.0), 1550.0, 1000.0)
    starts.held(_read(edited), 1005.0, 0)
    assert edited.starts_at == 1700.0
    assert starts.waiting == {}


def test_a_start_a_write_given_up_put_between_moves_on() -> None:
    # Written at 1550, moved to 1000 by a step; a write of it that did not answer took
    # once it came back, after a second step moved it to 500: the file has 1000, which
    # moves on (left there, the silence would be pending until the clock reached it).
    # A start ahead of the one written, or of a silence ended by then (expired on the
    # stepped clock), is the file's.
    assert start_moved(given_up := _silence("a", 1000.0), 1550.0, 500.0)
    assert given_up.starts_at == 500.0
    assert not start_moved(_silence("a", 1551.0), 1550.0, 500.0)
    assert not start_moved(_silence("a", 500.0), 1550.0, 500.0)
    expired = Silence(id="a", comment="maintenance", starts_at=1000.0, ends_at=1010.0)
    assert not start_moved(expired, 1550.0, 500.0)
    assert expired.starts_at == 1000.0
