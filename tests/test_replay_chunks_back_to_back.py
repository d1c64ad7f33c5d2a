"""Replay's reader searches a chunk's whole lines for objects back to back (``}{``)
once, and each line only when that finds one: a stream cut into chunks anywhere
gives the same bodies at the same offsets as with every line searched. Streams of
events a line, objects back to back, ``}{`` inside a JSON string, CRLF and empty
lines, a last object with no newline after it, bytes that are not JSON; cut inside a
``}{``, inside a CRLF, and with chunks small enough that a line is longer than one."""

from __future__ import annotations

from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.commands.replay import archive
from sesd.commands.replay.json_stream import Chunks, Placed

_ONE = b'{"eventType":"Delivery","mail":{"messageId":"m1"}}'
_QUOTED = b'{"eventType":"Bounce","mail":{"messageId":"}{x"}}'
_SNS = b'{"Type":"Notification","Message":"{\\"a\\":1}{"}'
_PIECES = [_ONE, _QUOTED, _SNS, _ONE + _QUOTED, _ONE + b" " + _ONE, _ONE + b"}{"]
_PIECES += [b"}{", b"{", b"}", b'"', b"\\", b" ", b"\r", b"\n", b"\r\n", b"\n\n", b"x", b"\xff"]


def _read(data: bytes, cuts: list[int]) -> list[Placed]:
    ends = sorted({cut % (len(data) + 1) for cut in cuts} | {len(data)})
    chunks = [data[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    return list(archive._placed(Chunks(chunk for chunk in chunks if chunk)))


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.sampled_from(_PIECES), max_size=20).map(b"".join),
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
    chunk=st.sampled_from([archive._CHUNK, 16]),
)
# The chunk's one }{ ends its last whole line, just before the newline.
@example(data=_ONE + b"}{\n" + _ONE, cuts=[], chunk=archive._CHUNK)
@example(data=_ONE + b"}{" + _ONE + b"\r\n" + _QUOTED, cuts=[len(_ONE) + 1], chunk=16)
@example(data=_ONE + b"\r\n\r\n" + _ONE, cuts=[len(_ONE) + 1, len(_ONE) + 3], chunk=archive._CHUNK)
def test_chunks_read_as_with_every_line_searched(data: bytes, cuts: list[int], chunk: int) -> None:
    with mock.patch.object(archive, "_CHUNK", chunk):
        got = _read(data, cuts)
        with mock.patch.object(archive, "back_to_back", return_value=True):
            assert _read(data, cuts) == got
