"""A reload reads the silences file ahead of its change, in a worker thread, and the
change takes what that read found: nothing of the file is looked at or read on the
event loop, where a share that hangs would hold every poll, scrape and health check
with the reload."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sesd.alerting.silence_entries import Entry
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import running
from tests.dns_server import hermetic_text
from tests.test_silence_reload import _watching
from tests.test_web_lock import _queue

pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]


class Watched(SilenceFile):
    """A plain silences file, each look, read and write said with the thread it ran in."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        #: (what, the thread's name), in the order made.
        self.ops: list[tuple[str, str]] = []

    def _made(self, what: str) -> None:
        self.ops.append((what, threading.current_thread().name))

    def identity(self) -> tuple[int, int, int, int] | None:
        self._made("look")
        return super().identity()

    def entries(self) -> list[Entry]:
        self._made("read")
        return super().entries()

    def update(
        self, change: Callable[[list[Silence]], list[Silence]], now: float, *, wait: bool = True
    ) -> None:
        self._made("write")
        super().update(change, now, wait=wait)


async def test_a_reload_looks_at_the_silences_file_off_the_event_loop(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A silence added since the file was last read, then a reload: the file is looked
    at and read for it, each in a worker thread, none on the event loop; the silence
    is in force once the reload is."""
    silences = tmp_path / "silences.json"
    text = hermetic_text(await _queue(local_sqs, sqs) + f'[alerts]\nsilences_path = "{silences}"\n')
    path = tmp_path / "sesd.toml"
    path.write_text(text)
    loop = threading.current_thread().name
    async with running(load_config(path), config_path=path) as daemon:
        watcher = daemon.alerting.silences
        watched = Watched(str(silences))
        watcher.file = watched
        _watching(silences, domain="a.example")  # `sesd silence add`
        path.write_text(text + "# edited\n")
        assert await daemon.reload()
        assert [s.id for s in watcher.silences.items] == ["s1"]
    assert watched.ops  # looked at for the reload, in its worker thread
    assert [op for op in watched.ops if op[1] == loop] == []
