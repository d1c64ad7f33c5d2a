"""Replay's gzip reader takes the compressed input as it comes: a pipe's writer may
hand over a byte at a time, splitting a header, a trailer or the gap between two
streams anywhere, and what is there is decompressed before the rest comes."""

from __future__ import annotations

import gzip
import io
import random
import struct
import zlib
from typing import IO, cast

import pytest

from sesd.commands.replay.gunzip import CheckFailed, Gunzip, NotGzip

#: A header's optional fields, by flag: an extra field (long enough that its length
#: takes both bytes), a name, a comment and a header CRC (gzip(1) does not check the
#: CRC; neither does Python's gzip).
FIELDS = {4: b"\x04\x01" + bytes(260), 8: b"name\0", 16: b"note\0", 2: b"hc"}


def _stream(data: bytes, flags: int = 30) -> bytes:
    """``data`` as a gzip stream whose header has the optional fields ``flags`` names."""
    header = b"\x1f\x8b\x08" + bytes([flags]) + bytes(6)
    header += b"".join(field for flag, field in FIELDS.items() if flags & flag)
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = packer.compress(data) + packer.flush()
    return header + body + struct.pack("<II", zlib.crc32(data), len(data))


class _Trickle(io.RawIOBase):
    """A pipe whose writer writes a byte at a time: each read gets one byte."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data[self._at : self._at + 1]
        buffer[: len(chunk)] = chunk
        self._at += len(chunk)
        return len(chunk)


def _lines(n: int) -> bytes:
    rng = random.Random(5)
    return b"".join(b'{"id": "%032x"}\n' % rng.getrandbits(128) for _ in range(n))


def test_an_input_read_a_byte_at_a_time_reads_as_gzip_reads_it() -> None:
    """Headers with each set of optional fields, trailers and zeros between streams,
    each split across reads: the data is what Python's gzip reads, whether the input
    can read what is there (``read1``, a buffered pipe) or only ``read`` (a raw one)."""
    lines = _lines(300)
    part = len(lines) // 16 + 1  # a stream for each set of fields, zeros after some
    packed = b"".join(
        _stream(lines[i * part : (i + 1) * part], flags) + bytes(i % 3)
        for i, flags in enumerate(range(0, 32, 2))
    )
    packed += _stream(b"")
    assert gzip.decompress(packed) == lines
    for raw in (_Trickle(packed), io.BufferedReader(_Trickle(packed))):
        reader, read = Gunzip(cast("IO[bytes]", raw)), []
        while chunk := reader.read1(4096):
            read.append(chunk)
        assert (b"".join(read), reader.tell()) == (lines, len(packed))


def test_what_has_come_is_decompressed_before_the_rest() -> None:
    """Through a buffered pipe the first data comes back once its bytes were read,
    not after a whole read's worth of the input (which a pipe's writer may take
    minutes to write)."""
    lines = _lines(1000)
    packed = _stream(lines)
    assert len(packed) > 2 * (8 << 10)
    reader = Gunzip(io.BufferedReader(_Trickle(packed)))
    first = reader.read1(100)
    assert first
    assert lines.startswith(first)
    assert reader.tell() < 1 << 10


def test_bytes_after_a_stream_other_than_zeros_are_not_gzip() -> None:
    """Zeros after a stream are padding; anything else there must start a stream."""
    reader = Gunzip(io.BytesIO(_stream(b"a\n") + b"\0X\0"))
    assert reader.read1(10) == b"a\n"
    with pytest.raises(NotGzip, match="b'X\\\\x00' where a gzip header should start"):
        reader.read1(10)


def test_zeros_before_the_first_stream_are_not_gzip() -> None:
    """Padding follows a stream; a file that opens with zeros is not gzip (as gzip(1)
    says of it), not a stream read after skipping them."""
    reader = Gunzip(io.BytesIO(b"\0\0" + _stream(b"a\n")))
    with pytest.raises(NotGzip, match="b'\\\\x00\\\\x00' where a gzip header should start"):
        reader.read1(10)


def _read_all(reader: Gunzip) -> bytes:
    read = b""
    while chunk := reader.read1(10):
        read += chunk
    return read


@pytest.mark.parametrize(
    ("after", "read_to_end"),
    [(b"", True), (b"\0" * 5, True), (b"XX", False), (b"\0\0" + _stream(b"b\n"), False)],
)
def test_a_failed_check_says_whether_the_input_goes_on(after: bytes, read_to_end: bool) -> None:
    """A stream whose CRC does not match: the input was read to its end when nothing
    but padding follows it; anything else (another stream, bytes that are not one)
    was not read. Read a byte at a time, as a pipe may give it."""
    damaged = bytearray(_stream(b"a\n"))
    damaged[-6] ^= 0xFF  # in the CRC-32
    reader = Gunzip(cast("IO[bytes]", _Trickle(bytes(damaged) + after)))
    with pytest.raises(CheckFailed, match="the CRC-32 is 0x") as raised:
        _read_all(reader)
    assert raised.value.read_to_end is read_to_end
