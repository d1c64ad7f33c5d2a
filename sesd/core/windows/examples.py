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
        # Per kind, value -> its event time, oldest first (a value seen later moves last).
        self.recent: list[dict[str, float]] = [{} for _ in range(_EXAMPLE_KINDS)]

    def add(self, t: float, values: Iterable[tuple[int, str]]) -> None:
        """Keep each (kind, value) as seen at ``t``: a value kept already moves to ``t`` if
        that is later (one identity seen all through an incident stays in every window it
        was seen in, not only the one it was first seen in). All of a problem recipient's
        values in one call: a call for each cost about 1,000 instructions more a window
        noted in (cachegrind). Each kind's values are a dict in the order kept, found by
        key: a list of (time, value) searched from its oldest cost 900 instructions an
        event more (a message id, new each time, compared with all five kept)."""
        for kind, value in values:
            recent = self.recent[kind]
            seen = recent.get(value)
            if seen is None:
                recent[value] = t
                if len(recent) > EXAMPLES:
                    del recent[next(iter(recent))]
            elif t > seen:
                del recent[value]
                recent[value] = t

    def since(self, kind: int, since: float, until: float) -> list[str]:
        """The kept values seen in ``(since, until]``, newest first (by event time; the
        last kept first among equal times)."""
        found = [(t, v) for v, t in reversed(self.recent[kind].items()) if since < t <= until]
        found.sort(key=_newest_first)
        return [v for _, v in found]

    def snapshot(self) -> list[list[list[Any]]]:
        """Plain data for the state file."""
        return [[[t, v] for v, t in recent.items()] for recent in self.recent]

    def restore(self, data: list[list[list[Any]]]) -> None:
        """Load what :meth:`snapshot` returned (a file from before bounces' message ids
        were kept apart has three kinds; one from a later sesd's more are left out), each
        text cleaned as a live one is."""
        loaded = Examples()  # (taken whole: a file that fails to load changes nothing)
        for kind, kept in enumerate(data[:_EXAMPLE_KINDS]):
            # As add() keeps them: texts an older sesd saved apart that clean to one text
            # are kept once.
            for t, v in kept[-EXAMPLES:]:
                loaded.add(float(t), ((kind, clean_once(str(v))),))
        self.recent = loaded.recent
