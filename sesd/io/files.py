"""Files sesd owns: replaced atomically, readable by their owner only."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "NotPlain",
    "TooLarge",
    "a_device",
    "foreign_link",
    "give_to_directory_owner",
    "linked",
    "open_lock",
    "owners",
    "read_any",
    "read_plain",
    "write_atomic",
]


def give_to_directory_owner(fd: int, directory: Path) -> None:
    """When running as root, hand the open file to the owner of ``directory``."""
    if os.geteuid() != 0:
        return
    owner = directory.stat()
    os.fchown(fd, owner.st_uid, owner.st_gid)


def owners(path: str, exc: OSError) -> str:
    """For a file or directory this user was refused (``exc``), who owns it and who
    sesd runs as, and what to do: a backup restored as root, a host directory mounted
    into the container, are another user's, and "Permission denied" alone does not
    say whose, nor which user to hand them to (systemd's ``DynamicUser`` picks one).
    Nothing for another error, or one the owner cannot be read for."""
    if exc.errno not in (errno.EACCES, errno.EPERM):
        return ""
    try:
        found = os.stat(path)
    except OSError:
        return ""
    me = os.geteuid()
    return (
        f" (owned by uid {found.st_uid}, mode {stat.S_IMODE(found.st_mode):04o}; sesd runs "
        f"as uid {me}: make it that user's)"
    )


def a_device(path: str) -> bool:
    """Whether ``path`` names a device (``/dev/null``, ``/dev/zero``), through links: a
    path named by mistake, which no save may replace nor any start move aside."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def foreign_link(path: str) -> int | None:
    """The owner of the link at ``path`` when root must not follow it: a link another
    user made (in the daemon user's directory) would have root write the file it
    names. None for a link root owns, a file, or a user other than root."""
    if os.geteuid() != 0 or not os.path.islink(path):
        return None
    owner = os.lstat(path).st_uid
    return owner if owner != 0 else None


def linked(path: str) -> str:
    """The file a link at ``path`` names (a state file kept on another volume), so it
    is that file a save replaces; the path itself when not a link, or when root must
    not follow it (:func:`foreign_link`: a save then replaces the link)."""
    if os.path.islink(path) and foreign_link(path) is None:
        return os.path.realpath(path)
    return path


def open_lock(path: str) -> int:
    """Open (or make) the lock file at ``path``, mode 0600, handed to its directory's
    owner when running as root. Never through a link, and only a plain file of one
    name: the directory is the daemon user's, and root (``sudo sesd silence add``)
    following a link planted there would hand the file it names (``/etc/shadow``) to
    that user. OSError otherwise, its strerror saying what is in the way."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it is a symbolic link (remove it)", path) from None
        raise
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
            raise OSError(errno.EPERM, "not a plain file of its own (remove it)", path)
        give_to_directory_owner(fd, Path(path).parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


class TooLarge(OSError):
    """A file larger than its reader takes: ``size`` bytes, ``limit`` at most."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"{size:,} bytes, over the {limit:,} read", path)
        self.size, self.limit = size, limit


class NotPlain(OSError):
    """What is at the path is no plain file (a FIFO, a device, a directory): nothing
    mends it but another file there."""


def read_plain(path: str, limit: int | None = None) -> bytes:
    """The bytes of the plain file at ``path``. A FIFO or a device planted there (or
    named by mistake) is refused, not read: opening a FIFO nobody writes waits for
    ever, and ``sesd silence`` or the daemon's next read of its silences with it.
    FileNotFoundError when there is none; TooLarge, nothing read, when it holds more
    than ``limit`` bytes; NotPlain, not read, for what is no plain file; OSError
    otherwise, its strerror saying why."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise NotPlain(errno.EINVAL, _not_plain(found.st_mode), path)
        if limit is None:
            return handle.read()
        return _within(handle, path, found.st_size, limit)


def read_any(path: str, limit: int) -> bytes:
    """The bytes of the file at ``path``, whatever it is: a FIFO (a shell's ``<(...)``)
    is read until its writer closes it, a device as it answers. TooLarge once it holds
    more than ``limit`` bytes (``/dev/zero`` never ends), nothing read past a byte over
    it; OSError when it cannot be read, its strerror saying why."""
    with open(path, "rb") as handle:
        return _within(handle, path, os.fstat(handle.fileno()).st_size, limit)


def _within(handle: BinaryIO, path: str, size: int, limit: int) -> bytes:
    """What ``handle`` (of the file at ``path``, ``size`` bytes when looked at: 0 for a
    FIFO or a device) holds, up to ``limit`` bytes; TooLarge past it."""
    if size > limit:
        raise TooLarge(path, size, limit)
    # What it holds, not the limit: a read makes room for all it asks first (the
    # limit may be gigabytes, more than the host has); if it grew since, on to it,
    # a piece at a time, joined once (adding each to the whole copied the whole).
    pieces = [handle.read(size + 1)]
    read = len(pieces[0])
    while read <= limit and (more := handle.read(min(1 << 16, limit + 1 - read))):
        pieces.append(more)
        read += len(more)
    if read > limit:
        # The read stopped a byte past the limit: the file's size is what it holds now.
        raise TooLarge(path, max(os.fstat(handle.fileno()).st_size, read), limit)
    return b"".join(pieces)


def _not_plain(mode: int) -> str:
    """What is at a path where a plain file should be, and what to do: a FIFO or a
    socket planted there goes; a device or a directory was named by mistake, and the
    path is what to mend (removing /dev/null breaks the host)."""
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a plain file: the path names the wrong file; name another"
    if stat.S_ISDIR(mode):
        return "a directory, not a plain file: name a file in it"
    return "not a plain file (remove it)"


def write_atomic(path: str, blob: bytes, may_replace: Callable[[], bool] | None = None) -> bool:
    """Replace the file at ``path`` with ``blob`` in one step, mode 0600, synced to disk:
    a reader (or a crash) sees the old file or the new one, never a part. Whether it
    was replaced: ``may_replace``, asked right before the rename, can still call it off
    (the copy written aside is then removed).

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
        if may_replace is not None and not may_replace():
            Path(tmp).unlink(missing_ok=True)
            return False
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True
