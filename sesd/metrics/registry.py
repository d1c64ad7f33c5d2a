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
from collections.abc import Callable, Iterable, Iterator, Sequence

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
from sesd.config import QueueConfig
from sesd.core.ledger import Ledger
from sesd.io.build import revision
from sesd.io.logs import dropped_lines
from sesd.metrics.accounts import AccountCollector
from sesd.metrics.alerts import (
    AlertsCollector,
    OutboxCollector,
    ReadableCollector,
    UnwrittenCollector,
)
from sesd.metrics.canary import CanaryCollector
from sesd.metrics.families import described
from sesd.metrics.pipeline import PipelineCollector
from sesd.metrics.sqs import SQS_OPERATIONS, SQS_RETRIED, QueueCounts, SqsSeries
from sesd.metrics.tenants import TenantCollector

__all__ = ["SQS_OPERATIONS", "SQS_RETRIED", "TASKS", "Metrics"]
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
        queues: Iterable[QueueConfig | str],
        now: Callable[[], float],
        *,
        evaluator: Evaluator | None = None,
        accounts_polled: bool = False,
        tenants_polled: bool = False,
    ) -> None:
        self._ledger = ledger
        self._now = now
        self.registry = CollectorRegistry()
        queues = list(queues)
        self._pipeline = PipelineCollector(ledger, _labels(queues), now)
        self.registry.register(self._pipeline)
        self.registry.register(
            AccountCollector(ledger.reputation, ledger.accounts, polled=accounts_polled)
        )
        if evaluator is not None:
            self.registry.register(AlertsCollector(evaluator, now))
        self._outboxes = OutboxCollector()
        self.registry.register(self._outboxes)
        self._unwritten = UnwrittenCollector()
        self.registry.register(self._unwritten)
        self._readable = ReadableCollector()
        self.registry.register(self._readable)
        if tenants_polled:
            cap = ledger.tenant_labels.max_tracked
            self.registry.register(
                TenantCollector(ledger.tenant_status, cap, ledger.accounts, ledger.tenant_map)
            )
        self._canary = False
        #: The queues' SQS series, counted through :meth:`sqs_counts` alone.
        self.sqs = SqsSeries(self.registry)
        self.queue_ready = Gauge(
            "sesd_queue_ready",
            "1 while a queue answered a receive within the last minute (what /readyz asks "
            "of each queue), 0 when not: sesd then sees none of its events.",
            ["queue"],
            registry=self.registry,
        )
        #: The queues /readyz names as not ready (the daemon's health says).
        self._unready: Callable[[], list[str]] = list
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
        self.restart_pending = Gauge(
            "sesd_config_restart_pending",
            "1 while settings of the config in force wait for a restart (a reload or a "
            "refresh left them as they run, logged as sesd.config.reload_ignored), else 0.",
            registry=self.registry,
        )
        #: The settings that wait for a restart, as the last reload or refresh left them.
        self.restart_keys: tuple[str, ...] = ()
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
        self.set_queues(queues)

    def watch_canary(self) -> None:
        """Export the canary's families (once: from start, or from the reload that adds
        a canary)."""
        if not self._canary:
            self.registry.register(CanaryCollector(self._ledger.canary, self._now))
            self._canary = True

    def set_queues(self, queues: Iterable[QueueConfig | str]) -> None:
        """The configured queues (at start and after a reload): each one's series exist
        from then on at 0, so rate() and the dashboard see them before the first error.
        A queue given by its name alone is read nowhere (a test's, a bench's): nothing
        counts on its SQS series."""
        queues = list(queues)
        labels = _labels(queues)
        for queue in set(self._pipeline.queues) - set(labels):
            # A dashboard or an absent()/rate rule would read a ghost queue, frozen at
            # its last values, for as long as sesd runs.
            self.queue_ready.remove(queue)
        self._pipeline.queues = labels
        for queue in labels:
            self.queue_ready.labels(queue).set_function(
                lambda queue=queue: 0.0 if queue in self._unready() else 1.0  # type: ignore[misc]
            )
        self.sqs.configure(queues, self._ledger.where)

    def watch_queues(self, unready: Callable[[], list[str]]) -> None:
        """Read ``sesd_queue_ready`` from ``unready``: the queues /readyz names."""
        self._unready = unready

    def watch_outboxes(self, waiting: Callable[[], dict[str, int]]) -> None:
        """Read ``sesd_notifications_waiting`` from ``waiting``: each sink's count."""
        self._outboxes.read = waiting

    def watch_silences(
        self, unwritten: Callable[[], dict[str, int]], readable: Callable[[], dict[str, int]]
    ) -> None:
        """Read ``sesd_silences_unwritten`` from ``unwritten`` (each file's count), and
        ``sesd_silences_readable`` from ``readable``."""
        self._unwritten.read = unwritten
        self._readable.read = readable

    def sqs_counts(self, queue: QueueConfig) -> QueueCounts:
        """What a poller reading ``queue`` (where its ``place`` says) counts on the
        queue's SQS series: nothing once a reload moved or removed it (sesd.metrics.sqs)."""
        return self.sqs.at(queue)

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

    def loaded(self, digest: str, now: float) -> None:
        """The config named by ``digest`` came into force at ``now`` though its reload
        failed: a step after its switch faulted (the one that records a reload, maybe)."""
        self.config_in_force(digest)
        self.reload_at.set(now)

    def waiting_for_restart(self, keys: Sequence[str]) -> None:
        """The settings of the config in force that wait for a restart (none: a reload
        put them back as they run)."""
        self.restart_keys = tuple(keys)
        self.restart_pending.set(1 if keys else 0)

    def reloaded(self, ok: bool, now: float) -> None:
        """Record a config (re)load: ``ok``, and when the last good one was."""
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_at.set(now)


def _labels(queues: list[QueueConfig | str]) -> list[str]:
    return [q.label if isinstance(q, QueueConfig) else q for q in queues]


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
