"""tomllib's refusals said as the file is written: a key as TOML writes it (``queues``,
``alerts.sinks."a.b"``), not the Python tuple tomllib names it by (``('queues',)``),
a key given twice named, where tomllib says only "Cannot overwrite a value", and where
in the file, apart from what is wrong: a loaded file's refusal begins ``PATH:LINE:COLUMN:``,
as every other message about the file begins ``PATH:LINE:``."""

from __future__ import annotations

import ast
import os
import re
import tomllib

from sesd.config.toml_layout import DOTTED, HEADER, headers, key_parts
from sesd.config.values import ConfigError, toml_key

__all__ = ["TomlRefused", "refused", "toml_error"]

_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
#: A tuple of strings as Python's repr writes it: ``('alerts', 'sinks', 'a')``.
_TUPLE = re.compile(rf"\((?:{_STRING})(?:, (?:{_STRING}))*,?\)")
#: Where tomllib says it stopped, at the end of each of its messages.
_AT = re.compile(r" \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$")
#: tomllib's messages that name a key, and what each means in the file's terms.
_SAID = (
    (
        re.compile(r"Cannot declare (?P<key>.+) twice"),
        "[{key}] declared twice: a table is written once{list}",
    ),
    (
        re.compile(r"Cannot mutate immutable namespace (?P<key>.+)"),
        "{key} given whole already (an inline table or array): give each key once, "
        "and add nothing to an inline value elsewhere",
    ),
    (
        re.compile(r"Cannot redefine namespace (?P<key>.+)"),
        "{key} is a table of its own ([{key}]): a dotted key in another table cannot add to it",
    ),
    (
        re.compile(rf"Duplicate inline table key (?P<key>{_STRING})"),
        "{key} given twice in an inline table: give each key once",
    ),
)


class TomlRefused(ConfigError):
    """A document that is no TOML: what is wrong (:attr:`said`), and the line and column
    tomllib stopped at. Said alone (no file to name), the place follows what is wrong."""

    def __init__(self, said: str, line: int, column: int) -> None:
        super().__init__(f"not valid TOML: {said} (at line {line}, column {column})")
        self.said = said
        self.line = line
        self.column = column

    def placed(self, path: str | os.PathLike[str]) -> str:
        """``PATH:LINE:COLUMN: not valid TOML: ...``, as a compiler says where to look."""
        return f"{path}:{self.line}:{self.column}: not valid TOML: {self.said}"


def refused(error: tomllib.TOMLDecodeError, text: str) -> TomlRefused:
    """tomllib's ``error`` for the document ``text``, said as the file writes it."""
    message = str(error)
    line, column = _position(message, text)
    if _SAID[0][0].fullmatch(_AT.sub("", message)):
        # tomllib finds a table declared twice as soon as it has read the header's
        # key, before the rest of its line: a second ``[aws`` with no ``]`` would be
        # told as a table declared twice, and once its ``]`` is written, declared once.
        # Its line without the '\r' of a CRLF ending (a Windows editor's): valid in the
        # document, a stray character alone.
        lines = text.split("\n")
        written = lines[line - 1].removesuffix("\r") if 0 < line <= len(lines) else ""
        try:
            tomllib.loads(written)
        except tomllib.TOMLDecodeError as alone:
            message = str(alone)
            column = _position(message, written)[1]
    return TomlRefused(toml_error(_AT.sub("", message), text, line), line, column)


def _position(message: str, text: str) -> tuple[int, int]:
    """The line and column tomllib's ``message`` ends naming; for ``(at end of
    document)``, the place past the last character, as tomllib counts them."""
    found = _AT.search(message)
    if found is not None and found.group("line") is not None:
        return int(found.group("line")), int(found.group("column"))
    return text.count("\n") + 1, len(text) - text.rfind("\n")


def toml_error(message: str, text: str, line: int) -> str:
    """tomllib's ``message`` (its place taken off) for the document ``text``, which it
    stopped reading at line ``line``, its keys as the file writes them."""
    message = _TUPLE.sub(_dotted, message)
    for pattern, said in _SAID:
        found = pattern.fullmatch(message)
        if found is not None:
            key = found.group("key")
            if key[:1] in "'\"":  # a key tomllib quoted as Python does
                key = toml_key(ast.literal_eval(key))
            # The headers before the one tomllib stopped at.
            before = headers(text, line - 1).values()
            if said == _SAID[0][1] and f"[{key}]" not in before and f"[[{key}]]" not in before:
                # No header declared it: an inline table or dotted keys gave it.
                return (
                    f"[{key}]: {key} is given already, as an inline table or by dotted keys: "
                    "give a table's keys in one place"
                )
            # The header of a list's entry written as a table's: [queues] for [[queues]].
            listed = f"[[{key}]]" in before
            hint = f"; [[{key}]] begins each entry of a list of tables" if listed else ""
            return said.format(key=key, list=hint)
    if message == "Cannot overwrite a value":
        return _overwritten(text, line) or message
    return message


def _dotted(found: re.Match[str]) -> str:
    parts = ast.literal_eval(found.group(0))
    return ".".join(toml_key(part) for part in parts)


def _overwritten(text: str, last: int) -> str | None:
    """What tomllib's "Cannot overwrite a value" at line ``last`` means, as the file
    writes it: a key given twice in its table (dotted or not), or a key given a value
    and then made a table (``b = 1``, then ``[b]`` or ``b.c = 2``). Read by tomllib
    itself from the lines before, where the table's header is the last line that
    begins one outside a value of many lines (a string's line ``[aws]`` is none). None
    when line ``last`` is not where such a key begins: tomllib's own message then."""
    lines = text.splitlines(keepends=True)
    before = _document(lines[: last - 1]) if 0 < last <= len(lines) else None
    if before is None:
        return None
    line = lines[last - 1].rstrip("\r\n")
    header = HEADER.fullmatch(line)
    found = DOTTED.match(line) if header is None else None
    if header is not None:
        base, table, parts = before, "", key_parts(header.group("key"))
    elif found is not None:
        base, table = _table(lines, last, before)
        parts = key_parts(found.group("key"))
    else:
        return None
    key = ".".join(map(toml_key, parts or ()))
    full = f"{table}.{key}" if table else key
    if header is not None:  # [b] or [[b]], as written
        full = f"{header.group('open')}{key}{header.group('open').replace('[', ']')}"
    node: object = base
    name = table
    for i, part in enumerate(parts or ()):
        if not isinstance(node, dict) or part not in node:
            return None
        name = f"{name}.{toml_key(part)}" if name else toml_key(part)
        node = node[part]
        if i == len(parts or ()) - 1 and header is None:
            return f"{full} given twice: a key is given once in its table"
        if not isinstance(node, dict | list):
            return (
                f"{full}: {name} is given already as a value, not a table: "
                "a key holds a value or a table, not both"
            )
    return None


def _document(lines: list[str]) -> dict[str, object] | None:
    """The document of ``lines``, or None when they end inside a value of many lines."""
    try:
        return tomllib.loads("".join(lines))
    except tomllib.TOMLDecodeError:
        return None


def _table(
    lines: list[str], last: int, document: dict[str, object]
) -> tuple[dict[str, object], str]:
    """The table line ``last`` of ``lines`` is in (``document`` is the lines before it)
    and its name, a list's entry by its index: the last header before it that begins a
    line outside a value of many lines."""
    for number in range(last - 1, 0, -1):
        header = HEADER.fullmatch(lines[number - 1].rstrip("\r\n"))
        if header is None or _document(lines[: number - 1]) is None:
            continue
        node: object = document
        name = ""
        for part in key_parts(header.group("key")) or ():
            if not isinstance(node, dict):
                break
            node = node.get(part)
            name = f"{name}.{toml_key(part)}" if name else toml_key(part)
            if isinstance(node, list) and node:
                name += f"[{len(node) - 1}]"
                node = node[-1]
        return (node, name) if isinstance(node, dict) else ({}, name)
    return document, ""
