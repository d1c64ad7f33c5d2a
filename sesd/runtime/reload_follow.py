"""The follower's side of a reload (:class:`~sesd.runtime.reload.Reloader`): the loop
that reads the files of the config in force again when one changes, and what it says
of a file that does not answer a look (:mod:`sesd.runtime.follow` says when)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sesd.config import Config
from sesd.io.logs import get_logger
from sesd.runtime.follow import Follower

__all__ = ["Following"]


class Following:
    """Runs ``follower``: ``refresh(keys)`` reads and applies the files of ``config()``
    again; ``failed()`` sets the reload metric at 0, and ``kept()`` says what is in
    force meanwhile (the Reloader's, as a refresh says them)."""

    def __init__(
        self,
        follower: Follower,
        config: Callable[[], Config],
        refresh: Callable[[list[str]], Awaitable[bool]],
        failed: Callable[[], None],
        kept: Callable[[], str],
    ) -> None:
        self._follower, self._config, self._refresh = follower, config, refresh
        self._failed, self._kept = failed, kept
        self._log = get_logger()

    async def run(self) -> None:
        """Refresh whenever a file of the config in force changes (sesd.runtime.follow)."""
        await self._follower.run(self._config, self._refresh, self._unanswered)

    def _unanswered(self, key: str, error: str) -> None:
        """A file the config names did not answer a look (a hung mount): said as a
        refresh that could not read it, once, the reload metric at 0 until one does."""
        self._failed()
        self._log.error(
            "sesd.config.reload_failed",
            files=[key],
            error=error,
            kept=self._kept(),  # the hint is the mount's; a reload's says to restart
            hint="a hung mount? The other files are still looked at, but a change to "
            "one is read once this one answers (a refresh reads them all); sesd looks "
            "at it again once that look comes back, and reads the files then. A SIGHUP "
            "does not look at it: a config naming another file in its place is read",
        )
