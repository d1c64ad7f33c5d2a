"""The reads of a reload's files held in their threads. A file on a hung network mount
holds a read for ever: the reload is given up, and each one after it is refused at
once while that read is still held, instead of starting another thread to hang beside
it. The config file and the files it names are read so, then the certificate and key
again for the port (:mod:`sesd.runtime.web`): a share that stops answering between the
two holds the second."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sesd.config import ConfigError

__all__ = ["Held"]

T = TypeVar("T")


class Held:
    """The read of the config's files under way, or given up and not returned."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        #: When the read still held in its thread began (monotonic), if one is.
        self.since: float | None = None

    def refuse(self) -> None:
        """ConfigError saying why while a read is held (none is under way meanwhile:
        reloads run one at a time)."""
        if self.since is not None:
            raise ConfigError(
                f"a read of the config's files begun {self._monotonic() - self.since:.0f} s "
                "ago was given up and has not returned (a file on a hung mount?): none is "
                "begun until it does"
            )

    def marked(self, read: Callable[[], T]) -> Callable[[], T]:
        """``read``, for a thread apart, marking itself held while it runs."""

        def held() -> T:
            # Marked by the thread itself: one that never started holds nothing.
            self.since = self._monotonic()
            try:
                return read()
            finally:
                self.since = None

        return held
