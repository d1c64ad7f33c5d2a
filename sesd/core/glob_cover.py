"""Whether a domain glob takes a domain that others leave in: ``*.example.com`` less
``*.com`` takes none, though the two are written otherwise, and a rule on it would
never fire. Globs as :mod:`fnmatch` matches them, on domain labels in normal form
(sesd.core.globs). Pure."""

from __future__ import annotations

import re
import string
from collections import deque
from collections.abc import Collection
from fnmatch import fnmatchcase
from typing import Final

from sesd.core.globs import glob_parts

__all__ = ["leaves_a_domain"]

#: The characters of a domain label in normal form (lower case, IDNA's ASCII form).
_CHARACTERS: Final = string.ascii_lowercase + string.digits + "_-."
#: A domain name's longest text, and one of its dot-separated parts' (RFC 1035).
_LONGEST_NAME: Final = 253
_LONGEST_PART: Final = 63
#: The states a search visits at most. Globs written to defeat it (a long run of
#: ``*a*a*a`` against many others) could ask for millions: past these, the glob is
#: said to take a domain left in. Telling for sure is costly there, and a rule that
#: never fires is less harm than a config refused by mistake.
_MOST_STATES: Final = 5_000
#: The work one answer does at most, over all its searches: at each step, the
#: characters tried times the places the globs are at (a quarter of a microsecond of
#: CPU each). A search is made again for each name found, and a step costs more the
#: more globs there are: ten globs and sixty names took 50 s of CPU bound by states
#: alone. Past this (about a quarter of a second), the glob is said to take a domain
#: left in. ``[a-z0-9_].example`` less each of its 37 domains by name takes 600,000.
_MOST_WORK: Final = 1_000_000

#: A glob's parts (sesd.core.globs.glob_parts), a run of stars as one.
_Parts = tuple[tuple[str, str], ...]
#: Where each glob is: (which glob, how many of its parts are matched).
_At = frozenset[tuple[int, int]]
#: A domain's form: its last part's length (in a loose search, 1 for any), whether
#: that part ends in '-'.
_Shape = tuple[int, bool]


def leaves_a_domain(glob: str, excluded: Collection[str]) -> bool:
    """Whether ``glob`` matches some domain label in normal form that none of
    ``excluded`` (globs, or names, which match themselves alone) matches. Told so too
    when that is costly to tell (:data:`_MOST_STATES`, :data:`_MOST_WORK`,
    :data:`_MOST_NAMES`)."""
    # Most rules fire on one of the few domains their glob takes most simply
    # (``a.shop.example`` of ``*.shop.example``): one no exclusion takes (none of the
    # texts the search avoids) tells so in microseconds, where a search takes
    # milliseconds a rule. Only when each of them is left out is the search made, and
    # it decides: a rule is refused by the search alone. A name is looked up, not
    # matched: thousands of them would each be made a pattern, once.
    globs, names = _globs_and_names(excluded)
    if any(
        domain not in names and not any(fnmatchcase(domain, pattern) for pattern in globs)
        for domain in _some_domains(glob)
    ):
        return True
    return _searched(glob, excluded)


def _globs_and_names(excluded: Collection[str]) -> tuple[list[str], set[str]]:
    """The globs of ``excluded``, and its names (each matches itself alone)."""
    globs = [pattern for pattern in excluded if any(c in pattern for c in "*?[")]
    return globs, set(excluded).difference(globs)


def _searched(glob: str, excluded: Collection[str]) -> bool:
    """:func:`leaves_a_domain`, told by the search alone."""
    if glob in excluded:
        return False
    globs, names = _globs_and_names(excluded)
    # The names are a few of the domains the globs leave in, at most: each is stepped
    # around once found, not searched beside (a thousand of them, each begun, made a
    # search of tens of thousands of steps).
    found_names: list[str] = []
    work = _Work()
    try:
        for _ in range(_MOST_NAMES):
            found = _shortest_left(glob, globs + found_names, work)
            if found is None or found not in names:
                return found is not None
            found_names.append(found)
    except _TooMany:
        pass
    return True


#: What a star takes in each domain :func:`_some_domains` makes, and a ``?`` or a set
#: (the first character a set takes when not this one): nothing or a character, of
#: each end of the alphabet (an exclusion ``a*`` or ``[a-m]*`` leaves ``z``) and a digit.
_FILLS: Final = (("", "a"), ("a", "a"), ("", "z"), ("z", "z"), ("", "0"), ("0", "0"))
#: A domain label in normal form (sesd.core.domains): the texts a search finds (parts
#: of 1 to 63, neither beginning nor ending in '-').
_DOMAIN: Final = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)


def _some_domains(glob: str) -> list[str]:
    """A few domains in normal form that ``glob`` matches, if written so that one is
    (``*.shop.example`` gives ``a.shop.example``): each star as nothing or one
    character, each ``?`` and set as one it takes. Cheap, and not every domain:
    ``*.example`` less ``[a-z]*`` and ``[0-9]*`` leaves ``_.example``, which none of
    these is."""
    parts = list(glob_parts(glob))
    found: dict[str, None] = {}
    for star, one in _FILLS:
        text = "".join(
            star
            if kind == "*"
            else one
            if kind == "?"
            else next((c for c in one + _CHARACTERS if fnmatchcase(c, part)), "")
            if kind == "set"
            else part
            for kind, part in parts
        )
        if len(text) <= _LONGEST_NAME and _DOMAIN.fullmatch(text) and fnmatchcase(text, glob):
            found[text] = None
    return list(found)


#: The names a search steps around at most, each found as the shortest domain left in:
#: past them, the glob is said to take a domain left in.
_MOST_NAMES: Final = 64


def _shortest_left(glob: str, excluded: list[str], work: _Work) -> str | None:
    """The shortest domain label ``glob`` matches and none of ``excluded`` does."""
    globs = [_parts(glob), *(_parts(pattern) for pattern in dict.fromkeys(excluded))]
    # A part's length is counted only when a text found with parts of any length has
    # one longer than a domain's: most searches then take a few hundred steps.
    found = _search(globs, work, loose=True)
    if found is None or all(len(part) <= _LONGEST_PART for part in found.split(".")):
        return found
    return _search(globs, work, loose=False)


class _TooMany(Exception):
    """A search past :data:`_MOST_STATES`, or an answer's searches past
    :data:`_MOST_WORK`."""


class _Work:
    """The work an answer's searches have done so far (:data:`_MOST_WORK`)."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = 0

    def add(self, work: int) -> None:
        self.done += work
        if self.done > _MOST_WORK:
            raise _TooMany


def _parts(pattern: str) -> _Parts:
    """The parts of ``pattern``, each run of stars one star (it takes what one takes)."""
    written = list(glob_parts(pattern))
    return tuple(p for i, p in enumerate(written) if p[0] != "*" or written[i - 1 : i] != [p])


def _search(globs: list[_Parts], work: _Work, loose: bool) -> str | None:
    """The shortest domain label the first of ``globs`` matches and none of the others
    does, if any (:class:`_TooMany` past :data:`_MOST_STATES`, or ``work`` past
    :data:`_MOST_WORK`). A search over where each glob is and the domain's form, a
    character of each kind tried at each (characters that every glob's part takes
    alike, and a domain's form too, step alike)."""
    kinds = _kinds(globs)
    first: tuple[_At, _Shape] = (_closed(globs, {(g, 0) for g in range(len(globs))}), (0, False))
    came: dict[tuple[_At, _Shape], tuple[tuple[_At, _Shape], str] | None] = {first: None}
    waiting = deque([first])
    while waiting:
        state = waiting.popleft()
        at, shape = state
        if _ends(globs, at, shape):
            text = _read_back(came, state)
            return text if len(text) <= _LONGEST_NAME else None
        work.add(len(kinds) * (len(at) + 1))
        for c in kinds:
            after = _shape_after(shape, c, loose)
            if after is None:
                continue
            following = (_after(globs, at, c), after)
            if not any(g == 0 for g, _ in following[0]):
                continue  # the first glob matches no text that begins so
            if following not in came:
                if len(came) >= _MOST_STATES:
                    raise _TooMany
                came[following] = (state, c)
                waiting.append(following)
    return None


def _kinds(globs: list[_Parts]) -> list[str]:
    """One character of each kind: those that each part of ``globs`` takes alike, and
    a domain's form steps on alike (a '.', a '-', any other)."""
    found: dict[tuple[object, ...], str] = {}
    parts = {part for parts in globs for part in parts if part[0] != "*"}
    for c in _CHARACTERS:
        key = (c if c in ".-" else "", *(_takes(part, c) for part in sorted(parts)))
        found.setdefault(key, c)
    return list(found.values())


def _takes(part: tuple[str, str], c: str) -> bool:
    """Whether a glob's part other than a star takes the character ``c``."""
    kind, text = part
    return kind == "?" or (kind == "set" and fnmatchcase(c, text)) or text == c


def _closed(globs: list[_Parts], at: set[tuple[int, int]]) -> _At:
    """``at`` and where each glob is with its star there taking nothing."""
    closed = set(at)
    for g, i in at:
        if i < len(globs[g]) and globs[g][i][0] == "*":
            closed.add((g, i + 1))
    return frozenset(closed)


def _after(globs: list[_Parts], at: _At, c: str) -> _At:
    """Where each glob is after the character ``c``: a star takes it and stays."""
    following = set()
    for g, i in at:
        if i == len(globs[g]):
            continue
        part = globs[g][i]
        if part[0] == "*":
            following.add((g, i))
        elif _takes(part, c):
            following.add((g, i + 1))
    return _closed(globs, following)


def _ends(globs: list[_Parts], at: _At, shape: _Shape) -> bool:
    """Whether a text ending here is a domain the first glob matches, none other."""
    part, hyphen = shape
    return (
        part > 0
        and not hyphen
        and (0, len(globs[0])) in at
        and not any((g, len(globs[g])) in at for g in range(1, len(globs)))
    )


def _shape_after(shape: _Shape, c: str, loose: bool) -> _Shape | None:
    """A domain's form after ``c``, or None where no domain goes on so: a part neither
    empty, nor beginning or ending in '-', nor (counted) longer than a domain's."""
    part, hyphen = shape
    if c == ".":
        return None if not part or hyphen else (0, False)
    if (c == "-" and not part) or part == _LONGEST_PART:
        return None
    return (1 if loose else part + 1), c == "-"


def _read_back(
    came: dict[tuple[_At, _Shape], tuple[tuple[_At, _Shape], str] | None],
    state: tuple[_At, _Shape],
) -> str:
    """The text of the steps that reached ``state``."""
    taken: list[str] = []
    step = came[state]
    while step is not None:
        state, c = step
        taken.append(c)
        step = came[state]
    return "".join(reversed(taken))
