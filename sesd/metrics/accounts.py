"""Account health as metric families: what GetAccount and CloudWatch said of each
(account, region), and sesd's estimate of the reputation rates."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.core.accounts import STATUSES, Accounts
from sesd.core.reputation import Reputation
from sesd.metrics.families import described

__all__ = ["AccountCollector"]


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
    ("sesd_ses_poll_errors", "counter"),
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
        labels = ["account", "region"]
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
        accounts = self._accounts
        if not self._polled:
            yield from (bounce, complaint, sends)
            return
        enabled = GaugeMetricFamily(
            "sesd_ses_sending_enabled",
            "1 while SES lets the account send in the region (GetAccount), 0 when paused.",
            labels=labels,
        )
        enforcement = GaugeMetricFamily(
            "sesd_ses_enforcement_status",
            "1 for the account's current enforcement status (HEALTHY, PROBATION, SHUTDOWN).",
            labels=[*labels, "status"],
        )
        production = GaugeMetricFamily(
            "sesd_ses_production_access",
            "1 with production access, 0 in the sandbox.",
            labels=labels,
        )
        quota = GaugeMetricFamily(
            "sesd_ses_quota_used_ratio",
            "Sent in the last 24 h over the 24-hour sending quota.",
            labels=labels,
        )
        rate = GaugeMetricFamily(
            "sesd_ses_max_send_rate",
            "The maximum send rate, messages a second.",
            labels=labels,
        )
        polled = GaugeMetricFamily(
            "sesd_ses_last_poll_timestamp_seconds",
            "When the account was last polled (successful or not), Unix time.",
            labels=labels,
        )
        for target, status in sorted(accounts.status.items()):
            where = list(target)
            if status.sending_enabled is not None:
                enabled.add_metric(where, 1 if status.sending_enabled else 0)
            if status.enforcement is not None:
                for name in STATUSES:
                    enforcement.add_metric([*where, name], 1 if name == status.enforcement else 0)
            if status.production is not None:
                production.add_metric(where, 1 if status.production else 0)
            if status.quota_used_ratio is not None:
                quota.add_metric(where, status.quota_used_ratio)
            if status.max_rate is not None:
                rate.add_metric(where, status.max_rate)
            if status.polled_at is not None:
                polled.add_metric(where, status.polled_at)
            for kind, family in (("bounce", bounce), ("complaint", complaint)):
                if kind in status.aws:
                    family.add_metric([*where, "", "aws"], status.aws[kind])
        errors = CounterMetricFamily(
            "sesd_ses_poll_errors",
            "Account polls that failed, by API and error code.",
            labels=[*labels, "api", "error"],
        )
        for (account, region, api, code), n in sorted(accounts.errors.items()):
            errors.add_metric([account, region, api, code], n)
        yield from (bounce, complaint, sends, enabled, enforcement, production, quota, rate)
        yield from (polled, errors)
