"""Alerting's evaluations at run time, one at a time: the silences file read first
(with the ends a change of rules or a restore left waiting), the rules stepped whole or
in slices, the alerts decided and logged, the silences their resolves ended ended, and
what is due put in the outboxes. The loop that runs them, reloads and the outboxes are
the alerting service's (sesd.alerting.service)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple

import anyio

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.alert_log import Held, log_alerts
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.lag import watch_lag, watch_unread
from sesd.alerting.recall import recall
from sesd.alerting.resends import Resends
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.sink_outboxes import SinkOutboxes
from sesd.core.ledger import Ledger
from sesd.io.logs import get_logger

__all__ = ["LINES", "Evaluations"]

#: The log lines of alerts written before the loop is given back: a storm's thousands
#: of firings cost tens of milliseconds to log; this many, a few.
LINES: Final = 200


class _Changed(NamedTuple):
    """What a change of rules (a reload, or a config edited while sesd was stopped: the
    restore's) left for the silences: the alerts it resolved, and the restore's time
    and step back."""

    resolved: list[tuple[str, str, str, str | None]]
    back: tuple[float, float]


class Evaluations:
    """Runs one evaluation when asked (whole, or in slices as the daemon's loop does),
    and counts them (:attr:`done`)."""

    def __init__(
        self,
        ledger: Ledger,
        evaluator: Evaluator,
        silences: SilenceWatcher,
        clock: Callable[[], float],
        *,
        sink_outboxes: SinkOutboxes,
        dispatch: Callable[[Notification], None],
        resends: Resends,
        unread: Callable[[], list[str]],
        evaluated: Callable[[], None],
    ) -> None:
        self._ledger = ledger
        self._evaluator = evaluator
        self._silences = silences
        self._clock = clock
        self._sink_outboxes = sink_outboxes
        #: Queues a due notification on each sink it names.
        self._dispatch = dispatch
        self._resends = resends
        #: The queues that cannot be read now (what would fill the windows waits there).
        self._unread_now = unread
        #: Called after each evaluation (the status page's changes).
        self._evaluated = evaluated
        #: How many evaluations ended.
        self.done = 0
        #: The time of the evaluation under way in slices, less the clock steps measured
        #: before it, until it ends the silences it decided (a reload's change ends them
        #: first, in the file it read: :meth:`settle`).
        self._deciding: float | None = None
        #: The unread queues said to hold resolves (said again only when they change).
        self._unread: list[str] = []
        #: Whether the last evaluation found sesd reading further behind than a window.
        self._behind = False
        self._log = get_logger()

    def under_way(self) -> bool:
        """Whether an evaluation in slices is under way: it ends the silences it decided
        in the file it read, which a reload's read looks at too."""
        return self._deciding is not None

    def failed(self) -> None:
        """The evaluation under way failed: nothing it decided is taken by a reload after."""
        self._deciding = None

    def settle(self) -> None:
        """A reload's change amid an evaluation in slices: that evaluation decides under
        the silences it read, so their ends wait for that file, which the change may
        leave."""
        if self._deciding is not None:
            self._evaluator.settle()
            at, self._deciding = self._deciding + self._evaluator.moved_by, None
            self._silences.decided(self._evaluator.ended_silences, at)

    def end_silences_resolved(self, now: float | None = None) -> None:
        """End the ``--until-resolved`` silences waiting on the alerts a change of rules
        resolved (a reload, or a config edited while sesd was stopped: the restore's),
        in the file and in force, as an evaluation's resolve ends them: else ``sesd
        silence list`` and the status page showed them waiting on an alert gone, and
        one back (the rule added again) was muted. The file is read first if it changed
        (a restore comes before any evaluation has read it)."""
        changed = self._changed()
        if changed is not None:
            now = self._clock() if now is None else now
            self._silences.look(now)
            self._silences.end(self._ended_by(changed, now), now)

    async def aend_silences_resolved(self, now: float | None = None) -> None:
        """:meth:`end_silences_resolved`, the file read and written off the event loop."""
        changed = self._changed()
        if changed is not None:
            now = self._clock() if now is None else now
            await self._silences.alook(now)
            await self._silences.aend(self._ended_by(changed, now), now)

    def _changed(self) -> _Changed | None:
        """What a change of rules left for the silences, taken from the evaluator (once);
        None when it left nothing."""
        resolved, self._evaluator.resolved_by_change = self._evaluator.resolved_by_change, []
        back, self._evaluator.restored_back = self._evaluator.restored_back, (0.0, 0.0)
        return _Changed(resolved, back) if resolved or back[1] else None

    def _ended_by(self, changed: _Changed, now: float) -> set[str]:
        """The silences ``changed`` ends at ``now``, the file looked at: those waiting on
        the alerts it resolved, once the restore's step back moved their ends."""
        self._silences.restored(*changed.back)  # the restore's step back, as one measured
        return self._silences.waiting_on(changed.resolved, now)

    def evaluate(self, *, flush: bool = False) -> list[Notification]:
        """One evaluation at the current time; due notifications go to their outboxes.
        The silences file is read and written in the calling thread (the daemon's
        evaluations, :meth:`evaluate_in_slices` and :meth:`evaluate_whole`, do it in a
        worker thread)."""
        now = self._clock()
        self.end_silences_resolved(now)  # a restore's, should nothing have ended them yet
        now = self._prepare(self._silences.refresh(now), now)
        alerts, held, ended = self._decide(now)
        log_alerts(self._log, alerts, held)
        self._silences.end(ended, now)
        return self._conclude(now, flush)

    async def evaluate_whole(self, *, flush: bool) -> list[Notification]:
        """:meth:`evaluate`, the silences file read and written off the event loop."""
        now = await self._silences_read()
        alerts, held, ended = self._decide(now)
        log_alerts(self._log, alerts, held)
        await self._silences.aend(ended, now)
        return self._conclude(now, flush)

    async def _silences_read(self) -> float:
        """The silences file read (off the event loop) and what else comes before the
        rules are stepped (:meth:`_prepare`). Returns the ``now``, read after the file:
        a clock step measured meanwhile moved the times the evaluation steps."""
        now = self._clock()
        await self.aend_silences_resolved(now)  # a restore's, should nothing have ended them
        return self._prepare(await self._silences.arefresh(now), self._clock())

    async def evaluate_in_slices(self) -> list[Notification]:
        """:meth:`evaluate`, the event loop given back between slices of labels
        (sesd.alerting.slices), and between the log lines of the alerts decided: a
        poll, a scrape or a health check waits for a slice, or for a few hundred
        lines, not for every rule on every domain nor for a storm's every alert."""
        now, moved = await self._silences_read(), self._evaluator.moved_by
        self._deciding = now - moved
        # A stop that comes meanwhile waits for the last slice and the last line: no
        # evaluation is left with states stepped and their alerts not decided, nor
        # with alerts queued and not logged.
        with anyio.CancelScope(shield=True):
            for _ in self._evaluator.slices(self._ledger, now):
                await anyio.lowlevel.checkpoint()
            alerts, held, ended = self._decide(now)
            # Decided and queued already: what runs between the pieces (a save, a
            # reload) finds them so; they are logged, then sent, in their order.
            pieces: list[tuple[list[Alert], list[Held]]] = [
                (alerts[i : i + LINES], []) for i in range(0, len(alerts), LINES)
            ]
            pieces += [([], held[i : i + LINES]) for i in range(0, len(held), LINES)]
            for n, (some, some_held) in enumerate(pieces):
                if n:
                    await anyio.lowlevel.checkpoint()
                log_alerts(self._log, some, some_held)
            # A clock step measured meanwhile moved the times it left (its groups' starts):
            # what is due, and when a silence ends, is asked on the clock they moved to.
            now, moved = now + self._evaluator.moved_by - moved, self._evaluator.moved_by
            # Those a reload's change took meanwhile wait for the file that holds them.
            ended, self._deciding = set() if self._deciding is None else ended, None
            # Waited for (a bound each file operation): no evaluation is left with its
            # silences ended and its notifications not queued.
            await self._silences.aend(ended, now)
        # And one measured during the write (up to its bound, on a file that hangs).
        return self._conclude(now + self._evaluator.moved_by - moved, flush=False)

    def _prepare(self, silences_read: bool, now: float) -> float:
        """What comes before the rules are stepped, the silences read (``silences_read``:
        a change, what a new one holds recalled from the outboxes): unread queues
        seen. Returns the ``now``."""
        if silences_read:
            for rule, domain in recall(self._sink_outboxes.live.values(), self._evaluator, now):
                self._log.info("sesd.alert.recalled", rule=rule, domain=domain)
        self._unread = watch_unread(
            self._log, self._evaluator, self._unread_now(), self._unread, now
        )
        return now

    def _decide(self, now: float) -> tuple[list[Alert], list[Held], set[str]]:
        """The evaluation at ``now`` finished (what its slices left) and decided: its
        alerts (queued in their groups), what silences held back of them, and which
        ``--until-resolved`` silences ended (another evaluation keeps its own)."""
        alerts = self._evaluator.evaluate(self._ledger, now)
        return alerts, self._evaluator.held, self._evaluator.ended_silences

    def _conclude(self, now: float, flush: bool) -> list[Notification]:
        """After the evaluation at ``now`` was decided and logged, and the silences its
        resolves ended were ended: due notifications go to their outboxes."""
        self._behind = watch_lag(self._log, self._ledger, now, self._behind)
        notifications = self._evaluator.due(now, flush=flush)
        for notification in notifications:
            self._dispatch(notification)
        self._resends.post(self._evaluator, self._sink_outboxes.live, now)
        self.done += 1
        self._log.debug("sesd.alert.evaluated", at=now, notifications=len(notifications))
        self._evaluated()
        return notifications
