"""Whether the silences file in force reads as readable (``sesd_silences_readable``, the
status page's reason), through the looks and reads that change it: a failed read stays
unreadable while the look finds that version, a look that finds the version read last
again is readable and says so, one that is no silences file stays unreadable, and a
missing file holds nothing once a share mounted at its path hangs."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from sesd.alerting.silence_unread import Unreadable

pytestmark = pytest.mark.timeout(10)

PATH = "/var/lib/sesd/silences.json"
READ, CHANGED, OTHER = (1, 2, 3, 4), (1, 2, 5, 6), (1, 2, 7, 8)


def test_no_file_has_no_series_and_no_reason() -> None:
    unreadable = Unreadable()
    assert unreadable.readable() == {}
    assert unreadable.why == ""


def test_a_file_reloaded_to_is_readable_until_a_look_says_otherwise() -> None:
    unreadable = Unreadable()
    unreadable.forget(PATH)
    assert unreadable.readable() == {PATH: 1}
    assert unreadable.why == ""


def test_a_look_at_the_version_read_last_after_a_failed_read_is_readable() -> None:
    with capture_logs() as logs:
        unreadable = Unreadable()
        unreadable.forget(PATH)
        unreadable.read(PATH, READ)
        unreadable.failed(CHANGED, "Input/output error", contents=False)
        assert unreadable.readable() == {PATH: 0}
        unreadable.unchanged(PATH, READ)
    assert unreadable.readable() == {PATH: 1}
    assert unreadable.why == ""
    assert logs == [
        {"event": "sesd.silences.unreadable", "log_level": "error", "error": "Input/output error"},
        {
            "event": "sesd.silences.readable",
            "log_level": "info",
            "path": PATH,
            "was": "Input/output error",
        },
    ]


def test_a_look_at_the_version_that_failed_stays_unreadable() -> None:
    with capture_logs() as logs:
        unreadable = Unreadable()
        unreadable.forget(PATH)
        unreadable.read(PATH, READ)
        unreadable.failed(CHANGED, "Input/output error", contents=False)
        unreadable.unchanged(PATH, CHANGED)
    assert unreadable.readable() == {PATH: 0}
    assert unreadable.why == "Input/output error"
    assert [log["event"] for log in logs] == ["sesd.silences.unreadable"]


def test_a_look_back_at_a_file_that_is_no_silences_file_stays_unreadable() -> None:
    with capture_logs() as logs:
        unreadable = Unreadable()
        unreadable.forget(PATH)
        unreadable.failed(READ, "not a silences file", contents=True)
        unreadable.failed(CHANGED, "Input/output error", contents=False)
        unreadable.unchanged(PATH, READ)
    assert unreadable.readable() == {PATH: 0}
    assert unreadable.why == "not a silences file"
    assert [log["event"] for log in logs] == ["sesd.silences.unreadable"] * 2


def test_a_missing_file_holds_nothing_when_a_share_mounted_there_hangs() -> None:
    # Missing, no silences: readable. The silences of the share mounted late are not
    # in force while it hangs: not readable, and said why.
    unreadable = Unreadable()
    unreadable.forget(PATH)
    unreadable.unchanged(PATH, None)
    assert unreadable.readable() == {PATH: 1}
    unreadable.hung("no answer within 5s")
    assert unreadable.readable() == {PATH: 0}
    assert unreadable.why == "no answer within 5s"


def test_a_file_read_then_removed_holds_nothing_when_it_hangs() -> None:
    unreadable = Unreadable()
    unreadable.forget(PATH)
    unreadable.read(PATH, READ)
    unreadable.read(PATH, None)
    unreadable.hung("no answer within 5s")
    assert unreadable.readable() == {PATH: 0}


def test_a_file_found_but_never_read_does_not_hold_while_it_hangs() -> None:
    unreadable = Unreadable()
    unreadable.forget(PATH)
    unreadable.unchanged(PATH, OTHER)
    unreadable.hung("no answer within 5s")
    assert unreadable.readable() == {PATH: 0}
    assert unreadable.why == "no answer within 5s"


def test_a_file_whose_first_read_failed_then_removed_is_readable() -> None:
    # Reloaded to, its first read failed, then it was removed: the look finds it
    # missing, as it was before any read took: no silences, readable, and said so.
    with capture_logs() as logs:
        unreadable = Unreadable()
        unreadable.forget(PATH)
        unreadable.failed(CHANGED, "Input/output error", contents=False)
        unreadable.unchanged(PATH, None)
    assert unreadable.readable() == {PATH: 1}
    assert unreadable.why == ""
    assert [log["event"] for log in logs] == ["sesd.silences.unreadable", "sesd.silences.readable"]
