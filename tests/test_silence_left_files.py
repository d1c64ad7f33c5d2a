"""Silences files sesd no longer reads, each still holding an ``--until-resolved``
silence whose alert resolved while the file could not be written (sesd.alerting.
silence_left): the daemon never waits for such a file's lock, and one file that cannot
be written yet holds back no other. The daemon's alerting on a console sink whose
outbox does not run, real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sesd.alerting.service import Alerting
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from tests.test_routing import T
from tests.test_rules import feed_spike
from tests.test_silence_unwritable import _lock_held, _resolves, _unwritable
from tests.test_silence_unwritten_moved import (  # noqa: F401 (fixture: _reloads)
    _moved,
    _reloads,
    _resolved_unwritten,
    _said_at_a_stop,
)

pytestmark = pytest.mark.timeout(30)


@pytest.mark.timeout(10)
async def test_an_old_file_s_lock_another_process_holds_never_holds_the_evaluation(
    tmp_path: Path,
) -> None:
    """A reload moved the path off the file while an end waited; by the next evaluation
    the file could be written, but a ``sesd silence add`` stopped at its terminal
    holds its lock. The evaluation does not wait for it (which would stand the event
    loop still): the end is written at the first evaluation after the lock is let go."""
    alerting, _, now, old, lock = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    lock.rmdir()
    with _lock_held(Path(old.path)):
        now[0] = T + 20
        alerting.evaluate()
        assert [s.ends_at for s in old.read()] == [None]
    now[0] = T + 25
    alerting.evaluate()
    assert [s.ends_at for s in old.read()] == [T + 10]


async def _two_left(
    tmp_path: Path,
) -> tuple[Alerting, list[float], SilenceFile, Path, SilenceFile, Path]:
    """Two reloads each moved the path off a file holding a silence whose end waited:
    silences.json (s1 on a.example, resolved at T + 10) and b.json (s2 on b.example,
    resolved at T + 20), neither writable yet. The alerting, its clock, and each file
    with the directory in the way of its lock."""
    alerting, pipeline, now, old, lock = await _resolved_unwritten(tmp_path)
    second = SilenceFile(str(tmp_path / "b.json"))
    second.add(Silence(id="s2", comment="watching", starts_at=T, ends_at=None,
                       until_resolved=True, domain="b.example"), T)  # fmt: skip
    await _moved(alerting, now, Path(second.path), T + 15)
    feed_spike(pipeline, "b.example", T + 15, 5, 5)
    alerting.evaluate()  # b.example fires, held back by s2
    second_lock = _unwritable(Path(second.path))
    _resolves(pipeline, now, "b.example", T + 20)
    alerting.evaluate()
    await _moved(alerting, now, tmp_path / "other.json", T + 25)
    assert [(path, ids) for _, path, ids in _said_at_a_stop(alerting)] == [
        (old.path, ["s1"]),
        (second.path, ["s2"]),
    ]
    return alerting, now, old, lock, second, second_lock


@pytest.mark.parametrize("first", ["locked", "missing"])
async def test_a_first_old_file_not_writable_yet_leaves_the_next_one_written(
    tmp_path: Path, first: str
) -> None:
    """Of the two files left, the first still cannot be written (its lock in the way,
    or the file moved aside a while) when the second can: the second is written, and
    a stop names only the first."""
    alerting, now, old, lock, second, second_lock = await _two_left(tmp_path)
    if first == "missing":
        lock.rmdir()
        os.replace(old.path, tmp_path / "aside.json")
    second_lock.rmdir()
    now[0] = T + 30
    alerting.evaluate()
    assert [s.ends_at for s in second.read()] == [T + 20]
    assert [(path, ids) for _, path, ids in _said_at_a_stop(alerting)] == [(old.path, ["s1"])]


@pytest.mark.parametrize("back_to", ["first", "second"])
async def test_a_reload_back_to_either_file_left_keeps_its_silence_ended(
    tmp_path: Path, back_to: str
) -> None:
    """Of the two files left, neither writable yet, a reload reads one again: the
    silence it holds waiting stays ended (its domain's next incident pages), and the
    other file's end still waits to be written there."""
    alerting, now, old, _, second, _ = await _two_left(tmp_path)
    back, domain, other = (old, "a.example", second)
    if back_to == "second":
        back, domain, other = (second, "b.example", old)
    await _moved(alerting, now, Path(back.path), T + 30)
    assert not alerting.evaluator.silenced("delays", domain, T + 30)
    assert [path for _, path, _ in _said_at_a_stop(alerting)] == [back.path, other.path]


async def test_a_reload_back_to_the_old_path_while_another_file_stands_there_keeps_the_end(
    tmp_path: Path,
) -> None:
    """A reload moved the path off the file while an end waited. The file is then away a
    while (its share not mounted), an empty silences file standing at its path, and a
    reload reads that path again: the end is kept for the file. Once the file is back,
    its silence stays ended (a.example's next incident pages) though the file still
    holds it waiting."""
    alerting, _, now, old, _ = await _resolved_unwritten(tmp_path)
    await _moved(alerting, now, tmp_path / "other.json")
    aside = tmp_path / "aside.json"
    os.replace(old.path, aside)
    _empty_file_at(old.path)
    await _moved(alerting, now, Path(old.path), T + 20)
    os.replace(aside, old.path)
    now[0] = T + 25
    alerting.evaluate()
    assert [s.ends_at for s in old.read()] == [None]
    assert not alerting.evaluator.silenced("delays", "a.example", T + 25)


def _empty_file_at(path: str) -> None:
    """A silences file holding none at ``path`` (the mount point's own, say)."""
    Path(path).write_text('{"version": 1, "silences": []}')
