"""Where a JSON value ends in text read a chunk at a time, found without decoding it:
a scan that knows strings (their escaped quotes) and counts brackets. Replay
uses it to read past a value too large to keep, and to split values that do
not decode on their own (objects written back to back, a top-level array).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

__all__ = ["Scanner", "object_end", "skip_element", "skip_value"]


def skip_value(buffer: bytes, chunks: Iterator[bytes]) -> bytes:
    """Read past one value too large to keep, which ``buffer`` begins, holding a chunk
    at a time. An object or array ends at its closing bracket (the next of objects
    written back to back follows it); anything else at the end of its line. Returns
    what follows the value."""
    scanner = Scanner()
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


def object_end(data: bytes, start: int, limit: int | None = None) -> int:
    """Where the object (or array) that begins at ``start`` ends (after its closing
    brace), or -1 when ``data`` (or ``data[:limit]``) ends first."""
    depth = 0
    for char, position in Scanner().marks(data, start, limit):
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


class Scanner:
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


def skip_element(buffer: bytes, more: Iterator[bytes], depth: int, scanner: Scanner) -> bytes:
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
