"""The daemon: one task group owns every long-running task.

Lifecycle, in phases:

1. start-up: SQS client, queue checks (RedrivePolicy), HTTP server bound;
2. main loop: pollers per queue, the janitor, the signal watcher;
3. shutdown, on the first SIGTERM/SIGINT: stop receiving, let receives in
   flight return, handle and delete what they brought, and return within the
   grace period; a second signal exits at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import Any, TextIO

import aiohttp
import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from sesd import __version__
from sesd.alerting.service import Alerting
from sesd.canary.metrics import CanaryCollector
from sesd.canary.sender import CanarySender
from sesd.clock import AnchoredClock
from sesd.config import Config
from sesd.health import Changes, Health
from sesd.http import StartError, http_server
from sesd.logs import get_logger
from sesd.metrics import Metrics
from sesd.pipeline import Pipeline
from sesd.sqs import InFlight, InvalidMemory, QueuePoller, check_redrive
from sesd.state import StateError, read_state, restore, snapshot, write_state
from sesd.systemd import Notifier

__all__ = ["EXIT_FORCED", "Daemon", "StartError"]

#: Exit code after a second signal cut the graceful stop short.
EXIT_FORCED = 130
_JANITOR_EVERY = 10.0


class Daemon:
    """sesd's running state: pipeline, metrics, health, and the tasks that feed them."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        console: TextIO | None = None,
    ) -> None:
        self.config = config
        self._log = get_logger()
        # Every "now" the daemon uses: the monotonic clock anchored to ``clock`` (wall
        # time), re-anchored, counted and logged when the wall clock steps.
        self.clock = AnchoredClock(clock, monotonic, on_step=self._clock_stepped)
        self.monotonic = monotonic
        self.pipeline = Pipeline(config)
        labels = [q.label for q in config.queues]
        self.metrics = Metrics(self.pipeline, labels, self.clock)
        self.alerting = Alerting(config, self.pipeline, self.metrics.registry, self.clock, console)
        self.health = Health(labels)
        self.changes = Changes()
        self.alerting.on_evaluated = self.changes.notify
        if config.canary is not None:
            self.metrics.registry.register(CanaryCollector(self.pipeline.canary, self.clock))
        self.canary: CanarySender | None = None
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
        for key, secret in self.config.secrets():
            if secret.is_literal:
                self._log.warning("sesd.config.literal_secret", key=key)
        self._load_state()
        try:
            async with (
                http_server(
                    self.config.http, self.metrics.registry, self.health, self.monotonic
                ) as self.http_port,
                self._sqs_client() as sqs,
                self._ses_client() as ses,
                aiohttp.ClientSession() as session,
            ):
                for queue in self.config.queues:
                    await check_redrive(sqs, queue)
                self.alerting.open(self.alerting.sinks(session))
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._janitor)
                    tg.start_soon(self.alerting.run)
                    if self.config.canary is not None:
                        self.canary = CanarySender(
                            self.config.canary,
                            ses,
                            self.pipeline.canary,
                            clock=self.clock,
                            on_change=self.changes.notify,
                        )
                        tg.start_soon(self.canary.run, self.stopping)
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
                    await self._consume(sqs)
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

    def _sqs_client(self) -> Any:
        wait = max((q.wait_time_seconds for q in self.config.queues), default=20)
        config = AioConfig(
            connect_timeout=5,
            # A long poll holds the request open for WaitTimeSeconds.
            read_timeout=wait + 10,
            max_pool_connections=sum(q.concurrency for q in self.config.queues) + 4,
            retries={"mode": "standard", "max_attempts": 3},
        )
        return self._client("sqs", self.config.aws.endpoint_url, config)

    def _ses_client(self) -> Any:
        """The canary's SESv2 client: one attempt per call, so each failure is seen."""
        canary = self.config.canary
        if canary is None:
            return contextlib.nullcontext()
        timeout = canary.call_timeout
        config = AioConfig(
            connect_timeout=min(5.0, timeout),
            read_timeout=timeout,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        return self._client("sesv2", canary.endpoint_url or self.config.aws.endpoint_url, config)

    async def _consume(self, sqs: Any) -> None:
        async with anyio.create_task_group() as pollers:
            for queue in self.config.queues:
                memory = InvalidMemory()
                for _ in range(queue.concurrency):
                    poller = QueuePoller(
                        sqs,
                        queue,
                        pipeline=self.pipeline,
                        metrics=self.metrics,
                        health=self.health,
                        changes=self.changes,
                        stopping=self.stopping,
                        delete_invalid=self.config.ingest.delete_invalid,
                        clock=self.clock,
                        monotonic=self.monotonic,
                        invalid_memory=memory,
                        in_flight=self._in_flight,
                        region=self.config.aws.region,
                    )
                    pollers.start_soon(poller.run)
            await self.stopping.wait()
            # Pollers return once their receive in flight has come back and
            # been handled; past the grace period they are cancelled, and what
            # a receive brings after that is released (visibility 0).
            grace = self.config.shutdown.grace_period.seconds
            self._deadline = anyio.current_time() + grace
            pollers.cancel_scope.deadline = self._deadline
            # SQS calls in flight are shielded; past the grace period they are bounded too
            # (a stalled network would otherwise hold the stop until a SIGKILL).
            self._in_flight.end_by(self._deadline)
        if pollers.cancel_scope.cancelled_caught:
            self._log.warning("sesd.daemon.grace_period_exceeded", grace_seconds=grace)

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
        """READY=1 once every queue answered a receive; then WATCHDOG=1 pings."""
        await self.changes.wait_for(self.health.all_answered)
        queues = ", ".join(self.health.queues)
        self.systemd.notify("READY=1", f"STATUS=consuming {queues}")
        self._log.info("sesd.systemd.ready")
        interval = self.systemd.watchdog_interval
        if interval is None:
            return
        # The ping runs on the event loop, so a stuck loop stops it and systemd
        # restarts sesd after WatchdogSec.
        while True:
            self.systemd.notify("WATCHDOG=1")
            await anyio.sleep(interval)

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
                    self._log.warning(
                        "sesd.daemon.sighup_ignored", hint="reloading the config is not supported"
                    )
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
