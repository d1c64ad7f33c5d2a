"""Globs as a rule names labels (``*``, ``?``, ``[...]``, matched as :mod:`fnmatch`
matches): their parts, and whether one can take a domain label (or another label of a
known form) at all. A glob that can take none watches nothing in a rule (or, left
out, leaves out nothing), or mutes nothing in a silence, so it is refused. Pure."""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from fnmatch import fnmatchcase
from typing import Final

__all__ = ["Item", "glob_parts", "glob_takes_a_domain", "glob_takes_a_sequence"]

#: One item of a sequence of characters: its characters, the fewest and the most.
Item = tuple[str, int, int]
#: Where a text is in its form (a domain's part and whether it ends in '-'; a
#: sequence's item and how many of it): what a search steps on.
Form = tuple[int, int]

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
    most 63 long, 253 in all (the labels sesd.core.domains.normalise_domain gives)."""
    return _takes(pattern, _DOMAIN_CHARACTERS, (0, False), _domain_step, _domain_ends)


def glob_takes_a_sequence(pattern: str, items: Sequence[Item]) -> bool:
    """Whether ``pattern`` matches some text made of ``items`` in turn, each (its
    characters, the fewest and the most of them): an ``ACCOUNT/REGION`` label, say.
    An item that may take one more of its characters takes it, so a character of an
    item that may take more is none of the next item's (sesd.core.accounts' are so)."""
    kinds = tuple(dict.fromkeys("".join(chars for chars, _, _ in items)))
    return _takes(
        pattern,
        kinds,
        (0, 0),
        lambda form, c: _sequence_step(items, form, c),
        lambda form: _sequence_ends(items, form),
    )


def _takes(
    pattern: str,
    kinds: Sequence[str],
    start: Form,
    step: Callable[[Form, str], Form | None],
    ends: Callable[[Form], bool],
) -> bool:
    """Whether ``pattern`` matches some text of a form: ``start`` is its form before a
    character, ``step`` its form after one (None where no text of it goes on so),
    ``ends`` whether a text may end in a form; the characters of each of ``kinds``
    step alike. At most 253 long (the longest domain name).

    A search over (the glob's part, the text's form), a character of each kind tried
    at each: the shortest text the glob and the form both take, if any, is found in a
    few thousand steps, where trying ``*`` as nothing or as ``a`` would miss
    ``*.com`` or ``[-a]*``."""
    parts = list(glob_parts(pattern))
    # What each part takes, one character of each kind (all of a kind step alike).
    takes = [
        [next((c for c in kind if fnmatchcase(c, text)), "") for kind in kinds] for _, text in parts
    ]
    first = (0, start)
    length = {first: 0}
    waiting = deque([first])
    while waiting:
        state = waiting.popleft()
        at, form = state
        if at == len(parts) and ends(form):
            return length[state] <= _LONGEST_NAME
        if at == len(parts):
            continue
        star = parts[at][0] == "*"
        steps = [(0, (at + 1, form))] if star else []  # the star takes no more
        steps += [
            (1, (at if star else at + 1, after))
            for c in takes[at]
            if c and (after := step(form, c)) is not None
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


def _domain_step(form: Form, c: str) -> Form | None:
    """A domain's form after ``c`` (its part's length, whether it ends in ``-``), or
    None where no domain label goes on so."""
    part, hyphen = form
    if c == ".":
        return None if not part or hyphen else (0, False)
    if part == _LONGEST_PART or (c == "-" and not part):
        return None
    return part + 1, c == "-"


def _domain_ends(form: Form) -> bool:
    """Whether a domain may end in ``form``: its last part neither empty nor ending
    in ``-``."""
    part, hyphen = form
    return bool(part) and not hyphen


def _sequence_step(items: Sequence[Item], form: Form, c: str) -> Form | None:
    """A sequence's form after ``c`` (its item, how many of it so far), or None."""
    at, taken = form
    while at < len(items):
        chars, fewest, most = items[at]
        if taken < most and c in chars:
            return at, taken + 1
        if taken < fewest:
            return None
        at, taken = at + 1, 0
    return None


def _sequence_ends(items: Sequence[Item], form: Form) -> bool:
    """Whether a sequence may end in ``form``: its items have their fewest."""
    at, taken = form
    return taken >= items[at][1] and all(fewest == 0 for _, fewest, _ in items[at + 1 :])
