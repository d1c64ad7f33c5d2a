"""The state file's disk fills up or turns read-only (ext4's ``errors=remount-ro``
after disk errors, a pod's ``readOnlyRootFilesystem`` with no volume mounted there):
a real filesystem, a tmpfs mounted in a mount namespace of the test's own, and
what sesd says of each, which must point the one on call at the disk, not at
permissions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Run as root in a mount namespace of its own: mounts a tmpfs at argv[1], saves onto
#: it, fills it, saves, empties it and remounts it read-only, saves; prints each save's
#: log lines and what the start's check says of the read-only directory.
SCRIPT = """
import json, os, subprocess, sys
import anyio
from structlog.testing import capture_logs
from sesd.runtime.state_path import unsavable
from tests.test_state_files import _saver

where = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", where], check=True)
saver = _saver(f"{where}/state.bin")
saver.load()
said = {}

def save(name):
    with capture_logs() as logs:
        anyio.run(saver.save)
    said[name] = [dict(line, level=None) for line in logs]

save("room")
fd = os.open(f"{where}/filler", os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(fd, bytes(65536))
except OSError:
    pass
os.close(fd)
save("full")
os.unlink(f"{where}/filler")
# The lock file open for writing holds a remount by hand (the kernel's own, after disk
# errors, waits for no writer): let go of it first; a save takes no lock.
saver.release()
subprocess.run(["mount", "-o", "remount,ro", where], check=True)
save("read_only")
said["start"] = unsavable(f"{where}/state.bin")
print(json.dumps(said))
"""


def _in_namespace(tmp_path: Path, script: str = SCRIPT) -> dict[str, object]:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs a mount namespace (root, or CAP_SYS_ADMIN)")
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", script, str(where)],
        capture_output=True, text=True, timeout=120, check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    said: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return said


def test_a_full_or_read_only_disk_under_the_state_file_is_named_as_such(tmp_path: Path) -> None:
    """A save onto a full disk says the disk is full; onto one remounted read-only, that
    the filesystem is read-only (not "fix the directory's permissions", which sends the
    one on call after users and modes); a start on it says so before anything is lost.
    Each failed save keeps the file on disk as last saved."""
    said = _in_namespace(tmp_path)
    assert [line["event"] for line in said["room"]] == ["sesd.state.saved"]  # type: ignore[attr-defined]
    full, read_only = said["full"], said["read_only"]
    assert isinstance(full, list)
    assert isinstance(read_only, list)
    ((failed_full,), (failed_read_only,)) = full, read_only
    assert failed_full["event"] == failed_read_only["event"] == "sesd.state.save_failed"
    assert "the disk is full" in failed_full["hint"]
    assert "permissions" not in failed_full["hint"]
    assert "read-only" in failed_read_only["hint"]
    assert "permissions" not in failed_read_only["hint"]
    start = said["start"]
    assert isinstance(start, str)
    assert "read-only filesystem" in start
    assert "not writable by this user" not in start


#: Run as root in a mount namespace of its own: a file bind-mounted onto the state
#: file's path at argv[1] (a Kubernetes ``subPath`` of a file); prints what the
#: start's check says of it and a save's log lines.
BOUND = """
import json, subprocess, sys
import anyio
from structlog.testing import capture_logs
from sesd.runtime.state_path import unsavable
from tests.test_state_files import _saver

where = sys.argv[1]
open(f"{where}/volume-file", "w").close()
open(f"{where}/state.bin", "w").close()
subprocess.run(["mount", "--bind", f"{where}/volume-file", f"{where}/state.bin"], check=True)
said = {"start": unsavable(f"{where}/state.bin")}
saver = _saver(f"{where}/state.bin")
with capture_logs() as logs:
    anyio.run(saver.save)
said["save"] = [dict(line, level=None) for line in logs]
print(json.dumps(said))
"""


def test_a_state_file_that_is_a_mount_point_is_refused_at_start(tmp_path: Path) -> None:
    """A file mounted onto the state file's path (a ``subPath`` of a file in a pod): a
    save replaces the file by a rename, which a mount point refuses (EBUSY), so every
    save would fail for as long as sesd runs. The start's check says so and what to
    mount instead; a save that meets one says the same, not "free space"."""
    said = _in_namespace(tmp_path, BOUND)
    start = said["start"]
    assert isinstance(start, str)
    assert "mount point" in start
    assert "directory" in start
    save = said["save"]
    assert isinstance(save, list)
    (failed,) = save
    assert failed["event"] == "sesd.state.save_failed"
    assert "mount point" in failed["hint"]
