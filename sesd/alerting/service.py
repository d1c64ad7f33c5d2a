"""Alerting at run time: the loop that evaluates (each evaluation is
sesd.alerting.evaluations'), a reload's change, the clock's steps, silences, and what
goes to the sinks' outboxes (sesd.alerting.sink_outboxes), and their metrics."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Final, TextIO

import aiohttp
import anyio
import anyio.abc
from prometheus_client import Counter

from sesd.alerting.alert import Notification
from sesd.alerting.alert_log import log_sink_gone, log_unsent
from sesd.alerting.clock_steps import Moves
from sesd.alerting.evaluations import Evaluations
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.resends import Resends
from sesd.alerting.retiring import Undelivered, undelivered, unsent_alerts
from sesd.alerting.rules import Transition
from sesd.alerting.silence_checks import silence_check
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.sink_outboxes import SinkOutboxes
from sesd.alerting.ticks import Ticks
from sesd.config import Config, core_settings
from sesd.core.ledger import Ledger
from sesd.core.ungrouped import removed_groups
from sesd.io.logs import get_logger

__all__ = ["Alerting"]

#: An event loop that stood still this long (or four evaluation periods) stalled.
_STALL: Final = 30.0


class Alerting:
    """Runs the evaluator every ``evaluate_every``, keeps its silences as the file says,
    and puts what it decides in the sinks' outboxes (:class:`SinkOutboxes`)."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        evaluator: Evaluator,
        clock: Callable[[], float],
        *,
        notifications: Counter,
        evaluation_errors: Counter,
        faults: Counter,
        console: TextIO | None = None,
        wall: Callable[[], float] | None = None,
        mute_prefix: Callable[[Config], str] | None = None,
    ) -> None:
        self._config = config
        self._ledger = ledger
        self._clock = clock
        wall = clock if wall is None else wall  # ``clock`` read looking for no step
        self._wall = wall
        self.evaluator = evaluator
        self.silences = SilenceWatcher(config.silences_path, silence_check(config))
        evaluator.silences = self.silences.silences
        #: What a config's mute lines begin with (sesd.alerting.silences.silence_prefix;
        #: None: the evaluator's, whatever a reload brings).
        self._mute_prefix = mute_prefix
        self.notifications = notifications
        self.evaluation_errors = evaluation_errors
        #: Faults nobody foresaw that alerting survives without a restart (a bug after a
        #: delivery): counted as its task's failures.
        self.faults = faults
        self.sink_outboxes = SinkOutboxes(
            lambda: self._config.alerts,
            evaluator,
            clock,
            wall,
            notifications=notifications,
            faults=faults,
            delivered=self._delivered,
            start=self._start,
            console=console,
        )
        self.on_evaluated: Callable[[], None] = lambda: None
        #: Called when a firing or a resolve was delivered (the state file saves it).
        self.on_notified: Callable[[], None] = lambda: None
        #: The queues whose receives fail (denied, deleted, a KMS key disabled) or hang
        #: unanswered: what would fill the windows may wait in them.
        self.unread: Callable[[], list[str]] = list
        self._tasks: anyio.abc.TaskGroup | None = None
        self._resends = Resends()
        self._ticks = Ticks(lambda: self._config.alerts.evaluate_every.seconds)
        self._evaluations = Evaluations(
            ledger,
            evaluator,
            self.silences,
            clock,
            sink_outboxes=self.sink_outboxes,
            dispatch=self.dispatch,
            resends=self._resends,
            unread=lambda: self.unread(),
            evaluated=lambda: self.on_evaluated(),
        )
        self._log = get_logger()

    @property
    def outboxes(self) -> dict[str, Outbox]:
        """Each configured sink's outbox, by the sink's name."""
        return self.sink_outboxes.live

    def open(self, session: aiohttp.ClientSession) -> None:
        """Create an outbox per configured sink (before :meth:`run`)."""
        self.sink_outboxes.open(session)

    def _start(self, outbox: Outbox) -> None:
        """Run a new outbox's delivery once alerting runs (before, :meth:`run` does)."""
        if self._tasks is not None:
            self._tasks.start_soon(outbox.run)

    def _delivered(self, notification: Notification) -> None:
        if notification.kind is not Transition.REPEAT:
            self.on_notified()

    async def read_silences(self, config: Config) -> None:
        """Before a reload's :meth:`reconfigure` (``files_read``): read the silences
        file ``config`` names, off the event loop; the change takes what was read."""
        await self.silences.aread_ahead(config.silences_path, self._evaluations.under_way)

    async def write_silences(self) -> None:
        """After a reload's :meth:`reconfigure`: write the ends it left waiting."""
        await self.silences.aend(set(), self._clock())

    def reconfigure(self, config: Config, *, files_read: bool = False) -> None:
        """Take a reloaded config: rules (states kept by name; a removed rule's alerts
        resolve and the resolves are sent), sinks (queued notifications kept), the
        outboxes' size and notification age, silences. With ``files_read``, the
        silences file is not looked at (:meth:`read_silences` read it; ends wait for
        :meth:`write_silences`): the change is one step, nothing runs amid it."""
        with self.silences.put_off() if files_read else nullcontext():
            self._reconfigure(config)

    def _reconfigure(self, config: Config) -> None:
        old_sinks = self._config.alerts.named_sinks()
        removed = {r.name for r in self._config.alerts.rules} - {
            r.name for r in config.alerts.rules
        }
        # Its label went with it (sesd.core.ungrouped), unless tracked as a domain now
        # (a rule names it, as the pipeline reckons): its alerts resolve now.
        settings = core_settings(config)
        gone = removed_groups(self._config.domains.groups, settings.groups, settings.track)
        self._config = config
        self._ticks.retime()  # its evaluate_every
        now = self._clock()
        self._evaluations.settle()  # an evaluation under way's ends, for the file it read
        self.silences.use(config.silences_path, silence_check(config), now)
        self._remute(config)
        windows = [spec.name for spec in self._ledger.specs]
        resolves = self.evaluator.configure(config.alerts, windows, now, self._ledger, gone)
        for alert in resolves:
            reason = "; ".join(alert.notes) or None
            event = f"sesd.alert.{alert.kind.value}"  # a new sink is owed a firing
            self._log.info(event, rule=alert.rule, domain=alert.domain, reason=reason)
        self.end_silences_resolved(now)
        new_sinks = config.alerts.named_sinks()
        for name in self.sink_outboxes.change(old_sinks):
            self._resends.at_once(name)
        # What the change owes (a removed sink's resolves too, one a restart owed it
        # still waiting its group_wait among them) goes out before it closes.
        owed = removed | {alert.rule for alert in resolves}
        waiting, dropped = self.evaluator.groups.alerts(), old_sinks.keys() - new_sinks.keys()
        owed |= {a.rule for s, a in waiting if a.kind is Transition.RESOLVED and dropped & set(s)}
        for notification in self.evaluator.due(now, flush=True, rules=owed):
            self.dispatch(notification)
        # A removed rule is kept while any of its alerts is not delivered: a stop saves
        # it with them (its resolves, just queued, among them); a version, while one reads.
        outboxes = self.sink_outboxes.every()
        self.evaluator.retired.keep(unsent_alerts(outboxes, self.evaluator))
        for name in self.sink_outboxes.retire():
            self._resends.forget(name)

    def _remute(self, config: Config) -> None:
        """The mute lines of ``config``, reloaded: its silences file added or removed
        changes what they begin with (no line without one). The firings and repeats
        waiting in the outboxes are given them too, as a restart would give them."""
        prefix = None if self._mute_prefix is None else self._mute_prefix(config)
        if prefix is not None and prefix != self.evaluator.silence_prefix:
            self.evaluator.silence_prefix = prefix
            self.sink_outboxes.remuted()

    def end_silences_resolved(self, now: float | None = None) -> None:
        """End the ``--until-resolved`` silences waiting on the alerts a change of rules
        resolved (a reload, or a config edited while sesd was stopped: the restore's),
        in the file and in force (:meth:`Evaluations.end_silences_resolved`)."""
        self._evaluations.end_silences_resolved(now)

    async def aend_silences_resolved(self, now: float | None = None) -> None:
        """:meth:`end_silences_resolved`, the file read and written off the event loop."""
        await self._evaluations.aend_silences_resolved(now)

    def stepped(self, now: float, step: float) -> None:
        """The wall clock stepped by ``step`` seconds to ``now`` (measured): every alert
        time the evaluator holds moves as far, and so do those of what waits in the
        outboxes (retired ones too), of the resolves Alertmanager members are owed, and
        of the notifications PagerDuty or a webhook has part-sent."""
        moves = Moves(step)  # one object moved once, wherever it waits
        self.evaluator.stepped(now, step, moves)
        self.sink_outboxes.moved(moves)
        self.silences.stepped(now, step)

    def waiting(self) -> dict[str, int]:
        """How many notifications each sink's outbox holds (:meth:`SinkOutboxes.waiting`)."""
        return self.sink_outboxes.waiting()

    async def run(self) -> None:
        """Deliver from every outbox and evaluate every ``evaluate_every``, until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            for outbox in self.outboxes.values():
                tg.start_soon(outbox.run)
            self._ticks.begin()
            last = anyio.current_time()
            while True:
                self._stalled(anyio.current_time() - last)
                last = anyio.current_time()
                try:
                    await self.evaluate_in_slices()
                except Exception:  # noqa: BLE001 - a bug in one evaluation must not stop alerting
                    self._evaluations.failed()
                    self.evaluation_errors.inc()
                    self._log.error("sesd.alert.evaluation_failed", exc_info=True)
                await self._ticks.next()

    def _stalled(self, gap: float) -> None:
        """After the event loop stood still (a stopped process, a paused VM, a starved
        CPU), the events that came meanwhile wait in the queue: for a window's length
        an empty window says nothing of an incident."""
        if gap > max(4 * self._config.alerts.evaluate_every.seconds, _STALL):
            now = self._clock()
            self.evaluator.blind(now)
            self._log.warning(
                "sesd.alert.stalled",
                seconds=round(gap, 1),
                hint="sesd did not run for this long; empty windows resolve nothing for a "
                "window's length",
            )

    @property
    def evaluations(self) -> int:
        """How many evaluations ended (sesd.alerting.evaluations)."""
        return self._evaluations.done

    def evaluate(self, *, flush: bool = False) -> list[Notification]:
        """One evaluation at the current time; due notifications go to their outboxes.
        The silences file is read and written in the calling thread (the daemon's
        evaluations, :meth:`evaluate_in_slices` and :meth:`drain`'s, do it in a worker
        thread)."""
        return self._evaluations.evaluate(flush=flush)

    async def evaluate_in_slices(self) -> list[Notification]:
        """:meth:`evaluate`, as the daemon's loop runs it: the event loop given back
        between slices of labels and between the log lines of the alerts decided
        (:meth:`Evaluations.evaluate_in_slices`)."""
        return await self._evaluations.evaluate_in_slices()

    def dispatch(self, notification: Notification) -> None:
        """Queue a notification once on each sink it names (a rule a state file saved may
        name one twice). One owed to a sink the config no longer names (a restart dropped it:
        a reload sends what it owes the sinks it removes before they close) is said, not sent."""
        for name in dict.fromkeys(notification.sinks):
            outbox = self.outboxes.get(name)
            if outbox is not None:
                outbox.put(notification)
            else:
                log_sink_gone(self._log, name, notification)

    def unsent(self) -> list[tuple[str, str, Transition]]:
        """(rule, domain, kind) of every alert not delivered to every sink yet: waiting
        its group, queued or being delivered (the outboxes of sinks a reload removed
        included, while they empty), or a resolve an Alertmanager member is owed."""
        return self.evaluator.waiting() + self.sink_outboxes.unsent()

    def undelivered(self) -> Undelivered:
        """:meth:`unsent` as the state file keeps it (sesd.alerting.retiring)."""
        outboxes = self.sink_outboxes.every()
        by_labels = self._config.alerts.by_labels()
        # Read looking for no step: a save has read its time, and a step measured here
        # would move what it saves, the save's time not (a restart moved them twice).
        return undelivered(outboxes, self.evaluator, by_labels, self._wall())

    def log_unsent(self, *, kept: bool) -> None:
        """At a stop, after :meth:`drain`: say what was not delivered, and whether the
        state file (``kept``) carries it to the next start; and which silences' ends
        the silences file was never told of."""
        log_unsent(self._log, self.unsent(), kept=kept)
        self.silences.log_unwritten()

    async def drain(self) -> None:
        """Last evaluation, every waiting group sent, every outbox emptied; then each
        Alertmanager member owed a resolve it missed tried once more, sitting out or
        not (what it is still owed is saved as not sent: :meth:`unsent`)."""
        await self._evaluations.evaluate_whole(flush=True)
        await self.sink_outboxes.drain()
