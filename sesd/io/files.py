"""Files sesd owns: replaced atomically, readable by their owner only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["give_to_directory_owner", "write_atomic"]


def give_to_directory_owner(fd: int, directory: Path) -> None:
    """When running as root, hand the open file to the owner of ``directory``."""
    if os.geteuid() != 0:
        return
    owner = directory.stat()
    os.fchown(fd, owner.st_uid, owner.st_gid)


def write_atomic(path: str, blob: bytes) -> None:
    """Replace the file at ``path`` with ``blob`` in one step, mode 0600, synced to disk:
    a reader (or a crash) sees the old file or the new one, never a part.

    Written by root (``sudo sesd silence add``), the file takes the owner of its
    directory, so the daemon's own user (systemd's ``DynamicUser``) can still read it.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        give_to_directory_owner(fd, target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
