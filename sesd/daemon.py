"""The daemon: one task group owns every long-running task.

Lifecycle, in phases:

1. start-up: SQS client, queue checks (RedrivePolicy), HTTP server bound;
2. main loop: pollers per queue, the janitor, the signal watcher;
3. shutdown, on the first SIGTERM/SIGINT: stop receiving, let receives in
   flight return, handle and delete what they brought, and return within the
   grace period; a second signal exits at once.

SIGHUP reloads the config file (:mod:`sesd.reload` says what a reload takes);
an invalid file changes nothing. Windows, alert states and outboxes carry on.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, TextIO

import aiohttp
import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from sesd import __version__
from sesd.account.metrics import AccountCollector
from sesd.account.poller import AccountPoller
from sesd.alerting.service import Alerting
from sesd.aws import AwsClients
from sesd.canary.metrics import CanaryCollector
from sesd.canary.sender import CanarySender
from sesd.clock import AnchoredClock
from sesd.config import CanaryConfig, Config, ConfigError, QueueConfig, load_config
from sesd.consumers import Consumers
from sesd.health import Changes, Health
from sesd.http import StartError, http_server
from sesd.logs import get_logger, set_level
from sesd.metrics import Metrics
from sesd.pipeline import Pipeline
from sesd.providers.resolver import ProviderResolver
from sesd.reload import merge
from sesd.sqs import InFlight, InvalidMemory, QueuePoller, check_queue
from sesd.state import StateError, read_state, restore, snapshot, write_state
from sesd.systemd import Notifier

__all__ = ["EXIT_FORCED", "Daemon", "StartError"]

#: Exit code after a second signal cut the graceful stop short.
EXIT_FORCED = 130
_JANITOR_EVERY = 10.0
#: How often STATUS= is brought up to date when systemd wants no watchdog pings.
_STATUS_EVERY = 5.0
#: SQS's longest long poll, and a margin: the read timeout of every receive.
_LONGEST_POLL = 20


class Daemon:
    """sesd's running state: pipeline, metrics, health, and the tasks that feed them."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        console: TextIO | None = None,
        config_path: str | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._log = get_logger()
        # Every "now" the daemon uses: the monotonic clock anchored to ``clock`` (wall
        # time), re-anchored, counted and logged when the wall clock steps.
        self.clock = AnchoredClock(clock, monotonic, on_step=self._clock_stepped)
        self.monotonic = monotonic
        resolver = None
        if config.providers.enabled:
            resolver = ProviderResolver.from_config(config.providers, clock=self.clock)
        self.pipeline = Pipeline(config, resolver)
        labels = [q.label for q in config.queues]
        self.metrics = Metrics(
            self.pipeline, [(q.label, *self._where(q)) for q in config.queues], self.clock
        )
        prefix = "sesd silence add"
        if config_path:
            prefix += f" --config {shlex.quote(config_path)}"
        self.alerting = Alerting(
            config,
            self.pipeline,
            self.metrics.registry,
            self.clock,
            console,
            silence_prefix=prefix,
        )
        self.health = Health(labels)
        #: SES's view of each (account, region), polled (with [account_health] enabled).
        self.account_poller: AccountPoller | None = None
        if config.account_health.enabled:
            self.account_poller = AccountPoller(
                config.health_targets(),
                self._account_client,
                every=config.account_health.poll_every.seconds,
                cloudwatch=config.account_health.cloudwatch,
                clock=self.clock,
                status=self.pipeline.accounts,
            )
        self.metrics.registry.register(
            AccountCollector(self.pipeline.reputation, self.account_poller)
        )
        self.changes = Changes()
        self.alerting.on_evaluated = self.changes.notify
        self._canary_collector = False
        if config.canary is not None:
            self._collect_canary()
        self.canary: CanarySender | None = None
        self._canary_stop = anyio.Event()
        self._consumers = Consumers(self._poller)
        self._tasks: anyio.abc.TaskGroup | None = None
        #: The AWS clients, one per (service, account, region), while running.
        self.aws: AwsClients | None = None
        #: The uniform draw of the pollers' backoff jitter (a test pins it).
        self.jitter: Callable[[], float] = random.random
        self.stopping = anyio.Event()
        self.http_port: int | None = None
        self.systemd = Notifier()
        self._deadline = float("inf")
        self._in_flight = InFlight()

    def _clock_stepped(self, step: float) -> None:
        self.metrics.clock_steps.inc()
        self._log.warning(
            "sesd.clock.stepped",
            step_seconds=round(step, 3),
            hint="the wall clock jumped; windows keep every event, reads follow the new time",
        )

    def stop(self) -> None:
        """Begin a graceful stop (what the first SIGTERM does)."""
        if not self.stopping.is_set():
            self._log.info("sesd.daemon.stopping")
            self.systemd.notify("STOPPING=1", "STATUS=draining")
            self.stopping.set()

    async def run(
        self,
        *,
        handle_signals: bool = True,
        task_status: anyio.abc.TaskStatus[Daemon] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run until stopped; reports itself once the HTTP server listens."""
        if handle_signals:
            # Until the signal watcher runs, a SIGHUP (a reload sent while starting)
            # must not end sesd: its default action would.
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for key, secret in self.config.secrets():
            if secret.is_literal:
                self._log.warning("sesd.config.literal_secret", key=key)
        self._load_state()
        try:
            async with (
                http_server(
                    self.config.http, self.metrics.registry, self.health, self.monotonic
                ) as self.http_port,
                AsyncExitStack() as clients,
                aiohttp.ClientSession() as session,
            ):
                self.aws = AwsClients(self.config, clients)
                for queue in self.config.queues:
                    await self._open_queue(queue)
                for queue in self.config.queues:
                    await check_queue(self._sqs(queue), queue, *self._where(queue))
                self.alerting.open(session)
                self.metrics.reloaded(True, self.clock())
                async with anyio.create_task_group() as tg:
                    self._tasks = tg
                    tg.start_soon(self._janitor)
                    tg.start_soon(self.alerting.run)
                    if self.account_poller is not None:
                        tg.start_soon(self.account_poller.run)
                    if self.pipeline.resolver is not None:
                        # MX lookups for providers, beside the pollers, never in their way.
                        tg.start_soon(self.pipeline.resolver.run)
                    self._start_canary()
                    if self.config.state.path:
                        tg.start_soon(self._save_periodically)
                    if self.systemd.enabled:
                        tg.start_soon(self._tell_systemd)
                    if handle_signals:
                        # Started, not just scheduled: a SIGTERM right after "started"
                        # must find the handler installed.
                        await tg.start(self._watch_signals)
                    self._log.info(
                        "sesd.daemon.started",
                        version=__version__,
                        queues=[q.label for q in self.config.queues],
                        pollers=sum(q.concurrency for q in self.config.queues),
                    )
                    task_status.started(self)
                    self._deadline = await self._consumers.run(
                        self.config.queues,
                        self.stopping,
                        lambda: self.config.shutdown.grace_period.seconds,
                        self._in_flight,
                    )
                    # Pollers are done. Evaluate once more, send what is waiting, and
                    # give the outboxes what is left of the grace period (at least 1 s).
                    with anyio.move_on_after(max(1.0, self._deadline - anyio.current_time())):
                        await self.alerting.drain()
                    unsent = sum(len(o) for o in self.alerting.outboxes.values())
                    if unsent:
                        self._log.warning("sesd.notify.unsent_at_exit", notifications=unsent)
                    # Last, the state: it then holds the alerts just notified.
                    with anyio.CancelScope(shield=True):
                        await self._save_state()
                    # Then stop the janitor, the evaluator, the outboxes, the signal watcher.
                    tg.cancel_scope.cancel()
        finally:
            self.systemd.close()
        self._log.info("sesd.daemon.stopped", **self._summary())

    def _client(self, service: str, endpoint_url: str | None, config: AioConfig) -> Any:
        aws = self.config.aws
        key_id = secret_key = None
        if aws.access_key_id is not None and aws.secret_access_key is not None:
            key_id, secret_key = aws.access_key_id.get(), aws.secret_access_key.get()
        return get_session().create_client(  # type: ignore[call-overload]
            service,
            region_name=aws.region,
            endpoint_url=endpoint_url,
            config=config,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret_key,
        )

    async def _open_queue(self, queue: QueueConfig) -> None:
        """Make the SQS client a queue's pollers use: one per (account, region)."""
        assert self.aws is not None
        config = AioConfig(
            connect_timeout=5,
            # A long poll holds the request open for WaitTimeSeconds (at most 20 s; a
            # queue a reload adds may poll longer than those at start).
            read_timeout=_LONGEST_POLL + 10,
            max_pool_connections=sum(q.concurrency for q in self.config.queues) + 4,
            retries={"mode": "standard", "max_attempts": 3},
        )
        await self.aws.client("sqs", queue.account, self.config.region_of(queue), config)

    async def _account_client(self, service: str, target: tuple[str, str]) -> Any:
        """The SESv2 or CloudWatch client of an (account, region), for the health polls."""
        assert self.aws is not None
        health = self.config.account_health
        endpoint = health.ses_endpoint_url if service == "sesv2" else health.cloudwatch_endpoint_url
        config = AioConfig(
            connect_timeout=5, read_timeout=15, retries={"mode": "standard", "max_attempts": 2}
        )
        return await self.aws.client(service, target[0], target[1], config, endpoint)

    def _sqs(self, queue: QueueConfig) -> Any:
        assert self.aws is not None
        return self.aws.cached("sqs", queue.account, self.config.region_of(queue))

    def _where(self, queue: QueueConfig) -> tuple[str, str]:
        """A queue's ``account`` and ``region`` labels."""
        return queue.account_label, self.config.region_of(queue)

    def _ses_client(self, canary: CanaryConfig) -> Any:
        """The canary's SESv2 client: one attempt per call, so each failure is seen."""
        timeout = canary.call_timeout
        config = AioConfig(
            connect_timeout=min(5.0, timeout),
            read_timeout=timeout,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        return self._client("sesv2", canary.endpoint_url or self.config.aws.endpoint_url, config)

    def _poller(
        self, queue: QueueConfig, stop: anyio.Event, memory: InvalidMemory, index: int
    ) -> QueuePoller:
        account, region = self._where(queue)
        return QueuePoller(
            self._sqs(queue),
            queue,
            pipeline=self.pipeline,
            metrics=self.metrics,
            health=self.health,
            changes=self.changes,
            stopping=stop,
            delete_invalid=self.config.ingest.delete_invalid,
            clock=self.clock,
            monotonic=self.monotonic,
            invalid_memory=memory,
            in_flight=self._in_flight,
            region=region,
            account=account,
            rand=lambda: self.jitter(),
            poller=index,
        )

    def _start_canary(self) -> None:
        canary = self.config.canary
        if canary is None or self._tasks is None:
            return
        self._collect_canary()
        self._canary_stop = anyio.Event()
        self._tasks.start_soon(self._run_canary, canary, self._canary_stop)

    def _collect_canary(self) -> None:
        """Export the canary's metrics (once: from start, or from the reload that adds it)."""
        if not self._canary_collector:
            self.metrics.registry.register(CanaryCollector(self.pipeline.canary, self.clock))
            self._canary_collector = True

    async def _run_canary(self, canary: CanaryConfig, stop: anyio.Event) -> None:
        async with self._ses_client(canary) as ses:
            self.canary = CanarySender(
                canary, ses, self.pipeline.canary, clock=self.clock, on_change=self.changes.notify
            )
            stopped = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_first_of, stopped, self.stopping, stop)
                await self.canary.run(stopped)
                tg.cancel_scope.cancel()

    async def reload(self) -> bool:
        """Re-read the config file and apply what may change while running. An invalid
        file changes nothing. True when the new config is in force."""
        path = self.config_path
        if not path:
            self._log.warning("sesd.config.reload_failed", error="no config file to read")
            return False
        try:
            new = await anyio.to_thread.run_sync(load_config, path)
            merged, ignored = merge(self.config, new)
        except ConfigError as exc:
            self.metrics.reloaded(False, self.clock())
            self._log.error("sesd.config.reload_failed", path=path, error=str(exc))
            return False
        for key in ignored:
            self._log.warning("sesd.config.reload_ignored", key=key, hint="needs a restart")
        old, self.config = self.config, merged
        set_level(merged.logging.level)
        self.pipeline.reconfigure(merged)
        self.alerting.reconfigure(merged)
        if self.aws is not None:
            self.aws.reconfigure(merged)
        if self.account_poller is not None:
            # Queues and accounts a reload adds are watched from the next poll.
            self.account_poller.targets = merged.health_targets()
        await self._requeue(old, merged)
        if old.canary != merged.canary:
            self._canary_stop.set()
            self._start_canary()
        self.metrics.reloaded(True, self.clock())
        self._log.info(
            "sesd.config.reloaded",
            path=path,
            rules=len(merged.alerts.rules),
            queues=[q.label for q in merged.queues],
        )
        self.changes.notify()
        return True

    async def _requeue(self, old: Config, new: Config) -> None:
        """Start the queues a reload added (or changed); stop those it removed."""
        labels = [q.label for q in new.queues]
        self.health.queues = labels
        self.metrics.set_queues([(q.label, *self._where(q)) for q in new.queues])
        if self.stopping.is_set():
            return
        for queue in new.queues:
            if queue not in old.queues:
                await self._open_queue(queue)
        grace = new.shutdown.grace_period.seconds
        for queue in self._consumers.change(old.queues, new.queues, grace):
            assert self._tasks is not None
            self._tasks.start_soon(check_queue, self._sqs(queue), queue, *self._where(queue))

    def _load_state(self) -> None:
        path = self.config.state.path
        if not path:
            return
        try:
            blob = read_state(path)
            if blob is None:
                self._log.info("sesd.state.none_yet", path=path)
                return
            restored = restore(blob, self.pipeline, self.alerting.evaluator)
        except StateError as exc:
            self._log.warning("sesd.state.ignored", path=path, reason=str(exc))
            return
        self._log.info("sesd.state.restored", path=path, **restored)

    async def _save_state(self) -> None:
        path = self.config.state.path
        if not path:
            return
        blob = snapshot(self.pipeline, self.alerting.evaluator, self.clock())
        try:
            await anyio.to_thread.run_sync(write_state, path, blob)
        except OSError as exc:
            self._log.error("sesd.state.save_failed", path=path, error=exc.strerror)
        else:
            self._log.debug("sesd.state.saved", path=path, bytes=len(blob))

    async def _save_periodically(self) -> None:
        every = self.config.state.save_every.seconds
        while True:
            await anyio.sleep(every)
            await self._save_state()

    async def _tell_systemd(self) -> None:
        """READY=1 as soon as sesd runs (config loaded, HTTP bound): queue health is for
        /readyz and STATUS=, not for systemd, which would otherwise restart sesd over
        an SQS or IAM problem at boot. Then WATCHDOG=1 pings, and STATUS= when it changes."""
        status = self._systemd_status()
        self.systemd.notify("READY=1", f"STATUS={status}")
        self._log.info("sesd.systemd.ready")
        interval = self.systemd.watchdog_interval
        while True:
            # The ping runs on the event loop, so a stuck loop stops it and systemd
            # restarts sesd after WatchdogSec.
            await anyio.sleep(interval if interval is not None else _STATUS_EVERY)
            messages = ["WATCHDOG=1"] if interval is not None else []
            now = self._systemd_status()
            if now != status:
                status = now
                messages.append(f"STATUS={status}")
            if messages:
                self.systemd.notify(*messages)

    def _systemd_status(self) -> str:
        ready, stale = self.health.ready(self.monotonic())
        if ready:
            return f"consuming {', '.join(self.health.queues)}"
        return f"running; no receive yet or lately from {', '.join(stale)} (see /readyz)"

    async def _janitor(self) -> None:
        while True:
            evicted = self.pipeline.housekeep(self.clock())
            if evicted:
                self._log.info("sesd.domains.evicted", count=len(evicted))
            self._log.debug("sesd.housekeeping.done", pending=len(self.pipeline.pending))
            await anyio.sleep(_JANITOR_EVERY)

    async def _watch_signals(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                if signum == signal.SIGHUP:
                    # Never a reason to stop (its default would end sesd with no drain).
                    self._log.info("sesd.daemon.signal", signal=signum.name)
                    try:
                        await self.reload()
                    except Exception:  # noqa: BLE001 - a failed reload must not end sesd
                        self.metrics.reloaded(False, self.clock())
                        self._log.error("sesd.config.reload_failed", exc_info=True)
                    continue
                if self.stopping.is_set():
                    self._log.warning("sesd.daemon.forced_exit", signal=signum.name)
                    os._exit(EXIT_FORCED)
                self._log.info("sesd.daemon.signal", signal=signum.name)
                self.stop()

    def _summary(self) -> dict[str, int]:
        outcomes: dict[str, int] = {}
        for (_, outcome), n in self.pipeline.tallies.messages.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
        return outcomes


async def _first_of(out: anyio.Event, *events: anyio.Event) -> None:
    """Set ``out`` as soon as any of ``events`` is set."""
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            out.set()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait, event)
