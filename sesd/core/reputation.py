"""sesd's live estimate of AWS's reputation arithmetic, from the events.

AWS computes an account's bounce rate from hard (Permanent) bounces and its
complaint rate from complaints, each over the sends of a recent window of
send volume, not over a fixed period, and leaves the mailbox simulator out.
Here, per (account, region) and per (account, region, configuration set):
the last ``window_sends`` eligible sends (recipients of Send events, whose
address is not the simulator's), and the hard bounces and complaints that
arrived since the oldest of them. Until a Send event is seen for a key, the
denominator is its delivered and bounced recipients instead (Send events are
not always published).

Pure code: no clock, no I/O.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

__all__ = [
    "MAX_CONFIG_SETS",
    "MAX_CONFIG_SET_NAME",
    "REVIEW",
    "SIMULATOR",
    "SIMULATOR_AT",
    "SIMULATOR_LEN",
    "Estimate",
    "Reputation",
    "ReputationKey",
    "Windows",
    "eligible",
]

#: (account label, region, configuration set; "" for the whole account and region)
ReputationKey = tuple[str, str, str]

#: AWS's published levels: an account is reviewed at a 5% bounce rate or a 0.1%
#: complaint rate, and may be paused at 10% or 0.5%.
REVIEW: Final = {"bounce": 0.05, "complaint": 0.001}
PAUSE: Final = {"bounce": 0.10, "complaint": 0.005}
SIMULATOR: Final = "@simulator.amazonses.com"
SIMULATOR_LEN: Final = len(SIMULATOR)
#: The longest configuration set name SES gives.
MAX_CONFIG_SET_NAME: Final = 64
#: Where the simulator's "@" is in an address at it. An address whose character there
#: is not "@" is not at it: each character of its last 24 would have to lower-case to
#: one of the simulator's (only U+0130 lower-cases to more than one character, and
#: one not in it; only "@" to "@"). Read first, by index in an address long enough to
#: hold it (no string made, where the tail's slice and lower() make two: about 640
#: instructions an event fewer, cachegrind, BENCHMARKS.md section 8; and an index where
#: a one-character slice was, 200 fewer, section 1), the same answer.
SIMULATOR_AT: Final = -SIMULATOR_LEN
#: SES's configuration set names: letters, digits, '-' and '_', at most 64. An event
#: naming anything else (not from SES) counts for its account only.
_CONFIG_SET: Final = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CONFIG_SET_NAME}}}")
#: The most configuration sets with an estimate (and series) of their own, over every
#: account and region: a flood of made-up names must not grow them without end. Beyond
#: it an event counts for its account only.
MAX_CONFIG_SETS: Final = 1000
#: ``prune_at`` while nothing has arrived: no send reaches it.
_NO_ARRIVALS: Final = 2**63


@dataclass(frozen=True, slots=True)
class Estimate:
    """One key's figures now."""

    sends: int
    bounces: int
    complaints: int
    #: True while the denominator is Send events (False: delivered + bounced).
    from_sends: bool

    @property
    def bounce_ratio(self) -> float | None:
        return self.bounces / self.sends if self.sends else None

    @property
    def complaint_ratio(self) -> float | None:
        return self.complaints / self.sends if self.sends else None

    def to_review(self, kind: str) -> int:
        """How many more hard bounces (or complaints), with no more sends, would reach
        AWS's review level."""
        count = self.bounces if kind == "bounce" else self.complaints
        return max(0, math.ceil(REVIEW[kind] * self.sends - count))


class _Window:
    """The last ``size`` sends and the hard bounces and complaints that arrived since the
    oldest of them. Sends are numbered as they come: the window is the numbers from
    :attr:`oldest` to ``next - 1``, so only the arrivals are stored, each with the number
    of the next send at the time."""

    __slots__ = ("base", "bounces", "complaints", "from_sends", "next", "prune_at", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.next = 0  # the number of the next send
        self.base = 0  # the first send counted (sends before it are forgotten)
        self.bounces: deque[int] = deque()  # the next send's number when each arrived
        self.complaints: deque[int] = deque()
        #: The value of ``next`` at which the oldest arrival leaves the window (it
        #: arrived ``size`` sends before): a send checks this one number.
        self.prune_at = _NO_ARRIVALS
        self.from_sends = False

    @property
    def oldest(self) -> int:
        """The number of the oldest send in the window (``next`` when it holds none)."""
        return max(self.base, self.next - self.size)

    def restart(self) -> None:
        """Count from the next send on, forgetting everything before it."""
        self.base = self.next
        self.bounces.clear()
        self.complaints.clear()
        self.prune_at = _NO_ARRIVALS

    def sent(self, n: int) -> None:
        self.next += n
        if self.next >= self.prune_at:
            self._prune()

    def _prune(self) -> None:
        """Forget what arrived before the oldest send still in the window (at most as
        many as the window holds sends)."""
        oldest = self.oldest
        for found in (self.bounces, self.complaints):
            while found and (found[0] <= oldest or len(found) > self.size):
                found.popleft()
        fronts = [found[0] for found in (self.bounces, self.complaints) if found]
        self.prune_at = min(fronts) + self.size if fronts else _NO_ARRIVALS

    def arrived(self, found: deque[int], n: int) -> None:
        """``n`` hard bounces or complaints arrived now (after the newest send)."""
        found.extend([self.next] * n)
        # Nothing to forget, nor a new prune_at, unless nothing was held (the first
        # arrival; or the window holds no send, when it holds no arrival either) or past
        # ``size`` are: what else would leave left as the sends came (a send reaching
        # prune_at prunes), and the oldest arrival held is still the oldest (a bounce's
        # pruning cost about 500 instructions an event of the bench's mix, cachegrind).
        if self.prune_at == _NO_ARRIVALS or len(found) > self.size:
            self._prune()

    def observe(self, event_type: str, n: int, hard: bool) -> None:
        """``n`` eligible recipients of a send, delivery, bounce or complaint (see
        :meth:`Reputation.observe`; sesd.core.reputation_senders counts a delivery
        inline)."""
        if event_type == "send":
            if not self.from_sends:
                # Send events are published: they are the denominator from now on.
                self.from_sends = True
                self.restart()
            self.sent(n)
        elif event_type == "bounce":
            if not self.from_sends:
                self.sent(n)
            if hard:
                self.arrived(self.bounces, n)
        elif event_type == "complaint":
            self.arrived(self.complaints, n)
        elif event_type == "delivery" and not self.from_sends:
            self.sent(n)

    def estimate(self) -> Estimate:
        sends = self.next - self.oldest
        return Estimate(sends, len(self.bounces), len(self.complaints), self.from_sends)


#: The windows one event counts in (:meth:`Reputation.windows`).
Windows = tuple[_Window, ...]


def eligible(recipients: list[str]) -> int:
    """How many of an event's recipients count in the estimate: those not at the
    mailbox simulator."""
    n = len(recipients)
    for address in recipients:
        if len(address) >= SIMULATOR_LEN and address[SIMULATOR_AT] == "@":
            n -= address[SIMULATOR_AT:].lower() == SIMULATOR
    return n


class Reputation:
    """The estimate for every key seen."""

    def __init__(self, window_sends: int) -> None:
        self.window_sends = window_sends
        self._windows: dict[ReputationKey, _Window] = {}
        #: (account, region, configuration set) -> the windows an event there counts in
        #: (the whole account's, and its configuration set's).
        self._targets: dict[ReputationKey, Windows] = {}
        #: Configuration sets with windows of their own.
        self._config_sets = 0

    def _keys(self, account: str, region: str, config_set: str) -> list[ReputationKey]:
        keys: list[ReputationKey] = [(account, region, "")]
        if config_set:
            keys.append((account, region, config_set))
        return keys

    def _admits(self, config_set: str) -> bool:
        """Whether a configuration set not seen before gets an estimate of its own."""
        return self._config_sets < MAX_CONFIG_SETS and _CONFIG_SET.fullmatch(config_set) is not None

    def _window(self, key: ReputationKey) -> _Window:
        found = self._windows.get(key)
        if found is None:
            found = self._windows[key] = _Window(self.window_sends)
        return found

    def observe(
        self,
        account: str,
        region: str,
        config_set: str,
        event_type: str,
        recipients: list[str],
        hard: bool = False,
    ) -> None:
        """One event's eligible recipients: ``send``, ``delivery``, ``bounce`` (``hard``
        for a Permanent one) or ``complaint``. An event with none makes no estimate.
        (The pipeline counts through sesd.core.reputation_senders, one call an event,
        to the same figures.)"""
        n = eligible(recipients)
        if n:
            for window in self.windows(account, region, config_set):
                window.observe(event_type, n, hard)

    def windows(self, account: str, region: str, config_set: str) -> Windows:
        """The windows an event at (account, region, configuration set) counts in, made
        on first use: the account's, and its configuration set's when that is admitted.
        Asked only for an event with an eligible recipient (:func:`eligible`): a key's
        estimate starts with its first one. sesd.core.reputation_senders keeps what
        this answers for each sender (one lookup an event)."""
        target = (account, region, config_set)
        if config_set and (account, region, config_set) not in self._windows:
            if not self._admits(config_set):
                target = (account, region, "")
                config_set = ""
            else:
                self._config_sets += 1
        windows = self._targets.get(target)
        if windows is None:
            keys = self._keys(account, region, config_set)
            windows = self._targets[target] = tuple(self._window(key) for key in keys)
        return windows

    def estimate(self, key: ReputationKey) -> Estimate | None:
        """The figures of ``key`` (None before its first eligible event). A pure read."""
        found = self._windows.get(key)
        return None if found is None else found.estimate()

    def seen(self) -> list[ReputationKey]:
        """Every key seen, in order."""
        return sorted(self._windows)

    def forget(self, places: Collection[tuple[str, str]]) -> None:
        """The estimates of each (account, region) in ``places`` forgotten, its
        configuration sets' too (their series go, and an alert on one resolves): no
        sender's mail counts there any more. One counted at again starts afresh."""
        for key in [key for key in self._windows if key[:2] in places]:
            del self._windows[key]
            if key[2]:
                self._config_sets -= 1  # (its place under the bound is free again)
        for target in [target for target in self._targets if target[:2] in places]:
            del self._targets[target]
