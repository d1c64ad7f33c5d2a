"""A ratio rule on the provider ``unknown``: no provider, but the mail to domains not
looked up yet (after a start without a state file, nearly all of it) or whose lookups
fail. A recipient's delay counts there and its delivery, once the lookup answers,
under the provider: the ratios read the other halves of what the providers count, and
page at a start or while DNS fails. Taken (a rule that ran on it must load again), and
warned of by check-config, the start and a reload, as a glob leaves it out for that
reason."""

from __future__ import annotations

import pytest

from sesd.config import ConfigError, parse_config

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
    ("text", "warned"),
    [
        # A count is no ratio: the delayed recipients there are as many as it says.
        ('metric = "delayed_recipients"\nproviders = ["unknown"]\n', []),
        ('metric = "pending_delays"\nproviders = ["unknown"]\n', []),
        # A glob leaves it out; leaving it out as well leaves out nothing more, and is
        # told so (tests/test_watched_said_once.py), not that the rule reads it.
        ('metric = "delay_ratio"\nproviders = ["*"]\n', []),
        (
            'metric = "delay_ratio"\nproviders = ["*"]\nexclude_providers = ["unknown"]\n',
            [
                "alerts.rules[0] (r).exclude_providers[0]: 'unknown', which a glob never "
                "takes (domains not resolved yet): the rule's globs leave it out already; "
                "drop the exclusion"
            ],
        ),
    ],
)
def test_a_rule_that_does_not_read_unknown_s_ratios_is_not(text: str, warned: list[str]) -> None:
    assert _warned(text) == warned


@pytest.mark.parametrize("glob", ["unkn*", "unknow[n]"])
def test_a_ratio_rule_s_glob_on_unknown_is_not_told_to_name_it(glob: str) -> None:
    """A provider glob that matches only ``unknown`` is refused (a glob never takes
    it), and the line said to name it to watch it: in a ratio rule, what check-config
    then warns of. The line says why a ratio there reads the start and DNS, and where
    to watch them, as the warning does; a count rule is still told to name it, and
    is not warned of once it does."""
    with pytest.raises(ConfigError) as info:
        parse_config(RULE + f'metric = "delay_ratio"\nproviders = ["google", "{glob}"]\n')
    assert str(info.value).endswith(
        f"alerts.rules[0] (r).providers[1]: {glob!r}, a glob that matches only 'unknown', "
        "which a glob never takes (domains not resolved yet): 'unknown' is no provider but "
        "the mail to domains not looked up yet or whose lookups fail, so its delay_ratio "
        "reads the start and DNS, not a provider: drop the glob; watch the lookups with "
        "the Prometheus rule SesdProviderLookupsFailing (sesd_dns_failing), and the "
        "domains with a rule on domains"
    )
    count = f'metric = "delayed_recipients"\nproviders = ["{glob}"]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(RULE + count)
    assert str(info.value).endswith('name it (providers = ["unknown"]) to watch it')
    assert _warned(count.replace(glob, "unknown")) == []


def test_a_ratio_rule_s_glob_on_unknown_and_none_is_told_to_name_none_alone() -> None:
    """A glob that matches ``unknown`` and ``none`` alone, in a ratio rule: naming
    ``none`` watches the domains without mail (not warned of), naming ``unknown`` is
    warned of; the line says so of each."""
    with pytest.raises(ConfigError) as info:
        parse_config(RULE + 'metric = "bounce_ratio"\nproviders = ["[un][no]*"]\n')
    assert str(info.value).endswith(
        "a glob that matches only 'unknown' and 'none', which a glob never takes (domains "
        "not resolved yet; domains without mail: NXDOMAIN, a null MX): name 'none' "
        "(providers = [\"none\"]) to watch it; 'unknown' is no provider but the mail to "
        "domains not looked up yet or whose lookups fail, so its bounce_ratio reads the "
        "start and DNS, not a provider: watch the lookups with the Prometheus rule "
        "SesdProviderLookupsFailing (sesd_dns_failing), and the domains with a rule on "
        "domains"
    )
    assert _warned('metric = "bounce_ratio"\nproviders = ["none"]\n') == []


def test_a_glob_on_unknown_and_none_alone_is_told_of_both() -> None:
    """A glob that matches ``unknown`` and ``none`` alone: a count rule is told to name
    both to watch them; an exclusion is warned that the rule's globs leave both out
    already."""
    count = 'metric = "delayed_recipients"\nproviders = ["[un][no]*"]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(RULE + count)
    assert str(info.value).endswith(
        "a glob that matches only 'unknown' and 'none', which a glob never takes (domains "
        "not resolved yet; domains without mail: NXDOMAIN, a null MX): name them "
        '(providers = ["unknown", "none"]) to watch them'
    )
    excluded = 'metric = "delay_ratio"\nproviders = ["*"]\nexclude_providers = ["[un][no]*"]\n'
    assert _warned(excluded) == [
        "alerts.rules[0] (r).exclude_providers[0]: '[un][no]*', a glob that matches only "
        "'unknown' and 'none', which a glob never takes (domains not resolved yet; domains "
        "without mail: NXDOMAIN, a null MX): the rule's globs leave them out already; drop "
        "the exclusion"
    ]


def test_a_ratio_rule_naming_unknown_after_rules_not_warned_of_is_warned_of() -> None:
    """Each rule is checked: a rule on a count and one on domains, neither warned of,
    do not end the check before the ratio rule after them that names ``unknown``."""
    text = (
        'metric = "delayed_recipients"\nproviders = ["unknown"]\n'
        '[[alerts.rules]]\nname = "d"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.1\n'
        'domains = ["*"]\n'
        '[[alerts.rules]]\nname = "s"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.1\n'
        'providers = ["unknown"]\n'
    )
    assert [w.split(":", 1)[0] for w in _warned(text)] == ["alerts.rules[2] (s).providers[0]"]


def test_each_rules_exclusion_of_none_alone_is_warned_of() -> None:
    """Two rules each leaving out ``none`` by a glob, as rules on every provider had to
    before ``*`` left it out: both are warned of, the first not lost to the second."""
    excluded = 'metric = "delay_ratio"\nproviders = ["*"]\nexclude_providers = ["non[e]"]\n'
    second = '[[alerts.rules]]\nname = "s"\nwindow = "15m"\nabove = 0.1\n' + excluded
    warned = [w for w in parse_config(RULE + excluded + second).warnings() if "non[e]" in w]
    assert [w.split(":", 1)[0] for w in warned] == [
        "alerts.rules[0] (r).exclude_providers[0]",
        "alerts.rules[1] (s).exclude_providers[0]",
    ]
