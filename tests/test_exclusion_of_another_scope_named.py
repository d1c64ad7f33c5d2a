"""A rule leaves out labels of its own scope only: an exclusion of another scope beside
its own is refused, and the error names the key to take out, not the rule's own
exclusion written beside it."""

from __future__ import annotations

import pytest

from sesd.config import ConfigError, parse_config

pytestmark = pytest.mark.timeout(60)

_ON = "[providers]\nenabled = true\n[tenants]\nenabled = true\n"
_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        (
            'providers = ["google"]\nexclude_providers = ["yahoo"]\nexclude_tenants = ["shop"]',
            "exclude_tenants: a rule on providers leaves some out with exclude_providers",
        ),
        (
            'domains = ["gmail.com"]\nexclude_domains = ["yahoo.com"]\nexclude_tenants = ["shop"]',
            "exclude_tenants: a rule on domains leaves some out with exclude_domains",
        ),
    ],
)
def test_the_exclusion_of_another_scope_is_named_beside_the_rules_own(keys: str, said: str) -> None:
    """``exclude_tenants`` on a rule on providers that has ``exclude_providers`` too:
    the error names ``exclude_tenants``, the key to drop."""
    with pytest.raises(ConfigError) as refused:
        parse_config(f"{_ON}{_RULE}{keys}\n")
    assert str(refused.value) == f"alerts.rules[0] (r).{said}"
