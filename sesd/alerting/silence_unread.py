"""What the daemon says of a silences file it could not read, and of its read again.

A failure is said once for each version of the file and reason, and a read that takes
after one says so. A file whose look failed too (a directory closed to sesd, a share's
stale handle) may answer again unchanged: nothing is read then, as nothing changed,
and the silences read last are in force again; that is said at once too, or the
on-call who saw the error would hear of it only at the file's next edit.

Whether the file in force could be read is kept for the metrics and the status page
too (``sesd_silences_readable``): an alert the on-call muted pages while its file
cannot be read, and the log said why once, maybe hours ago. A file that does not
answer (a share that hangs) counts too until a look at it answers, as long as none
of its silences are in force: since a start, or a reload to it. After a look that
answered, the silences it found hold while the file hangs, as written: readable. A
missing file holds none: a share mounted late at its path that hangs reads 0, as the
silences written there are not in force and the alerts they mute page.
"""

from __future__ import annotations

from sesd.io.logs import get_logger

__all__ = ["Unreadable"]

#: The file's identity as a look has it (sesd.alerting.silence_file.SilenceFile.identity).
Identity = tuple[int, int, int, int] | None


class Unreadable:
    """Why the file could not be read, as said."""

    def __init__(self) -> None:
        self._log = get_logger()
        #: The version and why its read failed, as said (None: the last read took).
        self._said: tuple[Identity, str] | None = None
        #: Why the version read last is no silences file ("" when its read took).
        self._bad = ""
        #: The file in force (None: no silences file).
        self._path: str | None = None
        #: Whether a look at the file in force answered with its silences, read: those
        #: hold while it hangs. Not a look that found it missing: none of a file later
        #: put there (a share mounted late) are in force.
        self._answered = False
        #: Why the file does not answer, when no look answered or the last failed ("":
        #: it answers, or the silences found before hold). The thread said it.
        self._hung = ""

    @property
    def why(self) -> str:
        """Why the file in force could not be read at the last look, as said ("" when
        it was, or there is none)."""
        if self._hung:
            return self._hung
        return self._said[1] if self._said is not None else ""

    def readable(self) -> dict[str, int]:
        """``sesd_silences_readable``: the file in force, 1 when it could be read at the
        last look (a missing file is no silences: read), 0 when not. A reload to another
        file drops the old one's series; no file, no series."""
        if self._path is None:
            return {}
        return {self._path: 0 if self._said is not None or self._hung else 1}

    def hung(self, why: str) -> None:
        """The file in force did not answer, for ``why``: not readable while none of its
        silences are in force (none read since the start or the reload to it, or the
        file was missing at the last look) or the last look failed; the silences of a
        look that answered hold, readable."""
        if not self._answered or self._said is not None:
            self._hung = why

    def failed(self, identity: Identity, error: str, *, contents: bool) -> None:
        """The read of the version ``identity`` failed for ``error``; ``contents``: for
        what it holds, that version is taken as read."""
        self._hung = ""
        if contents:
            self._bad = error
        if self._said != (identity, error):
            self._said = identity, error
            self._log.error("sesd.silences.unreadable", error=error)

    def read(self, path: str, identity: Identity) -> None:
        """The file at ``path`` was read, the version ``identity`` (None: missing, no
        silences)."""
        self._bad, self._hung, self._answered = "", "", identity is not None
        if self._said is not None:
            self._log.info("sesd.silences.readable", path=path, was=self._said[1])
            self._said = None

    def unchanged(self, path: str, identity: Identity) -> None:
        """A look found the version read last (``identity``): one that did not answer
        since answers again, its silences in force, and is read again once it changes.
        One that is no silences file still is (said of it before); one missing holds no
        silences, as written, and none hold if the file then hangs."""
        self._hung = ""
        if identity is None:
            self._answered = False
        if self._said is None or self._said[0] == identity:
            return  # none failed since, or this version's contents did
        if self._bad:
            self._said = identity, self._bad
        else:
            self.read(path, identity)

    def forget(self, path: str | None) -> None:
        """Another file, at ``path``, is read: nothing said of it yet."""
        self._path, self._said, self._bad = path, None, ""
        self._answered, self._hung = False, ""
