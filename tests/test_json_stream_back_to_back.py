"""Replay finds objects written back to back on a line (``}{``) with a regular
expression's search, faster than ``b"}{" in line``: it finds ``}{`` where ``in``
does and nowhere else, so the lines read give the same bodies at the same offsets
as with ``in``. A chunk's lines are searched once, all together, and line by line
only when that search finds one: the same bodies again."""

from __future__ import annotations

import os
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.commands.replay import json_stream
from sesd.commands.replay.json_stream import back_to_back, lines

EXAMPLES = 50 if os.environ.get("SESD_MUTATION") else 500
#: Bytes that make and unmake ``}{`` and JSON around it (white space, strings,
#: escapes, newlines' neighbours, one byte not UTF-8).
_TEXT = st.lists(
    st.sampled_from([b"{", b"}", b"}{", b"} {", b'"', b"\\", b" ", b"\t", b"a", b":", b"\xff"]),
    max_size=30,
).map(b"".join)
_LINE = st.tuples(st.sampled_from([b"", b'{"eventType"', b'{"Type"', b" {"]), _TEXT).map(b"".join)


def _with_in(line: bytes) -> bool | None:
    """The plain way: ``in``."""
    return True if b"}{" in line else None


@settings(max_examples=EXAMPLES, deadline=None)
@given(line=_LINE)
def test_found_where_in_finds_it(line: bytes) -> None:
    """Any line: ``}{`` is found exactly where ``in`` finds it."""
    assert (json_stream._BACK_TO_BACK(line) is None) == (b"}{" not in line)


@settings(max_examples=EXAMPLES, deadline=None)
@given(raws=st.lists(_LINE, max_size=6), at=st.integers(0, 1000))
def test_lines_read_as_with_in(raws: list[bytes], at: int) -> None:
    """Any lines: the same bodies at the same offsets as read with ``in``."""
    got = list(lines(raws, at))
    with mock.patch.object(json_stream, "_BACK_TO_BACK", _with_in):
        assert got == list(lines(raws, at))


@settings(max_examples=EXAMPLES, deadline=None)
@given(raws=st.lists(_LINE, max_size=6), tail=_TEXT, at=st.integers(0, 1000))
def test_lines_searched_together_read_as_each_searched(
    raws: list[bytes], tail: bytes, at: int
) -> None:
    """Any lines of a chunk, and the start of a line after them (not searched): the
    same bodies at the same offsets as with each line searched on its own."""
    data = b"".join(raw + b"\n" for raw in raws) + tail
    apart = back_to_back(data, len(data) - len(tail))
    assert apart == any(b"}{" in raw for raw in raws)
    assert list(lines(raws, at, apart=apart)) == list(lines(raws, at))


def test_an_event_line_with_objects_back_to_back_is_split() -> None:
    """Two SES events on one line, back to back: two bodies, the second at its own
    offset; one event alone is passed on as read."""
    one = b'{"eventType": "Delivery", "mail": {"messageId": "m1"}}'
    two = b'{"eventType": "Bounce", "mail": {"messageId": "m2"}}'
    assert list(lines([one + two], 10)) == [(10, one), (10 + len(one), two)]
    assert list(lines([one], 10)) == [(10, one)]
