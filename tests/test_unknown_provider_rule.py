"""A ratio rule on the provider ``unknown``: no provider, but the mail to domains not
looked up yet (after a start without a state file, nearly all of it) or whose lookups
fail. A recipient's delay counts there and its delivery, once the lookup answers,
under the provider: the ratios read the other halves of what the providers count, and
page at a start or while DNS fails. Taken (a rule that ran on it must load again), and
warned of by check-config, the start and a reload, as a glob leaves it out for that
reason."""

from __future__ import annotations

import pytest

from sesd.config import parse_config

RULE = (
    '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n[providers]\nenabled = true\n'
    '[[alerts.rules]]\nname = "r"\nwindow = "15m"\nabove = 0.1\n'
)


def _warned(text: str) -> list[str]:
    return [w for w in parse_config(RULE + text).warnings() if "'unknown'" in w]


@pytest.mark.parametrize(
    "metric",
    ["delay_ratio", "delivery_ratio", "bounce_ratio", "complaint_ratio", "cause_ratio"],
)
def test_a_ratio_rule_naming_unknown_is_warned_of(metric: str) -> None:
    cause = 'cause = "ip_reputation"\n' if metric == "cause_ratio" else ""
    text = f'metric = "{metric}"\n{cause}providers = ["google", "unknown"]\n'
    assert _warned(text) == [
        "alerts.rules[0] (r).providers[1]: 'unknown' is no provider but the mail to domains "
        "not looked up yet (after a start without a state file, nearly all of it) or whose "
        "lookups fail: their delays count there and their deliveries under the provider "
        f"found since, so its {metric} reads the start and DNS, not a provider, and pages on "
        "them; watch the lookups with the Prometheus rule SesdProviderLookupsFailing "
        "(sesd_dns_failing), and the domains with a rule on domains"
    ]


@pytest.mark.parametrize(
    "text",
    [
        # A count is no ratio: the delayed recipients there are as many as it says.
        'metric = "delayed_recipients"\nproviders = ["unknown"]\n',
        'metric = "pending_delays"\nproviders = ["unknown"]\n',
        # A glob leaves it out; leaving it out watches the rest.
        'metric = "delay_ratio"\nproviders = ["*"]\n',
        'metric = "delay_ratio"\nproviders = ["*"]\nexclude_providers = ["unknown"]\n',
    ],
)
def test_a_rule_that_does_not_read_unknown_s_ratios_is_not(text: str) -> None:
    assert _warned(text) == []
