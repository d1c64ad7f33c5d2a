"""The state file as bytes: read whole (bounded by what the config can save,
sesd.runtime.state_size) or written atomically, readable by its owner only; decoded
into its document when a sesd of this format version wrote it, refused in one line
(:class:`StateError`) when not. What the document holds is sesd.runtime.state's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from sesd.io.files import TooLarge, owners, read_plain, write_atomic

__all__ = [
    "STATE_VERSION",
    "StateError",
    "decoded",
    "providers_cache",
    "read_state",
    "write_state",
]

#: What a later build may add without a new version: sesd.runtime.state_alerts says.
STATE_VERSION = 4  # 2: keys are XXH3 digests; 3: compact windows; 4: pure-read windows


class StateError(Exception):
    """The state file cannot be used; the message says why in one line."""


def decoded(blob: bytes) -> dict[str, Any]:
    """The state file's document, of this version; StateError if it is not one."""
    try:
        data = msgspec.msgpack.decode(blob)
    # msgspec raises DecodeError for most damage, UnicodeDecodeError for some.
    except Exception as exc:  # noqa: BLE001
        raise StateError(f"not a sesd state file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise StateError(f"not a sesd state file (a {type(data).__name__}, not a map)")
    version = data.get("version")
    if version == STATE_VERSION:
        return data
    if type(version) is not int or version < 1:
        # Every sesd wrote a version from 1 up: a map without one is another program's.
        raise StateError(f"not a sesd state file (format version {version!r})")
    said = f"state file format version {version!r}"
    if type(version) is int and version > STATE_VERSION:
        raise StateError(
            f"{said} is a later sesd's (this one reads {STATE_VERSION}): to use it, roll "
            "forward and put it back at the path (see the hint)"
        )
    raise StateError(
        f"{said} is an earlier sesd's, which this one no longer reads (it reads {STATE_VERSION})"
    )


def providers_cache(blob: bytes) -> list[list[Any]]:
    """The providers cached in a state file (for ``sesd replay``); StateError if the
    file is not one."""
    found = decoded(blob).get("providers", [])
    if not isinstance(found, list):
        raise StateError("state file is damaged (providers)")
    return found


def read_state(path: str, limit: int | None = None) -> bytes | None:
    """The file's bytes, or None when there is none yet; StateError, nothing read, when
    it holds more than ``limit`` bytes (sesd.runtime.state_size)."""
    try:
        return read_plain(path, limit)
    except FileNotFoundError:
        return None
    except TooLarge as exc:
        raise StateError(
            f"{path} is {exc.size:,} bytes, more than the {exc.limit:,} the largest state "
            "this config can save takes (a damaged file, or another file at the path); "
            "not read"
        ) from None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}{owners(path, exc)}") from None


def write_state(path: str, blob: bytes, may_replace: Callable[[], bool] | None = None) -> bool:
    """Replace the state file atomically, unless ``may_replace`` calls it off right
    before the rename; readable by its owner only. Whether it was replaced."""
    return write_atomic(path, blob, may_replace)
