"""What of a config file a reload refused is read all the same.

A running sesd keeps the config it last loaded when a reload refuses the file (a
threshold of 5 for a ratio, a key misspelt): mid-incident, ``sesd status`` must
still find the daemon at the file's ``[http] listen``, and ``sesd silence`` must
still write the silences file the daemon reads. Each reads the tables it needs
alone, and says in one line on stderr that the whole was refused and why.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

import msgspec

__all__ = ["read_as", "tables", "warn_refused"]

T = TypeVar("T")


def tables(path: str | None, refused: Exception) -> dict[str, Any]:
    """The TOML tables of the config at ``path``, not yet checked; ``refused`` (why the
    whole does not load) raised when the file is not TOML, or when ``path`` is none or
    no regular file (``/dev/stdin``: read once already, a second read finds it empty)."""
    import tomllib
    from pathlib import Path

    from sesd.config.reading import read_bounded

    if not path or not Path(path).is_file():
        raise refused
    try:
        data = tomllib.loads(read_bounded(Path(path), what="no config").decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise refused from exc
    return data


def read_as(data: Any, kind: type[T], refused: Exception) -> T:
    """``data`` (one table, or ``{}`` where the file has none) read as ``kind``;
    ``refused`` raised when that is wrong too."""
    from sesd.config.hooks import dec_hook

    try:
        return msgspec.convert(data, kind, dec_hook=dec_hook)
    except (msgspec.ValidationError, ValueError) as exc:
        raise refused from exc


def warn_refused(refused: Exception, doing: str, unchecked: str = "") -> None:
    """One line on stderr: the config error, and that ``doing`` goes on as the running
    daemon does (``unchecked``: what cannot be checked without the whole)."""
    tail = f"; {unchecked}" if unchecked else ""
    print(
        f"sesd: warning: config error: {refused}; {doing} all the same (a running sesd "
        f"keeps the config it last loaded){tail}",
        file=sys.stderr,
    )
