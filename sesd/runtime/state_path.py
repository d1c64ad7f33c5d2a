"""Whether a state file could ever be saved where ``[state] path`` says, and a
silences file written where ``[alerts] silences_path`` says: asked at start
(sesd.runtime.state_reach, ``sesd run``), at a reload, and by ``sesd check-config``,
which loads this alone (not the daemon's HTTP stack, the evaluator or the file's
restore, for a check run before each reload)."""

from __future__ import annotations

import errno
import os
import re

from sesd.io.files import a_device, foreign_link, linked, owners

__all__ = ["silences_unwritable", "unsavable"]


def unsavable(path: str) -> str | None:
    """Why a state file at ``path`` could never be saved on this host (its directory
    missing or not writable, or a directory itself), or None: said at start, not at
    the first save after the last hour is lost."""
    owner = foreign_link(path)
    if owner is not None:
        return (
            f"state.path: {path} is a link made by uid {owner}: root follows no link "
            "another user made (run sesd as the daemon's user)"
        )
    if a_device(path):
        # Before the start reads it: a file it cannot read is moved aside, and a save
        # replaces what the path names (/dev/null, as root).
        return (
            f"state.path: {path} is a device, not a file: name a file for the state "
            "(each save replaces it), or leave state.path out for none"
        )
    path = linked(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return f"state.path: directory {directory} does not exist"
    if _read_only(directory):
        # Not the user's permissions (root may not write there either): a pod's
        # readOnlyRootFilesystem with no volume at the path, or a disk remounted so.
        return (
            f"state.path: directory {directory} is on a read-only filesystem (mount a "
            "writable volume there)"
        )
    # As the user sesd runs as (its effective uid), not the one that started it.
    if not os.access(directory, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        whose = owners(directory, OSError(errno.EACCES, "not writable"))
        return f"state.path: directory {directory} is not writable by this user{whose}"
    if os.path.isdir(path):
        return f"state.path: {path} is a directory; name a file in it"
    if _mount_point(path):
        return (
            f"state.path: {path} is a mount point (a Kubernetes subPath of a file, a bind "
            "mount), which a save's rename cannot replace: mount a directory and name a "
            "file in it"
        )
    return None


def silences_unwritable(path: str | None) -> str | None:
    """Why ``sesd silence add`` could never write a silences file at ``path`` (as
    ``[alerts] silences_path`` gives it) on this host: its directory missing. None
    otherwise, and for a relative path, which is warned of as such. The daemon reads
    no file there as no silences: without this, the first silence added, in an
    incident, would be the first word of it. Not an error: the directory may be made
    after the start, and a running daemon takes the file then."""
    if not path or not os.path.isabs(path):
        return None
    if a_device(path):
        return (
            f"alerts.silences_path: {path} is a device, not a file: `sesd silence` cannot "
            "read or write silences there (give another path)"
        )
    directory = os.path.dirname(path)
    if os.path.isdir(directory):
        return None
    return (
        f"alerts.silences_path: directory {directory} does not exist: the daemon reads no "
        "silences there, and `sesd silence add` cannot write one (create it, or give "
        "another path)"
    )


def _mount_point(path: str) -> bool:
    """Whether ``path`` is where something is mounted, a file too (which
    ``os.path.ismount`` misses when it is of the same filesystem); False where the
    mount table cannot be read."""
    wanted = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as table:
            # The fifth field, spaces and the like written as octal escapes (\040).
            return any(
                _unescaped(line.split(" ")[4]) == wanted for line in table if line.count(" ") > 4
            )
    except OSError:
        return False


def _unescaped(field: str) -> str:
    """A mountinfo field with its octal escapes (``\040``) read back."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _read_only(directory: str) -> bool:
    """Whether ``directory`` is on a filesystem mounted read-only (False when that
    cannot be told: the check after it says what it can)."""
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False
