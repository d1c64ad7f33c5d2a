"""Globs as a rule names labels (``*``, ``?``, ``[...]``, matched as :mod:`fnmatch`
matches): their parts, and whether one can take a domain label at all. A glob that
can take none watches nothing in a rule (or, left out, leaves out nothing), so the
config refuses it. Pure."""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Final

__all__ = ["glob_parts", "glob_takes_a_domain"]

#: The characters of a domain label (sesd.core.domains: lower case, IDNA's ASCII form),
#: by what a domain's form makes of them: any of the first alike, a '-', a '.'.
_DOMAIN_CHARACTERS: Final = (string.ascii_lowercase + string.digits + "_", "-", ".")
#: A domain name's longest text, and one of its dot-separated parts' (RFC 1035).
_LONGEST_NAME: Final = 253
_LONGEST_PART: Final = 63


def glob_parts(pattern: str) -> Iterator[tuple[str, str]]:
    """A glob's parts, split as :func:`fnmatch.translate` does: ``*``, ``?``, a
    ``[...]`` set (one whose ``]`` is missing is a ``[`` as written), a character."""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            end = i + 1
            end += pattern.startswith("!", end)
            end += pattern.startswith("]", end)
            end = pattern.find("]", end)
            if end != -1:
                yield "set", pattern[i : end + 1]
                i = end + 1
                continue
        yield (c if c in "*?" else "character"), c
        i += 1


def glob_takes_a_domain(pattern: str) -> bool:
    """Whether some domain label in its normal form matches ``pattern``: dot-separated
    parts of letters, digits, ``_`` and ``-`` (not a part's first nor last), each at
    most 63 long, 253 in all (the labels sesd.core.domains.normalise_domain gives).

    A search over (the glob's part, the length of the domain's part so far, whether
    it ended in ``-``), a character of each kind tried at each: the shortest text the
    glob and a domain's form both take, if any, is found in a few thousand steps,
    where trying ``*`` as nothing or as ``a`` would miss ``*.com`` or ``[-a]*``."""
    parts = list(glob_parts(pattern))
    # What each part takes, one character of each kind (all of a kind step alike).
    takes = [
        [next((c for c in kind if fnmatchcase(c, text)), "") for kind in _DOMAIN_CHARACTERS]
        for _, text in parts
    ]
    start = (0, 0, False)
    length = {start: 0}
    waiting = deque([start])
    while waiting:
        state = waiting.popleft()
        at, part, hyphen = state
        if at == len(parts) and part and not hyphen:
            return length[state] <= _LONGEST_NAME
        if at == len(parts):
            continue
        star = parts[at][0] == "*"
        steps = [(0, (at + 1, part, hyphen))] if star else []  # the star takes no more
        steps += [
            (1, (at if star else at + 1, *after))
            for c in takes[at]
            if c and (after := _domain_step(part, hyphen, c)) is not None
        ]
        for cost, following in steps:
            if length[state] + cost < length.get(following, _LONGEST_NAME + 1):
                length[following] = length[state] + cost
                # A step that takes nothing is searched first: texts come shortest first.
                if cost:
                    waiting.append(following)
                else:
                    waiting.appendleft(following)
    return False


def _domain_step(part: int, hyphen: bool, c: str) -> tuple[int, bool] | None:
    """The domain's form after ``c`` (its part's length, whether it ends in ``-``), or
    None where no domain label goes on so."""
    if c == ".":
        return None if not part or hyphen else (0, False)
    if part == _LONGEST_PART or (c == "-" and not part):
        return None
    return part + 1, c == "-"
