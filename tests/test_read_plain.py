"""A plain file read under a bound, on a real filesystem: one that grows while it is
read is read on to the bound, no further, and refused naming the size it has."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sesd.io.files import TooLarge, read_plain


def _growing(monkeypatch: pytest.MonkeyPatch, path: Path, more: bytes) -> None:
    """``path`` gains ``more`` right after its reader looks at its size (a writer's
    append landing between the look and the read), once."""
    look = os.fstat
    grown: list[bool] = []

    def size_then_grow(fd: int) -> os.stat_result:
        found = look(fd)
        if not grown:
            grown.append(True)
            with path.open("ab") as handle:
                handle.write(more)
        return found

    monkeypatch.setattr(os, "fstat", size_then_grow)


def test_a_file_that_grows_past_the_bound_while_read_is_refused_with_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 bytes when looked at, under a bound of 1,000; 300,000 more land before the
    read. Refused, as a file over the bound is, naming the 300,100 bytes it holds (it
    said 1,001: where the read stopped, a byte past the bound)."""
    path = tmp_path / "state.bin"
    path.write_bytes(b"x" * 100)
    _growing(monkeypatch, path, b"y" * 300_000)
    with pytest.raises(TooLarge) as refused:
        read_plain(str(path), 1_000)
    assert (refused.value.size, refused.value.limit) == (300_100, 1_000)
    assert "300,100 bytes" in str(refused.value)


def test_a_file_that_grows_within_the_bound_while_read_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 bytes when looked at; 200,000 more (several pieces of 64 KiB) land before the
    read, within the bound: every byte is read, in order."""
    path = tmp_path / "state.bin"
    path.write_bytes(b"x" * 100)
    more = bytes(range(256)) * 782  # 200,192 bytes: four pieces, the last a part
    _growing(monkeypatch, path, more)
    assert read_plain(str(path), 300_000) == b"x" * 100 + more
    assert read_plain(str(path), len(more) + 100) == b"x" * 100 + more


#: The read of the test below, in an interpreter of its own: tracemalloc counts what
#: every thread of the process allocates, and a thread an earlier test of the same
#: worker left behind (a server's, a stuck read's) can allocate while it measures.
#: Here the read is the only thing running. It prints the size the refusal names
#: and the peak; it fails when the file is read, not refused.
GROWN_READ = """
import os, sys, tracemalloc
from sesd.io.files import TooLarge, read_plain

path = sys.argv[1]
more = b"y" * 20_000_000  # made before the count starts, as the writer's
look = os.fstat
grown = []

def size_then_grow(fd):
    found = look(fd)
    if not grown:
        grown.append(True)
        with open(path, "ab") as handle:
            handle.write(more)
    return found

os.fstat = size_then_grow
tracemalloc.start()
try:
    read_plain(path, 1_000)
except TooLarge as refused:
    _, peak = tracemalloc.get_traced_memory()
    print(refused.size, peak)
else:
    sys.exit("read whole, not refused")
"""


def test_a_file_grown_far_past_the_bound_is_not_read_past_it(tmp_path: Path) -> None:
    """100 bytes when looked at, under a bound of 1,000; 20 MB land before the read (a
    file another process writes at the path). Refused, having held about the bound in
    memory, not the 20 MB: the bound is what keeps a wrong file from filling memory."""
    path = tmp_path / "state.bin"
    path.write_bytes(b"x" * 100)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", GROWN_READ, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    size, peak = (int(word) for word in done.stdout.split())
    assert size == 20_000_100
    assert peak < 1_000_000, peak


@pytest.mark.parametrize(("grown", "read"), [(1, True), (2, False), (10, False)])
def test_a_file_a_byte_under_the_bound_that_grows_is_read_whole_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grown: int, read: bool
) -> None:
    """999 bytes when looked at, under a bound of 1,000; ``grown`` more land before the
    read. To exactly the bound, read whole; past it, refused: never handed on cut at
    the bound (a state file cut mid-value)."""
    path = tmp_path / "state.bin"
    path.write_bytes(b"x" * 999)
    _growing(monkeypatch, path, b"y" * grown)
    if read:
        assert read_plain(str(path), 1_000) == b"x" * 999 + b"y" * grown
        return
    with pytest.raises(TooLarge) as refused:
        read_plain(str(path), 1_000)
    assert refused.value.size == 999 + grown


def test_a_refusal_is_an_oserror_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO at the path is refused at once (not waited on), and a file over the bound
    or grown past it refused: each an OSError as the system's own, with its errno and
    the file's path, so that any reader's message (``str(exc)``) says which file."""
    fifo = tmp_path / "silences.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a plain file") as refused:
        read_plain(str(fifo))
    assert (refused.value.errno, refused.value.filename) == (errno.EINVAL, str(fifo))
    path = tmp_path / "state.bin"
    path.write_bytes(b"x" * 2_000)
    with pytest.raises(TooLarge) as large:
        read_plain(str(path), 1_000)
    assert (large.value.errno, large.value.filename) == (errno.EFBIG, str(path))
    path.write_bytes(b"x" * 100)
    _growing(monkeypatch, path, b"y" * 2_000)
    with pytest.raises(TooLarge) as grown:
        read_plain(str(path), 1_000)
    assert (grown.value.filename, grown.value.size) == (str(path), 2_100)
