"""Account health as metric families: what GetAccount and CloudWatch said of each
(account, region), and sesd's estimate of the reputation rates."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.account.codes import KNOWN_CODES, OTHER
from sesd.core.accounts import STATUSES, Accounts
from sesd.core.reputation import Reputation
from sesd.metrics.families import described

__all__ = ["AccountCollector"]

#: The ``error`` values of ``sesd_ses_poll_errors_total`` exported before they count.
_CODES = (*sorted(KNOWN_CODES), OTHER)

_ESTIMATE = (
    ("sesd_ses_reputation_bounce_ratio", "gauge"),
    ("sesd_ses_reputation_complaint_ratio", "gauge"),
    ("sesd_ses_reputation_sends", "gauge"),
)
_POLLED = (
    ("sesd_ses_sending_enabled", "gauge"),
    ("sesd_ses_enforcement_status", "gauge"),
    ("sesd_ses_production_access", "gauge"),
    ("sesd_ses_quota_used_ratio", "gauge"),
    ("sesd_ses_max_send_rate", "gauge"),
    ("sesd_ses_last_poll_timestamp_seconds", "gauge"),
    ("sesd_ses_last_answer_timestamp_seconds", "gauge"),
    ("sesd_ses_poll_errors", "counter"),
    ("sesd_ses_poll_failures", "counter"),
)


class AccountCollector(Collector):
    """Reads what the polls said (``accounts``, when ``polled``) and sesd's estimate at
    scrape time (pure reads)."""

    def __init__(self, reputation: Reputation, accounts: Accounts, *, polled: bool) -> None:
        self._reputation = reputation
        self._accounts = accounts
        self._polled = polled

    def describe(self) -> Iterator[Metric]:
        """Every family :meth:`collect` yields, without samples."""
        return described((*_ESTIMATE, *_POLLED) if self._polled else _ESTIMATE)

    def collect(self) -> Iterator[Metric]:
        """Every account family."""
        rep_labels = ["account", "region", "configuration_set", "source"]
        bounce = GaugeMetricFamily(
            "sesd_ses_reputation_bounce_ratio",
            "Hard bounces over eligible sends: AWS's figure (source=aws, CloudWatch) and "
            "sesd's estimate over the last window_sends sends (source=sesd).",
            labels=rep_labels,
        )
        complaint = GaugeMetricFamily(
            "sesd_ses_reputation_complaint_ratio",
            "Complaints over eligible sends: AWS's figure (source=aws) and sesd's estimate "
            "(source=sesd).",
            labels=rep_labels,
        )
        sends = GaugeMetricFamily(
            "sesd_ses_reputation_sends",
            "Eligible sends sesd's estimate is over (at most window_sends).",
            labels=["account", "region", "configuration_set"],
        )
        for key in self._reputation.seen():
            estimate = self._reputation.estimate(key)
            assert estimate is not None
            sends.add_metric(list(key), estimate.sends)
            if estimate.bounce_ratio is not None:
                bounce.add_metric([*key, "sesd"], estimate.bounce_ratio)
            if estimate.complaint_ratio is not None:
                complaint.add_metric([*key, "sesd"], estimate.complaint_ratio)
        if self._polled:
            for target, status in sorted(self._accounts.status.items()):
                for kind, family in (("bounce", bounce), ("complaint", complaint)):
                    if kind in status.aws:
                        family.add_metric([*target, "", "aws"], status.aws[kind])
        yield from (bounce, complaint, sends)
        if self._polled:
            yield from self._polled_families()

    def _polled_families(self) -> Iterator[Metric]:
        """What GetAccount said of each (account, region), and the polls that failed."""
        labels = ["account", "region"]
        families = {
            name: GaugeMetricFamily(name, text, labels=[*labels, *extra])
            for name, text, extra in _POLLED_HELP
        }
        for target, status in sorted(self._accounts.status.items()):
            where = list(target)
            values = {
                "sesd_ses_sending_enabled": _flag(status.sending_enabled),
                "sesd_ses_production_access": _flag(status.production),
                "sesd_ses_quota_used_ratio": status.quota_used_ratio,
                "sesd_ses_max_send_rate": status.max_rate,
                "sesd_ses_last_poll_timestamp_seconds": status.polled_at,
            }
            for name, value in values.items():
                if value is not None:
                    families[name].add_metric(where, value)
            if status.enforcement is not None:
                for name in STATUSES:
                    families["sesd_ses_enforcement_status"].add_metric(
                        [*where, name], 1 if name == status.enforcement else 0
                    )
        yield from families.values()
        yield self._answered()
        errors = CounterMetricFamily(
            "sesd_ses_poll_errors",
            "Account polls that failed, by API and error code.",
            labels=[*labels, "api", "error"],
        )
        # Every known code (and ``other``) of each API called, at 0 before it fails:
        # increase() and rate() do not see a series' first sample as a step, so a
        # series first exported at 1 would hide its first failure from a breakdown by
        # error. An exception's name (no answer) is not known ahead: so
        # SesdAccountPollFailing reads sesd_ses_poll_failures_total, which has none.
        counted = dict.fromkeys(
            ((*asked, code) for asked in self._accounts.asked for code in _CODES), 0
        )
        counted.update(self._accounts.errors)
        for (account, region, api, code), n in sorted(counted.items()):
            errors.add_metric([account, region, api, code], n)
        yield errors
        yield self._failures()

    def _failures(self) -> Metric:
        """Failed polls per API, whatever the error: a series that exists at 0 from the
        API's first call, so the first failure of any kind is a step an alert sees."""
        failures = CounterMetricFamily(
            "sesd_ses_poll_failures",
            "Account polls that failed, by API (sesd_ses_poll_errors_total has the error).",
            labels=["account", "region", "api"],
        )
        failed = dict.fromkeys(self._accounts.asked, 0)
        for (account, region, api, _), n in self._accounts.errors.items():
            failed[account, region, api] = failed.get((account, region, api), 0) + n
        for (account, region, api), n in sorted(failed.items()):
            failures.add_metric([account, region, api], n)
        return failures

    def _answered(self) -> Metric:
        """When each API polled last answered: what sesd shows is that old."""
        answered = GaugeMetricFamily(
            "sesd_ses_last_answer_timestamp_seconds",
            "When an API polled for the account last answered, Unix time: what sesd shows "
            "of it is that old (a poll refused, throttled or not, leaves it).",
            labels=["account", "region", "api"],
        )
        for target, status in sorted(self._accounts.status.items()):
            for api, at in sorted(status.answered.items()):
                answered.add_metric([*target, api], at)
        return answered


#: (name, help, labels beyond account and region) of the families from the polls, in
#: the order they are exported.
_POLLED_HELP: tuple[tuple[str, str, list[str]], ...] = (
    (
        "sesd_ses_sending_enabled",
        "1 while SES lets the account send in the region (GetAccount), 0 when paused.",
        [],
    ),
    (
        "sesd_ses_enforcement_status",
        "1 for the account's current enforcement status (HEALTHY, PROBATION, SHUTDOWN).",
        ["status"],
    ),
    ("sesd_ses_production_access", "1 with production access, 0 in the sandbox.", []),
    ("sesd_ses_quota_used_ratio", "Sent in the last 24 h over the 24-hour sending quota.", []),
    ("sesd_ses_max_send_rate", "The maximum send rate, messages a second.", []),
    (
        "sesd_ses_last_poll_timestamp_seconds",
        "When the account was last polled (answered or not), Unix time; "
        "sesd_ses_last_answer_timestamp_seconds says when it last answered.",
        [],
    ),
)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)
