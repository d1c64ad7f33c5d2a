"""The identity of one recipient of one message in the pending table
(sesd.core.pending): a hash of (message id, address), so no address is held, stable
across restarts (a state file's keys stay valid).
"""

from __future__ import annotations

from typing import Final

import xxhash

from sesd.core.dedup import stable_key
from sesd.core.domains import recipient_key

__all__ = ["legacy_pending_key", "pending_key"]

_xxh3: Final = xxhash.xxh3_64_intdigest
#: The last characters of an address recipient_key() may change past lower case: a
#: display name's ">", a domain's trailing dot ("" too: an empty address).
_NOT_PLAIN: Final = frozenset((">", ".", ""))


def pending_key(message_id: str, address: str) -> int:
    """The identity of one recipient of one message (stable across restarts; a state
    file's keys stay valid, as an address in normal form keys as before):
    ``stable_key(message_id, recipient_key(address))``."""
    # stable_key()'s digest, inline: every recipient of every event is keyed here. So is
    # recipient_key()'s answer for nearly every address (no display name, its domain in
    # normal form): the address stripped and lower-cased; the call for the others.
    # sesd.core.pipeline.Pipeline._delivered holds a copy (held to this by
    # tests/test_pipeline_delivery_addresses.py): change both.
    key = address.strip().lower()
    if key[-1:] in _NOT_PLAIN or not key.isascii():
        key = recipient_key(address)
    return _xxh3(f"{message_id}\0{key}".encode())


def legacy_pending_key(message_id: str, address: str) -> int | None:
    """The key a state file of an earlier build holds for a recipient whose domain is
    not in normal form as written (not ASCII, or a trailing dot), when it differs from
    :func:`pending_key`: its delay, pending across an upgrade, still ends."""
    written = address.strip().lower()
    if written.isascii() and written[-1:] != ".":
        return None
    return stable_key(message_id, written) if written != recipient_key(address) else None
