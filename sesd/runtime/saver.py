"""The state file at run time: read at start, written every ``save_every`` and last
thing at a stop (sesd.runtime.state says what is in it)."""

from __future__ import annotations

import os
from collections.abc import Callable

import anyio

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.core.ledger import Ledger
from sesd.io.logs import get_logger
from sesd.runtime.http import StartError
from sesd.runtime.state import StateError, read_state, restore, snapshot, write_state

__all__ = ["StateSaver"]


class StateSaver:
    """Loads and saves the ledger and the alert states (nothing without a path)."""

    def __init__(
        self,
        path: str | None,
        ledger: Ledger,
        evaluator: Evaluator,
        clock: Callable[[], float],
        unsent: Callable[[], list[tuple[str, str, Transition]]] = list,
    ) -> None:
        self.path = path
        #: What is not delivered yet (alerting's ``unsent``): saved as not sent.
        self._unsent = unsent
        self._ledger = ledger
        self._evaluator = evaluator
        self._clock = clock
        self._log = get_logger()

    def check(self) -> str | None:
        """Why the file could never be saved (its directory missing or not writable),
        or None: said at start, not at the first save after the last hour is lost."""
        if not self.path:
            return None
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            return f"[state] path: directory {directory} does not exist"
        if not os.access(directory, os.W_OK):
            return f"[state] path: directory {directory} is not writable by this user"
        return None

    def load(self) -> None:
        """Restore what the file holds (StartError when it could never be saved). A file
        that cannot be used is reported and
        ignored (sesd starts rather than refusing to); one that was read but not
        understood (damaged, another version's after a rollback) is first kept aside
        as ``PATH.unusable``, so the next save does not destroy it."""
        path = self.path
        if not path:
            return
        problem = self.check()
        if problem is not None:
            raise StartError(problem)
        try:
            blob = read_state(path)
        except StateError as exc:
            self._log.warning("sesd.state.ignored", path=path, reason=str(exc))
            return
        if blob is None:
            self._log.info("sesd.state.none_yet", path=path)
            return
        try:
            restored = restore(blob, self._ledger, self._evaluator)
        except StateError as exc:
            self._log.warning(
                "sesd.state.ignored", path=path, reason=str(exc), **self._keep_aside(path)
            )
            return
        self._log.info("sesd.state.restored", path=path, **restored)

    def _keep_aside(self, path: str) -> dict[str, str]:
        aside = f"{path}.unusable"
        try:
            os.replace(path, aside)
        except OSError as exc:
            return {"kept_aside": "no", "error": str(exc.strerror)}
        return {"kept_as": aside, "hint": "sesd starts empty; the file it could not use is kept"}

    async def save(self) -> None:
        """Write the file now (a failure is logged; the next save tries again)."""
        path = self.path
        if not path:
            return
        blob = snapshot(self._ledger, self._evaluator, self._clock(), self._unsent())
        try:
            await anyio.to_thread.run_sync(write_state, path, blob)
        except OSError as exc:
            self._log.error(
                "sesd.state.save_failed",
                path=path,
                error=exc.strerror,
                hint="the file on disk stays as last saved; free space or fix the "
                "directory's permissions: the next save tries again",
            )
        else:
            self._log.debug("sesd.state.saved", path=path, bytes=len(blob))

    async def run(self, every: float) -> None:
        """Save every ``every`` seconds, until cancelled."""
        while True:
            await anyio.sleep(every)
            await self.save()
