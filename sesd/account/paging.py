"""How the tenant poller asks SES (sesd.account.tenants): each target's calls one at a
time, ``pace`` seconds apart (SES allows these APIs about one call a second), a call
that failed in a way that may pass asked again at the same pace; and where a paged
list stands, so that a list a failed call broke resumes at the next poll."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sesd.account.failures import (
    ERRORS,
    MAX_PAGES,
    MAYBE_UNREAD,
    UnreadableAnswer,
    WatchEnded,
    tries,
    unread,
)
from sesd.core.accounts import Target
from sesd.core.tenant_walks import MAX_TOKEN

__all__ = ["Pacer", "Paged", "PagedList", "without_end"]


@dataclass(slots=True)
class PagedList:
    """A paged list read over one poll or several: the token of the page to ask for
    next (None: the first), when its first page was asked for, what was read so far,
    and its pages and tokens so far (the bound on them holds across the polls)."""

    started: float
    token: str | None = None
    items: list[Any] = field(default_factory=list)
    pages: int = 0
    asked: set[str] = field(default_factory=set)

    def add(self, items: list[Any], asking: float) -> None:
        """A page's items read (``asking``: when it was asked for)."""
        self.items.extend(items)


class Paged(Protocol):
    """Where a paged list stands: the token of the page to ask for next, and how many
    of its pages were read (over the polls it was resumed across)."""

    token: str | None
    pages: int


class Pacer:
    """Paces the calls to each target, and asks again those that may pass."""

    def __init__(
        self,
        pace: float,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        current: Callable[[Target], bool] = lambda target: True,
    ) -> None:
        #: Seconds between two calls to one target, and how they are waited for.
        self._pace = pace
        self._sleep = sleep
        self._clock = clock
        #: Whether the round's watch of a target is still the one in force: a call is
        #: made on the round's client, so once a reload has ended that watch (removed
        #: the target, perhaps added it back with another role) none is asked: not a
        #: retry, nor a list's next page, nor the round's next list.
        self._current = current
        self._last: dict[Target, float] = {}

    async def _due(self, target: Target) -> None:
        """Wait until a call to ``target`` is due, ``pace`` after its last call was
        answered. From the answer, not the asking: a request that took longer to reach
        SES than the next one takes would else arrive less than ``pace`` after it."""
        wait = self._last.get(target, float("-inf")) + self._pace - self._clock()
        if wait > 0:
            await self._sleep(min(wait, self._pace))  # a clock stepped back: one pace

    async def ask(self, target: Target, call: Callable[..., Awaitable[Any]], **args: Any) -> Any:
        """One call's answer, each try at the pace: one that failed in a way that may
        pass is asked again (:func:`sesd.account.failures.tries`), the last failure
        raised. Once a reload has ended the round's watch of ``target`` while a try
        waited, nothing is asked (the client is the old watch's, its credentials
        perhaps the old role's, its account no longer watched): the last failure is
        raised, or :class:`~sesd.account.failures.WatchEnded` before a first try. An
        answer the SDK's parser raised on raises
        :class:`~sesd.account.failures.UnreadableAnswer` (a failed call, counted, not
        the poller's end); a bug of sesd's own code under the call is raised as it is
        (:func:`~sesd.account.failures.unread`). The SDK does not retry
        (sesd.runtime.aws_settings.tenant_config): its retry of a throttled call came
        up to 1 s after the refusal, inside the pace, and so made a tight account limit
        tighter."""
        tried = 0
        failed: Exception | None = None
        while True:
            await self._due(target)
            if not self._current(target):
                raise WatchEnded if failed is None else failed
            tried += 1
            try:
                return await call(**args)
            except ERRORS as exc:
                if tried >= tries(exc):
                    raise
                failed = exc
            except MAYBE_UNREAD as exc:
                if not unread(exc):
                    raise
                raise UnreadableAnswer from exc  # the SDK's parser's: not sesd's fault
            finally:
                self._last[target] = self._clock()


def without_end(token: str, asked: set[str], pages: int, most: int) -> str | None:
    """Why a paged list whose next page is ``token`` looks endless: the token is longer
    than :data:`~sesd.core.tenant_walks.MAX_TOKEN` (none SES gives: a walk keeps its
    token in the state file, whose size limit counts it at that bound), it was asked
    with before, or more than ``most`` pages were read; None while it does not."""
    if len(token) > MAX_TOKEN:
        return f"a token of {len(token):,} characters"
    if token in asked:
        return "a token it gave before"
    return f"{MAX_PAGES} pages" if pages > most else None
