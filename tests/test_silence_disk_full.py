"""``sesd silence add`` where the silences file cannot be written whole (a full disk, a
quota): the command names the file it could not write and why, exits 1, and the file is
left as it was, its silences all there, with no part-written copy beside it. The disk is
played by a file size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so the write
fails with EFBIG rather than end the process): a full file system cannot be mounted by a
test."""

from __future__ import annotations

import resource
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.commands.main import main
from tests.test_silences import _config


@contextmanager
def _no_file_over(size: int) -> Iterator[None]:
    """No file of this process grows past ``size`` bytes within."""
    was_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    was_signal = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, was_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, was_limit)
        signal.signal(signal.SIGXFSZ, was_signal)


def test_silence_add_that_cannot_write_the_file_names_it_and_leaves_it_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    path = tmp_path / "silences.json"
    now = time.time()
    held = Silence(id="s1", comment="x", starts_at=now, ends_at=now + 3600, domain="a.example")
    SilenceFile(str(path)).add(held, now)
    before = path.read_bytes()
    add = ["silence", "add", "--config", str(config), "--domain", "b.example", "--for", "1h"]
    with _no_file_over(len(before)):
        code = main([*add, "--comment", "maintenance"])
    assert code == 1
    assert capsys.readouterr().err == f"sesd: cannot write {path}: File too large\n"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sesd.toml",
        "silences.json",
        "silences.json.lock",
    ]
