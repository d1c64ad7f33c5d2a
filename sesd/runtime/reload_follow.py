"""The follower's side of a reload (:class:`~sesd.runtime.reload.Reloader`): the loop
that reads the files of the config in force again when one changes, and what it says
of a file that does not answer a look (:mod:`sesd.runtime.follow` says when)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sesd.runtime.follow import Follower

if TYPE_CHECKING:
    from sesd.runtime.parts import Parts

__all__ = ["Following"]


class Following:
    """What a Reloader does for its follower; reading and applying the files is its own."""

    follower: Follower
    _daemon: Parts
    _log: Any

    async def follow(self) -> None:
        """Refresh whenever a file of the config in force changes (sesd.runtime.follow)."""
        await self.follower.run(lambda: self._daemon.config, self.refresh, self._unanswered)

    def _unanswered(self, key: str, error: str) -> None:
        """A file the config names did not answer a look (a hung mount): said as a
        refresh that could not read it, once, the reload metric at 0 until one does."""
        self._failed(file=False)
        self._log.error(
            "sesd.config.reload_failed",
            files=[key],
            error=error,
            kept=self._kept()["kept"],  # the hint is the mount's; a reload's says to restart
            hint="a hung mount? The other files are still looked at, but a change to "
            "one is read once this one answers (a refresh reads them all); sesd looks "
            "at it again once that look comes back, and reads the files then. A SIGHUP "
            "does not look at it: a config naming another file in its place is read",
        )

    # The Reloader's own.

    async def refresh(self, files: list[str]) -> bool:
        """Read the files of the config in force again, and apply them."""
        raise NotImplementedError

    def _failed(self, *, file: bool) -> None:
        raise NotImplementedError

    def _kept(self) -> dict[str, str]:
        raise NotImplementedError
