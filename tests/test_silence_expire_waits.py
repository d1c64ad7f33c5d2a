"""``sesd silence expire`` while another command holds the silences file's lock (a
``sesd silence add`` at the same moment, or one stopped at its terminal): it waits for
the lock, as ``silence add`` does, then ends the silence in the file the other wrote,
keeping what that one added. Refused, the on-call would run it again by hand while the
alert stays muted; not waiting for the lock at all, one of the two changes would be lost.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import msgspec
import pytest

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import SILENCES_VERSION, Silence
from sesd.commands.main import main
from sesd.io.files import open_lock, write_atomic
from tests.test_silences import _config, _lock_waiters

pytestmark = pytest.mark.timeout(60)


def _running(silence_id: str, domain: str, now: float) -> Silence:
    return Silence(id=silence_id, comment="x", starts_at=now, ends_at=now + 3600, domain=domain)


def test_silence_expire_waits_for_the_lock_another_command_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    path = tmp_path / "silences.json"
    now = time.time()
    SilenceFile(str(path)).add(_running("s1", "a.example", now), now)
    first = open_lock(f"{path}.lock")
    fcntl.flock(first, fcntl.LOCK_EX)
    codes: list[int] = []
    expire = ["silence", "expire", "--config", str(config), "s1"]
    second = threading.Thread(target=lambda: codes.append(main(expire)))
    second.start()
    try:
        deadline = time.monotonic() + 20
        while not _lock_waiters(Path(f"{path}.lock")) and second.is_alive():
            assert time.monotonic() < deadline, "the expire neither waited nor ended"
            second.join(0.01)
        assert second.is_alive(), (codes, capsys.readouterr().err)  # waiting, not refused
        # The other command's write, under its lock: s2 added.
        held = [_running("s1", "a.example", now), _running("s2", "b.example", now)]
        document = {"version": SILENCES_VERSION, "silences": held}
        write_atomic(str(path), msgspec.json.encode(document))
    finally:
        os.close(first)
    second.join(20)
    assert codes == [0], capsys.readouterr().err
    after = {s.id: s.ends_at for s in SilenceFile(str(path)).read()}
    assert after["s2"] == now + 3600
    assert after["s1"] is not None
    assert after["s1"] < now + 3600
