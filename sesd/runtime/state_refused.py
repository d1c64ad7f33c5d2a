"""What a state file sesd refuses (another version's, a damaged one) still says of the
alerts it kept firing: the start names them, so the operator can close by hand the
incidents no sesd will resolve."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec

from sesd.alerting.rules import Status
from sesd.core.text import clean

__all__ = ["NAMED_BYTES", "NAMED_FIRING", "NAMED_RULES", "firing_in", "in_line", "rules_in_line"]

#: How many of a rule's alerts a log line names, for a person to close by hand: a
#: refused file's firing ones, a rule's a restart drops, or whose resolve owed cannot
#: be sent (the others counted).
NAMED_FIRING: Final = 50
#: How many rules such a line names (each with its labels), the others counted: a
#: hand-edited or damaged file may name any number.
NAMED_RULES: Final = 20
#: The most the names of such a line take, as the JSON log writes them (every character
#: not ASCII escaped): journald keeps 48 KiB of a line by default (``LineMax=``) and
#: cuts or splits a longer one, which a person can then neither read nor grep whole.
#: 20 rules of 50 labels of 200 characters are about 200 kB.
NAMED_BYTES: Final = 16 * 1024


def firing_in(blob: bytes) -> dict[str, list[str]]:
    """The firing alerts (rule -> labels) a state file sesd cannot use still shows
    (another version's, a damaged one), as far as it can be read, and those whose
    resolve it keeps owed (``retired``): their incidents stay open in the sinks unless
    someone resolves them. Empty when nothing reads. Whatever the damage, what could be
    read is named: an entry of a shape this build does not know hides no other."""
    found: dict[str, list[str]] = {}
    entries: list[tuple[bool, Any]] = []
    with contextlib.suppress(Exception):
        data = msgspec.msgpack.decode(blob)
        with contextlib.suppress(Exception):
            entries += [(False, entry) for entry in data["alerts"].items()]
        with contextlib.suppress(Exception):
            entries += [(True, entry) for entry in data.get("retired") or ()]
    # Every one: the line names as many as it holds and counts the others (the first 50
    # of the file named, the others were counted nowhere, of whichever rules).
    seen: set[tuple[str, str]] = set()
    for owed, entry in entries:
        with contextlib.suppress(Exception):
            rule, states = (entry[0]["name"], entry[1]) if owed else entry  # [rule, states, why]
            for label, state in states.items():
                _named(found, seen, rule, label, state)
    return found


def _named(
    found: dict[str, list[str]], seen: set[tuple[str, str]], rule: Any, label: Any, state: Any
) -> None:
    """Name ``label`` under ``rule`` in ``found`` if ``state`` is firing and it is not
    in ``seen`` yet: each state read on its own, so that a damaged one (the file's
    damage) hides none of its rule's others."""
    with contextlib.suppress(Exception):
        name, shown = clean(str(rule)), clean(str(label))
        # Once: a label may fire again while its resolve is owed.
        if state[0] == Status.FIRING.value and (name, shown) not in seen:
            seen.add((name, shown))
            found.setdefault(name, []).append(shown)


def in_line(texts: Sequence[str], most: int, room: int = NAMED_BYTES) -> list[str]:
    """The first of ``texts`` a log line names: at most ``most``, in ``room`` bytes as
    the JSON log writes them (:data:`NAMED_BYTES`)."""
    named = []
    for text in texts[:most]:
        room -= _size(text)
        if room < 0:
            break
        named.append(text)
    return named


def rules_in_line(rules: Iterable[tuple[str, Sequence[str]]]) -> dict[str, Any]:
    """The fields of a log line naming ``rules`` (each with its labels, in the order
    given): ``rules``, at most :data:`NAMED_RULES` of them and :data:`NAMED_FIRING`
    labels of each, in :data:`NAMED_BYTES`; ``rules_not_named`` counting the rules
    left out, ``labels_not_named`` the labels of rules named that the bound left out."""
    given = list(rules)
    named: dict[str, list[str]] = {}
    room, labels_left = NAMED_BYTES, 0
    for name, labels in given[:NAMED_RULES]:
        room -= _size(name) + 4  # the list's brackets and the key's colon and space
        shown = in_line(labels, NAMED_FIRING, room)
        if room < 0 or (labels and not shown):
            break  # no room for the rule, or for a label of it: counted as not named
        room -= sum(map(_size, shown))
        named[name] = shown
        labels_left += len(labels) - len(shown)
    fields: dict[str, Any] = {"rules": named}
    if len(given) > len(named):
        fields["rules_not_named"] = len(given) - len(named)
    if labels_left:
        fields["labels_not_named"] = labels_left
    return fields


def _size(text: str) -> int:
    """``text``'s bytes in the JSON log: escaped, quoted, and the separator after it."""
    return len(json.dumps(text)) + 2
