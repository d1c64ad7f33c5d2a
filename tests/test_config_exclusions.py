"""An exclusion that takes nothing the rule watches (``providers = ["google"]`` beside
``exclude_providers = ["yahoo"]``) leaves out nothing: a typo of what was meant, or one
left from an edit of the rule's names. It loaded in silence; check-config, the start
and a reload now warn of it, once, naming the key, as an exclusion of sesd's own
``unknown`` or ``none`` is warned of. Not refused: a config that ran on it loads."""

from __future__ import annotations

import pytest

from sesd.config import parse_config

pytestmark = pytest.mark.timeout(60)

_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
_GROUPS = '[domains]\ngroups = { "Bücher" = ["buecher.example"] }\n'
_TENANTS = "[tenants]\nenabled = true\n"
_TAIL = "it leaves out nothing (a typo, or left from an edit?); correct it or drop the exclusion"


def _rule_warnings(text: str) -> list[str]:
    """The warnings of ``text`` that name a rule."""
    return [w for w in parse_config(text).warnings() if w.startswith("alerts.rules")]


@pytest.mark.parametrize(
    ("keys", "warned"),
    [
        # A provider the rule does not name, nor its globs take.
        ('providers = ["google"]\nexclude_providers = ["yahoo", "yahoo"]', ("providers", 0)),
        ('providers = ["goo*"]\nexclude_providers = ["yahoo"]', ("providers", 0)),
        (
            'providers = ["google", "yahoo"]\nexclude_providers = ["yahoo", "micro*"]',
            ("providers", 1),
        ),
        # A domain the rule does not name, nor its globs take; a group, and sesd's other.
        ('domains = ["gmail.com"]\nexclude_domains = ["yahoo.com"]', ("domains", 0)),
        ('domains = ["*.example.com"]\nexclude_domains = ["example.org"]', ("domains", 0)),
        ('domains = ["gmail.com"]\nexclude_domains = ["Bücher"]', ("domains", 0)),
        ('domains = ["gmail.com"]\nexclude_domains = ["other"]', ("domains", 0)),
        ('domains = ["gmail.com", "Bücher"]\nexclude_domains = ["Bü*", "ya*"]', ("domains", 1)),
        # A tenant the rule does not name, nor its globs take.
        ('tenants = ["shop"]\nexclude_tenants = ["blog"]', ("tenants", 0)),
        ('tenants = ["shop-*"]\nexclude_tenants = ["blog"]', ("tenants", 0)),
    ],
)
def test_an_exclusion_that_takes_nothing_watched_is_warned_of_once(
    keys: str, warned: tuple[str, int]
) -> None:
    """The rule fires as if the exclusion were not there; the line names it at its
    first place (once, written twice), with what the rule watches."""
    key, j = warned
    text = f"{_GROUPS}{_TENANTS}{_RULE}{keys}\n"
    config = parse_config(text)
    rule = config.alerts.rules[0]
    name = rule.excluded[j]
    assert _rule_warnings(text) == [
        f"alerts.rules[0] (r).exclude_{key}[{j}]: {name!r}, which takes none of the {key} the "
        f"rule watches ({', '.join(rule.watched)}): {_TAIL}"
    ]


@pytest.mark.parametrize(
    "keys",
    [
        'providers = ["*"]\nexclude_providers = ["yahoo"]',
        'providers = ["google", "yahoo"]\nexclude_providers = ["yahoo"]',
        'providers = ["goo*", "yahoo"]\nexclude_providers = ["goog*"]',
        'exclude_domains = ["yahoo.com", "Bücher", "other"]',
        'domains = ["*.example.com"]\nexclude_domains = ["mail.example.com", "m*"]',
        'domains = ["Bücher.", "gmail.com"]\nexclude_domains = ["Bü*"]',
        'domains = ["gmail.com", "yahoo.com"]\nexclude_domains = ["ya*"]',
        'tenants = ["shop-*"]\nexclude_tenants = ["shop-test", "*-eu"]',
        'tenants = ["*"]\nexclude_tenants = ["blog", "other"]',
        'tenants = ["shop", "blog"]\nexclude_tenants = ["b*"]',
    ],
)
def test_an_exclusion_that_takes_something_watched_is_not_warned_of(keys: str) -> None:
    """What the rule's names or globs take, or (a glob beside the rule's globs) may
    take: nothing said."""
    assert _rule_warnings(f"{_GROUPS}{_TENANTS}{_RULE}{keys}\n") == []


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        # sesd's own labels, which the rule does not name: said as before, once.
        ('providers = ["google"]\nexclude_providers = ["none"]', "which a glob never takes"),
        ('tenants = ["shop"]\nexclude_tenants = ["unknown"]', "which a glob never takes"),
        # A domain without a dot that no group has: said as before, once.
        ('domains = ["gmail.com"]\nexclude_domains = ["microsoft"]', "which is no group"),
    ],
)
def test_an_exclusion_warned_of_already_is_said_once(keys: str, said: str) -> None:
    """An exclusion another warning names (sesd's own ``none`` or ``unknown``, a name
    that is no group nor domain) is told that one alone, not this one too."""
    (warning,) = _rule_warnings(f"{_GROUPS}{_TENANTS}{_RULE}{keys}\n")
    assert said in warning


def test_a_canary_rules_exclusion_is_told_it_does_nothing_alone() -> None:
    """A canary rule reads the canary alone: its exclusions are said to leave out
    nothing, for that reason, and not also for what it names."""
    canary = '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "c"\n'
    rule = _RULE.replace("delay_ratio", "canary_missing").replace("0.1", "0").replace("5m", "15m")
    (warning,) = _rule_warnings(
        f'{canary}{rule}domains = ["gmail.com"]\nexclude_domains = ["yahoo.com"]\n'
    )[1:]
    assert "reads the canary alone" in warning
