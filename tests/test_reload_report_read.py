"""`sesd reload` reads each reload's outcome from a file only sesd writes, but anything
may be at its path: a file cut short, damaged, or another program's. Taken for sesd's,
such a file told an outcome no reload had (a ``"false"`` read as true), or ended the
command in a traceback (JSON nested past the decoder's depth). The command says in one
line that the outcome cannot be told, exit 1, the signal sent all the same (sesd
writes its file anew as the reload begins: the next reload's outcome is told)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sesd.runtime.reload_report import REPORT_NAME, ReportError, read_report
from tests.test_systemd_reload import _BEGINS, _HEARS, _put_down, _sesd_reload, _stand_in

pytestmark = pytest.mark.timeout(60)

#: The outcome of a reload as sesd writes it, of process 7.
WRITTEN = {
    "pid": 7, "begun": 1, "ended": 1, "ok": False, "restart": [], "restart_count": 0,
    "read_after": 1, "part_way": True, "new_whole": False,
}  # fmt: skip
#: Deeper than any decoder goes (the interpreter's recursion limit is 1000).
NESTED = "[" * 5000 + "]" * 5000


def _with(**values: object) -> str:
    return json.dumps({**WRITTEN, **values})


#: What may be at the path, and why the command says it is not sesd's.
UNREAD = [
    ('{"pid": 7, "begun": 1, "ended"', "Input data was truncated"),
    ("", "Input data was truncated"),
    (_with(new_whole="false"), "Expected `bool`, got `str` - at `$.new_whole`"),
    (_with(ok=1), "Expected `bool`, got `int` - at `$.ok`"),
    (_with(ended="1"), "Expected `int`, got `str` - at `$.ended`"),
    (_with(pid=0), "Expected `int` >= 1 - at `$.pid`"),
    (_with(restart=[["accounts.a"]]), "Expected `str`, got `array` - at `$.restart[0]`"),
    (json.dumps({"pid": 7}), "Object missing required field `begun`"),
    (f'{{"pid": 7, "later": {NESTED}}}', "nested too deep"),
    (f'{{"pid": 7, "restart": {NESTED}}}', "Expected `str`, got `array` - at `$.restart[0]`"),
    (NESTED, "Expected `object`, got `array`"),
    ('{"pid": 7, "note": "\udcff"}', "not UTF-8 at line 1, column 21, byte offset 20"),
    (_with(begun=-1), "Expected `int` >= 0 - at `$.begun`"),
    (_with(ended=-1), "Expected `int` >= 0 - at `$.ended`"),
    (_with(part_way=1), "Expected `bool`, got `int` - at `$.part_way`"),
    (_with(restart_count=-1), "Expected `int` >= 0 - at `$.restart_count`"),
    (_with(read_after=-1), "Expected `int` >= 0 - at `$.read_after`"),
    (
        json.dumps({k: v for k, v in WRITTEN.items() if k != "ok"}),
        "Object missing required field `ok`",
    ),
]


@pytest.mark.parametrize(("text", "why"), UNREAD)
def test_a_file_sesd_did_not_write_is_said_so_in_one_line(
    tmp_path: Path, text: str, why: str
) -> None:
    path = tmp_path / REPORT_NAME
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ReportError) as caught:
        read_report(path)
    assert str(caught.value) == f"{path} is not a reload outcome sesd wrote ({why})"


def test_what_is_no_plain_file_or_too_large_is_not_read(tmp_path: Path) -> None:
    """A directory at the path, or a file larger than any sesd writes, is said so; a
    FIFO is not opened to wait for a writer that may never come."""
    path = tmp_path / REPORT_NAME
    path.mkdir()
    with pytest.raises(ReportError, match=r"^cannot read .*reload\.json: .*directory"):
        read_report(path)
    path.rmdir()
    path.write_bytes(b" " * (1 << 20) + _with().encode())
    with pytest.raises(ReportError, match=r"more than the 1,048,576 it ever writes\)$"):
        read_report(path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(ReportError, match=r"^cannot read .*reload\.json: not a plain file"):
        read_report(path)


def test_a_later_sesd_s_key_is_passed_over(tmp_path: Path) -> None:
    """A key this command does not know (a later sesd's, the package rolled back under
    a running daemon) is passed over, the rest read as written."""
    path = tmp_path / REPORT_NAME
    path.write_text(_with(later={"more": [1, 2]}))
    told = read_report(path)
    assert told is not None
    assert (told.pid, told.ended, told.part_way, told.new_whole) == (7, 1, True, False)


def test_an_older_sesd_s_file_faulted_nowhere(tmp_path: Path) -> None:
    """A file from a sesd that wrote neither ``part_way`` nor ``new_whole`` tells a
    reload that did not fault once its config was switched."""
    path = tmp_path / REPORT_NAME
    older = {k: v for k, v in WRITTEN.items() if k not in ("part_way", "new_whole")}
    path.write_text(json.dumps(older))
    told = read_report(path)
    assert told is not None
    assert (told.part_way, told.new_whole) == (False, False)


@pytest.mark.parametrize("key", ["restart", "restart_count", "read_after"])
def test_a_file_without_one_of_the_outcome_s_keys_tells_none(tmp_path: Path, key: str) -> None:
    """The first sesd to tell its outcome wrote none of these keys, so a file without
    them tells no outcome; one with some but not all tells none either, rather than an
    outcome with a count or a list it does not hold (a traceback)."""
    path = tmp_path / REPORT_NAME
    path.write_text(json.dumps({name: value for name, value in WRITTEN.items() if name != key}))
    assert read_report(path) is None


@pytest.mark.parametrize(("text", "why"), [UNREAD[0], UNREAD[2], UNREAD[8]])
def test_a_file_at_the_path_before_the_signal_is_said_and_the_signal_sent(
    tmp_path: Path, text: str, why: str
) -> None:
    """The outcome of this reload cannot be told apart from an earlier one without the
    count the file held: the command sends the signal and says so, exit 1."""
    path = tmp_path / REPORT_NAME
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    held = _stand_in(_HEARS)
    try:
        done = _sesd_reload(held.pid, tmp_path)
        assert held.stdout is not None
        assert held.stdout.readline() == "heard\n"
    finally:
        _put_down(held)
    assert (done.returncode, done.stderr) == (
        1,
        f"sesd reload: SIGHUP sent; its outcome cannot be told: {path} is not a reload "
        f"outcome sesd wrote ({why}); its log says whether the file is in force "
        "(sesd.config.reloaded, or sesd.config.reload_failed; sesd.config.reload_ignored "
        "names what waits for a restart)\n",
    )


#: A stand-in for a daemon whose reload's outcome is replaced by another program's file
#: (the second argument, its process id for "PID") as the reload begins.
_REPLACED = (
    _BEGINS
    + """\
import os

from sesd.io.files import write_atomic

write_atomic(sys.argv[1], sys.argv[2].replace('"PID"', str(os.getpid())).encode())
sys.stdin.read()
"""
)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (_with(pid="PID", new_whole="false"), "Expected `bool`, got `str` - at `$.new_whole`"),
        (f'{{"pid": "PID", "later": {NESTED}}}', "nested too deep"),
    ],
)
def test_a_file_replaced_while_the_command_waits_is_said_at_once(
    tmp_path: Path, text: str, why: str
) -> None:
    """Read while the command waits, the outcome was taken for one in force whole (a
    ``"false"`` is a string, true), or ended in a traceback: the command says at once
    that it cannot tell, exit 1, instead."""
    path = tmp_path / REPORT_NAME
    held = _stand_in(_REPLACED, str(path), text)
    try:
        done = _sesd_reload(held.pid, tmp_path, "--timeout", "3600")
    finally:
        _put_down(held)
    assert (done.returncode, done.stderr) == (
        1,
        f"sesd reload: the outcome cannot be told: {path} is not a reload outcome sesd "
        f"wrote ({why}); its log says whether the file is in force (sesd.config.reloaded, "
        "or sesd.config.reload_failed; sesd.config.reload_ignored names what waits for a "
        "restart)\n",
    )


def test_the_report_of_a_sesd_from_before_it_told_what_a_reload_left_is_no_outcome(
    tmp_path: Path,
) -> None:
    """The first sesd to tell its outcome wrote its process id, counts and ``ok`` alone
    (the command upgraded, that daemon not restarted): sesd's file all the same, it
    tells too little to tell this reload's outcome from an earlier one's. The signal is
    sent and passes, the line saying a restart mends it, as it did; not said to be
    another program's file, exit 1."""
    path = tmp_path / REPORT_NAME
    held = _stand_in(_HEARS)
    try:
        path.write_text(json.dumps({"pid": held.pid, "begun": 1, "ended": 1, "ok": True}))
        assert read_report(path) is None
        done = _sesd_reload(held.pid, tmp_path)
        assert held.stdout is not None
        assert held.stdout.readline() == "heard\n"
    finally:
        _put_down(held)
    assert done.returncode == 0, done.stderr
    assert f"process {held.pid} tells no reload's outcome" in done.stderr
    assert "or an older sesd: a restart mends it" in done.stderr
