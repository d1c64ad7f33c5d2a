"""The state file's lock, ``PATH.lock``, held while sesd runs: one sesd a file. Taken
at start, before the file is read (sesd.runtime.state_reach), once the path is one a
save could ever write (sesd.runtime.state_path)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from typing import Final

from sesd.core.text import clean
from sesd.io.files import linked, open_lock
from sesd.io.replica import replica_name
from sesd.runtime.http import StartError
from sesd.runtime.state_path import unsavable

__all__ = ["hold", "let_go"]

#: The most of the lock file's holder line an error shows.
_HOLDER_BYTES: Final = 200


def hold(path: str) -> list[int]:
    """Hold ``PATH.lock`` while sesd runs (its descriptors; StartError when the file
    could never be saved, or another sesd holds it): two sesd on one file would each
    overwrite the other's saves and restore the other's windows (replicas sharing a
    volume). A path that is a link is saved through, so the file it names is locked
    too: another sesd whose path is that file, or another link to it, is kept out."""
    problem = unsavable(path)
    if problem is not None:
        raise StartError(problem)
    held: list[int] = []
    try:
        # One at a time, so that those taken are let go when the next is refused.
        for lock in dict.fromkeys((f"{path}.lock", f"{linked(path)}.lock")):
            held.append(_take(path, lock))  # noqa: PERF401
    except StartError:
        let_go(held)
        raise
    return held


def _take(path: str, lock: str) -> int:
    """Open and lock ``lock`` for the state file at ``path``, writing who holds it."""
    try:
        # Made by root (a `sesd run` by hand), it would keep the daemon's own user out:
        # handed to the directory's owner.
        fd = open_lock(lock)
    except OSError as exc:
        owned = exc.errno in (errno.EACCES, errno.EISDIR)
        hint = " (remove it, or make it the daemon user's)" if owned else ""
        raise StartError(f"state.path: {path}: cannot open {lock}: {exc.strerror}{hint}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise StartError(
            f"state.path: {path}: another sesd is using it ({lock} is held{holder}); "
            "give each sesd a file of its own"
        ) from None
    except OSError as exc:
        os.close(fd)  # not left open for as long as the process lives
        raise StartError(
            f"state.path: {path}: cannot lock {lock}: {exc.strerror}{_unlockable(exc)}"
        ) from None
    # Who holds it, for the error of the next sesd on the file (replicas sharing a
    # volume: a pod's host name is its name), by the name its messages and status page
    # give: the one the on-call knows it by. The raw host name may be bytes that are
    # not UTF-8 (the start failed on them) or text another sesd shows. The kernel lets
    # go of the lock when the holder dies, however (kill -9, OOM): what is written here
    # outlives it, unread.
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {replica_name()}\n".encode(), 0)
    except OSError:
        pass  # a full disk: the lock holds all the same, its error names nobody
    return fd


def _unlockable(exc: OSError) -> str:
    """What to do about a lock the file system refused (not one another sesd holds)."""
    if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
        return (
            " (a file system that grants no locks: an NFS mount without its lock service, "
            "some FUSE and SMB mounts); put the file on a local disk, or a volume that "
            "grants them"
        )
    return ""


def let_go(held: list[int]) -> None:
    """Release the locks :func:`hold` returned, each holder line first removed: an
    earlier build that takes the file next writes none, and a sesd it refuses would
    be told the one that stopped holds it."""
    for fd in held:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def _holder(fd: int) -> str:
    """`` by pid N on HOST``, as the holder of the lock at ``fd`` wrote it (escaped and
    bounded: any user of the directory may have written the file), or nothing."""
    try:
        said = os.pread(fd, _HOLDER_BYTES, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" by {clean(said, _HOLDER_BYTES)}" if said else ""
