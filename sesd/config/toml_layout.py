"""How a TOML document is laid out on its lines: the tables' headers, the key a line
gives, and the line each key of the document sits on. The one reader of the file's
layout: tomllib gives values, not where they were written, and msgspec's errors name
a key, not its line (:mod:`sesd.config.toml_errors` says tomllib's refusals with it)."""

from __future__ import annotations

import bisect
import os
import re
import tomllib

from sesd.config.values import toml_key

__all__ = ["DOTTED", "HEADER", "KeyLines", "Placer", "dotted_key", "headers", "key_parts"]

#: A key as a document holds it: its tables' names and a list's indexes, in order.
Path = tuple[str | int, ...]

#: A table's header, ``[a."b]c"]`` or ``[[a]]``: a quoted key may hold a ']'.
HEADER = re.compile(
    r"\s*(?P<open>\[\[?)\s*(?P<key>(?:[^\]\"'#]|\"(?:[^\"\\]|\\.)*\"|'[^']*')+?)\s*\]\]?\s*(?:#.*)?"
)
_PART = r"(?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
#: The key a line gives, dotted or not: ``a = 1``, ``"a.b" . c = 1``.
DOTTED = re.compile(rf"\s*(?P<key>{_PART}(?:\s*\.\s*{_PART})*)\s*=")


def key_parts(written: str) -> list[str] | None:
    """The parts of a key as TOML reads it (``"a.b".c``: ``a.b`` and ``c``), or None."""
    try:
        data: object = tomllib.loads(f"{written} = 0")
    except tomllib.TOMLDecodeError:
        return None
    parts = []
    while isinstance(data, dict) and len(data) == 1:
        part, data = next(iter(data.items()))
        parts.append(part)
    return parts


def dotted_key(written: str) -> str | None:
    """A key as TOML reads it (``"a.b".c``: two parts), dotted as the config's errors
    write it; None when it is no key."""
    parts = key_parts(written)
    return None if parts is None else ".".join(map(toml_key, parts))


def headers(text: str, last: int) -> dict[int, str]:
    """The tables' headers up to line ``last``, by line, each dotted as :func:`dotted_key`
    writes a key, in its brackets (``[[queues]]``, ``[alerts.sinks."a]b"]``)."""
    found = {}
    for number, line in enumerate(text.splitlines()[:last], 1):
        header = HEADER.fullmatch(line)
        key = dotted_key(header.group("key")) if header is not None else None
        if header is not None and key is not None:
            found[number] = f"[{key}]" if header.group("open") == "[" else f"[[{key}]]"
    return found


class Placer:
    """The messages about the config file at ``path``, its text ``text``, placed on the
    line of the key each names first, as a compiler names a line an editor jumps to.
    ``text`` is a document tomllib has read (the config's parse did, before any message
    about a key): the reading of lines skips each value as valid TOML writes it, and
    places another's keys on no line, or a wrong one, but ends (``a = [}`` included)."""

    def __init__(self, path: str | os.PathLike[str], text: str) -> None:
        self._path = str(path)
        self._text = text
        self._lines: KeyLines | None = None

    def line(self, message: str) -> int | None:
        """The line of the key ``message`` names first (``KEY: ...``); None where the
        file writes none (a default, a key left out, no key named)."""
        if self._lines is None:
            try:
                self._lines = KeyLines(self._text)
            except Exception:  # noqa: BLE001 - a line is a help: never the start's end
                # A document shape the reading of lines does not know must not turn a
                # config's warning, at a daemon's start or reload, into a traceback.
                self._text = ""
                self._lines = KeyLines("")
        return self._lines.line_of_message(message)

    def where(self, message: str) -> str:
        """``PATH:LINE`` for ``message``, ``PATH`` alone where it has no line."""
        line = self.line(message)
        return self._path if line is None else f"{self._path}:{line}"

    def warning(self, message: str) -> str:
        """``message`` after ``PATH:LINE:`` where it has a line, else as it is (a warning
        of a key not written says no file)."""
        line = self.line(message)
        return message if line is None else f"{self._path}:{line}: {message}"


# --- the line of a key ------------------------------------------------------------

#: A key's part in a message, bare or quoted as :func:`toml_key` writes it, then its
#: indexes; a rule's name after its index (``rules[0] (r)``) is no part of the key.
_SAID_PART = re.compile(r'(?P<part>[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")(?P<at>(?:\[\d+\])*)')
_SAID_NAME = re.compile(r" \((?:[^()]|\([^()]*\))*\)")
_BARE = re.compile(r"[A-Za-z0-9_-]+")
#: Where a plain value ends: a number, a date, true or false hold none of these.
_VALUE_END = re.compile(r"[,\]}\n#]")


class KeyLines:
    """The line each key of a valid TOML document sits on (a table's: its header's, or
    the first line that gives it by a dotted key, else the first header that implies it,
    ``alert`` of ``[alert.slack]``), read from the text once."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._pos = 0
        self._lines: dict[Path, int] = {}
        #: Each table a header implies, written with no header of its own: its first line.
        self._implied: dict[Path, int] = {}
        #: Each list of tables (``[[queues]]``) by its key: how many entries so far.
        self._tables: dict[Path, int] = {}
        self._document()
        for path, line in self._implied.items():
            self._lines.setdefault(path, line)

    def line(self, key: str) -> int | None:
        """The line of ``key`` as a message of the config names it first
        (``queues[1].url``, ``alerts.rules[0] (r).window``, ``alerts.sinks."a.b"``);
        None when it is not written in the document (a default, a key left out)."""
        path = _said_path(key)
        return None if path is None else self._lines.get(path)

    def line_of_message(self, message: str) -> int | None:
        """The line of the key ``message`` begins with (``KEY: ...`` or ``KEY (...): ...``);
        None when it begins with no key the document writes."""
        end = _key_end(message)
        return None if end is None else self.line(message[:end])

    # The reading: a valid document (tomllib read it), so each value is skipped as
    # what it is, and a key's line is where its first part begins.

    def _at(self) -> int:
        return bisect.bisect_right(self._starts, self._pos)

    def _peek(self, size: int = 1) -> str:
        return self._text[self._pos : self._pos + size]

    def _record(self, path: Path, line: int) -> None:
        self._lines.setdefault(path, line)

    def _blank(self, *, lines: bool) -> None:
        """Skip spaces, comments and (with ``lines``) line breaks."""
        while self._pos < len(self._text):
            char = self._text[self._pos]
            if char in " \t\r" or (lines and char == "\n"):
                self._pos += 1
            elif char == "#":
                end = self._text.find("\n", self._pos)
                self._pos = len(self._text) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        table: Path = ()
        while True:
            self._blank(lines=True)
            if self._pos >= len(self._text):
                return
            if self._peek() == "[":
                table = self._header()
            else:
                self._pair(table)

    def _header(self) -> Path:
        line = self._at()
        listed = self._peek(2) == "[["
        self._pos += 2 if listed else 1
        parts = self._key()
        self._blank(lines=False)
        self._pos += 2 if listed else 1
        path: Path = ()
        for part in parts[:-1] if listed else parts:
            path = self._entered((*path, part))
            # A table this header implies (``sinks`` of ``[sinks.x]``) sits here, unless
            # its own header, or a line before, gives it.
            self._implied.setdefault(path, line)
        if listed:
            path = (*path, parts[-1])
            self._record(path, line)
            index = self._tables.get(path, 0)
            self._tables[path] = index + 1
            path = (*path, index)
        self._record(path, line)
        return path

    def _entered(self, path: Path) -> Path:
        """``path`` as a header goes into it: a list of tables, into its last entry."""
        count = self._tables.get(path)
        return path if count is None else (*path, count - 1)

    def _key(self) -> list[str]:
        parts = []
        while True:
            self._blank(lines=False)
            quote = self._peek()
            if quote in "\"'":
                end = self._text.index(quote, self._pos + 1)
                while quote == '"' and _escaped(self._text, end):
                    end = self._text.index(quote, end + 1)
                written = self._text[self._pos : end + 1]
                parts.append((key_parts(written) or [written])[0])
                self._pos = end + 1
            else:
                found = _BARE.match(self._text, self._pos)
                end = found.end() if found is not None else self._pos + 1
                parts.append(self._text[self._pos : end])
                self._pos = end
            self._blank(lines=False)
            if self._peek() != ".":
                return parts
            self._pos += 1

    def _pair(self, table: Path) -> None:
        line = self._at()
        parts = self._key()
        for size in range(1, len(parts) + 1):
            self._record((*table, *parts[:size]), line)
        self._blank(lines=False)
        self._pos += 1  # the '='
        self._blank(lines=False)
        self._value((*table, *parts))

    def _value(self, path: Path) -> None:
        char = self._peek()
        if char == "[":
            self._array(path)
        elif char == "{":
            self._inline(path)
        elif char in "\"'":
            self._string()
        else:
            found = _VALUE_END.search(self._text, self._pos)
            end = len(self._text) if found is None else found.start()
            if end == self._pos:
                # No value: no valid TOML (``a = [}``). Not read on: the reading would
                # stand on that character for ever.
                raise ValueError(f"no value at character {self._pos}")
            self._pos = end

    def _array(self, path: Path) -> None:
        self._pos += 1
        index = 0
        while True:
            self._blank(lines=True)
            if self._peek() in ("]", ""):
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                continue
            self._record((*path, index), self._at())
            self._value((*path, index))
            index += 1

    def _inline(self, path: Path) -> None:
        self._pos += 1
        while True:
            self._blank(lines=True)
            if self._peek() in ("}", ""):
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                continue
            self._pair(path)

    def _string(self) -> None:
        quote = self._peek()
        if self._peek(3) == quote * 3:
            end = self._text.index(quote * 3, self._pos + 3)
            while quote == '"' and _escaped(self._text, end):
                end = self._text.index(quote * 3, end + 1)
            # A closing run of up to five quotes: the first one or two are the string's.
            end += 3
            while self._text[end : end + 1] == quote:
                end += 1
            self._pos = end
            return
        end = self._text.index(quote, self._pos + 1)
        while quote == '"' and _escaped(self._text, end):
            end = self._text.index(quote, end + 1)
        self._pos = end + 1


def _escaped(text: str, at: int) -> bool:
    """Whether the quote at ``at`` is escaped: an odd run of backslashes before it."""
    run = len(text[:at]) - len(text[:at].rstrip("\\"))
    return run % 2 == 1


def _key_end(message: str) -> int | None:
    """Where the key ``message`` begins with ends (a rule's name after it included);
    None when it begins with none."""
    pos = 0
    while True:
        part = _SAID_PART.match(message, pos)
        if part is None:
            return None
        pos = part.end()
        name = _SAID_NAME.match(message, pos) if part.group("at") else None
        if name is not None and message[name.end() : name.end() + 1] in (".", ":"):
            pos = name.end()
        if message[pos : pos + 1] != ".":
            break
        pos += 1
    return pos if message[pos : pos + 2] in (": ", " (") or pos == len(message) else None


def _said_path(key: str) -> Path | None:
    """The document's path of a key as a message says it; None when it is none."""
    path: list[str | int] = []
    pos = 0
    while pos < len(key):
        part = _SAID_PART.match(key, pos)
        if part is None:
            return None
        written = part.group("part")
        if written.startswith('"'):
            parts = key_parts(written)
            if not parts:
                return None
            written = parts[0]
        path.append(written)
        path += [int(index) for index in re.findall(r"\d+", part.group("at"))]
        pos = part.end()
        name = _SAID_NAME.match(key, pos) if part.group("at") else None
        pos = name.end() if name is not None else pos
        if pos < len(key):
            if key[pos] != ".":
                return None
            pos += 1
    return tuple(path)
