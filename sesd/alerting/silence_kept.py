"""Which silences of the file the daemon keeps in force: those that are silences and
that the config's checks find right. Each other is left out, and logged when first
left out or when why changes: not again at each read of the file (each ``sesd silence
add``) nor at each check given anew (a reload)."""

from __future__ import annotations

from collections.abc import Callable

from sesd.alerting.silence_entries import Entry, entry_content
from sesd.alerting.silences import Silence
from sesd.io.logs import get_logger

__all__ = ["Kept"]

#: A silence's matchers, what the config's checks read of it.
Matchers = tuple[str | None, str | None, str | None]


class Kept:
    """The checks a silence must pass, and the entries left out at the last read."""

    def __init__(self) -> None:
        self._log = get_logger()
        #: Each entry left out at the last read (as :func:`entry_content` has it), and why.
        self._told: dict[bytes, str] = {}
        self.given(None)

    def given(self, check: Callable[[Silence], str] | None) -> None:
        """Check with ``check`` from now on (its reason; "" when right), each set of
        matchers anew."""
        self._given = check or (lambda silence: "")
        self._said: dict[Matchers, str] = {}

    def forget(self) -> None:
        """Another file is read: each entry it leaves out is said."""
        self._told = {}

    def take(self, entries: list[Entry], path: str | None) -> list[Silence]:
        """The silences of ``entries`` (of the file at ``path``) that are right; each
        other logged, why it is left out, once while it stays so."""
        kept: list[Silence] = []
        told, self._told = self._told, {}
        for entry in entries:
            problem = entry.problem(self._check)
            if entry.silence is not None and not problem:
                kept.append(entry.silence)
                continue
            content = entry_content(entry)
            self._told[content] = problem
            if told.get(content) == problem:
                continue  # as logged: its place may have moved, not what is wrong
            self._log.warning(
                "sesd.silences.skipped", path=path, entry=entry.number, id=entry.id, reason=problem
            )
        # Kept for the silences the file holds: one leaves it a while after it ends,
        # and silences added for months without a reload would otherwise all stay.
        held = {_matchers(entry.silence) for entry in entries if entry.silence is not None}
        self._said = {key: said for key, said in self._said.items() if key in held}
        return kept

    def _check(self, silence: Silence) -> str:
        """What the check says of ``silence``, said once for each set of matchers: a
        change of the file (each ``sesd silence add``) checks only new ones (a long
        glob's search takes a while, and holds the evaluation)."""
        key = _matchers(silence)
        if key not in self._said:
            self._said[key] = self._given(silence)
        return self._said[key]


def _matchers(silence: Silence) -> Matchers:
    """What the config's checks read of ``silence``: its matchers."""
    return silence.rule, silence.domain, silence.severity
