"""tomllib's refusals said as the file is written: a key as TOML writes it (``queues``,
``alerts.sinks."a.b"``), not the Python tuple tomllib names it by (``('queues',)``),
and a key given twice named, where tomllib says only "Cannot overwrite a value"."""

from __future__ import annotations

import ast
import re

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
            # The header of a list's entry written as a table's: [queues] for [[queues]].
            listed = re.search(rf"^\s*\[\[\s*{re.escape(key)}\s*\]\]", text, re.M)
            hint = f"; [[{key}]] begins each entry of a list of tables" if listed else ""
            return said.format(key=key, at=found.group("at"), list=hint)
    if message.startswith("Cannot overwrite a value"):
        twice = _given_twice(text)
        if twice is not None:
            key, line = twice
            return f"{key} given twice (at line {line}): a key is given once in its table"
    return message


def _dotted(found: re.Match[str]) -> str:
    parts = ast.literal_eval(found.group(0))
    return ".".join(toml_key(part) for part in parts)


_HEADER = re.compile(r"\s*(?P<open>\[\[?)\s*(?P<key>[^\]]+?)\s*\]\]?\s*(?:#.*)?")
_KEY = re.compile(r"\s*(?P<key>[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*=")


def _given_twice(text: str) -> tuple[str, int] | None:
    """The first key written twice in one table (as its dotted key, a list's entry by its
    index) and the line of its second, from a scan of the lines that begin a table or
    give a key; None when the scan finds none (a key written in dotted form, a value of
    many lines: tomllib's own message is said then)."""
    table, seen, counts = "", set[str](), dict[str, int]()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.fullmatch(line)
        if header is not None:
            name = re.sub(r"\s*\.\s*", ".", header.group("key"))
            if header.group("open") == "[[":
                counts[name] = counts.get(name, -1) + 1
                name = f"{name}[{counts[name]}]"
            table, seen = name, set()
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        written = key.group("key")
        if written in seen:
            return (f"{table}.{written}" if table else written), number
        seen.add(written)
    return None
