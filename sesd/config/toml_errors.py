"""tomllib's refusals said as the file is written: a key as TOML writes it (``queues``,
``alerts.sinks."a.b"``), not the Python tuple tomllib names it by (``('queues',)``),
and a key given twice named, where tomllib says only "Cannot overwrite a value"."""

from __future__ import annotations

import ast
import re
import tomllib

from sesd.config.toml_layout import DOTTED, HEADER, headers, key_parts
from sesd.config.values import toml_key

__all__ = ["toml_error"]

_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
#: A tuple of strings as Python's repr writes it: ``('alerts', 'sinks', 'a')``.
_TUPLE = re.compile(rf"\((?:{_STRING})(?:, (?:{_STRING}))*,?\)")
_AT = r"(?P<at> \(at [^)]*\))"
#: tomllib's messages that name a key, and what each means in the file's terms.
_SAID = (
    (
        re.compile(rf"Cannot declare (?P<key>.+) twice{_AT}"),
        "[{key}] declared twice{at}: a table is written once{list}",
    ),
    (
        re.compile(rf"Cannot mutate immutable namespace (?P<key>.+?){_AT}"),
        "{key} given whole already (an inline table or array){at}: give each key once, "
        "and add nothing to an inline value elsewhere",
    ),
    (
        re.compile(rf"Cannot redefine namespace (?P<key>.+?){_AT}"),
        "{key} is a table of its own ([{key}]){at}: a dotted key in another table cannot add to it",
    ),
    (
        re.compile(rf"Duplicate inline table key (?P<key>{_STRING}){_AT}"),
        "{key} given twice in an inline table{at}: give each key once",
    ),
)


def toml_error(message: str, text: str) -> str:
    """tomllib's ``message`` for the document ``text``, its keys as the file writes them."""
    message = _TUPLE.sub(_dotted, message)
    for pattern, said in _SAID:
        found = pattern.fullmatch(message)
        if found is not None:
            key = found.group("key")
            if key[:1] in "'\"":  # a key tomllib quoted as Python does
                key = toml_key(ast.literal_eval(key))
            # The headers before the one tomllib stopped at.
            before = headers(text, _line(found.group("at"), text) - 1).values()
            if said == _SAID[0][1] and f"[{key}]" not in before and f"[[{key}]]" not in before:
                # No header declared it: an inline table or dotted keys gave it.
                return (
                    f"[{key}]{found.group('at')}: {key} is given already, as an inline table "
                    "or by dotted keys: give a table's keys in one place"
                )
            # The header of a list's entry written as a table's: [queues] for [[queues]].
            listed = f"[[{key}]]" in before
            hint = f"; [[{key}]] begins each entry of a list of tables" if listed else ""
            return said.format(key=key, at=found.group("at"), list=hint)
    if message.startswith("Cannot overwrite a value"):
        return _overwritten(text, _line(message, text)) or message
    return message


def _line(at: str, text: str) -> int:
    """The line tomllib's ``(at line N, ...)`` or ``(at end of document)`` names."""
    found = re.search(r"\(at line (\d+), column \d+\)$", at)
    return int(found.group(1)) if found is not None else len(text.splitlines())


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
            return f"{full} given twice (at line {last}): a key is given once in its table"
        if not isinstance(node, dict | list):
            return (
                f"{full} (at line {last}): {name} is given already as a value, not a table: "
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
