"""The daemon: one task group owns every long-running task, through named phases.

0. the signals watched, first: a stop while starting gives the start up;
1. :meth:`Daemon.start`: the state file read, the HTTP server bound (locked as
   ``[http] web_config`` says), the AWS clients made, the sinks opened;
2. :meth:`Daemon.serve`: the queues checked (RedrivePolicy: advice, never holding
   up the start), the background tasks (janitor, files, evaluator and outboxes,
   account polls, DNS lookups, canary, state saving, systemd);
3. :meth:`Daemon.consume`: the pollers, until a stop (the first SIGTERM/SIGINT,
   or :meth:`Daemon.stop`); receives in flight return and what they brought is
   handled and deleted, within the grace period;
4. :meth:`Daemon.drain`: a last evaluation, the outboxes given what is left of
   the grace period, the state saved; then every task is stopped.

A second signal saves the state (within a moment) and exits; one during the exit (its
closes) ends it at once. SIGHUP reloads the
config file, and changed secret and certificate files are read again by themselves
(sesd.runtime.reload, sesd.runtime.follow); an invalid file changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Unpack

import anyio
import anyio.abc

from sesd import __version__
from sesd.alerting.sink_map import sink_session
from sesd.config import Config, ConfigError
from sesd.config.sections import LAST_SAVE
from sesd.io.build import revision
from sesd.runtime.aws import AwsClients
from sesd.runtime.caps import Caps
from sesd.runtime.closes import Closes
from sesd.runtime.collector import settle
from sesd.runtime.exit_room import ExitRoom
from sesd.runtime.http import StartError, http_server
from sesd.runtime.janitor import janitor
from sesd.runtime.parts import Parts, Wiring
from sesd.runtime.signal_pipe import SignalPipe
from sesd.runtime.signals import exit_signals, watch_signals
from sesd.runtime.state_start import RestoreStopped
from sesd.runtime.supervise import start_kept
from sesd.runtime.systemd import Notifier, tell_systemd
from sesd.runtime.web import guard_at_start
from sesd.status.routes import add_status_routes

__all__ = ["Daemon", "StartError"]


class Daemon(Parts):
    """sesd's lifecycle over its parts (:class:`Parts`): started, served, consumed
    and drained, phase by phase, in one task group, until a stop."""

    def __init__(self, config: Config, **wiring: Unpack[Wiring]) -> None:
        super().__init__(config, **wiring)
        #: Called when what is left is the exit, which ``sesd run`` bounds (by
        #: ``exit_room``): as the last save returns after a ``"stop"`` or a ``"fault"``,
        #: at a ``"stop"`` that gave the start up, and at a ``"failed_start"`` (with
        #: why); a ``"fault"`` may come after any of them.
        self.on_exit: Callable[[str, BaseException | None], None] = lambda after, why: None
        #: The exit's one budget, begun as ``on_exit`` is first called (or the closes
        #: begin): the closes' plan and ``sesd run``'s bound both read it.
        self.exit_room = ExitRoom()
        #: The start, while it runs: a stop cancels it.
        self._starting: anyio.CancelScope | None = None
        self._started = anyio.Event()
        #: Stop signals are watched: one gives the state file's restore up.
        self._watching = False
        #: The exit's handling of stop signals outlasts the run (``sesd run``: the
        #: process is sesd's, and what the run found, the start's hold, would keep a
        #: signal unheard while the event loop closes); else the run puts back what it
        #: found.
        self.signals_outlast_run = False
        #: Phase 2 began (a fault from then on is logged, and a last save made).
        self._serving = False
        self.systemd = Notifier()

    def stop(self) -> None:
        """Begin a graceful stop (what the first SIGTERM does)."""
        if not self.stopping.is_set():
            grace = self.config.shutdown.grace_period.seconds
            hint = f"receives in flight end first (within {grace:g}s); a second signal exits now"
            self._log.info("sesd.daemon.stopping", grace_seconds=grace, hint=hint)
            self.systemd.notify("STOPPING=1", "STATUS=draining")
            self.health.stopping = True  # /readyz, the status: not ready from now
            self.stopping.set()
            if self._starting is not None:
                self._starting.cancel()

    async def reload(self) -> bool:
        """Re-read the config file and apply it (:meth:`Reloader.reload`)."""
        return await self._reloader.reload()

    async def run(
        self,
        *,
        handle_signals: bool = True,
        task_status: anyio.abc.TaskStatus[Daemon] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run until stopped; reports itself once the HTTP server listens. A stop while
        starting gives the start up where it is: nothing was consumed, nothing saved."""
        self._watching = handle_signals
        self._serving = False
        # From here to the run's end: until the watch runs, a signal waits in the pipe
        # for it (`sesd run` held them from its first line; a SIGHUP's default action
        # would end sesd), and the exit's handling (a signal then cuts it short) is
        # the run's, not its caller's.
        heard = SignalPipe.take() if handle_signals else None
        logged = False
        failed: Exception | None = None  # the start's: raised as it is, not in a group
        try:
            async with self._closed_at_exit() as stack:
                try:
                    async with anyio.create_task_group() as tg:
                        self._tasks = tg
                        if heard is not None:
                            await self._watch(tg, heard)
                        failed = await self._phases(tg, stack, task_status)
                        # Then stop the janitor, the evaluator, the outboxes, the signal watcher.
                        tg.cancel_scope.cancel()
                except Exception:
                    if self._serving:
                        # A fault nothing handled ends sesd: what the windows and alert
                        # states hold is still saved, so the restart that follows loses
                        # nothing; within LAST_SAVE, as at a stop (a hung disk would hold
                        # the exit until the supervisor's SIGKILL, which says nothing of
                        # why); before the closes, as at a stop: the file's lock let go,
                        # another sesd could restore the older file, then see it replaced.
                        self._log.error("sesd.daemon.failed", exc_info=True)
                        await self.saver.save_last(LAST_SAVE, after="fault")
                        self._exiting("fault", None)  # the closes then have its room
                        logged = True
                    raise
        except Exception:
            if self._serving and not logged:
                # A close raising after the stop's last save.
                self._log.error("sesd.daemon.failed", exc_info=True)
            # Also after the exit began (a close raising after the stop's save): a fault.
            self._exiting("fault", None)
            raise
        finally:
            self.systemd.close()
            if heard is not None and not self.signals_outlast_run:
                heard.put_back()
        if failed is not None:
            raise failed
        self._log.info("sesd.daemon.stopped", **self.ledger.tallies.by_outcome())

    async def _watch(self, tg: anyio.abc.TaskGroup, heard: SignalPipe) -> None:
        """Phase 0, the signal watch, in ``tg``: before the start, which a stop must not
        wait for (a name lookup or a disk that hangs would hold both until the
        supervisor's SIGKILL); the exit's own handling from the watch's end."""
        watch = partial(
            watch_signals,
            in_flight=self.in_flight,
            heard=heard,
            at_end=exit_signals(heard, lambda: self.exit_room.begun),
        )
        reload = partial(self._reload_once_started, self._reloader.on_signal)
        await tg.start(watch, self.stop, reload, self.stopping, self.saver.save)

    async def _phases(
        self, tg: anyio.abc.TaskGroup, stack: Closes, task_status: anyio.abc.TaskStatus[Daemon]
    ) -> Exception | None:
        """Phases 1 to 4 in ``tg``, until the drain ends; the start's failure, returned
        (the run raises it as it is, not in a group), what is left then the exit."""
        try:
            started = await self._start(stack)
        except Exception as exc:  # noqa: BLE001 - returned, then raised as it is
            self._exiting("failed_start", exc)
            return exc
        if started:
            self.serve(tg)
            self._serving = True
            task_status.started(self)
            await self.drain(await self.consume())
        return None

    def _exiting(self, after: str, why: BaseException | None) -> None:
        """What is left is the exit: its room begins (once), then ``on_exit``."""
        self.exit_room.begin()
        self.on_exit(after, why)

    @asynccontextmanager
    async def _closed_at_exit(self) -> AsyncIterator[Closes]:
        """What the start opens (the HTTP server, the AWS clients, the sinks' session),
        closed as the run ends, the last opened first: shielded, as a run cancelled
        rather than stopped (a KeyboardInterrupt through anyio.run, an embedding
        program's task group) had each close cancelled at its first await, leaving
        sessions and their sockets to the collector; all within the exit's room for them
        (``exit_room``: ended before ``sesd run``'s bound, which would cut the plan
        short), as a close that hangs (a connection that never finishes closing) must
        not hold the exit, and each in its turn (:func:`in_turns`), as it must not keep
        the others open."""
        closes = Closes()
        # A close that comes once the exit has begun (a retired AWS client's) shares it.
        self.exit_room.planned = partial(len, closes)
        try:
            yield closes
        finally:
            with anyio.CancelScope(shield=True):
                await closes.aclose(anyio.current_time() + self.exit_room.closes_left())

    async def _start(self, stack: Closes) -> bool:
        """:meth:`start`, given up at a stop (:meth:`stop` cancels it); True once started.
        Given up, what is left is the exit (``on_exit``): the state file holds what it
        held, nothing having been consumed since it was read."""
        with anyio.CancelScope() as self._starting:
            if not self.stopping.is_set():  # a signal held from before the watcher
                try:
                    await self.start(stack)
                except RestoreStopped:
                    # By a SIGTERM, on its way to the watcher: its stop ends this scope.
                    await self.stopping.wait()
        self._starting = None
        if self.stopping.is_set():
            self._exiting("stop", None)
            return False
        return True

    async def _reload_once_started(self, reload: Callable[[], Awaitable[None]]) -> None:
        """A SIGHUP while starting reloads once started: the file may have changed
        since the start read it, and a reload needs what the start makes."""
        await self._started.wait()
        await reload()

    async def start(self, stack: Closes) -> None:
        """Phase 1: what must hold before any task runs, each part closed with ``stack``."""
        await self.saver.load_within(stack.part("state_file"), watched=self._watching)
        # Silences waiting on alerts the config, edited while sesd was stopped, resolved
        # end now: a start that goes no further saves those alerts gone.
        await self.alerting.aend_silences_resolved()
        try:
            self.web = await guard_at_start(self.config.http.web)
        except ConfigError as exc:
            # Read and checked with the config a moment ago: changed since, or hung.
            raise StartError(str(exc)) from None
        self.http_port = await stack.part("http_server").enter_async_context(
            http_server(
                self.config.http,
                self.metrics.registry,
                self.health,
                self.monotonic,
                ssl_context=self.web.ssl_context,
                middlewares=[self.web.middleware],
                routes=partial(add_status_routes, self.status),
            )
        )
        self.aws = AwsClients(self.config, stack.part("aws_clients"), self.exit_room)
        for queue in self.config.queues:
            await self.aws.open_queue(queue)
        sinks = stack.part("sinks_session")
        self.alerting.open(await sinks.enter_async_context(sink_session()))
        self.metrics.reloaded(True, self.clock())
        await self._reloader.report.started()  # before READY=1: `systemctl reload` waits on it
        # What was built and restored lives as long as sesd: out of the collector's walks.
        settle(full=True)

    def serve(self, tg: anyio.abc.TaskGroup) -> None:
        """Phase 2: every background task, in ``tg``."""
        keep = partial(start_kept, tg, self.metrics.task_failures)
        for queue in self.config.queues:
            # Advice only (no dead-letter queue): never holding up the start or READY=1.
            self.check(queue)
        caps = Caps(self.pipeline.ledger)  # the run's: a janitor started again keeps it
        keep("janitor", partial(janitor, self.pipeline, caps, self.clock, self.monotonic))
        keep("files", self._reloader.follow)
        keep("alerting", self.alerting.run)
        if self.account_poller is not None:
            keep("account_poll", self.account_poller.run)
        if self.tenant_poller is not None:
            keep("tenant_poll", self.tenant_poller.run)
        if self.resolver is not None:
            # MX lookups for providers, beside the pollers, never in their way.
            keep("dns", self.resolver.run)
        assert self.aws is not None
        self.canary.start(self.config, self.aws, keep)
        if self.config.state.path:
            every = self.config.state.save_every.seconds
            keep("state_saver", partial(self.saver.run, every))
        if self.systemd.enabled:
            status = partial(self.health.summary, self.monotonic)
            keep("systemd", partial(tell_systemd, self.systemd, status))
        self._started.set()  # a SIGHUP while starting reloads now
        self._log.info(
            "sesd.daemon.started",
            version=__version__,
            revision=revision(),
            queues=[q.label for q in self.config.queues],
            pollers=sum(q.concurrency for q in self.config.queues),
        )

    async def consume(self) -> float:
        """Phase 3: the pollers, until a stop; returns the grace period's deadline."""
        return await self._consumers.run(
            self.config.queues,
            self.stopping,
            lambda: self.config.shutdown.grace_period.seconds,
            self.in_flight,
        )

    async def drain(self, deadline: float) -> None:
        """Phase 4: evaluate once more, send what is waiting within what is left of the
        grace period (at least 1 s), and save the state last (it then holds the alerts
        just notified), by ``LAST_SAVE`` seconds after the grace period: a slow disk
        must not hold the stop until the supervisor's SIGKILL, which logs nothing."""
        with anyio.move_on_after(max(1.0, deadline - anyio.current_time())):
            await self.alerting.drain()
        self.alerting.log_unsent(kept=bool(self.config.state.path))
        await self.saver.save_last(deadline + LAST_SAVE - anyio.current_time())
        self._exiting("stop", None)
