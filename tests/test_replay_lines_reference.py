"""Replay's reader takes a chunk's lines with their newlines (found with memchr, not
by ``split``) and passes an event line on by a shorter path than
``json_stream.lines``'s: a stream of lines cut into chunks anywhere gives the bodies,
at the offsets, that ``lines`` gives for the stream split at its newlines whole (the
reader's way before). Event and SNS lines with white space after them (CRLF too) or
before them, blank lines, objects back to back, an SQS message whose ``Body`` is
opened, bytes that are not JSON, a last line with no newline; chunks ending on a
newline, just after one, inside a CRLF."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.commands.replay import archive
from sesd.commands.replay.json_stream import Chunks, Placed, lines

_ONE = b'{"eventType":"Delivery","mail":{"messageId":"m1"}}'
_SNS = b'{"Type":"Notification","Message":"{\\"a\\":1}"}'
_SQS = b'{"MessageId":"1","Body":"{\\"eventType\\":\\"Send\\"}"}'
_PIECES = [_ONE, _SNS, _SQS, _ONE + _ONE, _ONE + b"}{", b'{"eventType":"x"}{"Type"']
_PIECES += [b" ", b"\t", b"\r", b"\n", b"\r\n", b"\n\n", b"{", b"}", b"x", b"\xff", b'"']


def _read(data: bytes, cuts: list[int]) -> list[Placed]:
    ends = sorted({cut % (len(data) + 1) for cut in cuts} | {len(data)})
    chunks = [data[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    return list(archive._placed(Chunks(chunk for chunk in chunks if chunk)))


@settings(max_examples=150, deadline=None)
@given(
    rest=st.lists(st.sampled_from(_PIECES), max_size=24).map(b"".join),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
@example(rest=_ONE + b" \r\n" + _SNS + b"\n", cuts=[len(_ONE) * 2 + 4])
@example(rest=b"\n" + _ONE + b"\r\n\n " + _ONE, cuts=[len(_ONE) + 2, len(_ONE) * 2 + 3])
@example(rest=_SQS + b"\n" + _ONE, cuts=[len(_ONE) + 1 + len(_SQS) + 1])
def test_lines_read_as_the_stream_split_whole(rest: bytes, cuts: list[int]) -> None:
    """Any stream of lines (opening with an event's, so read as lines), cut anywhere:
    the bodies and offsets of ``lines`` over the whole stream split at its newlines."""
    data = _ONE + b"\n" + rest
    assert _read(data, cuts) == list(lines(data.split(b"\n")))
