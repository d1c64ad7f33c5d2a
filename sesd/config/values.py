"""The value types of the config file: durations and the section base, and how a
refused value names its key. Secrets are sesd.config.secrets'."""

from __future__ import annotations

import datetime
import difflib
import re
from typing import Any

import msgspec

from sesd.core.accounts import is_region
from sesd.core.text import escaped

__all__ = [
    "LABEL_LENGTH",
    "ConfigError",
    "Duration",
    "Section",
    "check_region",
    "keyed",
    "meant_key",
    "meant_word",
    "one_line",
    "toml_key",
    "type_at",
]


#: The longest name a config gives a label value (a queue's, a domain group's), in
#: characters: SQS's own bound on a queue's name. Such a name is on every series and log
#: line of what it names; a longer one is a slip (a pasted paragraph, a template).
LABEL_LENGTH = 80


class ConfigError(Exception):
    """The configuration is invalid; the message is one line naming the key."""


# --- value types -------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: No setting waits longer; beyond it, a slip (``timeout = 10000``, read in seconds).
_LONGEST = 366 * 86400.0


class Duration:
    """A span of time written as ``"250ms"``, ``"10s"``, ``"5m"``, ``"1h30m"``."""

    __slots__ = ("seconds", "text")

    def __init__(self, text: str) -> None:
        text = text.strip()
        pos, total = 0, 0.0
        units: list[str] = []
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            units.append(match.group(2))
            pos = match.end()
        if text == "0":
            pos = 1
        if not text or pos != len(text):
            raise ValueError(f"invalid duration {text!r} (use e.g. '10s', '5m', '1h30m')")
        repeated = sorted({unit for unit in units if units.count(unit) > 1})
        if repeated:
            # "5m5m" would add up to 10m: more likely a paste or a slip than meant.
            raise ValueError(
                f"invalid duration {text!r}: the unit {repeated[0]!r} comes twice "
                "(write each unit once, as '1h30m')"
            )
        sizes = [_UNIT_SECONDS[unit] for unit in units]
        if sizes != sorted(sizes, reverse=True):
            # "30s1m" adds up to 90s, but reads as a slip ("30s" or "1m" meant).
            raise ValueError(f"invalid duration {text!r}: write the largest unit first, as '1h30m'")
        if total > _LONGEST:
            raise ValueError(f"duration {text!r} is longer than a year")
        self.seconds = total
        self.text = text

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(self.seconds)


# --- sections ----------------------------------------------------------------


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


def check_region(region: str | None, what: str) -> None:
    """Raise ValueError naming ``what`` when ``region`` is set and no AWS region (a
    template's trailing space, a missing hyphen: the SDK would refuse it only when
    the first client is made)."""
    if region is not None and not is_region(region):
        raise ValueError(f"{what}: {region!r} is not an AWS region (e.g. eu-west-1)")


_AT_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>.*)`", re.S)
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")


def one_line(exc: msgspec.ValidationError, prefix: str = "", schema: type | None = None) -> str:
    """A msgspec validation error in one line, its path first as a dotted key
    (``queues[0].concurrency: Expected `int`, got `str```; an unknown field:
    ``KEY: unknown key``, and the key of its table it is closest to, if one is close,
    when ``schema`` is given), under ``prefix``; a value not among a field's choices lists
    them, when ``schema`` (the type decoded) has the field."""
    match = _AT_PATH.match(str(exc))
    assert match is not None
    msg, path = match.group("msg"), (match.group("path") or "").lstrip(".")
    found = None if schema is None else type_at(msgspec.inspect.type_info(schema), path)
    if msg.startswith("Invalid enum value") and isinstance(found, msgspec.inspect.LiteralType):
        msg += f" (one of: {', '.join(map(str, found.values))})"
    unknown = _UNKNOWN.match(msg)
    path = ".".join(part for part in (prefix, path) if part)
    if unknown:
        field = unknown.group("field")
        key = f"{path}.{toml_key(field)}" if path else toml_key(field)
        # A typo is the commonest unknown key: the key of that table it was meant as.
        table = found if isinstance(found, msgspec.inspect.StructType) else None
        known = [f.encode_name for f in table.fields] if table is not None else []
        meant = meant_key(field, known) or _word_for(field, known) or _deeper(field, table, path)
        return f"{key}: unknown key{meant}"
    missing = _MISSING.fullmatch(msg)
    if missing:
        # The key to write, where msgspec names its table and the field in its words.
        field = missing.group("field")
        return f"{f'{path}.' if path else ''}{field}: required, and not given"
    if path and isinstance(found, msgspec.inspect.StructType):
        return _dotted(path, msg, [f.encode_name for f in found.fields])
    return f"{path}: {msg}" if path else msg


#: A table's own check that names one of its keys first (``concurrency must ...``,
#: ``region: ...``, ``groups.mail: ...``, ``listen 'x': ...``): the key, and what follows.
_OWN_KEY = re.compile(r"(?P<key>\w+)(?P<rest>[:.\[].*| (?:must |').*)", re.S)


def _dotted(path: str, msg: str, keys: list[str]) -> str:
    """The message of a table's own check at ``path``, the key it names first, if one of
    ``keys``, joined to the path as README writes a key: ``queues[0].concurrency: must
    be ...``, not ``queues[0]: concurrency must be ...``."""
    own = _OWN_KEY.fullmatch(msg)
    if own is None or own.group("key") not in keys:
        return f"{path}: {msg}"
    rest = own.group("rest")
    return f"{path}.{own.group('key')}{':' if rest.startswith(' ') else ''}{rest}"


def toml_key(name: str, limit: int = 200) -> str:
    """A key of a table as written (a group's, a sink's, a label's): escaped, cut at
    ``limit`` and quoted as TOML quotes a key that is not bare (an escape reads in it as
    TOML's own): the name is a hand's text, shown to a terminal. A bare key is TOML's:
    ``pd-eu`` is one, ``a.b`` (a sink's name may hold dots) is the table ``b`` in ``a``."""
    if _BARE_KEY.fullmatch(name):
        return escaped(name, limit)
    # Its quote and backslash as a quoted key writes them, before the escapes.
    written = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped(written, limit)}"'


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def meant_key(written: str, known: list[str]) -> str:
    """`` (did you mean KEY?)`` for the key of ``known`` that ``written`` is closest to,
    if one is close; else "". One that differs in case alone comes first, and is told
    why it is not that key: ``Type`` is too far from ``type`` for a typo's likeness."""
    meant = meant_word(written, known, "keys are case-sensitive")
    return f" ({meant})" if meant else ""


def meant_word(written: str, known: list[str], case: str) -> str:
    """``did you mean WORD?`` for the word of ``known`` that ``written`` is closest to,
    ``case`` said after it when they differ in case alone; else ""."""
    same = [word for word in known if word.lower() == written.lower()]
    if same:
        return f"did you mean {same[0]}? {case}"
    meant = difflib.get_close_matches(written, known, n=1, cutoff=0.78)
    if not meant:
        # A part of the word meant, or the word with more (``url`` for ``webhook_url``,
        # ``role`` for ``role_arn``): too far for a typo's likeness; said when only one.
        meant = [w for w in known if _part_of(written, w) or _part_of(w, written)]
        meant = meant if len(meant) == 1 else []
    return f"did you mean {meant[0]}?" if meant else ""


#: Words written for a key sesd names otherwise, too far from it for a typo's likeness,
#: and what to say: each said only in a table that has the key.
_WORDS_FOR = {
    "threshold": ("above", "a rule's threshold is `above`, or `below` to fire under it"),
    # The other periods are ``*_every`` (poll_every, save_every): the canary's is not.
    "every": ("interval", "did you mean interval?"),
}


def _word_for(written: str, known: list[str]) -> str:
    """`` (what to write)`` when ``written`` is (or is a typo of) a word of
    :data:`_WORDS_FOR` whose key ``known`` has; else ""."""
    for word, (key, said) in _WORDS_FOR.items():
        if key in known and meant_word(written, [word], ""):
            return f" ({said})"
    return ""


def _deeper(written: str, table: msgspec.inspect.StructType | None, path: str) -> str:
    """`` (did you mean KEY?)`` when one table right below ``table`` (at ``path``) has
    the key ``written``: a key written a level too high (``[[rules]]`` for
    ``[[alerts.rules]]``, ``listen`` for ``http.listen``), named from the top as the
    error names its own key. Below a list of tables no dotted key reaches it: the
    header it goes under is named (``url under [[queues]]``). Else ""."""
    places = []
    for field in table.fields if table is not None else ():
        inner, listed = _table_of(field.type)
        if inner is None or written not in (f.encode_name for f in inner.fields):
            continue
        where = ".".join(part for part in (path, toml_key(field.encode_name)) if part)
        if listed:
            # A header names the list, not one of its entries: ``[[a.b]]``, not a.b[0].
            places.append(f"{toml_key(written)} under [[{_INDEX.sub('', where)}]]")
        else:
            places.append(f"{where}.{toml_key(written)}")
    return f" (did you mean {places[0]}?)" if len(places) == 1 else ""


#: An entry's index in a key as errors name it (``queues[0]``).
_INDEX = re.compile(r"\[\d+\]")


def _table_of(found: msgspec.inspect.Type) -> tuple[msgspec.inspect.StructType | None, bool]:
    """The table a key's value is (``X | None``, or a list of them), or None; and
    whether it is a list of them."""
    if isinstance(found, msgspec.inspect.UnionType):
        kept = [t for t in found.types if not isinstance(t, msgspec.inspect.NoneType)]
        found = kept[0] if len(kept) == 1 else found
    listed = isinstance(found, msgspec.inspect.ListType)
    if isinstance(found, msgspec.inspect.ListType):
        found = found.item_type
    return (found if isinstance(found, msgspec.inspect.StructType) else None), listed


def _part_of(part: str, word: str) -> bool:
    """Whether ``part`` is a ``_``-separated end of ``word`` (``url`` of ``events_url``)."""
    return len(part) >= 3 and (word.startswith(f"{part}_") or word.endswith(f"_{part}"))


_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


def type_at(found: msgspec.inspect.Type, path: str) -> msgspec.inspect.Type | None:
    """The type at ``path`` (``logging.level``, ``queues[0]``, "" for ``found``
    itself), or None when the path leads to none."""
    for part in _PART.findall(path):
        if isinstance(found, msgspec.inspect.StructType):
            fields = {field.encode_name: field.type for field in found.fields}
            if part not in fields:
                return None
            found = fields[part]
        elif isinstance(found, msgspec.inspect.ListType) and part.startswith("["):
            found = found.item_type
        elif isinstance(found, msgspec.inspect.DictType):
            found = found.value_type
        else:
            return None
        if isinstance(found, msgspec.inspect.UnionType):  # X | None
            kept = [t for t in found.types if not isinstance(t, msgspec.inspect.NoneType)]
            if len(kept) != 1:
                return None
            found = kept[0]
    return found


_STEP = re.compile(r"[^.\[\]]+|\[\d+\]|\[\.\.\.\]")
#: The name msgspec gives each type a TOML value decodes to (bool before int: a
#: bool is an int to isinstance; datetime before date, one too).
_TYPE_NAMES = (
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (str, "str"),
    (list, "array"),
    (datetime.datetime, "datetime"),
    (datetime.date, "date"),
    (datetime.time, "time"),
)


def keyed(message: str, data: Any) -> str:
    """``message`` with the ``[...]`` msgspec writes for a key of a table of names
    (``domains.groups[...]: Expected `array`, got `str```) replaced by the key whose
    value is of the type the message says it got, as a dotted key."""
    path, sep, rest = message.partition(": ")
    got = re.search(r"got `(\w+)`", rest)
    if "[...]" not in path or not sep or got is None:
        return message
    steps = _STEP.findall(path)
    at = steps.index("[...]")
    table = _walk(data, steps[:at])
    if not isinstance(table, dict):
        return message
    for name, value in table.items():
        if _name_of(_walk(value, steps[at + 1 :])) == got.group(1):
            return message.replace("[...]", f".{toml_key(name)}", 1)
    return message


def _walk(data: Any, steps: list[str]) -> Any:
    """What ``steps`` (``groups``, ``[1]``) lead to in ``data``; None where none."""
    for step in steps:
        if step.startswith("[") and isinstance(data, list):
            index = int(step[1:-1])
            data = data[index] if index < len(data) else None
        elif isinstance(data, dict):
            data = data.get(step)
        else:
            return None
    return data


def _name_of(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), "")
