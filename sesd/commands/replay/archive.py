"""Recorded events, read as a stream: memory does not depend on the input's size.

Inputs (listed by sesd.commands.replay.inputs): files, directories (recursive, in name
order; names starting with '.' left out), globs, ``s3://bucket/prefix``
(sesd.commands.replay.archive_s3: in key order), ``-`` (stdin); ``.gz`` files are
decompressed as they are read. In each, newline-delimited JSON, or JSON objects
written back to back with no delimiter (Kinesis Data Firehose's default), a JSON
array (of events, envelopes or SQS messages: read element by element), or an SQS
``receive-message`` output with ``Messages`` (indented, as the AWS CLI writes it: at
most ten messages, read whole). An object with a string ``Body`` is an SQS message
and its body is used.

A value larger than :data:`MAX_BODY` is not decoded: it is counted and
skipped, and the stream goes on. A file that cannot be read is reported, and
the others go on; one that stops short (a gzip cut short or damaged, a document
too large to read whole) keeps what was read before, and says where it stopped.
"""

from __future__ import annotations

import errno
import io
import os
import select
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import IO, Any, Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from sesd.commands.replay.archive_s3 import S3Reader, is_s3
from sesd.commands.replay.formats import (
    HEAD,
    Unread,
    archived,
    short_of_a_tar_header,
    unread,
)
from sesd.commands.replay.gunzip import Gunzip, GzipStop
from sesd.commands.replay.inputs import Source, Stop, describe, sources
from sesd.commands.replay.json_scan import skip_value
from sesd.commands.replay.json_stream import (
    BODY_OPENINGS,
    MAX_BODY,
    MAX_DOCUMENT,
    SEARCH_BACK_TO_BACK,
    TOO_LARGE,
    Chunks,
    DocumentTooLarge,
    Placed,
    array,
    back_to_back,
    concatenated,
    document,
    lines,
    pretty,
)

__all__ = ["bodies", "read_paths"]

#: How much is read at a time.
_CHUNK: Final = 1 << 20


def _open(source: Source, s3: S3Reader | None) -> IO[bytes] | Gunzip:
    if is_s3(source.name):
        assert s3 is not None
        raw: IO[bytes] = s3.open(source.name)
    elif source.name == "-":
        raw = _stdin()
    else:
        raw = open(source.name, "rb")  # noqa: SIM115
    head = raw.peek(HEAD)[:HEAD] if hasattr(raw, "peek") else b""
    # Told by its bytes before its name (no gzip starts as these): a ZIP named .gz is
    # named ZIP, with what to do, not "not gzip data".
    refused = unread(head)
    if refused is not None:
        if source.name != "-":
            raw.close()
        raise refused
    if source.name.endswith(".gz") or head[:2] == b"\x1f\x8b":
        return Gunzip(raw)
    return raw


def bodies(
    items: Iterable[Source],
    on_bytes: Callable[[int], None] = lambda n: None,
    *,
    s3: S3Reader | None = None,
    max_document: int = MAX_DOCUMENT,
) -> Iterator[bytes]:
    """Every message body of every input, in order. ``on_bytes`` hears how many (raw,
    compressed) bytes of input were read, for progress. A source that stops midway
    keeps what it yielded and records where it stopped (an indented document over
    ``max_document`` bytes stops it where that document starts)."""
    for source in items:
        try:
            handle = _open(source, s3)
        except (OSError, ClientError, BotoCoreError) as exc:
            source.errors.append(f"{source.name}: cannot read: {describe(exc)}")
            continue
        except Unread as exc:
            source.errors.append(f"{source.name}: {exc}")
            continue
        source.gzipped = isinstance(handle, Gunzip)
        chunks = Chunks(_chunks(handle, on_bytes))
        try:
            # A list of bodies a chunk: this loop resumes no generator a body (those
            # of json_stream.lines and _placed cost about 300 instructions a body).
            for batch in _batches(chunks, max_document):
                for at, body in batch:
                    source.values += 1
                    source.at = at
                    yield body
        except Unread as exc:  # a tar archive, told by its first chunk (decompressed)
            source.errors.append(f"{source.name}: {exc}")
        except DocumentTooLarge as exc:
            source.stopped = Stop("document_too_large", str(exc), exc.at)
        except GzipStop as exc:
            source.stopped = Stop(
                exc.reason, str(exc), chunks.read, _tell(handle), chunks.held, exc.read_to_end
            )
        except (OSError, ClientError, BotoCoreError) as exc:
            read = _tell(handle) if source.gzipped else None
            source.stopped = Stop("read_error", describe(exc), chunks.read, read, chunks.held)
        finally:
            if source.name != "-":
                handle.close()


def _stdin() -> IO[bytes]:
    """Standard input as bytes: read so that a Ctrl-C ends a wait for more when it is
    a descriptor (a pipe, a terminal, a file)."""
    if sys.stdin is None:
        # Started with descriptor 0 closed (`<&-`, a job runner): an input that cannot
        # be read, named as a file that cannot be is, while the others are replayed.
        raise OSError(errno.EBADF, "standard input is closed")
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError):  # replaced by an in-memory stream
        return sys.stdin.buffer
    return io.BufferedReader(_Interruptible(fd), buffer_size=_CHUNK)


#: How long a wait for more input goes without looking at signals (a Ctrl-C).
_SIGNAL_CHECK: Final = 0.2


class _Interruptible(io.RawIOBase):
    """Standard input, read so that a Ctrl-C always ends a wait for more of it.

    Python runs a signal's handler between bytecodes; a SIGINT that lands after
    that check and just before a blocking read(2) is not seen until the read
    returns, and a pipe left open may never give it more. Here the wait is
    select(2) with a short timeout, so signals are looked at in between.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: Any) -> int:
        while not select.select([self._fd], [], [], _SIGNAL_CHECK)[0]:
            pass  # back in Python: a pending Ctrl-C raises here
        return os.readv(self._fd, [buffer])


def _chunks(handle: IO[bytes] | Gunzip, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    # read1: what is there, up to a chunk (a pipe's writer need not fill a whole one).
    read = getattr(handle, "read1", handle.read)
    # A gzipped input's position is in its compressed bytes: those read count.
    position = _tell(handle)
    first = True
    while chunk := read(_CHUNK):
        if first:
            # A pipe's first read may be shorter than a tar header: read on until it
            # tells (the stream's end tells too).
            while short_of_a_tar_header(chunk) and (more := read(_CHUNK)):
                chunk += more
            if (refused := archived(chunk)) is not None:
                raise refused
        first = False
        now = _tell(handle)
        size = now - position if now >= 0 and position >= 0 else len(chunk)
        position = now
        yield chunk
        on_bytes(size)  # once its bodies were replayed


def _tell(raw: Any) -> int:
    try:
        return int(raw.tell())
    except (OSError, AttributeError, ValueError):
        return -1


_BOM: Final = b"\xef\xbb\xbf"


def _values(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The bodies in a byte stream, whichever of the accepted forms it is in."""
    for _, body in _placed(Chunks(chunks)):
        yield body


def _placed(chunks: Chunks, max_document: int = MAX_DOCUMENT) -> Iterator[Placed]:
    """The bodies in a byte stream, each with the offset of the value it was read from;
    an indented document is read whole, up to ``max_document`` bytes."""
    for batch in _batches(chunks, max_document):
        yield from batch


_T = TypeVar("_T")


def _one_each(values: Generator[Placed, None, _T]) -> Generator[list[Placed], None, _T]:
    """Each of ``values`` a batch of its own, as it is read; what ``values`` returns."""
    while True:
        try:
            value = next(values)
        except StopIteration as done:
            returned: _T = done.value
            return returned
        yield [value]


def _batches(chunks: Chunks, max_document: int) -> Iterator[list[Placed]]:
    """:func:`_placed`'s bodies, a list at a time: a chunk's lines' together, the rest
    one by one (``pending`` and ``data`` are always the last bytes read:
    :meth:`Chunks.at`)."""
    pending = b""
    threshold = _CHUNK  # a line longer than this is split before its end
    first = True
    while True:
        chunk = chunks.after(pending)
        ended = chunk is None
        if chunk is None:
            if not (first and pending.strip()):
                break
            # What followed an array, with no chunk after it: a stream's start too.
            chunk, pending = pending, b""
        data = pending + chunk
        if first:
            # A byte-order mark (some editors and Windows tools write one) is not text:
            # read as white space, so that what a stop drops still counts its bytes.
            data = b"   " + data[3:] if data.startswith(_BOM) else data
            stripped = data.lstrip()
            if not stripped or (not ended and _undecided(stripped)):
                # Blank so far, or too little to tell the form (a pipe's first read may
                # be a byte or two): wait for more.
                pending = data if stripped else b""
                continue
            first = False
            if stripped[:1] == b"[":
                # What follows the array (another appended, arrays a line each) is
                # read as a stream of its own.
                pending = yield from _one_each(array(stripped[1:], chunks))
                first = True
                continue
            if pretty(stripped):
                yield from _one_each(document(data, chunks, chunks.at(data), max_document))
                return
        # The chunk's lines, each with its newline: BytesIO finds them with memchr where
        # split(b"\n") compares byte by byte. With the copy a line's strip then makes,
        # about 2,400 fewer instructions a 600-byte line (1,700 against 4,100, counted
        # alone) and 180 ns against 430. The last, with no newline, is not whole yet.
        whole = io.BytesIO(data).readlines()
        pending = b"" if data[-1:] == b"\n" else whole.pop()
        # Objects back to back (Firehose's) looked for once in the chunk's whole lines,
        # not line by line (json_stream.back_to_back says what that saves).
        apart = back_to_back(data, len(data) - len(pending))
        yield _line_bodies(whole, chunks.at(data), apart=apart)
        if len(pending) > threshold:
            if b"}{" in pending:
                # Firehose's objects back to back, all on one line: those complete so
                # far; the one still being read stays pending, and is looked at
                # again once a chunk more has come.
                pending = yield from _one_each(
                    concatenated(pending, more=True, at=chunks.at(pending))
                )
            threshold = len(pending) + _CHUNK
            if len(pending) > MAX_BODY:
                # One value larger than any event, with more to come: skip it.
                yield [(chunks.at(pending.lstrip()), TOO_LARGE)]
                pending = skip_value(pending, chunks)
                threshold = _CHUNK
    if pending.strip():
        yield list(lines([pending], chunks.at(pending)))


def _line_bodies(whole: list[bytes], at: int, *, apart: bool) -> list[Placed]:
    """The bodies of a chunk's whole lines, each with its newline, the first at offset
    ``at`` (json_stream.lines's, in a list). An event a line, as archives hold nine
    lines in ten, is tested here with fewer steps (about 1,000 instructions a line less
    than lines's): it opens as a body with no white space before it, holds no ``}{``
    (``apart`` False: none of the lines does) and is no larger than a body."""
    bodies: list[Placed] = []
    for raw in whole:
        if (
            raw.startswith(BODY_OPENINGS)
            and len(raw) <= MAX_BODY
            and (not apart or SEARCH_BACK_TO_BACK(raw) is None)
        ):
            bodies.append((at, raw.strip()))
        else:
            bodies.extend(lines([raw], at, apart=apart))  # its newline is white space
        at += len(raw)
    return bodies


def _undecided(start: bytes) -> bool:
    """Whether the first bytes of a stream are too few to tell its form: part of a
    byte-order mark, or a ``{`` whose line has not ended (alone on its line it opens
    an indented document; followed on its line, events)."""
    if _BOM.startswith(start):
        return True
    return b"\n" not in start and start.rstrip() == b"{"


def read_paths(paths: Iterable[str]) -> Iterator[bytes]:
    """Every body in ``paths`` (problems are ignored: for tests and simple callers).
    The inputs are listed at once; their bodies are read as they are asked for."""
    found, _ = sources(paths)
    return bodies(found)
