"""Every scrape passes the real ``promtool check metrics``: a windowed
quantile is a summary family, never a gauge with a ``quantile`` label."""

from __future__ import annotations

import subprocess

from sesd.config import parse_config
from sesd.metrics.exposition import render
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.conftest import require_tool
from tests.test_canary import CANARY, canary_event

NOW = f.T0 + 30
EVERYTHING = (
    CANARY
    + """
[dimensions]
tags = ["campaign", "ses:configuration-set"]
[domains]
groups = {microsoft = ["outlook.com", "hotmail.com"]}
[tenants]
enabled = true
tags = ["tenant"]
[[alerts.rules]]
name = "delay-ratio-high"
metric = "delay_ratio"
window = "5m"
above = 0.1
[[alerts.rules]]
name = "delivery-ratio-low"
metric = "delivery_ratio"
window = "15m"
below = 0.9
[[alerts.rules]]
name = "slow-processing"
metric = "processing_p95_seconds"
window = "5m"
above = 1.0
[[alerts.rules]]
name = "canary-missing"
metric = "canary_missing"
window = "15m"
above = 0
"""
)


def busy_daemon() -> Daemon:
    """A daemon (not running) with traffic of every kind fed to it: deliveries with
    quantiles, delays resolved and pending, bounces, complaints, sends, tags, groups,
    invalid, skipped and duplicate messages, a canary back and one failed, firing
    alerts, SQS errors, notifications, a clock step, and an account poll's answers
    (a tenant walk's progress included)."""
    daemon = Daemon(parse_config(EVERYTHING), clock=lambda: NOW, monotonic=lambda: NOW)
    feed = daemon.pipeline.feed
    tags = {"campaign": ["spring"], "ses:configuration-set": ["marketing"], "tenant": ["acme"]}
    for i in range(20):
        domain = ("gmail.com", "outlook.com", "hotmail.com", "example.org")[i % 4]
        address = f"u{i}@{domain}"
        feed(f.raw(f.simple("Send", [address])), "events", NOW, NOW)
        feed(f.raw(f.delay([address], at=f.T0, message_id=f"m{i}", tags=tags)), "events", NOW)
        if i % 3:
            body = f.delivery([address], at=f.T0 + 10, message_id=f"m{i}", tags=tags)
            feed(f.sns(body), "events", NOW, NOW)
    feed(f.eventbridge(f.bounce(["b@example.org"])), "events", NOW, NOW)
    suppressed = f.bounce(["s@example.org"], subkind="OnAccountSuppressionList")
    feed(f.raw(suppressed), "events", NOW, NOW)
    feed(f.sns(f.complaint(["c@example.org"])), "events", NOW, NOW)
    feed(f.raw(f.simple("Open", ["o@example.org"])), "events", NOW, NOW)
    feed("not json", "events", NOW, NOW)
    feed('{"Type": "SubscriptionConfirmation"}', "events", NOW, NOW)
    duplicate = f.raw(f.delivery(["d@example.org"], message_id="dup"))
    feed(duplicate, "events", NOW, NOW)
    feed(duplicate, "events", NOW, NOW)
    daemon.ledger.canary.sent("canary-1", f.T0, 0.2)
    feed(canary_event("delivery", "canary-1", f.T0 + 1), "events", NOW, NOW)
    daemon.ledger.canary.sent("canary-2", f.T0 - 600, 0.2)
    daemon.ledger.canary.failed("throttled", f.T0 - 30, 0.1)
    # What an account poll would have said (GetAccount, CloudWatch), and one that failed.
    poller = daemon.account_poller
    assert poller is not None
    (target,) = poller.targets
    status = daemon.ledger.accounts.record(target)
    status.sending_enabled, status.enforcement, status.production = True, "HEALTHY", True
    status.max_24h, status.max_rate, status.sent_24h = 50000.0, 14.0, 1200.0
    status.aws.update(bounce=0.012, complaint=0.0003)
    status.polled_at = NOW
    status.answered["get_account"] = NOW
    daemon.ledger.accounts.failed(target, "get_metric_data", "Throttling")
    # A tenant walk under way, after one that completed.
    status.tenants_listed, status.tenants_mapped, status.tenant_map_at = 2000, 1200, NOW - 3000
    paused = daemon.ledger.tenant_status.record((target[0], target[1], "acme"))
    paused.sending, paused.aws, paused.impact = "DISABLED", "DISABLED", "HIGH"
    paused.findings.append(("BOUNCE", "HIGH", "bounce rate above the threshold"))
    daemon.alerting.evaluate()
    # A silences file (none there yet, nothing written): its ends not written, none.
    daemon.alerting.silences.use("/nonexistent.test/silences.json", None, NOW)
    daemon.metrics.sqs_counts(daemon.config.queues[0]).error("receive")
    daemon.metrics.clock_steps.inc()
    daemon.alerting.notifications.labels("slack", "sent").inc()
    daemon.alerting.notifications.labels("pagerduty", "expired").inc()
    return daemon


def test_a_scrape_with_every_feature_on_passes_promtool() -> None:
    """Under traffic of every kind (busy_daemon), the exposition sesd serves has no
    finding from promtool."""
    promtool = require_tool("promtool")
    text = render(busy_daemon().metrics.registry.collect())
    assert b'sesd_window_processing_seconds{domain="gmail.com",quantile="0.95",window="5m"}' in (
        text
    )
    assert b"# TYPE sesd_window_delay_duration_seconds summary" in text
    assert b'sesd_alerts_firing{domain="microsoft",rule="delay-ratio-high"} 1.0' in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, check=False, timeout=60
    )
    findings = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, findings
    assert findings.strip() == "", findings
