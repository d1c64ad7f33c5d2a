"""sesd's parts while it runs, built from the config and wired together: the pipeline
and its ledger, metrics, alerting, health, the status page's sources, the pollers, the
canary and the state saver, and the parts of a queue (its clients, its check, its
pollers) that the start and a reload both use. The lifecycle that runs them, phase by
phase, is :class:`sesd.runtime.daemon.Daemon`'s."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, TextIO, TypedDict, Unpack

import anyio
import anyio.abc

from sesd import __version__
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.service import Alerting
from sesd.alerting.silences import silence_prefix
from sesd.config import Config, QueueConfig, core_settings
from sesd.core.pipeline import Pipeline
from sesd.io.logs import get_logger
from sesd.metrics.registry import Metrics
from sesd.providers.resolver import ProviderResolver
from sesd.runtime.aws import AwsClients
from sesd.runtime.boot_clock import boot_mark, no_boot
from sesd.runtime.canary import CanaryRunner
from sesd.runtime.clock import AnchoredClock
from sesd.runtime.consumers import Consumers
from sesd.runtime.health import Changes, Health
from sesd.runtime.in_flight import InFlight
from sesd.runtime.pollers import account_poller, queue_poller, tenant_poller
from sesd.runtime.queue_check import start_check
from sesd.runtime.reload import Reloader
from sesd.runtime.saver import StateSaver
from sesd.runtime.supervise import start_kept
from sesd.runtime.web import WebGuard
from sesd.status.sources import Sources

__all__ = ["Parts", "Wiring"]


class Wiring(TypedDict, total=False):
    """What sesd's parts are given beside the config, each by name and each optional:
    the one list of them, for :class:`Parts` and what builds on it (the daemon)."""

    #: Wall time: ``time.time`` unless a test's.
    clock: Callable[[], float]
    #: The monotonic clock: ``time.monotonic`` unless a test's.
    monotonic: Callable[[], float]
    #: Where the console sink writes (stdout when None).
    console: TextIO | None
    #: The config file, which a reload reads again (None: nothing to reload).
    config_path: str | None
    #: ``--listen`` (or $SESD_HTTP_LISTEN), over the file's: a reload keeps it.
    listen: str | None
    #: The command that runs this sesd, as a page's mute line names it
    #: (sesd.io.replica.own_command): ``sesd`` unless given.
    program: str


class Parts:
    """sesd's running state, wired: pipeline and ledger, metrics, alerting, health, and
    the tasks that feed them."""

    def __init__(self, config: Config, **wiring: Unpack[Wiring]) -> None:
        # mypy refuses a name Wiring lacks; a caller it does not check (a test's
        # ``**kwargs``) would else have it ignored, a test clock left out unseen.
        unknown = sorted(wiring.keys() - Wiring.__optional_keys__)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unknown wiring: {', '.join(unknown)}")
        clock = wiring.get("clock", time.time)
        monotonic = wiring.get("monotonic", time.monotonic)
        console = wiring.get("console")
        self.config = config
        self.config_path = config_path = wiring.get("config_path")
        self.listen = wiring.get("listen")
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
        # A reload makes the mute line again from the config it brings (its silences
        # file added or removed), as a restart would.
        program = wiring.get("program", "sesd")

        def prefix(config: Config) -> str:
            return silence_prefix(program, config_path, config.silences_path)

        evaluator = Evaluator(
            config.alerts, [spec.name for spec in ledger.specs], silence_prefix=prefix(config)
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
            mute_prefix=prefix,
        )
        self.alerting.on_evaluated = self.changes.notify
        self.metrics.watch_outboxes(self.alerting.waiting)
        silences = self.alerting.silences
        self.metrics.watch_silences(silences.unwritten, silences.unreadable.readable)
        self.health = Health(queues, changed=self.changes.notify)
        self.alerting.unread = lambda: self.health.unread(self.monotonic())
        # The queues' own readiness, not the daemon's: a stop does not make a queue unread
        # (SesdQueueUnread counts replicas by it; one draining is no queue's fault).
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
            silences_unread=lambda: silences.unreadable.why,
        )
        #: The SES API polls ([account_health], [tenants]), where the config enables them.
        self.account_poller = account_poller(self)
        self.tenant_poller = tenant_poller(self)
        if config.canary is not None:
            self.metrics.watch_canary()
        self.canary = CanaryRunner(ledger.canary, self.clock, self.changes.notify, self.stopping)
        state = config.state.path
        # The boot clock reckons the downtime only beside the host's own clocks: given
        # others (a test's), a save keeps no mark and a start tells no step ahead.
        own = clock is time.time and monotonic is time.monotonic
        self.saver = StateSaver(state, ledger, evaluator, self.clock, self.alerting.undelivered,
                                boot_mark if own else no_boot)  # fmt: skip
        self.alerting.on_notified = self.saver.soon  # a page sent is saved at once
        self.saver.on_result = self._saved
        self._consumers = Consumers(
            partial(queue_poller, self), self.metrics.task_failures, hold=self._hold_queue
        )
        #: The task group that owns every long-running task, while the daemon runs.
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
        self.ledger.stepped(step, self.clock.peek())
        hint = "the wall clock jumped; windows keep every event, reads follow the new time"
        self._log.warning("sesd.clock.stepped", step_seconds=round(step, 3), hint=hint)

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
