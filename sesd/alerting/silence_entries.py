"""The entries of a silences file, each read on its own: one edited in by hand that
is no silence is kept as written, with why, and leaves the others in force."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec

from sesd.alerting.silences import TEXT_SHOWN, Silence, SilenceSet, shown_id
from sesd.core.text import escaped

__all__ = ["Entry", "Stored", "ended_by", "entry_content", "entry_of", "still_ended"]


class Stored(msgspec.Struct):
    """The file's content, each silence as written (read on its own)."""

    version: int
    silences: list[msgspec.Raw]


class Entry(NamedTuple):
    """One silence of the file, as read."""

    #: Its place in the file, from 1.
    number: int
    #: None when it is no silence.
    silence: Silence | None
    raw: msgspec.Raw
    #: Why it is no silence.
    problem_read: str = ""

    @property
    def id(self) -> str | None:
        """The silence's id, or an unread entry's if it has one (bounded, escaped)."""
        if self.silence is not None:
            return shown_id(self.silence.id)
        try:
            found: Any = msgspec.json.decode(self.raw)
        except msgspec.DecodeError:
            return None
        named = found.get("id") if isinstance(found, dict) else None
        return shown_id(named) if isinstance(named, str) else None

    def problem(self, check: Callable[[Silence], str]) -> str:
        """Why the daemon leaves it out: it is no silence, or ``check`` finds one (""
        when it takes it)."""
        return self.problem_read if self.silence is None else check(self.silence)


def entry_of(number: int, raw: msgspec.Raw) -> Entry:
    """The file's ``number``th entry, as written: a silence, or why it is none."""
    try:
        return Entry(number, msgspec.json.decode(raw, type=Silence), raw)
    except msgspec.DecodeError as exc:
        # msgspec names an unknown key whole: one edited in may be of any length.
        return Entry(number, None, raw, f"not a silence: {escaped(str(exc), TEXT_SHOWN)}")


def entry_content(entry: Entry) -> bytes:
    """What an entry holds: a silence as the CLI writes it (its writes re-encode each
    silence, so one edited in by hand reads the same before and after), else as it
    is written."""
    return msgspec.json.encode(entry.silence) if entry.silence is not None else bytes(entry.raw)


def still_ended(entries: list[Entry], unwritten: dict[str, float], now: float) -> dict[str, float]:
    """Keep the silences a resolve ended (``unwritten``, id: when) out of force when the
    file is read again while it could not be told (an edit by hand, a reload): it still
    holds them in force, waiting or until a time given by hand. Those it ended by
    ``now``, or no longer ends when their alert resolves (a time given instead), are
    left to it: the resolve has no say in them. Returns those still waiting."""
    waiting = set()
    for entry in entries:
        silence = entry.silence
        if (
            silence is not None
            and silence.id in unwritten
            and silence.until_resolved
            and silence.state(now) != "expired"
        ):
            silence.ends_at = max(unwritten[silence.id], silence.starts_at)
            waiting.add(silence.id)
    return {i: at for i, at in unwritten.items() if i in waiting}


def ended_by(
    entries: list[Entry], resolved: Iterable[tuple[str, str, str, str | None]], now: float
) -> set[str]:
    """Ids of the ``--until-resolved`` silences of ``entries`` that the resolves of the
    alerts ``resolved`` (rule, label, severity, and the severity each fires on from
    now, None when gone) end at ``now``: those the checks leave out too. A silence on a
    rule a reload removed is left out from then on; left waiting, it would be in force
    again were the rule added back, and mute its next incident. One that matches the
    alert under the severity it fires on waits on."""
    every = SilenceSet([entry.silence for entry in entries if entry.silence is not None])
    ended: set[str] = set()
    for rule, label, severity, fires_on in resolved:
        found = every.waiting_on(rule, label, severity, now)
        if fires_on is not None:
            found -= every.waiting_on(rule, label, fires_on, now)
        ended |= found
    return ended
