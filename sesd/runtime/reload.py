"""Applying a reload (SIGHUP) or a refresh to a running daemon, part by part: all or
nothing. What a reload takes from a new config file, and what waits for a restart, is
:mod:`sesd.runtime.reload_keys`. A refresh reads the files of the config in force
again, not the config file (:mod:`sesd.runtime.follow` says when; the loop that
does is :mod:`sesd.runtime.reload_follow`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from sesd.config import Config, ConfigError, Placer, load_placed
from sesd.config.files import followed_files, reread
from sesd.config.said_anew import new_warnings
from sesd.config.warned import said
from sesd.core.text import escaped
from sesd.core.timestamps import iso
from sesd.io import hung
from sesd.io.logs import get_logger
from sesd.runtime.apart import apart
from sesd.runtime.aws import Made, QueueClients
from sesd.runtime.follow import Follower, Signature, signatures, signatures_of
from sesd.runtime.reload_follow import Following
from sesd.runtime.reload_held import Held
from sesd.runtime.reload_keys import (
    RESTART_KEYS,
    config_changes,
    held_secrets,
    merge,
    rotated_secrets,
    rule_changes,
)
from sesd.runtime.reload_left import FIRST_AFTER, KEPT, NEITHER_WHOLE, NEW_WHOLE, REFUSED
from sesd.runtime.reload_queues import open_added
from sesd.runtime.reload_report import ReloadReport, report_path
from sesd.runtime.reload_switch import switch
from sesd.runtime.reload_waits import Waits
from sesd.runtime.warned import warnings_here
from sesd.runtime.web import Unanswered

if TYPE_CHECKING:
    from sesd.runtime.parts import Parts

__all__ = [
    "RESTART_KEYS",
    "Reloader",
    "config_changes",
    "merge",
    "rotated_secrets",
    "rule_changes",
]


def _unexpected(exc: Exception) -> str:
    """The ``error`` of a failure that is not a ConfigError, as a ConfigError's is said:
    one line, bounded and escaped (a file's name is the user's text)."""
    return escaped(f"{type(exc).__name__}: {exc}", 500)


class Reloader:
    """Applies a reloaded config to a running daemon, part by part."""

    def __init__(self, daemon: Parts) -> None:
        self._daemon = daemon
        self._log = get_logger()
        self._lock = anyio.Lock()
        #: The files the config names, as read a moment ago with it.
        self.follower = Follower(daemon.config)
        files_failed = partial(self._failed, file=False)
        self._following = Following(self.follower, lambda: daemon.config, self.refresh,
                                    files_failed, lambda: self._kept()["kept"])  # fmt: skip
        # What sesd_config_last_reload_successful reports, both: the config file as last
        # read (SIGHUP), and its files as last read (SIGHUP, or a refresh). A renewed
        # certificate read well must not hide a config file that was refused.
        self._file_ok = self._files_ok = True
        #: The read held in its thread, if one is.
        self._held = Held(daemon.monotonic)
        #: Whether the last read was given up (it read nothing that was applied).
        self._given_up = False
        #: The read still held (when it began) that a refresh was refused behind, said:
        #: those after it, one each look of the follower's, are refused without a word.
        self._said_behind: float | None = None
        #: Each SIGHUP's outcome, for `sesd reload` (the unit's ExecReload) to wait on.
        self.report = ReloadReport(report_path(os.environ))
        #: What waits for a restart (sesd_config_restart_pending, the status page).
        self._waits = Waits(daemon.metrics)
        #: When a reload faulted once its config was switched (ISO 8601), if one did,
        #: and what its line said is in force (:data:`NEITHER_WHOLE` or :data:`NEW_WHOLE`).
        self._part_way: str | None = None
        self._left_as: dict[str, str] = NEITHER_WHOLE

    async def on_signal(self) -> None:
        """A SIGHUP: reload, and never let a failure end sesd; its outcome told to
        `sesd reload`, which `systemctl reload` runs and waits for."""
        await self.report.begin()
        ok = False
        left: list[str] = []
        try:
            ok = await self.reload(left)
        except Exception as exc:  # noqa: BLE001 - a failed reload must not end sesd
            self._failed(file=True)
            error = _unexpected(exc)
            self._log.error("sesd.config.reload_failed", error=error, **self._kept(), exc_info=True)
        part_way, whole = self._part_way is not None, self._left_as is NEW_WHOLE
        await self.report.end(ok, left, part_way=part_way, new_whole=whole)

    async def follow(self) -> None:
        """Refresh whenever a file of the config in force changes (sesd.runtime.follow)."""
        await self._following.run()

    async def reload(self, left: list[str] | None = None) -> bool:
        """Re-read the config file and apply what may change while running. An invalid
        file changes nothing. True when the new config is in force; the keys it leaves
        for a restart then added to ``left``."""
        path = self._daemon.config_path
        if not path:
            self._log.warning(
                "sesd.config.reload_failed", error="no config file to read", **self._kept()
            )
            return False
        marks: dict[str, Signature] = {}
        placers: list[Placer] = []
        # Not stat'd: a file whose stat hangs would hold this read as long, and a config
        # moved off it (the fix for a mount that hangs) could never be read. The
        # follower reads the files again once it answers.
        await self.follower.first_looked()
        hung = self.follower.unanswered()

        def read() -> Config:
            # The files as this read reads them (those the new file names first, a
            # moment after): a change from here on is for the follower.
            named = [f for f in followed_files(self._daemon.config) if f not in hung]
            marks.update(signatures(named))
            new, placer = load_placed(path, daemon=True)
            placers.append(placer)
            more = [f for f in followed_files(new) if f not in marks and f not in hung]
            marks.update(signatures(more))
            return new

        def placed(warning: str) -> str:
            # On the line of the file this read read, as check-config and the start say it.
            return placers[-1].warning(warning) if placers else warning

        def applied() -> None:
            self.follower.seen = marks
            self.follower.wake()  # with the interval the new file gives

        return await self._apply(read, applied, whole=True, placed=placed, left=left, path=path)

    async def refresh(self, files: list[str]) -> bool:
        """Read again the files of the config in force (``files``, the keys of those that
        changed: a rotated secret, a renewed certificate), not the config file, and
        apply them as a reload does. True when they are in force; a failure, whatever
        it is, is logged and changes nothing."""
        behind = self._held.since
        if behind is not None and behind == self._said_behind:
            return False  # the metric at 0 meanwhile; tried again once that read returns
        self._said_behind = behind
        marks: dict[str, Signature] = {}

        def read() -> Config:
            config = self._daemon.config
            # As this read reads them: read again at their next change, not before (a
            # key that is not its certificate's is refused once).
            marks.update(signatures_of(config))
            return reread(config)

        try:
            return await self._apply(read, None, whole=False, files=files)
        except Exception as exc:  # noqa: BLE001 - a fault here must not stop following
            self._failed(file=False)
            error = _unexpected(exc)
            self._log.error(
                "sesd.config.reload_failed", files=files, error=error, **self._kept(), exc_info=True
            )
            return False
        finally:
            # A read given up read nothing: the files are read again at the next look.
            if marks and not self._given_up:
                self.follower.seen = marks

    def _kept(self) -> dict[str, str]:
        """What a failed reload's line says is in force (and, after a reload that faulted
        part way, what to do)."""
        return self._left_as if self._part_way is not None else {"kept": KEPT}

    def _failed(self, *, file: bool) -> None:
        if file:
            self._file_ok = False
        else:
            self._files_ok = False
        self._daemon.metrics.reloaded(False, self._daemon.clock())

    async def _apply(
        self,
        read: Callable[[], Config],
        applied: Callable[[], None] | None,
        *,
        whole: bool,
        placed: Callable[[str], str] = str,
        left: list[str] | None = None,
        **about: Any,
    ) -> bool:
        """Apply what ``read()`` gives (``whole``: the config file read, not only its
        files), and ``applied()`` once it is in force; ``about`` goes in the log lines,
        each warning as ``placed`` says it; the keys left for a restart, also to
        ``left``."""
        # One at a time, each from the config in force when it starts: a refresh begun
        # before a reload would otherwise put back what the reload replaced.
        async with self._lock:
            return await self._apply_alone(read, applied, whole, about, placed, left)

    async def _apply_alone(
        self,
        read: Callable[[], Config],
        applied: Callable[[], None] | None,
        whole: bool,
        about: dict[str, Any],
        placed: Callable[[str], str],
        left: list[str] | None,
    ) -> bool:
        daemon = self._daemon
        made: Made = []
        try:
            merged, kept, read_waits, opened = await self._prepare(read, made)
        except Exception as exc:
            # The clients this try made, and only those: the config in force keeps its.
            if daemon.aws is not None:
                await daemon.aws.discard(made)
            if not isinstance(exc, ConfigError):
                raise
            self._failed(file=whole)
            self._log.error("sesd.config.reload_failed", **about, error=str(exc), **self._kept())
            return False
        ignored = list(dict.fromkeys(kept + read_waits))
        for key in ignored:
            self._log.warning("sesd.config.reload_ignored", key=key, hint="needs a restart")
        if left is not None:
            left += ignored
        old, daemon.config = daemon.config, merged
        # When it came into force: a step after the switch may take a while, then fault.
        switched = daemon.clock()
        steps: list[str] = []
        try:
            switch(daemon, old, merged, opened, steps)
            steps.append(FIRST_AFTER)
            self._said(old, merged, kept, read_waits, whole, about, placed)
            steps.append("silences written")
            await daemon.alerting.write_silences()  # the ends the change left waiting
            if applied is not None:
                # A step like the others: a fault here, once the config is in force,
                # must not be said as a reload refused with the config it had kept.
                steps.append("followed files marked read")
                applied()
            steps.append("AWS clients closed")
            if daemon.aws is not None:
                # Last: the pollers it stopped still hold their clients (closed as they end).
                await daemon.aws.retire(merged, made)
        except Exception as exc:  # noqa: BLE001 - said, and sesd runs on as it can
            self._faulted(exc, steps, whole=whole, about=about, switched=switched)
            return False
        return True

    def _said(
        self,
        old: Config,
        merged: Config,
        kept: list[str],
        read_waits: list[str],
        whole: bool,
        about: dict[str, Any],
        placed: Callable[[str], str],
    ) -> None:
        """A reload in force said: its metrics, what it leaves for a restart, its lines."""
        daemon = self._daemon
        # A reload read the files too; a refresh leaves the config file's outcome be.
        self._file_ok = self._file_ok or whole
        self._files_ok = True
        daemon.metrics.reloaded(self._file_ok and self._files_ok, daemon.clock())
        daemon.metrics.config_in_force(merged.digest())
        self._waits.waiting(kept, read_waits, whole=whole)
        self._log.info(
            "sesd.config.reloaded",
            **about,
            rules=len(merged.alerts.rules),
            queues=[q.label for q in merged.queues],
            **rule_changes(old, merged),
            changed=config_changes(old, merged),
            secrets_rotated=rotated_secrets(old, merged),
        )
        # What the start warns of, said of what this reload brought (a queue added
        # with a visibility timeout of 0, the silences file moved into a directory not
        # made...): under a plain SIGHUP no check ran first.
        for warning in said(new_warnings(old, merged, warnings_here), placed):
            self._log.warning("sesd.config.warning", warning=warning)
        daemon.changes.notify()

    def _faulted(
        self,
        exc: Exception,
        steps: list[str],
        *,
        whole: bool,
        about: dict[str, Any],
        switched: float,
    ) -> None:
        """A fault once the config was switched: a bug, which leaves sesd on neither
        config whole (the parts named before it applied, the others not), or, in a step
        after the switch, on the new one whole with that step and those after it not
        done. Said as it is, and held (the reload metric at 0, all of it or what it left
        undone waiting for a restart) until a restart; the clients made for it are
        closed at the stop. ``switched``: when its config was switched in."""
        self._part_way = iso(self._daemon.clock())
        self._left_as = NEW_WHOLE if FIRST_AFTER in steps else NEITHER_WHOLE
        if self._left_as is NEW_WHOLE:
            # Its config runs, whichever step after the switch faulted (that of the
            # reload's metrics among them): sesd_config_info names it, and the page's
            # "config loaded" dates it as had the read ended well (a refresh over a
            # config file refused since dates nothing: only a SIGHUP does).
            metrics, digest = self._daemon.metrics, self._daemon.config.digest()
            if whole or self._file_ok:
                metrics.loaded(digest, switched)
            else:
                metrics.config_in_force(digest)
        self._failed(file=whole)
        self._waits.part_way(whole=self._left_as is NEW_WHOLE)
        self._log.error(
            "sesd.config.reload_failed",
            **about,
            error=_unexpected(exc),
            **self._left_as,
            applied=steps[:-1],
            at=steps[-1],
            exc_info=True,
        )

    async def _prepare(
        self, read: Callable[[], Config], made: Made
    ) -> tuple[Config, list[str], list[str], QueueClients]:
        """What can fail, done before anything changes (all or nothing): the config to
        run, the keys left for a restart (the config file's, then those its files said:
        [aws] keys rotated in theirs, the web configuration's), the clients of the
        queues it adds (those made anew told to ``made``)."""
        daemon = self._daemon
        new = await self._read(read)
        if self._part_way is not None:
            why = REFUSED[self._left_as is NEW_WHOLE]
            raise ConfigError(f"a reload failed part way at {self._part_way}: {why}")
        if daemon.listen:
            http = msgspec.structs.replace(new.http, listen=daemon.listen)
            new = msgspec.structs.replace(new, http=http)
        merged, ignored = merge(daemon.config, new)
        # The added queues' clients are made before anything changes, as what can
        # fail must be: a reload that failed half way would leave new rules in force
        # and the queue unread, and the next reload of the file seeing no change.
        opened = await open_added(daemon, daemon.config, merged, made)
        # [aws] keys rotated in their files: the clients sign on with those read at start.
        read_waits = held_secrets(daemon.config, new)
        # Read off the event loop (a share that hangs holds nothing else): the change
        # is then one step, nothing running amid it.
        await daemon.alerting.read_silences(merged)
        if daemon.web is not None:
            # Last of what can fail, and before anything changes: all or nothing. The
            # certificate and key read again, held as the config's read is: one that
            # hangs holds off the reads after it, and its files are read again after.
            try:
                waits = await daemon.web.apply(merged.http.web, self._held.marked)
            except Unanswered:
                self._given_up = True
                raise
            read_waits += [f"http.web_config: {key}" for key in waits]
        return merged, ignored, read_waits, opened

    async def _read(self, read: Callable[[], Config]) -> Config:
        """``read()`` in a thread apart (the web configuration with the rest), given up
        after READ_BOUND (sesd.io.hung): a file on a hung network mount holds a read for
        ever. The reload is given up (logged, and the reload metric at 0), and each one
        after it is refused at once while that read is still held, instead of waiting
        behind it without a word."""
        self._given_up = False
        self._held.refuse()
        bound = hung.READ_BOUND
        try:
            with anyio.fail_after(bound):
                return await apart(self._held.marked(read), "sesd-reload-read")
        except TimeoutError:
            self._given_up = True
            raise ConfigError(
                f"reading the config's files took over {bound:.0f} s (a file on a "
                "hung mount?): given up"
            ) from None
