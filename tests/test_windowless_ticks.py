"""Rules on what has no windows (the canary, an account, a tenant) hold ``for`` to the
evaluation ticks as a rule on windows (a domain's) does: a tick that reads a tenth of a
tick short (a wall clock slewed slow, a tick begun late) still counts as the whole
tick."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.canary import CANARY_DOMAIN
from sesd.core.pipeline import Pipeline
from tests import factory as f
from tests.test_canary import CANARY, RULES
from tests.test_rules import feed_spike
from tests.test_tenant_status import _status as tenant_notice

T = f.T0
TICKS = '[alerts]\nevaluate_every = "5s"\n'


def _delays(pipeline: Pipeline) -> None:
    feed_spike(pipeline, "a.example", T, 6, 4)


def _canary_missing(pipeline: Pipeline) -> None:
    pipeline.ledger.canary.sent("m-1", T, 0.3)  # missing from its deadline, 2 minutes on


def _account_paused(pipeline: Pipeline) -> None:
    pipeline.ledger.accounts.record(("222", "eu-west-1")).sending_enabled = False


def _tenant_paused(pipeline: Pipeline) -> None:
    pipeline.ledger.tenant_status.apply(tenant_notice("acme", "DISABLED", at=T))


@pytest.mark.parametrize(
    ("config", "cause", "begins", "rule", "label"),
    [
        (
            TICKS + '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\n'
            'window = "5m"\nfor = "10s"\nabove = 0.2\nmin_events = 4\n',
            _delays,
            T,
            "delays",
            "a.example",
        ),
        (
            CANARY + TICKS + RULES.replace('window = "15m"\n', 'window = "15m"\nfor = "10s"\n'),
            _canary_missing,
            T + 121,
            "canary-missing",
            CANARY_DOMAIN,
        ),
        (
            TICKS + '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\n'
            'window = "5m"\nfor = "10s"\nabove = 0\n',
            _account_paused,
            T,
            "paused",
            "222/eu-west-1",
        ),
        (
            "[tenants]\nenabled = true\n" + TICKS + '[[alerts.rules]]\nname = "tenant-paused"\n'
            'metric = "tenant_sending_paused"\nwindow = "5m"\nfor = "10s"\nabove = 0\n'
            'tenants = ["acme"]\n',
            _tenant_paused,
            T,
            "tenant-paused",
            "acme",
        ),
    ],
    ids=["domain", "canary", "account", "tenant"],
)
def test_a_rules_for_is_held_at_a_tick_a_tenth_of_a_tick_early(
    config: str, cause: Callable[[Pipeline], None], begins: float, rule: str, label: str
) -> None:
    """Evaluations every 5 s on a wall clock slewed 1% slow read 4.95 s apart: a rule
    with ``for = "10s"`` pending from ``begins`` fires at the tick that reads 9.9 s
    after it, not one tick late."""
    parsed = parse_config(config)
    pipeline = Pipeline(core_settings(parsed))
    evaluator = Evaluator(parsed.alerts, [spec.name for spec in pipeline.ledger.specs])
    cause(pipeline)
    assert evaluator.evaluate(pipeline.ledger, begins) == []
    assert evaluator.evaluate(pipeline.ledger, begins + 4.95) == []
    (alert,) = evaluator.evaluate(pipeline.ledger, begins + 9.9)
    assert (alert.rule, alert.kind, alert.domain, alert.at) == (
        rule,
        Transition.FIRING,
        label,
        begins + 9.9,
    )
