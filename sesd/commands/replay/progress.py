"""What ``sesd replay`` shows on a terminal while it reads: a bar of the bytes read
(with an ETA when the inputs' sizes are known), the events read and their rate, and
how far the rules' evaluation has come between events far apart; for ``--dns``, a
bar of the lookups answered. Nothing at all off a terminal or with ``--quiet``."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm

from sesd.commands.replay.inputs import Source
from sesd.core.timestamps import iso

__all__ = ["Progress", "lookups", "progress_of"]


class Progress:
    """Bytes and events read, events a second and (when the total size is known) an
    ETA, on stderr (tqdm); nothing at all when not shown."""

    def __init__(self, found: list[Source], show: bool, desc: str = "replay") -> None:
        sizes = [source.size for source in found]
        total = sum(size for size in sizes if size is not None)
        self._bar: tqdm[Any] | None = None
        if show:
            # No monitor thread: a Ctrl-C must reach the main thread, which may be
            # blocked reading its input (the kernel gives a signal to any thread).
            tqdm.monitor_interval = 0
            self._bar = tqdm(
                total=total if None not in sizes and total else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                desc=desc,
                dynamic_ncols=True,
                mininterval=0,  # updates come a chunk (1 MiB) at a time: show each
                miniters=1,  # ...however small: no pace learnt from earlier chunks
            )
        self._events = 0
        self._started = time.monotonic()
        self._shown = -math.inf

    def read(self, n: int) -> None:
        bar = self._bar
        if bar is not None:
            bar.update(n)
            if bar.last_print_n != bar.n:
                # tqdm skipped it (two updates within its clock's tick): the input may
                # now wait, so what was read must show.
                bar.refresh()

    def evaluating(self, at: float) -> None:
        """The rules are evaluated up to event time ``at``, between two events far apart
        (nothing read meanwhile: the bar must show the replay is not stuck)."""
        bar = self._bar
        if bar is None:
            return
        now = time.monotonic()
        if now - self._shown >= 0.5:  # a line a few times a second, not thousands
            self._shown = now
            bar.set_postfix_str(f"{self._events:,} events, rules at {iso(at)}", refresh=True)

    def count(self, found: Iterable[bytes]) -> Iterator[bytes]:
        """``found``, its bodies counted for the bar (with no bar, as it is: a layer
        around every body would only cost)."""
        if self._bar is None:
            return iter(found)
        return self._counted(found, self._bar)

    def _counted(self, found: Iterable[bytes], bar: tqdm[Any]) -> Iterator[bytes]:
        for body in found:
            self._events += 1
            if not self._events % 5000:
                rate = self._events / max(1e-9, time.monotonic() - self._started)
                bar.set_postfix_str(f"{self._events:,} events, {rate:,.0f}/s", refresh=False)
            yield body

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def progress_of(found: list[Source], show: bool, desc: str = "replay") -> Iterator[Progress]:
    """A :class:`Progress` of reading ``found``, closed (its bar cleared) on the way out."""
    progress = Progress(found, show, desc)
    try:
        yield progress
    finally:
        progress.close()


@contextlib.contextmanager
def lookups(show: bool) -> Iterator[Callable[[int, int], None]]:
    """What ``--dns``'s lookups hear answered: on a terminal, a bar of those answered of
    those asked, with an ETA (at [providers] rate, minutes for a month's domains)."""
    if not show:
        yield lambda done, total: None
        return
    bar = tqdm(total=0, unit=" lookups", file=sys.stderr, desc="providers", dynamic_ncols=True)

    def answered(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield answered
    finally:
        bar.close()
