"""A table's header written where a list of tables goes (``[alerts.rules]`` for
``[[alerts.rules]]``), or the reverse (``[[aws]]``): msgspec says only ``Expected
`array`, got `object```; this says which header, at which line, and the one to write."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from sesd.config.toml_layout import headers
from sesd.config.values import type_at

__all__ = ["shaped"]

_SHAPE = re.compile(r"(?P<key>[A-Za-z0-9_.-]+): Expected `(?P<want>array|object)`, got `\w+`")


def shaped(message: str, data: dict[str, Any], text: str, schema: type) -> str:
    """``message`` (a msgspec error, one line, its key first) said as the header to
    write when the key holds a table where a list of tables goes, or the reverse, in
    the document ``text`` (``data`` as read) decoded as ``schema``; else ``message``."""
    found = _SHAPE.fullmatch(message)
    if found is None:
        return message
    key = found.group("key")
    value: Any = data
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if found.group("want") == "array" and isinstance(value, dict):
        listed = type_at(msgspec.inspect.type_info(schema), key)
        if not isinstance(listed, msgspec.inspect.ListType) or not isinstance(
            listed.item_type, msgspec.inspect.StructType
        ):
            return message
        wrong, what = f"[{key}]", "one table, where a list of tables goes"
        fix = f"begin each entry with [[{key}]]"
    elif found.group("want") == "object" and isinstance(value, list) and value:
        if not all(isinstance(item, dict) for item in value):
            return message
        wrong, what = f"[[{key}]]", "a list of tables, where one table goes"
        fix = f"write [{key}], once"
    else:
        return message
    found_at = [n for n, header in headers(text, len(text.splitlines())).items() if header == wrong]
    if not found_at:  # an inline table or dotted keys gave it
        return f"{key}: {what}: {fix}"
    verb = "begins" if wrong.startswith("[[") else "is"
    return f"{key}: {wrong} (at line {found_at[0]}) {verb} {what}: {fix}"
