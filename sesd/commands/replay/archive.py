"""Recorded events, read as a stream: memory does not depend on the input's size.

Inputs: files, directories (recursive, in name order), globs, ``s3://bucket/prefix``
(sesd.archive_s3: objects in key order) and ``-`` (stdin);
``.gz`` files are decompressed as they are read. In each, newline-delimited
JSON, or JSON objects written back to back with no delimiter (Kinesis Data
Firehose's default), a JSON array (of events, envelopes or SQS messages: read
element by element), or an SQS ``receive-message`` output with ``Messages``
(indented, as the AWS CLI writes it: at most ten messages, read whole). An
object with a string ``Body`` is an SQS message and its body is used.

A value larger than :data:`MAX_BODY` is not decoded: it is counted and
skipped, and the stream goes on. A file that cannot be read is reported, and
the others go on.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final

import msgspec
from botocore.exceptions import BotoCoreError, ClientError

from sesd.commands.replay.archive_s3 import S3Reader, is_s3

__all__ = ["MAX_BODY", "TOO_LARGE", "Source", "bodies", "read_paths", "sources"]

#: The largest body decoded (SES event bodies are well under 256 KB, SQS's limit).
MAX_BODY: Final = 1 << 20
#: What a body too large to decode is replaced by (the pipeline counts it invalid).
TOO_LARGE: Final = b"\x00too large"
#: How much is read at a time.
_CHUNK: Final = 1 << 20
#: A top-level array or pretty-printed document is read whole, up to this size.
MAX_DOCUMENT: Final = 256 << 20

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.encode


@dataclass(slots=True)
class Source:
    """One input: a path (``-`` for stdin), its size when known, and what went wrong."""

    name: str
    size: int | None = None
    errors: list[str] = field(default_factory=list)


def sources(paths: Iterable[str], s3: S3Reader | None = None) -> tuple[list[Source], list[str]]:
    """The inputs ``paths`` name (directories walked in name order, globs expanded,
    ``s3://`` prefixes listed in key order), and a line for each that names nothing
    readable."""
    found: list[Source] = []
    problems: list[str] = []
    for path in paths:
        if path == "-":
            found.append(Source("-"))
            continue
        if is_s3(path):
            if s3 is None:
                problems.append(f"{path}: S3 inputs need an S3 reader")
                continue
            try:
                listed = s3.objects(path)
            except (ClientError, BotoCoreError, OSError) as exc:
                problems.append(f"{path}: cannot list: {_describe(exc)}")
                continue
            if not listed:
                problems.append(f"{path}: no objects under this prefix")
            found.extend(Source(name, size) for name, size in listed)
            continue
        matches = sorted(glob.glob(path, recursive=True)) if glob.has_magic(path) else [path]
        if not matches:
            problems.append(f"{path}: no such file or directory")
        for match in matches:
            if os.path.isdir(match):
                for root, dirs, files in os.walk(match):
                    dirs.sort()
                    found.extend(_source(os.path.join(root, name)) for name in sorted(files))
            elif os.path.exists(match):
                found.append(_source(match))
            else:
                problems.append(f"{match}: no such file or directory")
    return found, problems


def _source(path: str) -> Source:
    try:
        return Source(path, os.path.getsize(path))
    except OSError:
        return Source(path)


def _open(source: Source, s3: S3Reader | None) -> IO[bytes]:
    if is_s3(source.name):
        assert s3 is not None
        raw: IO[bytes] = s3.open(source.name)
    elif source.name == "-":
        raw = sys.stdin.buffer
    else:
        raw = open(source.name, "rb")  # noqa: SIM115
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if source.name.endswith(".gz") or head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def bodies(
    items: Iterable[Source],
    on_bytes: Callable[[int], None] = lambda n: None,
    *,
    s3: S3Reader | None = None,
) -> Iterator[bytes]:
    """Every message body of every input, in order. ``on_bytes`` hears how many (raw,
    compressed) bytes of input were read, for progress. A source that fails midway
    keeps what it yielded and records the error."""
    for source in items:
        try:
            handle = _open(source, s3)
        except (OSError, ClientError, BotoCoreError) as exc:
            source.errors.append(f"{source.name}: cannot read: {_describe(exc)}")
            continue
        raw = getattr(handle, "fileobj", handle)
        try:
            yield from _values(_chunks(handle, raw, on_bytes))
        except (OSError, EOFError, gzip.BadGzipFile, ClientError, BotoCoreError) as exc:
            source.errors.append(f"{source.name}: stopped reading: {_describe(exc)}")
        finally:
            if source.name != "-":
                handle.close()
                if raw is not handle:
                    raw.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", type(exc).__name__))
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _chunks(handle: IO[bytes], raw: Any, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    # read1: what is there, up to a chunk (a pipe's writer need not fill a whole one).
    read = getattr(handle, "read1", handle.read)
    position = _tell(raw)
    while chunk := read(_CHUNK):
        now = _tell(raw)
        size = now - position if now >= 0 and position >= 0 else len(chunk)
        position = now
        yield chunk
        on_bytes(size)  # once its bodies were replayed


def _tell(raw: Any) -> int:
    try:
        return int(raw.tell())
    except (OSError, AttributeError, ValueError):
        return -1


def _values(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The bodies in a byte stream, whichever of the accepted forms it is in."""
    pending = b""
    threshold = _CHUNK  # a line longer than this is split before its end
    first = True
    for chunk in chunks:
        data = pending + chunk
        if first:
            stripped = data.lstrip()
            if not stripped:
                pending = b""
                continue
            first = False
            if stripped[:1] == b"[":
                yield from _array(stripped[1:], chunks)
                return
            if _pretty(stripped):
                yield from _document(data, chunks)
                return
        lines = data.split(b"\n")
        pending = lines.pop()
        yield from _lines(lines)
        if len(pending) > threshold:
            if b"}{" in pending:
                # Firehose's objects back to back, all on one line: those complete so
                # far; the one still being read stays pending, and is looked at
                # again once a chunk more has come.
                pending = yield from _concatenated(pending)
            threshold = len(pending) + _CHUNK
            if len(pending) > MAX_BODY:
                # One value larger than any event, with more to come: skip it.
                yield TOO_LARGE
                pending = _skip_value(pending, chunks)
                threshold = _CHUNK
    if pending.strip():
        yield from _lines([pending])


def _pretty(data: bytes) -> bool:
    """Whether a stream opening with ``{`` is one indented document (an SQS dump from
    the AWS CLI) rather than events a line each."""
    line = data.split(b"\n", 1)[0].strip()
    return line == b"{"


def _skip_value(buffer: bytes, chunks: Iterator[bytes]) -> bytes:
    """Read past one value too large to keep, which ``buffer`` begins, holding a chunk
    at a time. An object or array ends at its closing bracket (the next of objects
    written back to back follows it); anything else at the end of its line. Returns
    what follows the value."""
    scanner = _Scanner()
    depth = 0
    while True:
        line_end = buffer.find(b"\n")
        for char, position in scanner.marks(buffer, 0, len(buffer) if line_end < 0 else line_end):
            if char in b"[{":
                depth += 1
            elif char in b"]}" and depth > 0:
                depth -= 1
                if depth == 0:
                    return buffer[position + 1 :]
        if line_end >= 0:
            return buffer[line_end + 1 :]
        scanner.moved(len(buffer))
        buffer = next(chunks, b"")
        if not buffer:
            return b""


def _lines(lines: list[bytes]) -> Iterator[bytes]:
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if len(line) > MAX_BODY and b"}{" not in line:
            yield TOO_LARGE
            continue
        try:
            value = _decode(line)
        except msgspec.DecodeError:
            if b"}{" not in line:
                yield line  # not JSON: the pipeline counts it invalid
                continue
            rest = yield from _concatenated(line)
            if rest:
                yield from _element(rest)  # the line ends inside an object: invalid
            continue
        yield from _bodies_of(line, value)


def _concatenated(line: bytes) -> Generator[bytes, None, bytes]:
    """Objects written back to back (Firehose with no delimiter): each ends at a ``}{``,
    unless that ``}{`` is inside one of its strings. Returns the start of an object
    not read to its end yet, or nothing.

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
            except msgspec.DecodeError:
                pass
            else:
                yield from _bodies_of(candidate, value)
                start = end
                continue
        end = _object_end(line, start)
        if end < 0:
            return line[start:]
        yield from _element(line[start:end])
        start = end
    return b""


def _object_end(data: bytes, start: int) -> int:
    """Where the object that begins at ``start`` ends (after its closing brace), or -1
    when ``data`` ends first."""
    depth = 0
    for char, position in _Scanner().marks(data, start):
        if char in b"[{":
            depth += 1
        elif char in b"]}" and depth > 0:
            depth -= 1
            if depth == 0:
                return position + 1
    return -1


#: What a scan of JSON text looks at: quotes and backslashes (for strings), brackets,
#: braces and commas.
_TOKEN: Final = re.compile(rb'["\\\[\]{},]')


class _Scanner:
    """Where a scan of JSON text stands, across chunk ends: inside a string or not, and
    the position of a byte a backslash escapes. Each byte is looked at once."""

    __slots__ = ("escaped_at", "in_string")

    def __init__(self) -> None:
        self.in_string = False
        self.escaped_at = -1

    def marks(self, buffer: bytes, at: int, end: int | None = None) -> Iterator[tuple[int, int]]:
        """(byte, position) of each bracket, brace or comma outside strings in
        ``buffer[at:end]``."""
        for found in _TOKEN.finditer(buffer, at, len(buffer) if end is None else end):
            position = found.start()
            char = buffer[position]
            if self.in_string:
                if position == self.escaped_at:
                    continue
                if char == 0x5C:  # a backslash: the next byte is escaped
                    self.escaped_at = position + 1
                elif char == 0x22:
                    self.in_string = False
            elif char == 0x22:
                self.in_string = True
            else:
                yield char, position

    def moved(self, by: int) -> None:
        """The buffer lost its first ``by`` bytes: positions move back."""
        self.escaped_at -= by


def _array(data: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The elements of a top-level JSON array, as they are read (``data`` follows its
    ``[``): each element between commas at depth 0."""
    scanner = _Scanner()
    buffer, start, at, depth = data, 0, 0, 0
    more = iter(chunks)
    while True:
        for char, position in scanner.marks(buffer, at):
            if char in b"[{":
                depth += 1
            elif char in b"]}":
                if depth == 0:  # the array's own end
                    yield from _element(buffer[start:position])
                    return
                depth -= 1
            elif depth == 0:  # a comma between elements
                yield from _element(buffer[start:position])
                start = position + 1
        at = len(buffer)
        chunk = next(more, b"")
        if not chunk:
            element = buffer[start:].strip()
            if element:
                yield element  # the array was never closed: invalid
            return
        if at - start > MAX_BODY:
            # One element larger than any event: skip it (count it once).
            yield TOO_LARGE
            scanner.moved(at)
            buffer = _skip_element(chunk, more, depth, scanner)
            scanner, start, at, depth = _Scanner(), 0, 0, 0
            continue
        scanner.moved(start)
        buffer, at, start = buffer[start:] + chunk, at - start, 0


def _skip_element(buffer: bytes, more: Iterator[bytes], depth: int, scanner: _Scanner) -> bytes:
    """Read past the rest of an element too large to keep (``depth`` deep in it, where
    ``scanner`` left it), holding a chunk at a time. Returns what follows the element:
    after its comma, or from the array's closing bracket."""
    while True:
        for char, position in scanner.marks(buffer, 0):
            if char in b"[{":
                depth += 1
            elif char in b"]}":
                if depth == 0:
                    return buffer[position:]  # the array's end: its reader sees it
                depth -= 1
            elif depth == 0:
                return buffer[position + 1 :]
        scanner.moved(len(buffer))
        buffer = next(more, b"")
        if not buffer:
            return b""


def _element(raw: bytes) -> Iterator[bytes]:
    raw = raw.strip()
    if not raw:
        return
    if len(raw) > MAX_BODY:
        yield TOO_LARGE
        return
    try:
        value = _decode(raw)
    except msgspec.DecodeError:
        yield raw  # the pipeline counts it invalid
        return
    yield from _bodies_of(raw, value)


def _document(data: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """One indented document (an SQS dump, at most ten messages): read whole, up to
    MAX_DOCUMENT."""
    parts = [data]
    size = len(data)
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_DOCUMENT:
            raise OSError(
                f"one JSON document larger than {MAX_DOCUMENT >> 20} MiB: write the events "
                "a line each (newline-delimited JSON) to replay it"
            )
        parts.append(chunk)
    whole = b"".join(parts)
    try:
        document = _decode(whole)
    except msgspec.DecodeError:
        yield from _lines(whole.split(b"\n"))
        return
    yield from _bodies_of(whole, document)


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
    if isinstance(item, dict) and isinstance(item.get("Body"), str):
        body = item["Body"].encode()
    elif isinstance(item, str):
        body = item.encode()
    else:
        body = raw if raw is not None else _encode(item)
    yield TOO_LARGE if len(body) > MAX_BODY else body


def read_paths(paths: Iterable[str]) -> Iterator[bytes]:
    """Every body in ``paths`` (problems are ignored: for tests and simple callers)."""
    found, _ = sources(paths)
    yield from bodies(found)
