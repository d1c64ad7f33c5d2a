"""Silences: matchers on (rule, domain, severity) that mute notifications for a while.

Pure: what a silence is and which alerts it holds back. The file the CLI
writes and the daemon reads is :mod:`sesd.alerting.silence_file`. A silenced
alert still moves through its states; it only sends nothing.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Collection, Iterable
from fnmatch import fnmatchcase
from typing import Final

import msgspec

from sesd.core.domains import exact_matcher, silence_takes
from sesd.core.text import escaped

__all__ = [
    "KEEP_ENDED",
    "SILENCES_VERSION",
    "TEXT_SHOWN",
    "Document",
    "Silence",
    "SilenceError",
    "SilenceSet",
    "moved_back",
    "new_id",
    "shown_id",
    "silence_command",
    "silence_prefix",
    "start_moved",
    "started_back",
]

#: The silences file's format. For a later build: every key of a silence either narrows
#: what it mutes (a matcher) or describes it, and an earlier build that read one with a
#: matcher it does not know as if the key were not there would mute more than the
#: silence names (a ``domian`` typo, a matcher added since: every domain). So each
#: build leaves out a silence with a key it does not have, alone: logged with its id
#: and why, its alerts paging, the file's other silences in force, and the entry kept
#: as written at each rewrite (sesd.alerting.silence_file), for the build that wrote
#: it. A key is therefore added to :class:`Silence` without a new version (a rollback
#: leaves those silences out, loudly). No key is ignored instead, under a prefix or
#: otherwise: a rewrite re-encodes each silence from this build's fields, and would
#: drop it. The version changes only when a key's meaning changes or a key goes, or
#: the document's shape does: a build of another version then reads no silence of
#: the file at all (every silence off, ``sesd silence`` refused) until rolled forward.
SILENCES_VERSION = 1
#: Ended silences stay listed this long, then are dropped at the next write.
KEEP_ENDED = 7 * 86400.0
#: The most of a silence's text (a matcher, a comment, why an entry is no silence)
#: shown in a log line, a refusal or the CLI's list: the file is edited by hand, so
#: any of it may be of any length.
TEXT_SHOWN: Final = 1000
#: The most of a silence's id a log line tells (the file is edited by hand: an id
#: may be of any length).
_ID_SHOWN = 100


class SilenceError(Exception):
    """The silences file cannot be read or written; the message says why in one line."""


class Silence(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One silence. Matchers are exact names or globs; a missing matcher matches all (so
    a key misspelt by hand, ``domian``, is refused: it would mute every domain)."""

    id: str
    comment: str
    starts_at: float
    #: When it ends; None for an ``until_resolved`` silence still waiting.
    ends_at: float | None
    rule: str | None = None
    domain: str | None = None
    severity: str | None = None
    until_resolved: bool = False
    created_by: str = ""

    def matches(self, rule: str, domain: str, severity: str) -> bool:
        """Whether every matcher given matches; the domain (provider, tenant, account,
        group) in any case, as the alert's mute line gives it (a tenant's name has
        capitals, a group's may be in any script), and a domain in any spelling a rule
        takes; a root dot after any name changes nothing (:func:`silence_takes`, which the
        config's warnings of groups named alike ask too)."""
        if self.rule is not None and not fnmatchcase(rule, self.rule):
            return False
        if self.severity is not None and not fnmatchcase(severity, self.severity):
            return False
        return self.domain is None or silence_takes(self.domain, domain)

    def active(self, now: float) -> bool:
        """Whether it mutes at ``now``."""
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def state(self, now: float) -> str:
        """``active``, ``pending`` (starts later) or ``expired`` (mutes nothing from
        ``now`` on: ended, or ends by its start, as one expired before it started)."""
        if self.active(now):
            return "active"
        never = self.ends_at is not None and self.ends_at <= self.starts_at
        return "pending" if now < self.starts_at and not never else "expired"


class Document(msgspec.Struct):
    """The file's content."""

    version: int
    silences: list[Silence]


def new_id() -> str:
    """A short random id, easy to type."""
    return secrets.token_hex(6)


def shown_id(silence_id: str) -> str:
    """A silence's id as a log line tells it: escaped, and cut short."""
    return escaped(silence_id, _ID_SHOWN)


class SilenceSet:
    """The silences in force, as last read: matched against alerts in pure reads."""

    __slots__ = ("items",)

    def __init__(self, items: list[Silence] | None = None) -> None:
        self.items: list[Silence] = items or []

    def match(
        self, rule: str, domain: str, severity: str, now: float, ended: Collection[str] = ()
    ) -> Silence | None:
        """The first active silence that matches, if any, of those not ``ended`` (ids of
        ``--until-resolved`` silences a resolve ended, ended in the file after)."""
        for silence in self.items:
            in_force = silence.id not in ended and silence.active(now)
            if in_force and silence.matches(rule, domain, severity):
                return silence
        return None

    def waiting_on(self, rule: str, domain: str, severity: str, now: float) -> set[str]:
        """Ids of active ``--until-resolved`` silences that a resolve of this alert ends."""
        return {
            s.id
            for s in self.items
            if s.until_resolved and s.active(now) and s.matches(rule, domain, severity)
        }


def moved_back(silences: Iterable[Silence], now: float, step: float) -> dict[str, float]:
    """Move back as far the end of each ``--until-resolved`` silence that ended before
    the wall clock stepped ``step`` seconds back to ``now`` and lies ahead of it;
    returns where each moved. Such an end is a moment (a resolve, an expire), not a
    time of day someone chose: left ahead, the silence would be in force again for the
    step's length, and mute its alert's next incident."""
    moved: dict[str, float] = {}
    for silence in silences:
        end = silence.ends_at
        if end is None or not (silence.until_resolved and now < end <= now - step):
            continue  # no end, or one someone chose, or not crossed by the step
        if silence.state(now) != "expired":  # in force again, or to be
            silence.ends_at = moved[silence.id] = max(end + step, silence.starts_at)
    return moved


def started_back(
    silences: Iterable[Silence], now: float, step: float, at: float
) -> dict[str, float]:
    """Move to ``at`` (``now``, or a read of the file after it) the start of each silence
    in force before the wall clock stepped ``step`` seconds back to ``now`` that the
    step put ahead of ``at``; returns where each started. Such a start is the moment
    ``sesd silence add`` ran, not a time someone chose: left ahead, the silence would
    be pending for the step's length, and the alerts it muted page again. A start
    written ahead of the clock (not yet in force before the step), and a silence that
    ended before the step, are left as they are."""
    moved: dict[str, float] = {}
    for silence in silences:
        start = silence.starts_at
        if at < start <= now - step and silence.active(now - step):
            moved[silence.id], silence.starts_at = start, at
    return moved


def start_moved(silence: Silence, written: float, moved: float) -> bool:
    """Move the start of ``silence``, as a file read has it, to ``moved`` (where a step
    of the clock back moved it from ``written``); whether it did. Moved from any start
    between the two: a write that did not answer in time may have taken once it came
    back, putting an earlier step's there (a hand edit to such a time moves too: it
    cannot be told from that write's). One with a start outside them (a hand edit:
    whoever made it chose it), or that ends by the start written (``sesd silence
    expire`` ran on the stepped clock: expired, or in force only until that end), is
    left as the file says: moved, it would be in force again until its end."""
    start, end = silence.starts_at, silence.ends_at
    if not moved < start <= written or (end is not None and end <= written):
        return False
    silence.starts_at = moved
    return True


def silence_prefix(program: str, config_path: str | None, silences_path: str | None) -> str:
    """What a mute line begins with: ``program``'s ``silence add`` on the config file
    ``config_path``; "" without a silences file (`sesd silence add` fails then)."""
    if not silences_path:
        return ""
    prefix = f"{program} silence add"
    return f"{prefix} --config {shlex.quote(config_path)}" if config_path else prefix


def silence_command(prefix: str, rule: str, domains: list[str]) -> str:
    """The ``sesd silence add`` line that mutes a notification: its domain, or every
    domain of the rule when it names several; "" without a prefix (no silences file:
    the line would fail when run)."""
    if not prefix:
        return ""
    # Its own label, exactly: a silence drops spaces around a name and reads ``[EU]``
    # as a glob, so ``Shop `` or ``[ab]`` as written would mute another label's alerts.
    domain = exact_matcher(domains[0]) if len(domains) == 1 else "*"
    words = ["--rule", rule, "--domain", domain, "--for", "4h", "--comment", "REASON"]
    return f"{prefix} " + " ".join(shlex.quote(word) for word in words)
