"""Silences: matchers on (rule, domain, severity) that mute notifications for a while.

A silence lives in one JSON file that the CLI writes and the daemon reads.
Every write happens under an exclusive lock on ``PATH.lock`` and replaces the
file atomically with mode 0600, so a ``sesd silence add`` and the daemon
ending an ``--until-resolved`` silence never lose each other's change. The
daemon looks at the file's identity (inode, size, mtime) once per evaluation
and reads it again only when it changed: no restart and no signal needed.

A silenced alert still moves through its states; it only sends nothing.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path

import msgspec

from sesd.files import give_to_directory_owner, write_atomic
from sesd.logs import get_logger

__all__ = [
    "SILENCES_VERSION",
    "Silence",
    "SilenceError",
    "SilenceFile",
    "Silences",
    "silence_command",
]

SILENCES_VERSION = 1
#: Ended silences stay listed this long, then are dropped at the next write.
KEEP_ENDED = 7 * 86400.0


class SilenceError(Exception):
    """The silences file cannot be read or written; the message says why in one line."""


class Silence(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One silence. Matchers are exact names or globs; a missing matcher matches all."""

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
        """Whether every matcher given matches."""
        return all(
            pattern is None or fnmatchcase(value, pattern)
            for pattern, value in (
                (self.rule, rule),
                (self.domain, domain),
                (self.severity, severity),
            )
        )

    def active(self, now: float) -> bool:
        """Whether it mutes at ``now``."""
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)

    def state(self, now: float) -> str:
        """``active``, ``pending`` (starts later) or ``expired``."""
        if self.active(now):
            return "active"
        return "pending" if now < self.starts_at else "expired"


class _Document(msgspec.Struct):
    version: int
    silences: list[Silence]


def new_id() -> str:
    """A short random id, easy to type."""
    return secrets.token_hex(6)


class SilenceFile:
    """The file: read it whole, change it under its lock."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> list[Silence]:
        """Every silence in the file; none when there is no file yet."""
        try:
            blob = Path(self.path).read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SilenceError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            document = msgspec.json.decode(blob, type=_Document)
        except msgspec.DecodeError as exc:
            raise SilenceError(f"{self.path} is not a silences file ({exc})") from None
        if document.version != SILENCES_VERSION:
            raise SilenceError(f"{self.path}: version {document.version} is not {SILENCES_VERSION}")
        return document.silences

    def identity(self) -> tuple[int, int, int] | None:
        """(inode, size, mtime) of the file, None when there is none: a change means a
        new version (every write replaces the file, so the inode changes too)."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            give_to_directory_owner(fd, Path(self.path).parent)
        except OSError as exc:
            raise SilenceError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def update(self, change: Callable[[list[Silence]], list[Silence]], now: float) -> None:
        """Apply ``change`` to the silences and write the result, under the lock; long
        ended silences are dropped on the way."""
        with self._locked():
            silences = change(self.read())
            kept = [s for s in silences if s.ends_at is None or s.ends_at > now - KEEP_ENDED]
            blob = msgspec.json.encode(_Document(SILENCES_VERSION, kept))
            try:
                write_atomic(self.path, blob)
            except OSError as exc:
                raise SilenceError(f"cannot write {self.path}: {exc.strerror}") from None

    def add(self, silence: Silence, now: float) -> None:
        """Add one silence."""
        self.update(lambda silences: [*silences, silence], now)

    def expire(self, silence_ids: set[str], now: float) -> list[str]:
        """End the named silences now; returns the ids that were found still running."""
        ended: list[str] = []

        def change(silences: list[Silence]) -> list[Silence]:
            for silence in silences:
                if silence.id in silence_ids and (silence.ends_at is None or silence.ends_at > now):
                    silence.ends_at = max(now, silence.starts_at)
                    ended.append(silence.id)
            return silences

        self.update(change, now)
        return ended


class Silences:
    """What the daemon holds: the file's silences as last read, refreshed when it changes.

    Reads (:meth:`match`) are pure in ``now``. A file that cannot be read is logged
    once per version and the silences read before stay in force.
    """

    def __init__(self, path: str | None) -> None:
        self._log = get_logger()
        self.file: SilenceFile | None = None
        self.use(path)

    def use(self, path: str | None) -> None:
        """Read silences from ``path`` (None: no silences) from the next refresh on."""
        if self.file is not None and self.file.path == path:
            return
        self.file = SilenceFile(path) if path else None
        self.silences: list[Silence] = []
        self._identity: tuple[int, int, int] | None = None

    def refresh(self) -> None:
        """Read the file again if it changed since the last read."""
        if self.file is None:
            return
        identity = self.file.identity()
        if identity == self._identity:
            return
        self._identity = identity
        try:
            self.silences = self.file.read()
        except SilenceError as exc:
            self._log.error("sesd.silences.unreadable", error=str(exc))
            return
        self._log.info("sesd.silences.loaded", path=self.file.path, silences=len(self.silences))

    def match(self, rule: str, domain: str, severity: str, now: float) -> Silence | None:
        """The first active silence that matches, if any."""
        for silence in self.silences:
            if silence.active(now) and silence.matches(rule, domain, severity):
                return silence
        return None

    def waiting_on(self, rule: str, domain: str, severity: str, now: float) -> set[str]:
        """Ids of active ``--until-resolved`` silences that a resolve of this alert ends."""
        return {
            s.id
            for s in self.silences
            if s.until_resolved and s.active(now) and s.matches(rule, domain, severity)
        }

    def end(self, silence_ids: set[str], now: float) -> None:
        """End ``--until-resolved`` silences whose alert resolved (written to the file)."""
        if self.file is None or not silence_ids:
            return
        try:
            ended = self.file.expire(silence_ids, now)
        except SilenceError as exc:
            self._log.error("sesd.silences.unwritable", error=str(exc))
            return
        for silence in self.silences:
            if silence.id in ended:
                silence.ends_at = now
        self._log.info("sesd.silences.ended_by_resolve", ids=sorted(ended))


def silence_command(prefix: str, rule: str, domains: list[str]) -> str:
    """The ``sesd silence add`` line that mutes a notification: its domain, or every
    domain of the rule when it names several."""
    domain = domains[0] if len(domains) == 1 else "*"
    words = ["--rule", rule, "--domain", domain, "--for", "4h", "--comment", "REASON"]
    return f"{prefix} " + " ".join(shlex.quote(word) for word in words)
