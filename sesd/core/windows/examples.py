"""Recent examples of what problem events named, for alert text: message ids (a
delay's apart from a bounce's or a complaint's), sending identities and configuration
sets, each kind's few most recent distinct values with their event times. Texts arrive
cleaned (sesd.core.text).

Pure code: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sesd.core.text import clean_once

__all__ = ["CONFIG_SET", "EXAMPLES", "MESSAGE_ID", "OTHER_MESSAGE_ID", "SOURCE", "Examples"]

# The kinds examples are kept of; a bounce's or a complaint's message id is kept apart
# from a delay's (sesd.core.windows.breakdown.problem_kinds).
MESSAGE_ID, SOURCE, CONFIG_SET, OTHER_MESSAGE_ID = 0, 1, 2, 3
_EXAMPLE_KINDS: Final = 4

#: Examples of each kind kept per domain.
EXAMPLES: Final = 5


def _newest_first(entry: tuple[float, str]) -> float:
    return -entry[0]


class Examples:
    """The most recent distinct values of each kind, with their event times."""

    __slots__ = ("recent",)

    def __init__(self) -> None:
        self.recent: list[list[tuple[float, str]]] = [[] for _ in range(_EXAMPLE_KINDS)]

    def add(self, t: float, values: Iterable[tuple[int, str]]) -> None:
        """Keep each (kind, value) as seen at ``t``: a value kept already moves to ``t`` if
        that is later (one identity seen all through an incident stays in every window it
        was seen in, not only the one it was first seen in). All of a problem recipient's
        values in one call: a call for each cost about 1,000 instructions more a window
        noted in (cachegrind)."""
        for kind, value in values:
            recent = self.recent[kind]
            for index, (seen, known) in enumerate(recent):
                if known == value:
                    if t > seen:
                        del recent[index]
                        recent.append((t, value))
                    break
            else:
                recent.append((t, value))
                if len(recent) > EXAMPLES:
                    del recent[0]

    def since(self, kind: int, since: float, until: float) -> list[str]:
        """The kept values seen in ``(since, until]``, newest first (by event time; the
        last kept first among equal times)."""
        found = [(t, v) for t, v in reversed(self.recent[kind]) if since < t <= until]
        found.sort(key=_newest_first)
        return [v for _, v in found]

    def snapshot(self) -> list[list[list[Any]]]:
        """Plain data for the state file."""
        return [[[t, v] for t, v in recent] for recent in self.recent]

    def restore(self, data: list[list[list[Any]]]) -> None:
        """Load what :meth:`snapshot` returned (a file from before bounces' message ids
        were kept apart has three kinds; one from a later sesd's more are left out), each
        text cleaned as a live one is."""
        recent = [[(float(t), clean_once(str(v))) for t, v in kept[-EXAMPLES:]] for kept in data]
        self.recent = (recent + [[] for _ in range(_EXAMPLE_KINDS)])[:_EXAMPLE_KINDS]
