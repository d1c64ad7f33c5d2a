"""JSON text as it comes: a byte-order mark before it is dropped; and why text did
not decode: not JSON, not UTF-8, or nested too deeply.

Decided here rather than read from the decoder's exception: for text that is not
UTF-8, msgspec 0.22 raises UnicodeDecodeError and 0.23 DecodeError, and which
one a body met would change its reason (and its counter) with the release
installed. Pure; :func:`unreadable` is called only after a decode failed, so the
events that decode are never read twice.
"""

from __future__ import annotations

from typing import Final, overload

import msgspec

from sesd.core.events import Invalid

__all__ = ["TOO_DEEP", "after_mark", "not_utf8_at", "undecoded", "unmarked", "unreadable"]

TOO_DEEP: Final = Invalid("too_deep", "JSON nested too deeply")

#: A UTF-8 byte-order mark, as bytes and as text.
_BOM: Final = b"\xef\xbb\xbf"
_BOM_TEXT: Final = "\ufeff"

#: JSON's syntax only: a value read into Raw builds nothing.
_SYNTAX: Final = msgspec.json.Decoder(msgspec.Raw)


@overload
def unmarked(text: str) -> str: ...
@overload
def unmarked(text: bytes | str) -> bytes | str: ...
def unmarked(text: bytes | str) -> bytes | str:
    """``text`` without the one byte-order mark (U+FEFF) it may start with.

    No AWS service writes one: SES, SNS and EventBridge make their JSON themselves. A
    body (or SNS Message, or EventBridge detail string) that starts with one was saved
    by a person's tool (a Windows editor, then ``aws sqs send-message --message-body
    file://event.json``), and the event after it is the one they meant to send. RFC
    8259 lets a parser ignore the mark; msgspec refuses it (an invalid character at
    byte 0), which counted the event as ``not_json`` without saying why. Accepted as
    ``sesd replay`` accepts it at the start of a file and the config reader in its
    file. One mark, at the very start: a second, or one elsewhere, is not JSON."""
    if isinstance(text, bytes):
        return text[3:] if text[:3] == _BOM else text
    return text[1:] if text[:1] == _BOM_TEXT else text


@overload
def after_mark(text: str) -> str | None: ...
@overload
def after_mark(text: bytes | str) -> bytes | str | None: ...
def after_mark(text: bytes | str) -> bytes | str | None:
    """``text`` after the one byte-order mark it starts with; None when it starts with
    none, or with two (not JSON either way). For text that failed to decode: the
    events that decode never pay for the look."""
    rest = unmarked(text)
    return rest if rest is not text and unmarked(rest) is rest else None


def unreadable(text: bytes | str, where: str) -> Invalid:
    """Why ``text`` (a body, an SNS Message, an EventBridge detail: ``where``) failed
    to decode, other than its schema. ``not_utf8`` when it is JSON but for bytes
    that are not UTF-8 (in a str, a lone surrogate, which SQS never delivers);
    ``not_json`` when it is not JSON either way, whatever its encoding."""
    mended = _mended(text)
    if mended is None:
        return Invalid("not_json", f"{where} is not JSON")
    try:
        _SYNTAX.decode(mended)
    except msgspec.DecodeError:
        return Invalid("not_json", f"{where} is not JSON")
    except RecursionError:
        return TOO_DEEP
    return Invalid("not_utf8", f"{where} is not valid UTF-8")


def not_utf8_at(blob: bytes) -> str | None:
    """Where ``blob`` (a whole file or answer) first stops being UTF-8, as a person
    finds it: "line 3, column 14, byte offset 57" (the column in characters, the
    offset from 0); None when all of it is UTF-8. A decoder's own message names a
    position in the string it was decoding (msgspec's: "position 3" of one JSON
    string), which no editor can go to."""
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start
        start = blob.rfind(b"\n", 0, at) + 1
        line = blob.count(b"\n", 0, start) + 1
        column = len(blob[start:at].decode("utf-8")) + 1  # UTF-8 up to ``at``
        return f"line {line}, column {column}, byte offset {at}"
    return None


def undecoded(blob: bytes, exc: BaseException) -> str:
    """Why a whole file or answer (``blob``) did not decode, for a person: where it
    first stops being UTF-8, else the decoder's own message (``exc``)."""
    where = not_utf8_at(blob)
    return str(exc) if where is None else f"not UTF-8 at {where}"


def _mended(text: bytes | str) -> bytes | str | None:
    """``text`` with what is not UTF-8 replaced (U+FFFD; ``?`` for a lone surrogate),
    or None when all of it is UTF-8."""
    try:
        if isinstance(text, bytes):
            text.decode("utf-8")
        else:
            text.encode("utf-8")
    except UnicodeError:
        if isinstance(text, bytes):
            return text.decode("utf-8", "replace")
        return text.encode("utf-8", "replace")
    return None
