"""The sinks' outboxes: one per configured sink, each delivering on its own (a slow
sink slows nothing else), made as the config names the sinks and changed as a reload
does, and those of sinks a reload removed, kept while they empty. What goes into them,
and when, is each evaluation's (sesd.alerting.evaluations) and a reload's
(sesd.alerting.service)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

import aiohttp
import anyio
from prometheus_client import Counter

from sesd.alerting.alert import Notification, remuted
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.clock_steps import Moves
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.outbox import Outbox
from sesd.alerting.part_saved import resume
from sesd.alerting.recall import held_back
from sesd.alerting.rules import Transition
from sesd.alerting.sink_map import build_sink
from sesd.alerting.sinks import PagerDutySink, Sink
from sesd.config import AlertsConfig, SinkConfig
from sesd.io.logs import get_logger

__all__ = ["SinkOutboxes"]


class SinkOutboxes:
    """Owns one outbox per configured sink (:attr:`live`), and those of sinks a reload
    removed while they still deliver (:attr:`retired`)."""

    def __init__(
        self,
        alerts: Callable[[], AlertsConfig],
        evaluator: Evaluator,
        clock: Callable[[], float],
        wall: Callable[[], float],
        *,
        notifications: Counter,
        faults: Counter,
        delivered: Callable[[Notification], None],
        start: Callable[[Outbox], None],
        console: TextIO | None = None,
    ) -> None:
        #: The ``[alerts]`` config in force: the sinks it names, the outboxes' bounds.
        self._alerts = alerts
        self._evaluator = evaluator
        self._clock = clock
        self._wall = wall
        self._notifications = notifications
        self._faults = faults
        self._delivered = delivered
        #: Runs a new outbox's delivery, once alerting runs (before, :meth:`run` does).
        self._start = start
        self._console = console
        self._session: aiohttp.ClientSession | None = None
        self.live: dict[str, Outbox] = {}
        #: Outboxes of sinks a reload removed, while they deliver what they hold.
        self.retired: list[Outbox] = []
        self._log = get_logger()

    def every(self) -> list[Outbox]:
        """Every outbox: each configured sink's, then those a reload retired."""
        return [*self.live.values(), *self.retired]

    def open(self, session: aiohttp.ClientSession) -> None:
        """Create an outbox per configured sink, and go on with what a stop left
        part-sent in one (sesd.alerting.part_saved); one past ``notification_max_age``
        by now (the start was long: credentials, queues) goes whole, as one the restore
        found past it: its receiver gave it up, and given up here it was lost."""
        self._session = session
        for name, sink_config in self._alerts().named_sinks().items():
            self._add(build_sink(name, sink_config, session, self._console))
        now, max_age, whole = self._clock(), self._alerts().notification_max_age.seconds, []
        mute = self._evaluator.mute
        # In reverse: each goes ahead of those as urgent, as one that stepped aside.
        for each in reversed(self._evaluator.resumed):
            outbox = self.live.get(each.sink)
            if outbox is None:
                continue
            # Its mute lines the config's, made by the evaluator's mute, whether it goes
            # on or goes whole: the file kept the stopped run's lines, a command on its
            # program, config file and silences file, which an upgrade or a config
            # changed since may have moved or dropped (a line that fails, or a silence
            # written to a file this sesd does not read), and not what made them, which
            # a reload and what a silence holds back of a page need to make them again.
            # Each line still names the alert as it fired (a group renamed since keeps
            # its old name): only the command it is given to changes. Made before the
            # sink takes it: it goes on from where it was with this object (parts
            # already taken had the old line, those to come the one that works now).
            going = each._replace(notification=remuted(replace(each.notification, mute=mute)))
            age = going.aged(now)
            if age > max_age or not resume(outbox, going, age):
                whole.append((outbox, going.notification))
        for outbox, notification in reversed(whole):
            outbox.put(replace(notification, at=now))  # a page anew: its own ``at``, ``id``
        self._evaluator.resumed = []

    def _holding(self, sink: Sink) -> Sink:
        """``sink``, asking the silences in force before each event it has yet to send
        (PagerDuty's: a wide notification drains for minutes at its rate), or counting
        the Alertmanager members that fail while another takes a post."""
        if isinstance(sink, PagerDutySink):
            name, evaluator = sink.name, self._evaluator
            sink.held = lambda rule, label, kind: held_back(
                evaluator, name, rule, label, kind, self._clock()
            )
        if isinstance(sink, AlertmanagerSink):
            sink.wall = self._wall  # the evaluator's clock, until a step is measured
            failed = self._notifications.labels(sink.name, "member_failed")
            sink.on_member_failed = lambda url: failed.inc()
        return sink

    def _add(self, sink: Sink) -> None:
        alerts = self._alerts()
        outbox = self.live[sink.name] = Outbox(
            self._holding(sink),
            size=alerts.outbox_size,
            counter=self._notifications,
            max_age=alerts.notification_max_age.seconds,
            faults=self._faults.inc,
        )
        outbox.on_done = self._delivered
        self._start(outbox)

    def change(self, old_sinks: dict[str, SinkConfig]) -> list[str]:
        """Take the sinks of the config now in force (they were ``old_sinks``): every
        outbox's size and notification age, an outbox for each new sink (queued
        notifications kept), a changed sink in its outbox. Returns the changed sinks."""
        alerts = self._alerts()
        assert self._session is not None, "reconfigure before open"
        for outbox in self.live.values():
            outbox.limit(alerts.outbox_size, alerts.notification_max_age.seconds)
        changed = []
        for name, sink_config in alerts.named_sinks().items():
            if name not in self.live and not self._take_back(name, sink_config):
                self._add(build_sink(name, sink_config, self._session, self._console))
            elif name in old_sinks and old_sinks[name] != sink_config:
                self.live[name].use(
                    self._holding(build_sink(name, sink_config, self._session, self._console))
                )
                changed.append(name)
        return changed

    def retire(self) -> list[str]:
        """Close the outboxes of sinks the config in force no longer names, kept while
        they empty (waited on at a stop, counted); returns those sinks."""
        self.retired = [outbox for outbox in self.retired if outbox.busy()]
        removed = set(self.live) - set(self._alerts().named_sinks())
        for name in removed:
            retired = self.live.pop(name)
            retired.close()
            self.retired.append(retired)
        return list(removed)

    def _take_back(self, name: str, config: SinkConfig) -> bool:
        """Give a sink named again the outbox a reload retired, if it still delivers (a
        member's resolve owed too): a second outbox to the same sink could post a rule's
        firing while the first still held its resolve, and close the incident of an
        alert that fires. Not one of another type: what it holds was owed to the sink
        that went."""
        assert self._session is not None
        sink = build_sink(name, config, self._session, self._console)
        retired = next(
            (
                o
                for o in self.retired
                if o.sink.name == name and o.busy() and type(o.sink) is type(sink)
            ),
            None,
        )
        if retired is None:
            return False
        self.retired.remove(retired)
        retired.reopen()
        retired.use(self._holding(sink))
        alerts = self._alerts()
        retired.limit(alerts.outbox_size, alerts.notification_max_age.seconds)
        self.live[name] = retired
        return True

    def moved(self, moves: Moves) -> None:
        """A clock step's ``moves`` of what waits in every outbox, and of what a sink
        keeps of a notification (by the object: sesd.alerting.part_sent)."""
        for outbox in self.every():
            outbox.moved(moves)
            getattr(outbox.sink, "moved", lambda moves: None)(moves)
        # Those a restart goes on with, their outboxes not open yet: queued moved, and
        # their age still counting only the time that passed.
        self._evaluator.resumed = [
            each._replace(notification=moves.notification(each.notification),
                          read=each.read + moves.step)
            for each in self._evaluator.resumed
        ]  # fmt: skip

    def remuted(self) -> None:
        """The mute lines of what waits in every outbox made again (the silences file
        a reload added or removed), each notification once wherever it waits: recall
        tells a firing queued for several sinks by its identity."""
        made: dict[int, tuple[Notification, Notification]] = {}  # id -> (it, kept; made)

        def once(notification: Notification) -> Notification:
            found = made.get(id(notification))
            if found is None:
                found = made[id(notification)] = (notification, remuted(notification))
            return found[1]

        for outbox in self.every():
            outbox.remuted(once)

    def waiting(self) -> dict[str, int]:
        """How many notifications each sink's outbox holds, the one being delivered
        included: every configured sink (0 when empty), and a sink a reload removed
        while its outbox still empties."""
        found = dict.fromkeys(self._alerts().named_sinks(), 0)
        # A retired outbox once empty is gone, though kept until the next reload.
        for outbox in (*self.live.values(), *(o for o in self.retired if len(o))):
            found[outbox.sink.name] = found.get(outbox.sink.name, 0) + len(outbox)
        return found

    def unsent(self) -> list[tuple[str, str, Transition]]:
        """(rule, domain, kind) of every alert queued or being delivered in an outbox,
        or a resolve an Alertmanager member is owed."""
        found = []
        for outbox in self.every():
            found += [(n.rule, a.domain, n.kind) for n in outbox.unsent() for a in n.alerts]
            if isinstance(outbox.sink, AlertmanagerSink):
                # A resolve a member missed: the others took it, so it was sent; kept
                # only by the sink, it was lost at a restart (the member holding the
                # alert firing until its endsAt).
                owed = outbox.sink.owed()
                found += [(rule, label, Transition.RESOLVED) for rule, label in owed]
        return found

    async def drain(self) -> None:
        """Every outbox emptied; then each Alertmanager member owed a resolve it missed
        tried once more, sitting out or not."""
        outboxes = self.every()
        for outbox in outboxes:
            await outbox.wait_empty()
        owing = [o.sink for o in outboxes if isinstance(o.sink, AlertmanagerSink)]
        async with anyio.create_task_group() as tg:
            for sink in owing:
                tg.start_soon(self._catch_up, sink)

    async def _catch_up(self, sink: AlertmanagerSink) -> None:
        """A stop's last post of what ``sink``'s members are owed; a bug in it is logged
        and counted, not raised (the stop goes on to save, which keeps what is owed)."""
        try:
            await sink.catch_up(every=True)
        except Exception:  # noqa: BLE001 - a member's failure is the sink's to keep
            self._faults.inc()
            self._log.error("sesd.notify.catch_up_failed", sink=sink.name, exc_info=True)
