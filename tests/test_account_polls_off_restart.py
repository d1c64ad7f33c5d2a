"""What SES last said of an (account, region) stands across a restart until a poll
answers again: but only what a poll will read again. Restarted with
``[account_health] enabled = false``, no GetAccount corrects a pause the file holds:
restored, it paged (and stayed firing) for the whole run, shown PAUSED on the status
page, though the README says such a rule never fires then. Restarted with
``cloudwatch = false``, AWS's figure the file holds was exported
(``source="aws"``) and quoted in the alerts for the whole run, however old."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics.accounts import AccountCollector
from sesd.runtime.state import restore, snapshot
from tests.test_tenant_passes import NOW
from tests.test_tenant_reach import QUEUE, REGION

TARGET = ("default", REGION)
RULE = """
[[alerts.rules]]
name = "ses-sending-paused"
metric = "sending_paused"
window = "5m"
above = 0
severity = "critical"
"""


def _paused(config: str) -> tuple[Pipeline, Evaluator]:
    """A run whose last GetAccount said sending is paused (its alert firing), and whose
    CloudWatch figure was a 3.1% bounce rate, AWS's datapoint an hour old."""
    pipeline = Pipeline(core_settings(parse_config(config)))
    evaluator = Evaluator(parse_config(config).alerts, ["5m"])
    status = pipeline.ledger.accounts.record(TARGET)
    status.sending_enabled, status.enforcement, status.production = False, "SHUTDOWN", True
    status.max_24h, status.sent_24h, status.max_rate = 50000.0, 49000.0, 14.0
    status.aws, status.aws_at = {"bounce": 0.031}, {"bounce": NOW - 3600}
    status.polled_at = NOW
    status.answered = {"get_account": NOW, "get_metric_data": NOW}
    fired = evaluator.evaluate(pipeline.ledger, NOW)
    assert [(a.rule, a.kind) for a in fired] == [("ses-sending-paused", Transition.FIRING)]
    return pipeline, evaluator


def _restarted(before: tuple[Pipeline, Evaluator], config: str) -> tuple[Pipeline, Evaluator]:
    """A sesd started with ``config`` from the state file ``before`` saved."""
    blob = snapshot(before[0].ledger, before[1], NOW)
    pipeline = Pipeline(core_settings(parse_config(config)))
    evaluator = Evaluator(parse_config(config).alerts, ["5m"])
    restore(blob, pipeline.ledger, evaluator, NOW + 1)
    return pipeline, evaluator


def _aws_bounce(pipeline: Pipeline) -> float | None:
    registry = CollectorRegistry()
    registry.register(
        AccountCollector(pipeline.ledger.reputation, pipeline.ledger.accounts, polled=True)
    )
    labels = {"account": TARGET[0], "region": REGION, "configuration_set": "", "source": "aws"}
    return registry.get_sample_value("sesd_ses_reputation_bounce_ratio", labels)


def test_a_restart_with_the_polls_off_restores_no_pause_and_resolves_its_page() -> None:
    """``[account_health] enabled = false`` now: the pause the file holds is not
    restored (nothing would read GetAccount again), its page resolves at the first
    evaluation, and none of the polls' answers stands (AWS's figure, when they came)."""
    off = f"[account_health]\nenabled = false\n{QUEUE}{RULE}"
    pipeline, evaluator = _restarted(_paused(f"{QUEUE}{RULE}"), off)
    status = pipeline.ledger.accounts.status.get(TARGET)
    if status is not None:
        assert (status.sending_enabled, status.enforcement, status.max_24h) == (None, None, None)
        assert (status.aws, status.answered, status.polled_at) == ({}, {}, None)
    resolved = evaluator.evaluate(pipeline.ledger, NOW + 60)
    assert [(a.rule, a.kind) for a in resolved] == [("ses-sending-paused", Transition.RESOLVED)]


@pytest.mark.parametrize("cloudwatch", [False, True])
def test_a_restart_with_cloudwatch_off_restores_no_aws_figure(cloudwatch: bool) -> None:
    """``cloudwatch = false`` now: AWS's figure the file holds is not restored (no
    GetMetricData will replace it), nor when it last answered; what GetAccount said
    stands, its pause still firing. With CloudWatch still read, the figure stands."""
    config = f"[account_health]\ncloudwatch = {str(cloudwatch).lower()}\n{QUEUE}{RULE}"
    pipeline, evaluator = _restarted(_paused(f"{QUEUE}{RULE}"), config)
    status = pipeline.ledger.accounts.status[TARGET]
    assert (status.sending_enabled, status.enforcement) == (False, "SHUTDOWN")
    assert ("bounce" in status.aws) is cloudwatch
    assert ("get_metric_data" in status.answered) is cloudwatch
    assert "get_account" in status.answered
    assert (_aws_bounce(pipeline) is not None) is cloudwatch
    assert evaluator.evaluate(pipeline.ledger, NOW + 60) == []  # the pause stays firing
