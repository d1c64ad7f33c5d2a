"""Each SIGHUP's outcome, told to ``sesd reload`` (the systemd unit's ``ExecReload=``)
through a small file in the unit's runtime directory (``RuntimeDirectory=``, which
systemd names in ``$RUNTIME_DIRECTORY`` for the daemon and its reload command alike).

A signal alone says nothing back: ``systemctl reload`` reported success for a file sesd
then refused (a secret it could not read, a rule on a window only a restart makes),
the refusal seen in the log and on the status page alone. With the file, the reload
command waits for the outcome of a reload begun after it looked, and fails when sesd
refused the file, or took it but for what only a restart changes.

The file holds the daemon's process id, how many SIGHUP reloads began and ended, and of
the last one ended: whether it ended in force, the keys it left for a restart, how
many reloads the file told as begun when it read the config file, and whether a reload
faulted once its config was switched, leaving that config in force whole or not. A
reload counts as begun once the file says so, before it reads the config file: one
begun after the command looked read the file as the operator left it. One whose begin
could not be written (/run full for a moment) may have read it before: the file says
so, and the command does not take its outcome for its own. Without
``$RUNTIME_DIRECTORY`` (sesd not under the unit) there is no file, and nothing is
written."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import anyio
import msgspec

from sesd.core.text import escaped
from sesd.core.unreadable import undecoded
from sesd.io.files import TooLarge, read_plain, write_atomic
from sesd.io.logs import get_logger
from sesd.status.document import RESTART_LISTED

__all__ = [
    "REPORT_NAME",
    "ReloadReport",
    "Report",
    "ReportError",
    "read_report",
    "report_path",
]

#: The file's name in the runtime directory.
REPORT_NAME: Final = "reload.json"
#: The most keys left for a restart the file lists (its count says how many in all),
#: as the status page does.
LISTED: Final = RESTART_LISTED
#: The most bytes of a file read as one: sesd's own are well under 10 KiB (its keys are
#: a config's); anything past it is another program's.
MOST_BYTES: Final = 1 << 20


def report_path(environ: dict[str, str] | os._Environ[str]) -> Path | None:
    """Where the outcome is told, or None outside the unit: the first directory of
    ``$RUNTIME_DIRECTORY`` (systemd lists several, ':'-separated, when given several)."""
    directory = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(directory) / REPORT_NAME if directory else None


@dataclass(frozen=True, slots=True)
class Report:
    """What the file says."""

    pid: int
    begun: int
    ended: int
    #: Of the reload that ended last: in force,
    ok: bool
    #: the keys it left for a restart (at most LISTED) and how many in all,
    restart: tuple[str, ...]
    restart_count: int
    #: and how many reloads the file told as begun when it read the config file: its
    #: own number, unless the write as it began failed.
    read_after: int
    #: Whether a reload faulted once its config was switched (this one or one before):
    #: sesd runs neither config whole until a restart,
    part_way: bool = False
    #: or, the fault in a step after the switch, that config whole, what the reload left
    #: undone waiting for a restart. Apart from part_way, which an older `sesd reload`
    #: reads alone (still a fault, still to restart); an older sesd writes no new_whole,
    #: its line saying neither config whole.
    new_whole: bool = False


class ReportError(Exception):
    """A file at the path that is not an outcome as sesd writes it (another program's,
    or damaged); the message says why, in one line."""


#: A count the file holds, and the daemon's process id.
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Pid = Annotated[int, msgspec.Meta(ge=1)]


class _Told(msgspec.Struct):
    """The file as sesd writes it, each value of its own type: a ``"false"`` is not
    taken for true, nor a number for a flag. A key an older sesd did not write takes
    its default; one a later sesd adds is passed over. The first sesd to tell its
    outcome wrote the process id, counts and ``ok`` alone: no outcome the command can
    take for its reload's (UNSET)."""

    pid: _Pid
    begun: _Count
    ended: _Count
    ok: bool
    restart: list[str] | msgspec.UnsetType = msgspec.UNSET
    restart_count: _Count | msgspec.UnsetType = msgspec.UNSET
    read_after: _Count | msgspec.UnsetType = msgspec.UNSET
    part_way: bool = False
    new_whole: bool = False


def read_report(path: Path) -> Report | None:
    """The file's word, or None when there is none (a sesd started before the unit
    made the directory, or an older one, writes none, or too little to tell one reload
    from another; a file half-written is never seen, each being replaced whole).
    ReportError when what is there is not a file sesd wrote: taken for one, it would
    tell an outcome no reload had."""
    where = escaped(str(path), 200)
    try:
        blob = read_plain(str(path), MOST_BYTES)
    except (FileNotFoundError, NotADirectoryError):  # none, nor a directory for it
        return None
    except TooLarge as exc:
        raise ReportError(
            f"{where} is not a reload outcome sesd wrote ({exc.size:,} bytes, more than "
            f"the {MOST_BYTES:,} it ever writes)"
        ) from None
    except OSError as exc:
        raise ReportError(f"cannot read {where}: {exc.strerror or exc}") from None
    try:
        told = msgspec.json.decode(blob, type=_Told)
    # Nested deeper than the decoder goes: RecursionError, not a traceback. Text that
    # is not UTF-8: UnicodeDecodeError from msgspec 0.22, DecodeError later.
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        why = "nested too deep" if isinstance(exc, RecursionError) else undecoded(blob, exc)
        raise ReportError(
            f"{where} is not a reload outcome sesd wrote ({escaped(why, 200)})"
        ) from None
    if (
        told.restart is msgspec.UNSET
        or told.restart_count is msgspec.UNSET
        or told.read_after is msgspec.UNSET
    ):
        return None  # as that sesd's reloads passed: signalled, a restart mends it
    return Report(
        pid=told.pid, begun=told.begun, ended=told.ended, ok=told.ok,
        restart=tuple(told.restart[:LISTED]), restart_count=told.restart_count,
        read_after=told.read_after, part_way=told.part_way, new_whole=told.new_whole,
    )  # fmt: skip


class ReloadReport:
    """The daemon's side: the file written as each SIGHUP reload begins and ends."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._begun = self._ended = 0
        self._ok = True
        self._restart: list[str] = []
        self._part_way = self._new_whole = False
        #: How many reloads the file last told as begun (a write that failed told
        #: none); when the reload under way read the config file; when the last ended did.
        self._told = self._reading_after = self._read_after = 0
        self._said = False

    async def started(self) -> None:
        """sesd runs: the file says so (no reload yet), before READY=1."""
        await self._write()

    async def begin(self) -> None:
        """A SIGHUP reload begins, before it reads the config file."""
        self._begun += 1
        # Said again for each reload it fails: the line then sits in the journal beside
        # the `systemctl reload` that could not learn the outcome, not days before it.
        self._said = False
        await self._write()
        self._reading_after = self._told

    async def end(
        self,
        ok: bool,
        restart: Sequence[str] = (),
        *,
        part_way: bool = False,
        new_whole: bool = False,
    ) -> None:
        """The reload begun last has ended: ``ok``, its config in force but for the keys
        it left for a restart (``restart``); ``part_way``, sesd on neither config whole
        since a reload faulted once its config was switched, or on that config whole
        (``new_whole``: the fault came in a step after the switch)."""
        self._ended, self._ok, self._read_after = self._begun, ok, self._reading_after
        self._part_way, self._new_whole = part_way, new_whole
        self._restart = list(restart) if ok else []
        await self._write()

    async def _write(self) -> None:
        if self.path is None:
            return
        begun = self._begun
        blob = json.dumps(
            {
                "pid": os.getpid(), "begun": begun, "ended": self._ended, "ok": self._ok,
                "restart": self._restart[:LISTED], "restart_count": len(self._restart),
                "read_after": self._read_after, "part_way": self._part_way,
                "new_whole": self._new_whole,
            }
        ).encode()  # fmt: skip
        try:
            await anyio.to_thread.run_sync(write_atomic, str(self.path), blob)
        except OSError as exc:
            # The reload goes on: only `systemctl reload` waits in vain, and says so.
            if not self._said:
                self._said = True
                get_logger().warning(
                    "sesd.config.reload_report_failed",
                    path=str(self.path),
                    error=f"{type(exc).__name__}: {exc.strerror or exc}",
                    hint="systemctl reload cannot learn a reload's outcome; "
                    "journalctl -u sesd has it",
                )
        else:
            self._told = begun
