"""Globs as a rule names labels (``*``, ``?``, ``[...]``, matched as :mod:`fnmatch`
matches): their parts, and whether one can take a domain label (or another label of a
known form) at all. A glob that can take none watches nothing in a rule (or, left
out, leaves out nothing), or mutes nothing in a silence, so it is refused. Pure."""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
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
#: Where a search is: the glob's part, the text's form, the text so far while it
#: begins one of those to avoid (None once it begins none).
_State = tuple[int, Form, str | None]


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


def glob_takes_a_domain(pattern: str, besides: Collection[str] = ()) -> bool:
    """Whether some domain label in its normal form, but those of ``besides``, matches
    ``pattern``: dot-separated parts of letters, digits, ``_`` and ``-`` (not a part's
    first nor last), each at most 63 long, 253 in all (the labels
    sesd.core.domains.normalise_domain gives)."""
    # Searched first with a part only begun or not, not of each length to 63: a long
    # glob that takes no domain is told so in a few hundred steps, not tens of
    # thousands (a quarter of a second for a 300-character one). Lengths are counted
    # only when the text found has a part longer than a domain's.
    loose = _Form(_DOMAIN_CHARACTERS, (0, False), _begun_step, _domain_ends, _LONGEST_NAME)
    domain = _Form(_DOMAIN_CHARACTERS, (0, False), _domain_step, _domain_ends, _LONGEST_NAME)
    return _takes(domain, pattern, besides, (loose, _parts_fit))


def glob_takes_a_sequence(pattern: str, items: Sequence[Item]) -> bool:
    """Whether ``pattern`` matches some text made of ``items`` in turn, each (its
    characters, the fewest and the most of them): an ``ACCOUNT/REGION`` label, say.
    An item that may take one more of its characters takes it, so a character of an
    item that may take more is none of the next item's (sesd.core.accounts' are so)."""
    # Characters in the same items step alike: one kind.
    kinds: dict[frozenset[int], str] = {}
    for c in dict.fromkeys("".join(chars for chars, _, _ in items)):
        key = frozenset(i for i, (chars, _, _) in enumerate(items) if c in chars)
        kinds[key] = kinds.get(key, "") + c
    form = _Form(
        tuple(kinds.values()),
        (0, 0),
        lambda form, c: _sequence_step(items, form, c),
        lambda form: _sequence_ends(items, form),
        min(_LONGEST_NAME, sum(most for _, _, most in items)),
    )
    return _takes(form, pattern)


@dataclass(frozen=True, slots=True)
class _Form:
    """The form of the texts a glob is tried on: the characters of each of ``kinds``
    step alike; ``start`` is a text's form before a character, ``step`` its form after
    one (None where no text of it goes on so), ``ends`` whether a text may end in a
    form; ``longest``, the longest text."""

    kinds: Sequence[str]
    start: Form
    step: Callable[[Form, str], Form | None]
    ends: Callable[[Form], bool]
    longest: int


def _takes(
    form: _Form,
    pattern: str,
    besides: Collection[str] = (),
    loose: tuple[_Form, Callable[[str], bool]] | None = None,
) -> bool:
    """Whether ``pattern`` matches some text of ``form``, none of ``besides``. The
    shortest text it matches (:func:`_found`) is most often none of them: the search
    that steps around them (each one's beginnings) is made only when it is one.
    ``loose``: see :func:`_shortest`."""
    # Only a text the glob matches can be found: one of ``besides`` it does not match
    # needs no avoiding (stepped through, each member of a large group cost the search
    # its beginnings, a second of CPU a thousand members).
    avoided = {text for text in besides if fnmatchcase(text, pattern)}
    shortest = _shortest(form, pattern, loose)
    if shortest is None or shortest not in avoided:
        return shortest is not None
    return _found(form, pattern, avoided) is not None


def _shortest(
    form: _Form, pattern: str, loose: tuple[_Form, Callable[[str], bool]] | None
) -> str | None:
    """The shortest text of ``form`` that ``pattern`` matches, if any. ``loose``, a
    form that takes every text ``form`` does and more, searched in fewer steps, and
    which of its texts ``form`` takes: its shortest text, when ``form`` takes it, is
    one of ``form``'s shortest; none there is none here."""
    if loose is not None:
        looser, takes = loose
        found = _found(looser, pattern)
        if found is None or takes(found):
            return found
    return _found(form, pattern)


def _found(form: _Form, pattern: str, besides: Collection[str] = ()) -> str | None:
    """A text of ``form`` that ``pattern`` matches, none of ``besides``, if any: the
    shortest, as found without ``besides``; with them, "" for one found.

    A search over (the glob's part, the text's form, the text so far while it begins
    one of ``besides``), a character of each kind tried at each (and each character
    that goes on one of ``besides``): the shortest text the glob and the form both
    take, if any, is found in a few thousand steps, where trying ``*`` as nothing or
    as ``a`` would miss ``*.com`` or ``[-a]*``. A run of stars is one (it takes what
    one takes), and a glob of more characters than the longest text, or with one no
    text has, takes none: a search has at most twice the longest text's parts,
    however long the glob."""
    written = list(glob_parts(pattern))
    parts = [p for i, p in enumerate(written) if p[0] != "*" or written[i - 1 : i] != [p]]
    characters = _Characters(parts, form.kinds, _begun(besides))
    if sum(kind != "*" for kind, _ in parts) > form.longest:
        return None
    if any(kind != "*" and not characters.of_kinds(at) for at, (kind, _) in enumerate(parts)):
        return None  # a character no text has: "@", "/"
    first: _State = (0, form.start, "" if besides else None)
    length = {first: 0}
    # Without ``besides``, how each state was reached: the text found is read back.
    came: dict[_State, tuple[_State, str]] = {}
    waiting = deque([first])
    while waiting:
        state = waiting.popleft()
        at, shape, text = state
        if at == len(parts) and form.ends(shape) and text not in besides:
            if length[state] > form.longest:
                return None
            return "" if besides else _read_back(came, state)
        if at == len(parts):
            continue
        star = parts[at][0] == "*"
        steps: list[tuple[str, _State]] = [("", (at + 1, shape, text))] if star else []
        steps += [  # (a star takes no more, above; or one more character)
            (c, (at if star else at + 1, after, following))
            for c, following in characters.after(at, text)
            if (after := form.step(shape, c)) is not None
        ]
        for c, following_state in steps:
            if length[state] + len(c) < length.get(following_state, form.longest + 1):
                length[following_state] = length[state] + len(c)
                if not besides:
                    came[following_state] = (state, c)
                # A step that takes nothing is searched first: texts come shortest first.
                if c:
                    waiting.append(following_state)
                else:
                    waiting.appendleft(following_state)
    return None


def _begun(besides: Collection[str]) -> dict[str, set[str]]:
    """Each beginning of a text of ``besides``: the characters that go on after it."""
    begun: dict[str, set[str]] = {}
    for avoided in besides:
        for n in range(len(avoided)):
            begun.setdefault(avoided[:n], set()).add(avoided[n])
    return begun


def _read_back(came: dict[_State, tuple[_State, str]], state: _State) -> str:
    """The text of the steps that reached ``state``."""
    taken: list[str] = []
    while state in came:
        state, c = came[state]
        taken.append(c)
    return "".join(reversed(taken))


class _Characters:
    """The characters a search tries at a glob's part: one of each kind the part takes
    (all of a kind step alike), and, where the text so far begins one of the texts to
    avoid, each part-taken character that goes on one of them, with the text it makes
    (None once it begins none)."""

    def __init__(
        self, parts: list[tuple[str, str]], kinds: Sequence[str], begun: dict[str, set[str]]
    ) -> None:
        self._parts = parts
        self._kinds = kinds
        self._begun = begun
        self._known: dict[tuple[int, str | None], list[tuple[str, str | None]]] = {}

    def of_kinds(self, at: int) -> bool:
        """Whether the part takes a character of some kind."""
        return bool(self.after(at, None))

    def after(self, at: int, text: str | None) -> list[tuple[str, str | None]]:
        key = (at, text)
        if key not in self._known:
            glob = self._parts[at][1]
            # A character of no kind goes on no text of the form.
            going_on = self._begun.get(text or "", set()) & set("".join(self._kinds))
            going_on = going_on if text is not None else set()
            found: list[tuple[str, str | None]] = [
                (c, f"{text}{c}") for c in sorted(going_on) if fnmatchcase(c, glob)
            ]
            for kind in self._kinds:
                c = next((c for c in kind if c not in going_on and fnmatchcase(c, glob)), "")
                if c:
                    found.append((c, None))
            self._known[key] = found
        return self._known[key]


def _domain_step(form: Form, c: str) -> Form | None:
    """A domain's form after ``c`` (its part's length, whether it ends in ``-``), or
    None where no domain label goes on so."""
    part, hyphen = form
    if c == ".":
        return None if not part or hyphen else (0, False)
    if part == _LONGEST_PART or (c == "-" and not part):
        return None
    return part + 1, c == "-"


def _begun_step(form: Form, c: str) -> Form | None:
    """A domain's form after ``c`` as :func:`_domain_step` has it, but for its part's
    length: only whether the part is begun (so a part of any length goes on)."""
    after = _domain_step(form, c)
    return None if after is None else (min(after[0], 1), after[1])


def _parts_fit(text: str) -> bool:
    """Whether each dot-separated part of ``text`` is short enough for a domain's."""
    return all(len(part) <= _LONGEST_PART for part in text.split("."))


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
