"""A gzip input decompressed as it is read, saying why it stopped short.

Replay reads its own gzip rather than Python's ``gzip.GzipFile`` for what that
reader cannot give: why a stream stopped, told by the error's type (the data is
not gzip, a check failed at a stream's end, a deflate block is damaged, the
data ended first), where gzip's words in a message are all that tells them
apart; and what decompressed before a damaged block, which that reader loses
with the whole read that holds it. Streams written one after another (``cat
a.gz b.gz``) are read as one, and zeros after a stream are padding, as gzip(1)
reads them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import IO, ClassVar, Final

__all__ = ["CheckFailed", "CutShort", "Damaged", "Gunzip", "GzipStop", "NotGzip"]

#: How much of the compressed input is read at a time.
_READ: Final = 8 << 10
_MAGIC: Final = b"\x1f\x8b"
_DEFLATE: Final = 8
#: A header's flags: a CRC-16 of the header, an extra field, a name, a comment.
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 2, 4, 8, 16


class GzipStop(Exception):
    """Why a gzip input cannot be read on: ``reason``, a word, as replay's ``stopped``
    names it; the message says what was found. ``read_to_end``: every byte of the input
    was read first."""

    reason: ClassVar[str]
    read_to_end = False


class NotGzip(GzipStop):
    """Bytes where a gzip stream should start (the input's first, or those after a
    stream) are not one."""

    reason = "not_gzip"


class CheckFailed(GzipStop):
    """A stream's trailer does not match the data decompressed (its CRC-32 or its
    length): every byte of that stream was read first, and of the input when it was
    the last stream (``read_to_end``)."""

    reason = "check_failed"

    def __init__(self, message: str, *, read_to_end: bool) -> None:
        super().__init__(message)
        self.read_to_end = read_to_end


class Damaged(GzipStop):
    """The compressed data cannot be decompressed (a bad deflate block, a header that
    names no known compression)."""

    reason = "damaged"


class CutShort(GzipStop):
    """The input ended inside a gzip stream."""

    reason = "cut_short"

    def __init__(self) -> None:
        super().__init__("the compressed data ended before its gzip stream did")


class Gunzip:
    """The decompressed data of ``raw``, a gzip input, read by :meth:`read1`;
    ``compressed``, how many bytes of ``raw`` were read so far (also where ``raw``
    cannot tell: a pipe, an S3 object)."""

    # The CRC-32 and length of the stream being read: set as each stream starts.
    _crc: int
    _size: int

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        # read1: what is there (a pipe's writer need not fill a whole read).
        self._read: Callable[[int], bytes] = getattr(raw, "read1", raw.read)
        self.compressed = 0
        self._input = b""  # read, not decompressed yet
        self._inflate: zlib._Decompress | None = None  # None: between streams
        self._after_stream = False  # zeros after one are padding; before the first, not gzip
        self._failed: Damaged | None = None

    def read1(self, size: int) -> bytes:
        """Up to ``size`` bytes of data (b"": the input ended where a stream did). What
        decompressed before damage is returned first; the read after it raises."""
        while True:
            if self._failed is not None:
                raise self._failed
            inflate = self._inflate or self._start()
            if inflate is None:
                return b""
            if inflate.eof:
                self._check()
                continue
            if not self._input and not self._more():
                raise CutShort
            if data := self._decompress(inflate, size):
                return data

    read = read1  # no read of it all at once: memory stays bounded

    def tell(self) -> int:
        """How many bytes of the compressed input were read."""
        return self.compressed

    def close(self) -> None:
        self._raw.close()

    def _more(self) -> bool:
        chunk = self._read(_READ)
        self.compressed += len(chunk)
        self._input += chunk
        return bool(chunk)

    def _start(self) -> zlib._Decompress | None:
        """Read the next stream's header; its decompressor (None: the input ended
        before one)."""
        if self._after_stream:
            if not self._goes_on():
                return None
        elif not self._input and not self._more():
            return None
        while (length := _header(self._input)) is None:
            if not self._more():
                raise CutShort
        self._input = self._input[length:]
        self._inflate = inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        self._crc = self._size = 0
        self._after_stream = True
        return inflate

    def _decompress(self, inflate: zlib._Decompress, size: int) -> bytes:
        # zlib gives nothing of a call that fails: a copy taken before it gives what
        # decompressed before the damage (a copy costs little next to a call's work).
        before = inflate.copy()
        try:
            data = inflate.decompress(self._input, size)
        except zlib.error as exc:
            self._failed = Damaged(str(exc))
            data = _before_damage(before, self._input)
            self._input = b""
        else:
            self._input = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        return data

    def _check(self) -> None:
        """Check the trailer of the stream just decompressed."""
        while len(self._input) < 8:
            if not self._more():
                raise CutShort
        crc, length = struct.unpack("<II", self._input[:8])
        self._input = self._input[8:]
        self._inflate = None
        if crc != self._crc:
            found = f"the CRC-32 is {self._crc:#010x}, its trailer says {crc:#010x}"
        elif length != self._size & 0xFFFFFFFF:
            found = f"the length is {self._size} bytes, its trailer says {length}"
        else:
            return
        raise CheckFailed(found, read_to_end=not self._goes_on())

    def _goes_on(self) -> bool:
        """Whether more than padding (zeros) follows the stream just read, read on
        until that tells; the padding is dropped."""
        while not (rest := self._input.lstrip(b"\0")):
            self._input = b""
            if not self._more():
                return False
        self._input = rest
        return True


def _header(data: bytes) -> int | None:
    """The length of the gzip header ``data`` opens with (None: more is needed to
    tell), or why it is not one."""
    if data[:2] != _MAGIC[: len(data)]:
        raise NotGzip(f"{data[:2]!r} where a gzip header should start")
    if len(data) < 10:
        return None
    if data[2] != _DEFLATE:
        raise Damaged(f"a gzip header names compression method {data[2]}, not deflate")
    flags, at = data[3], 10
    if flags & _FEXTRA:
        if len(data) < at + 2:
            return None
        at += 2 + int.from_bytes(data[at : at + 2], "little")
    for flag in (_FNAME, _FCOMMENT):
        if flags & flag:
            end = data.find(b"\0", at)
            if end < 0:
                return None
            at = end + 1
    if flags & _FHCRC:
        at += 2
    return at if len(data) >= at else None


def _before_damage(inflate: zlib._Decompress, data: bytes) -> bytes:
    """What ``inflate`` decompresses of ``data`` before the byte it fails at: fed a
    byte at a time, what each byte gave is kept until one fails (once an input, so
    the calls' cost does not matter). Less than the failed call's ``max_length``:
    had that much come out, the call would have stopped there, short of the damage."""
    kept = []
    for at in range(len(data)):
        try:
            kept.append(inflate.decompress(data[at : at + 1]))
        except zlib.error:
            break
    return b"".join(kept)
