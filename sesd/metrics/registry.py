"""The registry sesd serves: every collector and every counter, registered here and
nowhere else.

Each collector says what it yields (``describe()``), so the registry refuses a
family name used twice the moment the second is registered: at start, and in a
test. The counters here are the ones the I/O edges increment (SQS errors,
notifications, clock steps); everything else is read from live state at
scrape time, by a pure read that takes the time as it finds it.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, Metric

from sesd import __version__
from sesd.alerting.evaluator import Evaluator
from sesd.core.ledger import Ledger
from sesd.io.build import revision
from sesd.io.logs import dropped_lines
from sesd.metrics.accounts import AccountCollector
from sesd.metrics.alerts import AlertsCollector, OutboxCollector
from sesd.metrics.canary import CanaryCollector
from sesd.metrics.families import described
from sesd.metrics.pipeline import PipelineCollector
from sesd.metrics.tenants import TenantCollector

__all__ = ["SQS_OPERATIONS", "TASKS", "Metrics"]

#: The ``operation`` label values of ``sesd_sqs_errors_total``.
SQS_OPERATIONS = ("receive", "delete", "release", "process")
#: The SQS calls the SDK itself tries again (a receive it does not: sesd.runtime.aws).
SQS_RETRIED = ("delete", "release")
#: sesd's background tasks (each kept running by sesd.runtime.supervise): the ``task``
#: label values of ``sesd_task_failures_total``, at 0 from the start.
TASKS = (
    "janitor", "alerting", "account_poll", "tenant_poll", "dns", "canary", "state_saver",
    "systemd", "poller", "files", "queue_check",
)  # fmt: skip

# No `_created` series: they double the counters' series and sesd's text
# writer (sesd.metrics.exposition) keeps each family to its own samples.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The registry, its collectors, and the counters the edges increment."""

    def __init__(
        self,
        ledger: Ledger,
        queues: Iterable[str],
        now: Callable[[], float],
        *,
        evaluator: Evaluator | None = None,
        accounts_polled: bool = False,
        tenants_polled: bool = False,
    ) -> None:
        self._ledger = ledger
        self._now = now
        self.registry = CollectorRegistry()
        self._pipeline = PipelineCollector(ledger, queues, now)
        self.registry.register(self._pipeline)
        self.registry.register(
            AccountCollector(ledger.reputation, ledger.accounts, polled=accounts_polled)
        )
        if evaluator is not None:
            self.registry.register(AlertsCollector(evaluator, now))
        self._outboxes = OutboxCollector()
        self.registry.register(self._outboxes)
        if tenants_polled:
            cap = ledger.tenant_labels.max_tracked
            self.registry.register(TenantCollector(ledger.tenant_status, cap, ledger.accounts))
        self._canary = False
        self.sqs_errors = Counter(
            "sesd_sqs_errors",
            "SQS calls that failed, by queue (its account and region) and operation.",
            ["queue", "account", "region", "operation"],
            registry=self.registry,
        )
        self.sqs_retries = Counter(
            "sesd_sqs_retries",
            "SQS calls the SDK tried again before they were answered (throttled, SQS's "
            "5xx), by queue and operation: a retry that then worked is counted here alone.",
            ["queue", "account", "region", "operation"],
            registry=self.registry,
        )
        self.queue_ready = Gauge(
            "sesd_queue_ready",
            "1 while a queue answered a receive within the last minute (what /readyz asks "
            "of each queue), 0 when not: sesd then sees none of its events.",
            ["queue"],
            registry=self.registry,
        )
        #: The queues /readyz names as not ready (the daemon's health says).
        self._unready: Callable[[], list[str]] = list
        self.sqs_received = Counter(
            "sesd_sqs_messages_received",
            "Messages received from SQS, by queue (its account and region).",
            ["queue", "account", "region"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "sesd_notifications",
            "Notification deliveries by sink and outcome (sent, retried, rate_limited, "
            "failed, dropped, expired; member_failed: an Alertmanager member failed while "
            "another took the post).",
            ["sink", "outcome"],
            registry=self.registry,
        )
        self.evaluation_errors = Counter(
            "sesd_evaluation_errors",
            "Rule evaluations that failed with an unexpected error (logged with its traceback).",
            registry=self.registry,
        )
        self.task_failures = Counter(
            "sesd_task_failures",
            "Background tasks (by name) that failed with an unexpected error (logged with "
            "its traceback) and were started again; alerting's also a fault after a "
            "delivery, which its outbox runs on from.",
            ["task"],
            registry=self.registry,
        )
        for task in TASKS:
            self.task_failures.labels(task)
        self.clock_steps = Counter(
            "sesd_clock_steps",
            "Steps of the wall clock (more than 1 s away from the monotonic clock's "
            "reckoning); each re-anchors sesd's time.",
            registry=self.registry,
        )
        self.clock_offset = Gauge(
            "sesd_clock_offset_seconds",
            "This host's clock minus AWS's, from the latest SQS answer's Date header (to "
            "the second): events count at their time on this clock.",
            registry=self.registry,
        )
        self.reload_ok = Gauge(
            "sesd_config_last_reload_successful",
            "1 when the last config (re)load succeeded, 0 when it failed.",
            registry=self.registry,
        )
        self.reload_at = Gauge(
            "sesd_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully (start or SIGHUP), Unix time.",
            registry=self.registry,
        )
        self.config_info = Gauge(
            "sesd_config_info",
            "The config in force, named by a digest of it as `sesd check-config` shows it "
            "(secrets masked): replicas with different digests run different configs.",
            ["digest"],
            registry=self.registry,
        )
        #: The digest ``config_info`` exports now, if any.
        self._digest: str | None = None
        self.save_ok = Gauge(
            "sesd_state_last_save_successful",
            "0 when the last save of the state file failed (the file on disk is older), "
            "else 1 (also without a state file).",
            registry=self.registry,
        )
        self.save_ok.set(1)
        self.save_at = Gauge(
            "sesd_state_last_save_success_timestamp_seconds",
            "When the state file was last saved, Unix time.",
            registry=self.registry,
        )
        self.registry.register(_LogCollector())
        build = Gauge(
            "sesd_build_info",
            "sesd's version, the commit it was built from, and the Python running it.",
            ["version", "revision", "python_version"],
            registry=self.registry,
        )
        build.labels(__version__, revision(), platform.python_version()).set(1)
        # Memory, CPU, file descriptors and the garbage collector: what a memory
        # limit is judged against.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        #: Each configured queue's (account, region) its SQS series are under.
        self._where: dict[str, tuple[str, str]] = {}
        self.set_queues(queues)

    def watch_canary(self) -> None:
        """Export the canary's families (once: from start, or from the reload that adds
        a canary)."""
        if not self._canary:
            self.registry.register(CanaryCollector(self._ledger.canary, self._now))
            self._canary = True

    def set_queues(self, queues: Iterable[str]) -> None:
        """The configured queues (at start and after a reload): each one's series exist
        from then on at 0, so rate() and the dashboard see them before the first error."""
        gone = set(self._pipeline.queues) - set(queues)
        self._pipeline.queues = list(queues)
        for queue in gone:
            # A dashboard or an absent()/rate rule would read a ghost queue, frozen at
            # its last values, for as long as sesd runs.
            self.queue_ready.remove(queue)
            self._drop_sqs_series(queue, self._where.pop(queue, self._ledger.where(queue)))
        for queue in self._pipeline.queues:
            self.queue_ready.labels(queue).set_function(
                lambda queue=queue: 0.0 if queue in self._unready() else 1.0  # type: ignore[misc]
            )
            where = self._ledger.where(queue)
            was = self._where.get(queue, where)
            if was != where:
                # A reload moved the queue to another account or region: its series
                # under the old ones would stay, frozen, as long as sesd runs.
                self._drop_sqs_series(queue, was)
            self._where[queue] = where
            self.sqs_received.labels(queue, *where)
            for operation in SQS_OPERATIONS:
                self.sqs_errors.labels(queue, *where, operation)
            for operation in SQS_RETRIED:
                self.sqs_retries.labels(queue, *where, operation)

    def _drop_sqs_series(self, queue: str, where: tuple[str, str]) -> None:
        """Remove a queue's SQS series under ``where`` (its account and region)."""
        self.sqs_received.remove(queue, *where)
        for operation in SQS_OPERATIONS:
            self.sqs_errors.remove(queue, *where, operation)
            self.sqs_retries.remove(queue, *where, operation)

    def watch_queues(self, unready: Callable[[], list[str]]) -> None:
        """Read ``sesd_queue_ready`` from ``unready``: the queues /readyz names."""
        self._unready = unready

    def watch_outboxes(self, waiting: Callable[[], dict[str, int]]) -> None:
        """Read ``sesd_notifications_waiting`` from ``waiting``: each sink's count."""
        self._outboxes.waiting = waiting

    def sqs_error(self, queue: str, operation: str, n: int = 1) -> None:
        """Count ``n`` failed SQS calls of a configured queue (:meth:`_counted`)."""
        if self._counted(queue):
            self.sqs_errors.labels(queue, *self._ledger.where(queue), operation).inc(n)

    def sqs_retried(self, queue: str, operation: str, n: int) -> None:
        """Count ``n`` times the SDK tried a configured queue's call again."""
        if n and self._counted(queue):
            self.sqs_retries.labels(queue, *self._ledger.where(queue), operation).inc(n)

    def sqs_received_messages(self, queue: str, n: int) -> None:
        """Count messages received from a configured queue."""
        if self._counted(queue):
            self.sqs_received.labels(queue, *self._ledger.where(queue)).inc(n)

    def _counted(self, queue: str) -> bool:
        """Whether ``queue`` is configured: the calls a removed queue's pollers end after
        the reload would bring back the series it dropped, for as long as sesd runs."""
        return queue in self._where

    def saved(self, ok: bool, now: float) -> None:
        """Record a save of the state file: ``ok``, and when the last good one was."""
        self.save_ok.set(1 if ok else 0)
        if ok:
            self.save_at.set(now)

    def config_in_force(self, digest: str) -> None:
        """Name the config in force by its ``digest`` (at start and at each reload that
        applied one): one series, the previous digest's removed (a count of the fleet's
        digests must not count a config no replica runs any more)."""
        if self._digest is not None and self._digest != digest:
            self.config_info.remove(self._digest)
        self.config_info.labels(digest).set(1)
        self._digest = digest

    def reloaded(self, ok: bool, now: float) -> None:
        """Record a config (re)load: ``ok``, and when the last good one was."""
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_at.set(now)


class _LogCollector:
    """The log lines dropped because the log stream's reader did not take them, read
    from the log writer at scrape time."""

    _NAME = "sesd_log_lines_dropped"

    def describe(self) -> Iterator[Metric]:
        return described([(self._NAME, "counter")])

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            self._NAME,
            "Log lines dropped because the log stream's reader (journald, a log driver, a "
            "pipe) did not take them while sesd's buffer was full; each gap is logged as "
            "sesd.log.dropped.",
            value=dropped_lines(),
        )
