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

A second signal saves the state (within a moment) and exits. SIGHUP reloads the
config file, and changed secret and certificate files are read again by themselves
(sesd.runtime.reload, sesd.runtime.follow); an invalid file changes nothing.
"""

from __future__ import annotations

import random
import shlex
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from functools import partial
from typing import Any, TextIO

import anyio
import anyio.abc

from sesd import __version__
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.service import Alerting, sink_session
from sesd.config import Config, ConfigError, QueueConfig, core_settings
from sesd.config.sections import LAST_SAVE
from sesd.core.pipeline import Pipeline
from sesd.io.build import revision
from sesd.io.logs import get_logger
from sesd.metrics.registry import Metrics
from sesd.providers.resolver import ProviderResolver
from sesd.runtime import early
from sesd.runtime.aws import AwsClients
from sesd.runtime.canary import CanaryRunner
from sesd.runtime.clock import AnchoredClock
from sesd.runtime.collector import settle
from sesd.runtime.consumers import Consumers
from sesd.runtime.health import Changes, Health
from sesd.runtime.http import StartError, http_server
from sesd.runtime.in_flight import InFlight
from sesd.runtime.janitor import janitor
from sesd.runtime.pollers import account_poller, queue_poller, tenant_poller
from sesd.runtime.queue_check import start_check
from sesd.runtime.reload import Reloader
from sesd.runtime.saver import StateSaver
from sesd.runtime.signals import EXIT_FORCED, watch_signals
from sesd.runtime.state_start import RestoreStopped
from sesd.runtime.supervise import start_kept
from sesd.runtime.systemd import Notifier, tell_systemd
from sesd.runtime.web import WebGuard
from sesd.status.routes import add_status_routes
from sesd.status.sources import Sources

__all__ = ["EXIT_FORCED", "Daemon", "StartError"]


class Daemon:
    """sesd's running state, wired: pipeline and ledger, metrics, alerting, health, and
    the tasks that feed them."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        console: TextIO | None = None,
        config_path: str | None = None,
        listen: str | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        #: ``--listen`` (or $SESD_HTTP_LISTEN), over the file's: a reload keeps it.
        self.listen = listen
        self._log = get_logger()
        self.changes = Changes()
        self.stopping = anyio.Event()
        # Every "now" the daemon uses: the monotonic clock anchored to ``clock`` (wall
        # time), re-anchored, counted and logged when the wall clock steps.
        self.clock = AnchoredClock(clock, monotonic, on_step=self._clock_stepped)
        self.monotonic = monotonic
        self.pipeline = Pipeline(core_settings(config))
        self.ledger = ledger = self.pipeline.ledger
        self.resolver: ProviderResolver | None = None
        if ledger.providers is not None:
            self.resolver = ProviderResolver.from_config(
                config.providers, ledger.providers, clock=self.clock
            )
        # Without a silences file, `sesd silence add` fails: no mute line then.
        prefix = "sesd silence add" if config.silences_path else ""
        if prefix and config_path:
            prefix += f" --config {shlex.quote(config_path)}"
        evaluator = Evaluator(
            config.alerts, [spec.name for spec in ledger.specs], silence_prefix=prefix
        )
        queues = [q.label for q in config.queues]
        self.metrics = Metrics(
            ledger,
            config.queues,
            self.clock.peek,
            evaluator=evaluator,
            accounts_polled=config.account_health.enabled,
            tenants_polled=config.tenants.enabled,
        )
        self.metrics.config_in_force(config.digest())
        self.alerting = Alerting(
            config,
            ledger,
            evaluator,
            self.clock,
            notifications=self.metrics.notifications,
            evaluation_errors=self.metrics.evaluation_errors,
            faults=self.metrics.task_failures.labels("alerting"),
            console=console,
            wall=self.clock.peek,
        )
        self.alerting.on_evaluated = self.changes.notify
        self.metrics.watch_outboxes(self.alerting.waiting)
        self.health = Health(queues, changed=self.changes.notify)
        self.alerting.unread = lambda: self.health.unread(self.monotonic())
        self.metrics.watch_queues(lambda: self.health.ready(self.monotonic())[1])
        #: What the status page reads (sesd.status): the same live state as the metrics.
        self.status = Sources(
            ledger=ledger,
            evaluator=evaluator,
            metrics=self.metrics,
            health=self.health,
            clock=self.clock.peek,
            monotonic=monotonic,
            started=self.clock.peek(),
            version=__version__,
        )
        #: The SES API polls ([account_health], [tenants]), where the config enables them.
        self.account_poller = account_poller(self)
        self.tenant_poller = tenant_poller(self)
        if config.canary is not None:
            self.metrics.watch_canary()
        self.canary = CanaryRunner(ledger.canary, self.clock, self.changes.notify, self.stopping)
        state = config.state.path
        self.saver = StateSaver(state, ledger, evaluator, self.clock, self.alerting.undelivered)
        self.alerting.on_notified = self.saver.soon  # a page sent is saved at once
        self.saver.on_result = self._saved
        #: Called when what is left is the exit, which ``sesd run`` bounds (``EXIT_ROOM``):
        #: as the last save returns after a ``"stop"`` or a ``"fault"``, at a ``"stop"``
        #: that gave the start up, and at a ``"failed_start"`` (with why); a ``"fault"``
        #: may come after any of them.
        self.on_exit: Callable[[str, BaseException | None], None] = lambda after, why: None
        #: The start, while it runs: a stop cancels it.
        self._starting: anyio.CancelScope | None = None
        self._started = anyio.Event()
        #: Stop signals are watched: one gives the state file's restore up.
        self._watching = False
        self.systemd = Notifier()
        self._consumers = Consumers(
            partial(queue_poller, self), self.metrics.task_failures, hold=self._hold_queue
        )
        self._tasks: anyio.abc.TaskGroup | None = None
        #: The AWS clients, one per (service, account, region), while running.
        self.aws: AwsClients | None = None
        #: The uniform draw of the pollers' backoff jitter (a test pins it).
        self.jitter: Callable[[], float] = random.random
        self.http_port: int | None = None
        #: The lock on the HTTP port ([http] web_config), from the start.
        self.web: WebGuard | None = None
        #: The SQS calls in flight of every queue poller: bounded once a stop begins,
        #: cut off by a forced exit (the signal watcher is given it).
        self.in_flight = InFlight()
        self._reloader = Reloader(self)

    def _saved(self, ok: bool, now: float) -> None:
        """A state file save worked or failed: the metrics, /readyz and ``STATUS=``."""
        self.metrics.saved(ok, now)
        self.health.state_failing = not ok

    def _clock_stepped(self, step: float) -> None:
        self.metrics.clock_steps.inc()
        # Events in flight bear the old time: an empty window says nothing for a while.
        self.alerting.stepped(self.clock.peek(), step)
        # The canaries' times are this clock's, and the duplicate filter's: they move with
        # it (no deadline passes, no key is forgotten early).
        self.ledger.stepped(step)
        hint = "the wall clock jumped; windows keep every event, reads follow the new time"
        self._log.warning("sesd.clock.stepped", step_seconds=round(step, 3), hint=hint)

    def stop(self) -> None:
        """Begin a graceful stop (what the first SIGTERM does)."""
        if not self.stopping.is_set():
            grace = self.config.shutdown.grace_period.seconds
            hint = f"receives in flight end first (within {grace:g}s); a second signal exits now"
            self._log.info("sesd.daemon.stopping", grace_seconds=grace, hint=hint)
            self.systemd.notify("STOPPING=1", "STATUS=draining")
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
        if handle_signals:
            # Until the signal watcher runs, a signal is held for it (`sesd run` held
            # them from its first line; a SIGHUP's default action would end sesd).
            early.hold()
        serving = False
        failed: Exception | None = None  # the start's: raised as it is, not in a group
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
                self._tasks = tg
                if handle_signals:
                    # Before the start: a stop must not wait for it (a name lookup or a
                    # disk that hangs would hold both until the supervisor's SIGKILL).
                    watch = partial(watch_signals, in_flight=self.in_flight)
                    reload = partial(self._reload_once_started, self._reloader.on_signal)
                    await tg.start(watch, self.stop, reload, self.stopping, self.saver.save)
                try:
                    started = await self._start(stack)
                except Exception as exc:  # noqa: BLE001 - raised below, as it is
                    failed, started = exc, False
                    self.on_exit("failed_start", exc)
                if started:
                    self.serve(tg)
                    serving = True
                    task_status.started(self)
                    deadline = await self.consume()
                    await self.drain(deadline)
                # Then stop the janitor, the evaluator, the outboxes, the signal watcher.
                tg.cancel_scope.cancel()
        except Exception:
            if serving:
                # A fault nothing handled ends sesd: what the windows and alert states
                # hold is still saved, so the restart that follows loses nothing; within
                # LAST_SAVE, as at a stop (a hung disk would hold the exit until the
                # supervisor's SIGKILL, which says nothing of why).
                self._log.error("sesd.daemon.failed", exc_info=True)
                await self.saver.save_last(LAST_SAVE, after="fault")
            # Also after the exit began (a close raising after the stop's save): a fault.
            self.on_exit("fault", None)
            raise
        finally:
            self.systemd.close()
        if failed is not None:
            raise failed
        self._log.info("sesd.daemon.stopped", **self.ledger.tallies.by_outcome())

    async def _start(self, stack: AsyncExitStack) -> bool:
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
            self.on_exit("stop", None)
            return False
        return True

    async def _reload_once_started(self, reload: Callable[[], Awaitable[None]]) -> None:
        """A SIGHUP while starting reloads once started: the file may have changed
        since the start read it, and a reload needs what the start makes."""
        await self._started.wait()
        await reload()

    async def start(self, stack: AsyncExitStack) -> None:
        """Phase 1: what must hold before any task runs, each part closed with ``stack``."""
        self.saver.load(stack, watched=self._watching)
        try:
            self.web = WebGuard(self.config.http.web)
        except ConfigError as exc:
            # Read and checked with the config a moment ago: changed since.
            raise StartError(str(exc)) from None
        self.http_port = await stack.enter_async_context(
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
        self.aws = AwsClients(self.config, stack)
        for queue in self.config.queues:
            await self.aws.open_queue(queue)
        self.alerting.open(await stack.enter_async_context(sink_session()))
        self.metrics.reloaded(True, self.clock())
        # What was built and restored lives as long as sesd: out of the collector's walks.
        settle(full=True)

    def serve(self, tg: anyio.abc.TaskGroup) -> None:
        """Phase 2: every background task, in ``tg``."""
        keep = partial(start_kept, tg, self.metrics.task_failures)
        for queue in self.config.queues:
            # Advice only (no dead-letter queue): never holding up the start or READY=1.
            self.check(queue)
        keep("janitor", partial(janitor, self.pipeline, self.clock, self.monotonic))
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
        self.on_exit("stop", None)

    # --- the parts the phases and a reload use --------------------------------

    def sqs(self, queue: QueueConfig, use: str = "") -> Any:
        """A queue's SQS client (:meth:`AwsClients.sqs`)."""
        assert self.aws is not None
        return self.aws.sqs(queue, use)

    def _hold_queue(self, queue: QueueConfig) -> AbstractAsyncContextManager[None]:
        """A queue's clients, held while its pollers run (a reload may retire them)."""
        assert self.aws is not None
        return self.aws.holding(self.sqs(queue), self.sqs(queue, "receive"))

    def check(self, queue: QueueConfig) -> None:
        """Check ``queue`` (:func:`start_check`): advice only, never holding up the start
        or a reload; its answer counts for readiness while the queue is read there."""
        assert self._tasks is not None
        start_check(self._tasks, self, queue)

    def restart_queues(self, old: Config, new: Config, start: bool = True) -> list[QueueConfig]:
        """Stop the queues a reload removed (or changed) and start those it added (not
        with ``start`` False: a stop has begun); returns the started ones."""
        grace = new.shutdown.grace_period.seconds
        return self._consumers.change(old.queues, new.queues, grace, start=start)

    def restart_canary(self, config: Config) -> None:
        """Stop the canary that runs, and start the one ``config`` describes."""
        if config.canary is not None:
            self.metrics.watch_canary()
        if self.aws is not None and self._tasks is not None:
            keep = partial(start_kept, self._tasks, self.metrics.task_failures)
            self.canary.start(config, self.aws, keep)
