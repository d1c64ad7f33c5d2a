"""tomllib's refusals said as the file is written: a key as TOML writes it (``queues``,
``alerts.sinks."a.b"``), not the Python tuple tomllib names it by (``('queues',)``),
and a key given twice named, where tomllib says only "Cannot overwrite a value"."""

from __future__ import annotations

import ast
import re
import tomllib

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
            headers = _headers(text, _line(found.group("at"), text) - 1).values()
            if said == _SAID[0][1] and f"[{key}]" not in headers and f"[[{key}]]" not in headers:
                # No header declared it: an inline table or dotted keys gave it.
                return (
                    f"[{key}]{found.group('at')}: {key} is given already, as an inline table "
                    "or by dotted keys: give a table's keys in one place"
                )
            # The header of a list's entry written as a table's: [queues] for [[queues]].
            listed = f"[[{key}]]" in headers
            hint = f"; [[{key}]] begins each entry of a list of tables" if listed else ""
            return said.format(key=key, at=found.group("at"), list=hint)
    if message.startswith("Cannot overwrite a value"):
        twice = _given_twice(text, _line(message, text))
        if twice is not None:
            key, line = twice
            return f"{key} given twice (at line {line}): a key is given once in its table"
    return message


def _line(at: str, text: str) -> int:
    """The line tomllib's ``(at line N, ...)`` or ``(at end of document)`` names."""
    found = re.search(r"\(at line (\d+), column \d+\)$", at)
    return int(found.group(1)) if found is not None else len(text.splitlines())


def _key(written: str) -> str | None:
    """A key as TOML reads it (``"a.b".c``: two parts), dotted as the config's errors
    write it; None when it is no key."""
    try:
        data = tomllib.loads(f"{written} = 0")
    except tomllib.TOMLDecodeError:
        return None
    parts = []
    while isinstance(data, dict) and len(data) == 1:
        part, data = next(iter(data.items()))
        parts.append(toml_key(part))
    return ".".join(parts)


def _dotted(found: re.Match[str]) -> str:
    parts = ast.literal_eval(found.group(0))
    return ".".join(toml_key(part) for part in parts)


#: A table's header, ``[a."b]c"]`` or ``[[a]]``: a quoted key may hold a ']'.
_HEADER = re.compile(
    r"\s*(?P<open>\[\[?)\s*(?P<key>(?:[^\]\"'#]|\"(?:[^\"\\]|\\.)*\"|'[^']*')+?)\s*\]\]?\s*(?:#.*)?"
)
_KEY = re.compile(r"\s*(?P<key>[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*=")


def _headers(text: str, last: int) -> dict[int, str]:
    """The tables' headers up to line ``last``, by line, each dotted as :func:`_key`
    writes a key, in its brackets (``[[queues]]``, ``[alerts.sinks."a]b"]``)."""
    found = {}
    for number, line in enumerate(text.splitlines()[:last], 1):
        header = _HEADER.fullmatch(line)
        key = _key(header.group("key")) if header is not None else None
        if header is not None and key is not None:
            found[number] = f"[{key}]" if header.group("open") == "[" else f"[[{key}]]"
    return found


def _given_twice(text: str, last: int) -> tuple[str, int] | None:
    """The key tomllib found given twice in one table (as its dotted key, a list's
    entry by its index) and its line: the last key at or before line ``last``, where
    tomllib stopped, when a scan of the lines that begin a table or give a key finds it
    given before in its table. None when the scan does not (a key written in dotted
    form, one after a value of many lines: tomllib's own message is said then); an
    earlier pair of lines alike (in a string of many lines) is not taken for it."""
    headers = _headers(text, last)
    table, seen, counts = "", set[str](), dict[str, int]()
    twice: tuple[str, int] | None = None
    for number, line in enumerate(text.splitlines()[:last], 1):
        if number in headers:
            table = headers[number].strip("[]")
            if headers[number].startswith("[["):
                counts[table] = counts.get(table, -1) + 1
                table = f"{table}[{counts[table]}]"
            table, seen, twice = table, set(), None
            continue
        found = _KEY.match(line)
        key = _key(found.group("key")) if found is not None else None
        if key is None:
            continue
        twice = ((f"{table}.{key}" if table else key), number) if key in seen else None
        seen.add(key)
    return twice
