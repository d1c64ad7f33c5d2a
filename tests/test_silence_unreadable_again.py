"""A silences file sesd could not read, though it did not change since: its permissions
mended (a ``chmod``, a ``chown``: the file's size and times stay as they were), or a
passing error gone (EIO from a disk, ESTALE from a share). sesd reads it again at each
look, says each reason once, and says when it reads it again: its silences are in
force from the next evaluation, not from the next edit of the file."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from structlog.testing import capture_logs

from sesd.alerting.silence_entries import Entry
from sesd.alerting.silence_file import SilenceFile, Unread
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import Silence
from tests.test_routing import T
from tests.test_state_files import NOBODY


@contextmanager
def _as_the_daemon() -> Iterator[None]:
    """Within: sesd's user. Root reads any file: as root, read as another user."""
    root = os.geteuid() == 0
    if root:
        os.seteuid(NOBODY)
    try:
        yield
    finally:
        if root:
            os.seteuid(0)


def _watched(path: Path) -> SilenceFile:
    file = SilenceFile(str(path))
    file.add(Silence(id="s1", comment="c", starts_at=T - 60, ends_at=None,
                     rule="delays", domain="a.example"), T - 60)  # fmt: skip
    return file


def test_a_file_whose_permissions_are_mended_is_read_at_the_next_look() -> None:
    with tempfile.TemporaryDirectory() as where:  # under /tmp, which any user may reach
        Path(where).chmod(0o755)
        path = Path(where) / "silences.json"
        _watched(path)
        path.chmod(0)  # written so by hand, or by a umask that keeps sesd's user out
        watcher = SilenceWatcher(str(path))
        with capture_logs() as logs:
            with _as_the_daemon():
                assert not watcher.refresh(T)
                assert not watcher.refresh(T + 1)
            path.chmod(0o644)  # the on-call mends it: the file itself does not change
            with _as_the_daemon():
                assert watcher.refresh(T + 2)
                assert not watcher.refresh(T + 3)
    assert watcher.silences.match("delays", "a.example", "critical", T + 3) is not None
    error = f"cannot read {path}: Permission denied"
    assert [(line["event"], line.get("error", line.get("was"))) for line in logs] == [
        ("sesd.silences.unreadable", error),
        ("sesd.silences.readable", error),
        ("sesd.silences.loaded", None),
    ]
    assert [line["path"] for line in logs[1:]] == [str(path), str(path)]


class Flaky(SilenceFile):
    """A silences file whose reads fail (as a share that answers ESTALE a while) until
    the test says they do not; it counts its reads."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.failing, self.reads = "Input/output error", 0
        #: Whether its look fails too (as a stat of it answers ESTALE).
        self.unanswered = False

    def identity(self) -> tuple[int, int, int, int] | None:
        return (-1, errno.ESTALE, 0, 0) if self.unanswered else super().identity()

    def entries(self) -> list[Entry]:
        self.reads += 1
        if self.failing:
            raise Unread(f"cannot read {self.path}: {self.failing}")
        return super().entries()


def _read_through_flaky(path: Path) -> tuple[SilenceWatcher, Flaky]:
    """A watcher of ``path`` that reads it through a :class:`Flaky` file, its reads
    answering for now."""
    watcher = SilenceWatcher(str(path))
    watcher.file = flaky = Flaky(str(path))
    flaky.failing = ""
    return watcher, flaky


def test_a_passing_error_is_said_once_per_reason_and_the_file_read_once_it_goes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "silences.json"
    _watched(path)
    watcher = SilenceWatcher(str(path))
    watcher.file = flaky = Flaky(str(path))
    with capture_logs() as logs:
        for now in (T, T + 1):
            assert not watcher.refresh(now)
        flaky.failing = "Stale file handle"
        for now in (T + 2, T + 3):
            assert not watcher.refresh(now)
        flaky.failing = ""
        assert watcher.refresh(T + 4)
    assert [line.get("error") for line in logs if line["event"] == "sesd.silences.unreadable"] == [
        f"cannot read {path}: Input/output error",
        f"cannot read {path}: Stale file handle",
    ]
    events = [line["event"] for line in logs]
    assert events[-2:] == ["sesd.silences.readable", "sesd.silences.loaded"]
    assert watcher.silences.match("delays", "a.example", "critical", T + 4) is not None


def test_a_file_that_holds_no_silences_file_is_read_again_only_once_it_changes(
    tmp_path: Path,
) -> None:
    """What it holds cannot mend without a change the look sees: read at each look, a
    log file named by mistake (up to 64 MiB) would be read whole every evaluation."""
    path = tmp_path / "silences.json"
    path.write_text("garbage\n")
    watcher, counted = _read_through_flaky(path)
    with capture_logs() as logs:
        for now in (T, T + 1, T + 2):
            assert not watcher.refresh(now)
    assert counted.reads == 1
    assert [line["event"] for line in logs] == ["sesd.silences.unreadable"]


def test_a_file_that_holds_no_silences_file_written_again_is_said_again(
    tmp_path: Path,
) -> None:
    """Written again at once with the same garbage: a new version, read and said again
    (once per version and reason: the on-call sees the file was written, still wrong)."""
    path = tmp_path / "silences.json"
    path.write_text("garbage\n")
    watcher, counted = _read_through_flaky(path)
    with capture_logs() as logs:
        assert not watcher.refresh(T)
        written = tmp_path / "again.json"
        written.write_text("garbage\n")
        os.replace(written, path)
        assert not watcher.refresh(T + 1)
    assert counted.reads == 2
    events = [line["event"] for line in logs]
    assert events == ["sesd.silences.unreadable", "sesd.silences.unreadable"]


def test_a_file_that_answers_again_unchanged_is_said_readable_at_once() -> None:
    """Its directory closed to sesd a while (its permissions, a share's stale handle):
    neither the look nor the read answers, which is said, and the silences read before
    hold. Once it answers again, unchanged, that is said at that evaluation (before:
    nothing, until the file's next edit, long after, said it readable again)."""
    with tempfile.TemporaryDirectory() as where:
        Path(where).chmod(0o755)
        folder = Path(where) / "silences"
        folder.mkdir(mode=0o755)
        path = folder / "silences.json"
        file = _watched(path)
        path.chmod(0o644)
        watcher = SilenceWatcher(str(path))
        with _as_the_daemon():
            assert watcher.refresh(T)
        with capture_logs() as logs:
            folder.chmod(0)
            try:
                with _as_the_daemon():
                    assert not watcher.refresh(T + 1)
                    assert not watcher.refresh(T + 2)
            finally:
                folder.chmod(0o755)  # mended
            with _as_the_daemon():
                assert not watcher.refresh(T + 3)  # the version read before: in force
                assert not watcher.refresh(T + 4)
        assert watcher.silences.match("delays", "a.example", "critical", T + 4) is not None
        error = f"cannot read {path}: Permission denied"
        assert [(line["event"], line.get("error", line.get("was"))) for line in logs] == [
            ("sesd.silences.unreadable", error),
            ("sesd.silences.readable", error),
        ]
        assert logs[1]["path"] == str(path)  # the file that answers again
        file.expire({"s1"}, T + 5)  # its next edit
        path.chmod(0o644)
        with capture_logs() as logs, _as_the_daemon():
            assert watcher.refresh(T + 6)
        assert [line["event"] for line in logs] == ["sesd.silences.loaded"]


def test_a_file_of_no_silences_that_answers_again_is_not_said_readable(tmp_path: Path) -> None:
    """What it holds was said not to be a silences file; a while it did not answer at
    all, then does again, unchanged: it is still no silences file, not said readable."""
    path = tmp_path / "silences.json"
    path.write_text("garbage\n")
    watcher, flaky = _read_through_flaky(path)
    with capture_logs() as logs:
        assert not watcher.refresh(T)
        flaky.failing, flaky.unanswered = "Stale file handle", True
        assert not watcher.refresh(T + 1)
        flaky.failing, flaky.unanswered = "", False
        assert not watcher.refresh(T + 2)
    assert [line["event"] for line in logs] == ["sesd.silences.unreadable"] * 2


def test_a_fifo_at_the_path_is_opened_again_only_once_it_changes(tmp_path: Path) -> None:
    """A FIFO (or a device) at the path is no silences file either: opened at each
    evaluation, it would let a writer waiting at it through each time (a device may act
    on each open)."""
    path = tmp_path / "silences.json"
    os.mkfifo(path)
    watcher, counted = _read_through_flaky(path)
    with capture_logs() as logs:
        for now in (T, T + 1, T + 2):
            assert not watcher.refresh(now)
    assert counted.reads == 1
    assert [line["event"] for line in logs] == ["sesd.silences.unreadable"]
