"""Reading the config file and the files it names (``file:`` secrets, ``[http]
web_config``) with a bound: a path written by mistake may name a log of gigabytes or
a device that never ends (``/dev/zero``, ``/dev/urandom``), which a whole read would
take the host's memory into before failing with a MemoryError's traceback."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sesd.core.text import escaped
from sesd.io.files import TooLarge, read_any

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = [
    "CONFIG_BOUND",
    "check_written_files",
    "open_to_all",
    "open_to_all_warning",
    "read_bounded",
]

#: The most of any of these files read, in bytes: the example config is 20 KB, and a
#: config listing 100,000 domains about 2 MB. A FIFO or a device is read up to it too.
CONFIG_BOUND: Final = 8 << 20


def read_bounded(path: Path, *, what: str) -> bytes:
    """The bytes of the file at ``path`` (:func:`sesd.io.files.read_any`: a FIFO or a
    device read too); OSError when it cannot be read or holds more than
    :data:`CONFIG_BOUND`, its strerror then naming the bound and ``what`` no such file
    is that large (``no config``)."""
    try:
        return read_any(str(path), CONFIG_BOUND)
    except TooLarge:
        why = f"larger than {CONFIG_BOUND >> 20} MiB, which {what} is"
        why += " (a log, a dump or a device named?)"
        raise OSError(errno.EFBIG, why, str(path)) from None


def open_to_all(path: Path) -> int | None:
    """The permission bits of the file at ``path`` when every user may read it (``o+r``,
    as ssh asks of a private key: a directory shut to others is not looked at), else
    None; None too when it cannot be looked at (it was just read: it may have gone)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & stat.S_IROTH else None


def open_to_all_warning(key: str, what: str, path: str | os.PathLike[str], mode: int) -> str:
    """The warning of the file at ``path``, ``what`` it holds for ``key`` (``secret``,
    ``private key``), that :func:`open_to_all` found of ``mode``: whoever has a shell on
    the host has what it holds. Not an error: a config that ran must load again."""
    shown = escaped(str(path), 200)
    return (
        f"{key}: {what} file {shown} is readable by every user (mode {mode:04o}): chmod o-r "
        "it (0600, or 0640 for a group sesd is in)"
    )


def check_written_files(config: Config, path: str | os.PathLike[str]) -> None:
    """Raise ValueError, naming the key, when the state file or the silences file is a
    file the config at ``path`` reads (the config file itself, a ``file:`` secret's,
    ``[http] web_config``): a save, or ``sesd silence add``, would write over it, and
    the next start or reload find no config, or no key. Paths only: nothing is read."""
    read = {_same(path): "the config file itself"}
    read.update(
        (_same(secret.path), f"the file of {key}")
        for key, secret in config.secrets()
        if secret.path is not None
    )
    if config.http.web_config is not None:
        read[_same(config.http.web_config.path)] = "the file of http.web_config"
    for key, written in (
        ("state.path", config.state.path),
        ("alerts.silences_path", config.silences_path),
    ):
        if written and (what := read.get(_same(written))) is not None:
            shown = escaped(written, 200)
            raise ValueError(
                f"{key}: '{shown}' is {what}: each write would replace it; give it a file of "
                "its own"
            )


def _same(path: str | os.PathLike[str]) -> str:
    """``path`` as the file it names (links followed, ``.`` and ``..`` taken)."""
    return os.path.realpath(path)
