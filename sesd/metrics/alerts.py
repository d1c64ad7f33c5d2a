"""The alert states as metric families, read from the evaluator at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status
from sesd.metrics.families import described
from sesd.metrics.rows import Rows

__all__ = ["AlertsCollector", "OutboxCollector", "ReadableCollector", "UnwrittenCollector"]

_LABELS = ("rule", "domain")
#: (rule, domain) states per chunk of the two families. A large sender's config holds
#: tens of thousands (99 rules over 1,000 domains: 66,000), nearly all 0: made and
#: written whole, each family held the event loop 150-300 ms. The text writer gives
#: the loop back after each chunk and writes a family's chunks as one family, so the
#: exposition is the same; a chunk is a few milliseconds.
_CHUNK = 1_000


class AlertsCollector(Collector):
    """``sesd_alerts_firing{rule,domain}`` (1 while firing, 0 while pending or just
    resolved, one whose resolve a stop left owed included) and
    ``sesd_alerts_silenced{rule,domain}`` (1 while a firing alert is held back by a
    silence)."""

    def __init__(self, evaluator: Evaluator, now: Callable[[], float]) -> None:
        self._evaluator = evaluator
        self._now = now

    def describe(self) -> Iterator[Metric]:
        """Every family :meth:`collect` yields, without samples."""
        return described([("sesd_alerts_firing", "gauge"), ("sesd_alerts_silenced", "gauge")])

    def collect(self) -> Iterator[Metric]:
        """Both families, a sample per (rule, domain) with a state, in chunks of
        :data:`_CHUNK` states (a firing chunk, then the silenced one of the same
        states); both at least once, if empty."""
        now = self._now()
        evaluator = self._evaluator
        firing, silenced = _families()
        taken = 0
        for rule, states in list(evaluator.states.items()):
            for domain, state in list(states.items()):
                if taken == _CHUNK:
                    yield firing
                    yield silenced
                    firing, silenced = _families()
                    taken = 0
                values = (rule, domain)
                # Not one whose resolve, decided before a stop, is owed: resolved as
                # sesd last knew it, as its status row and Alertmanager are told.
                on = state.status is Status.FIRING and state.resolved_at is None
                firing.add(values, 1 if on else 0)
                silenced.add(values, 1 if on and evaluator.silenced(rule, domain, now) else 0)
                taken += 1
        yield firing
        yield silenced


def _families() -> tuple[Rows, Rows]:
    """An empty chunk of each family."""
    firing = Rows(
        "sesd_alerts_firing",
        "1 while an alert fires, by rule and what it is about (`domain`: a domain or "
        "group, or a provider, tenant, ACCOUNT/REGION or canary for such rules).",
        "gauge",
        _LABELS,
    )
    silenced = Rows(
        "sesd_alerts_silenced",
        "1 while a firing alert is muted by a silence, by rule and domain.",
        "gauge",
        _LABELS,
    )
    return firing, silenced


class _ReadAtScrape(Collector):
    """A gauge of one label read at scrape time from :attr:`read` (the alerting service
    says, once it is made): a sample for each label it gives, sorted."""

    _NAME: str
    _HELP: str
    _LABEL: str

    def __init__(self) -> None:
        #: Each label's value now.
        self.read: Callable[[], dict[str, int]] = dict

    def describe(self) -> Iterator[Metric]:
        """The family :meth:`collect` yields, without samples."""
        return described([(self._NAME, "gauge")])

    def collect(self) -> Iterator[Metric]:
        """A sample for each label :attr:`read` gives."""
        family = GaugeMetricFamily(self._NAME, self._HELP, labels=[self._LABEL])
        for label, value in sorted(self.read().items()):
            family.add_metric([label], value)
        yield family


class OutboxCollector(_ReadAtScrape):
    """``sesd_notifications_waiting{sink}``: what each sink's outbox holds, read from
    the outboxes at scrape time (a delivery adds no bookkeeping of its own); configured
    sinks at 0 when their outbox is empty."""

    _NAME = "sesd_notifications_waiting"
    _HELP = (
        "Notifications a sink's outbox holds, not yet delivered (the one being tried "
        "or waiting to be retried included): the backlog of a sink that is down or "
        "slow."
    )
    _LABEL = "sink"


class UnwrittenCollector(_ReadAtScrape):
    """``sesd_silences_unwritten{path}``: the silences whose end (an ``--until-resolved``
    one's alert resolved) or start (moved back by a step of the clock back) is not yet
    written to each silences file. The log says so at a reload and at the stop; a file
    left unwritable for days shows here all along. A sample per file: the one read at 0
    when none wait, and each file a reload moved off while some waited."""

    _NAME = "sesd_silences_unwritten"
    _HELP = (
        "Silences whose end (their alert resolved, --until-resolved) or start (moved "
        "back by a step of the clock back) is not yet written to the silences file (it "
        "cannot be written, or does not answer): sesd holds them as moved, but the file, "
        "and so a restart, holds them as written: waiting, or pending."
    )
    _LABEL = "path"


class ReadableCollector(_ReadAtScrape):
    """``sesd_silences_readable{path}``: whether the silences file in force could be
    read at the last look. The log says why once; an alert muted in a file sesd cannot
    read pages, and this shows why for as long as it lasts. Why is left out of the
    labels (an error's text, a path in it): one series per file, the one in force, none
    when there is no silences file."""

    _NAME = "sesd_silences_readable"
    _HELP = (
        "1 when the silences file in force could be read at the last look (a missing "
        "file is no silences: 1), 0 when not (its permissions, an I/O error, what it "
        "holds: the log line sesd.silences.unreadable says why; or it does not "
        "answer, none of its silences in force since the start or the reload to it: "
        "sesd.silences.hung): its silences are those read before, or none since the "
        "start. A file that hangs after a look at it answered reads 1: what that look "
        "found holds, as written."
    )
    _LABEL = "path"
