"""JSON values in a byte stream, as replay finds them: lines, objects written back to
back (Firehose), a top-level array read element by element, one indented
document; each value's bodies (an SQS message's ``Body``, an array's
elements), each with the byte offset in the stream where its value starts (a
value that will not decode is found there with ``tail -c`` or ``dd``). A
value larger than :data:`MAX_BODY` is skipped and counted, never held whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterable, Iterator
from typing import Any, Final

import msgspec

from sesd.commands.replay.json_scan import Scanner, object_end, skip_element

__all__ = [
    "BODY_OPENINGS",
    "MAX_BODY",
    "MAX_DOCUMENT",
    "SEARCH_BACK_TO_BACK",
    "TOO_LARGE",
    "Chunks",
    "DocumentTooLarge",
    "Placed",
    "array",
    "back_to_back",
    "concatenated",
    "document",
    "lines",
    "pretty",
]

#: The largest body decoded (SES event bodies are well under 256 KB, SQS's limit).
MAX_BODY: Final = 1 << 20
#: What a body too large to decode is replaced by (the pipeline counts it invalid).
TOO_LARGE: Final = b"\x00too large"
#: An indented document (an SQS dump) is read whole, up to this size.
MAX_DOCUMENT: Final = 256 << 20

_decode = msgspec.json.Decoder().decode
#: Where ``}{`` (one object ending, the next beginning: Firehose's objects back to
#: back) is in a value, as ``in`` would find it: the regular expression's search is
#: about a quarter of the time of ``b"}{" in line`` on an SES event's line: about
#: as many instructions (``in``'s were 4,600 of the replay benchmark's 154,000 an
#: event, under cachegrind), but ``in`` branches on each pair of bytes it compares.
_BACK_TO_BACK: Final = re.compile(rb"\}\{").search
#: The same search, for a reader that tests lines itself.
SEARCH_BACK_TO_BACK: Final = _BACK_TO_BACK


def back_to_back(data: bytes, end: int) -> bool:
    """Whether ``}{`` is anywhere in ``data[:end]``: lines split from it that open as
    event bodies are then each searched for it (:func:`lines`' ``apart``); else none
    holds one. A line cannot hide one from this search (a newline splits no ``}{``).
    One search of a chunk's lines instead of one a line (a search's own cost paid once,
    not a line at a time): 800 fewer instructions an event of the replay benchmark's
    155,000 (cachegrind), and a quarter of the searches' CPU time (600-byte lines)."""
    return _BACK_TO_BACK(data, 0, end) is not None


#: What reading a value raises when it cannot: msgspec 0.22 raises UnicodeDecodeError
#: for text that is not UTF-8 (0.23 DecodeError), any release RecursionError for
#: nesting too deep. The value is passed on as it is; the pipeline says why it is invalid.
_UNREADABLE: Final = (msgspec.DecodeError, UnicodeError, RecursionError)
_encode = msgspec.json.encode
#: How a line opens when it is an event body itself (SES's event JSON, an SNS
#: notification), as archives hold nine lines in ten: passed on as it is, without a
#: decode here to find its shape (the pipeline decodes and checks it anyway).
BODY_OPENINGS: Final = (b'{"eventType"', b'{"Type"')

#: A body, and the byte offset in the stream of the value it was read from.
Placed = tuple[int, bytes]


class Chunks:
    """A stream's chunks, with how many bytes they held so far: a buffer that ends
    where the stream read so far ends starts at :meth:`at`. ``held``: how many bytes
    read are not a whole value yet, while the reader waits for more (None: not known)."""

    __slots__ = ("_chunks", "held", "read")

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.read = 0
        self.held: int | None = None

    def __iter__(self) -> Chunks:
        return self

    def __next__(self) -> bytes:
        chunk = next(self._chunks)
        self.read += len(chunk)
        return chunk

    def after(self, pending: bytes) -> bytes | None:
        """The next chunk (None at the end), read with ``pending`` (the last bytes read)
        not a whole value yet: a read that fails drops them, and ``held`` says how many."""
        return self.holding(0 if pending.isspace() else len(pending))  # isspace: no copy

    def holding(self, held: int) -> bytes | None:
        """The next chunk (None at the end), read with the last ``held`` bytes read not
        a whole value yet."""
        self.held = held
        chunk = next(self, None)
        self.held = None
        return chunk

    def at(self, tail: bytes) -> int:
        """The offset of ``tail``'s first byte, ``tail`` being the last bytes read."""
        return self.read - len(tail)


def _placed(at: int, found: Iterable[bytes]) -> Iterator[Placed]:
    for body in found:
        yield at, body


def _leading(raw: bytes) -> int:
    """How many bytes of white space ``raw`` opens with."""
    return len(raw) - len(raw.lstrip())


def pretty(data: bytes) -> bool:
    """Whether a stream opening with ``{`` is one indented document (an SQS dump from
    the AWS CLI) rather than events a line each."""
    line = data.split(b"\n", 1)[0].strip()
    return line == b"{"


def lines(lines: list[bytes], at: int = 0, *, apart: bool = True) -> Iterator[Placed]:
    """The bodies of consecutive lines (split at their newlines) that begin at ``at``.
    ``apart`` False: none of the lines holds ``}{`` (:func:`back_to_back` found none),
    so no line is searched for objects back to back."""
    for raw in lines:
        # A line that opens as a value (an event a line, as written) has no white
        # space to measure.
        start = at if raw[:1] == b"{" else at + _leading(raw)
        at += len(raw) + 1
        line = raw.strip()
        if not line:
            continue
        if (
            line.startswith(BODY_OPENINGS)
            and len(line) <= MAX_BODY
            and (not apart or _BACK_TO_BACK(line) is None)
        ):
            yield start, line
            continue
        if len(line) > MAX_BODY and b"}{" not in line:
            yield start, TOO_LARGE
            continue
        try:
            value = _decode(line)
        except _UNREADABLE:
            if b"}{" not in line:
                yield from _placed(start, _unreadable(line))
                continue
            rest = yield from concatenated(line, at=start)
            if rest:  # the line ends inside an object: invalid
                yield from _element(rest, start + len(line) - len(rest))
            continue
        yield from _placed(start, _bodies_of(line, value))


def concatenated(line: bytes, *, more: bool = False, at: int = 0) -> Generator[Placed, None, bytes]:
    """Objects written back to back (Firehose with no delimiter): each ends at a ``}{``,
    unless that ``}{`` is inside one of its strings. Returns the start of an object
    not read to its end yet, or nothing. With ``more`` (the stream goes on after
    ``line``), an object ``line`` ends inside is that object, to be read on with the
    next chunk, not one cut short. ``line`` begins at offset ``at``.

    The cheap way first: the text up to the next ``}{`` decodes, so it is a whole
    object (cut inside a string, it would end inside that string; inside a nested
    object, its braces would not balance). When it does not, a scan that knows
    strings finds where the object ends, once, in linear time."""
    start = 0
    while start < len(line):
        cut = line.find(b"}{", start)
        end = len(line) if cut < 0 else cut + 1
        if end - start <= MAX_BODY:
            candidate = line[start:end]
            try:
                value = _decode(candidate)
            except _UNREADABLE:
                pass
            else:
                yield from _placed(at + start, _bodies_of(candidate, value))
                start = end
                continue
        end = object_end(line, start)
        if end < 0 and more and len(line) - start <= MAX_BODY:
            # Still being read: an opening further on may be one nested in it (an
            # EventBridge record's ``detail`` opens as an SES event does).
            return line[start:]
        if end < 0:
            # Never closed (a record cut short): what lies before the next record's
            # opening is one invalid value, and the records after it are read as before
            # (not lost with it). The scan is not stopped at MAX_BODY: a record too
            # large but closed ends where it ends, not at an opening nested in it.
            resync = _next_record(line, start + 1)
            if resync < 0:
                return line[start:]
            yield from _element(line[start:resync], at + start)
            start = resync
            continue
        yield from _element(line[start:end], at + start)
        start = end
    return b""


#: How a record opens, at the top of objects written back to back: an SES event, an
#: SNS notification, an EventBridge event. Inside a string a quote is escaped, so one
#: of these found in the text is where a record (or an object in one) starts.
_RECORD_OPENINGS: Final = (*BODY_OPENINGS, b'{"version"', b'{"notificationType"')


def _next_record(data: bytes, at: int) -> int:
    """Where the next record opens after ``at`` (-1: none)."""
    found = [p for p in (data.find(opening, at) for opening in _RECORD_OPENINGS) if p >= 0]
    return min(found, default=-1)


def array(data: bytes, chunks: Chunks) -> Generator[Placed, None, bytes]:
    """The elements of a top-level JSON array, as they are read (``data``, the last
    bytes read, follows its ``[``): each element between commas at depth 0. Returns
    what follows the array in the chunk it ends in (another array appended, more
    lines), the rest of ``chunks`` unread."""
    scanner = Scanner()
    buffer, start, at, depth = data, 0, 0, 0
    while True:
        base = chunks.at(buffer)
        for char, position in scanner.marks(buffer, at):
            if char in b"[{":
                depth += 1
            elif char in b"]}":
                if depth == 0:  # the array's own end
                    yield from _element(buffer[start:position], base + start)
                    return buffer[position + 1 :]
                depth -= 1
            elif depth == 0:  # a comma between elements
                yield from _element(buffer[start:position], base + start)
                start = position + 1
        at = len(buffer)
        element = buffer[start:]  # not a whole value yet
        chunk = chunks.after(element)
        if not chunk:
            if element.strip():  # the array was never closed: invalid
                yield base + start + _leading(element), element.strip()
            return b""
        if at - start > MAX_BODY:
            # One element larger than any event: skip it (count it once).
            yield base + start + _leading(buffer[start:]), TOO_LARGE
            scanner.moved(at)
            buffer = skip_element(chunk, chunks, depth, scanner)
            scanner, start, at, depth = Scanner(), 0, 0, 0
            continue
        scanner.moved(start)
        buffer, at, start = element + chunk, at - start, 0


def _element(raw: bytes, at: int) -> Iterator[Placed]:
    """The bodies of one value, ``raw`` (which begins at offset ``at``)."""
    at += _leading(raw)
    raw = raw.strip()
    if not raw:
        return
    if len(raw) > MAX_BODY:
        yield at, TOO_LARGE
        return
    try:
        value = _decode(raw)
    except _UNREADABLE:
        yield from _placed(at, _unreadable(raw))
        return
    yield from _placed(at, _bodies_of(raw, value))


def _unreadable(raw: bytes) -> Iterator[bytes]:
    """A value that did not decode. When it is JSON but for bytes not in UTF-8 (a file
    edited in Latin-1), its bodies go on one by one, each with its own bytes (kept as
    surrogate escapes while read): only a body holding such bytes is refused
    (``not_utf8``), not an SQS dump's other messages with it. Else the value as it is,
    which the pipeline counts invalid."""
    try:
        value = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        yield raw
        return
    yield from _bodies_of(raw, value)


class DocumentTooLarge(Exception):
    """An indented document larger than the bound: reading its input stops there (it
    cannot be read whole, nor told into values without decoding it). ``at`` is the
    offset where it starts."""

    def __init__(self, at: int, limit: int) -> None:
        size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"
        super().__init__(
            f"one JSON document larger than {size} starts there: write the events a line "
            "each (newline-delimited JSON) to replay it"
        )
        self.at = at


def document(
    data: bytes, chunks: Chunks, at: int = 0, limit: int = MAX_DOCUMENT
) -> Generator[Placed, None, None]:
    """One indented document (an SQS dump, at most ten messages), ``data`` at offset
    ``at`` then ``chunks``: read whole, up to ``limit`` bytes (else
    :class:`DocumentTooLarge`)."""
    parts = [data]
    size = len(data)
    # Nothing of it is a value until all of it is read: a read that fails drops it all.
    while size <= limit and (chunk := chunks.holding(size)) is not None:
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        raise DocumentTooLarge(at + _leading(data), limit)
    whole = b"".join(parts)
    try:
        document = _decode(whole)
    except _UNREADABLE:
        yield from _documents(whole, at)
        return
    yield from _placed(at + _leading(whole), _bodies_of(whole, document))


def _documents(whole: bytes, at: int) -> Iterator[Placed]:
    """Several indented documents one after another (two SQS dumps appended, ``jq .``
    output), from offset ``at``: each read whole; from a value that does not end, the
    rest a line each."""
    start = _after_space(whole, 0)
    while start < len(whole):
        end = object_end(whole, start) if whole[start] in b"{[" else -1
        if end < 0:
            yield from lines(whole[start:].split(b"\n"), at + start)
            return
        raw = whole[start:end]
        try:
            value = _decode(raw)
        except _UNREADABLE:
            yield from _placed(at + start, _unreadable(raw))
        else:
            yield from _placed(at + start, _bodies_of(raw, value))
        start = _after_space(whole, end)


_SPACE: Final = re.compile(rb"\s*")


def _after_space(data: bytes, at: int) -> int:
    """The position of the first byte at or after ``at`` that is not white space."""
    found = _SPACE.match(data, at)
    return at if found is None else found.end()


def _bodies_of(raw: bytes | None, item: Any) -> Iterator[bytes]:
    """The bodies in one decoded value: an array of them, an SQS dump's ``Messages``, an
    SQS message's ``Body``, a string, or the value itself (``raw``, when given)."""
    if isinstance(item, list):
        for element in item:
            yield from _bodies_of(None, element)
        return
    if isinstance(item, dict) and isinstance(item.get("Messages"), list):
        for element in item["Messages"]:
            yield from _bodies_of(None, element)
        return
    # A body read from text not all UTF-8 gets its own bytes back (:func:`_unreadable`).
    if isinstance(item, dict) and isinstance(item.get("Body"), str):
        body = item["Body"].encode("utf-8", "surrogateescape")
    elif isinstance(item, str):
        body = item.encode("utf-8", "surrogateescape")
    elif raw is not None:
        body = raw
    else:
        try:
            body = _encode(item)
        except UnicodeEncodeError:
            body = json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogateescape")
    yield TOO_LARGE if len(body) > MAX_BODY else body
