"""What a state file sesd refuses (another version's, a damaged one) still says of the
alerts it kept firing: the start names them, so the operator can close by hand the
incidents no sesd will resolve."""

from __future__ import annotations

import contextlib
from typing import Any, Final

import msgspec

from sesd.alerting.rules import Status
from sesd.core.text import clean

__all__ = ["NAMED_FIRING", "NAMED_RULES", "firing_in"]

#: How many of a file's alerts a log line names, for a person to close by hand: a
#: refused file's firing ones, a rule's a restart drops, or whose resolve owed cannot
#: be sent.
NAMED_FIRING: Final = 50
#: How many rules such a line names (each with its labels), the others counted: a
#: hand-edited or damaged file may name any number.
NAMED_RULES: Final = 20


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
    named = 0
    for owed, entry in entries:
        with contextlib.suppress(Exception):
            rule, states = (entry[0]["name"], entry[1]) if owed else entry  # [rule, states, why]
            for label, state in states.items():
                if named >= NAMED_FIRING:
                    return found
                named += _named(found, rule, label, state)
    return found


def _named(found: dict[str, list[str]], rule: Any, label: Any, state: Any) -> bool:
    """Whether ``state`` is firing and ``label`` named anew under ``rule`` in ``found``:
    each state read on its own, so that a damaged one (the file's damage) hides none
    of its rule's others."""
    with contextlib.suppress(Exception):
        name, shown = clean(str(rule)), clean(str(label))
        # Once: a label may fire again while its resolve is owed.
        if state[0] == Status.FIRING.value and shown not in found.get(name, []):
            found.setdefault(name, []).append(shown)
            return True
    return False
