"""A rule's exclusions are judged as the evaluator reads them: a domain in any case,
with a root dot or a full stop IDNA reads as a dot, a glob in its normal form, a
group's name with spaces around it. An exclusion that takes a label the rule watches,
written so, is no typo and is not warned of; one that takes nothing is warned of
however it is written and whichever rule holds it; a rule left something to fire on
loads, and one left nothing is refused. Tenants are read as written: a tenant's
name is case-sensitive."""

from __future__ import annotations

import pytest

from sesd.config import ConfigError, parse_config
from tests.test_domains_rule_names import _RULE, _fired

pytestmark = pytest.mark.timeout(60)

_SECOND = _RULE.replace('"r"', '"s"')
_GROUPS = (
    '[domains]\ngroups = { "Bücher" = ["buecher.example"], "Магазин.рф" = ["shop.example"] }\n'
)
_TENANTS = "[tenants]\nenabled = true\n"
_TAIL = "it leaves out nothing (a typo, or left from an edit?); correct it or drop the exclusion"


def _rule_warnings(text: str) -> list[str]:
    """The warnings of ``text`` that name a rule."""
    return [w for w in parse_config(text).warnings() if w.startswith("alerts.rules")]


@pytest.mark.parametrize(
    ("keys", "address", "left"),
    [
        # A name in capitals, with a root dot: the domain gmail.com.
        (
            'domains = ["gmail.com", "yahoo.com"]\nexclude_domains = ["Gmail.com."]',
            "a@gmail.com",
            "yahoo.com",
        ),
        # The rule's name in capitals: its label is gmail.com, which the exclusion takes.
        (
            'domains = ["Gmail.com", "yahoo.com"]\nexclude_domains = ["gmail.com"]',
            "a@gmail.com",
            "yahoo.com",
        ),
        # A glob in capitals is read in lower case: it takes yahoo.com.
        (
            'domains = ["gmail.com", "yahoo.com"]\nexclude_domains = ["Ya*"]',
            "a@yahoo.com",
            "gmail.com",
        ),
        # The rule's glob in capitals takes the domain the exclusion names.
        (
            'domains = ["*.Example.com"]\nexclude_domains = ["shop.example.com"]',
            "a@shop.example.com",
            "mail.example.com",
        ),
        # A group's name with a root dot and a space inside the quotes: the group.
        (
            'domains = ["Bücher", "gmail.com"]\nexclude_domains = ["Bücher. "]',
            "a@buecher.example",
            "gmail.com",
        ),
    ],
)
def test_an_exclusion_written_otherwise_than_the_rule_is_not_warned_of(
    keys: str, address: str, left: str
) -> None:
    """Each exclusion takes one of the rule's labels, only written otherwise: nothing is
    said of it, and the rule fires on what is left and not on what it leaves out."""
    text = f"{_GROUPS}{_RULE}{keys}\n"
    assert _rule_warnings(text) == []
    assert _fired(text, [address, f"b@{left}"]) == [left]


@pytest.mark.parametrize("excluded", ["gmail\u3002com", "Other"])
def test_an_exclusion_written_otherwise_that_takes_nothing_is_warned_of(excluded: str) -> None:
    """``gmail。com`` (a full stop of a CJK input method, which IDNA reads as a dot) is
    the domain gmail.com, and ``Other`` sesd's ``other``: neither is of what the rule
    watches, so each is said to leave out nothing, as written in ASCII it is."""
    text = f'{_RULE}domains = ["yahoo.com"]\nexclude_domains = ["{excluded}"]\n'
    assert _rule_warnings(text) == [
        f"alerts.rules[0] (r).exclude_domains[0]: {excluded!r}, which takes none of the "
        f"domains the rule watches (yahoo.com): {_TAIL}"
    ]


def test_each_rules_exclusion_that_takes_nothing_is_warned_of() -> None:
    """Two rules, each with an exclusion that takes nothing it watches, after a canary
    rule (whose exclusions are said to do nothing for another reason): a line for
    each of the two, not for the last rule alone nor none after the canary's."""
    canary = '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "c"\n'
    first = _RULE.replace('"r"', '"c"').replace("delay_ratio", "canary_missing")
    first = first.replace("0.1", "0").replace("5m", "15m")
    text = (
        f'{canary}{first}{_RULE}domains = ["gmail.com"]\nexclude_domains = ["yahoo.com"]\n'
        f'{_SECOND}domains = ["gmail.com"]\nexclude_domains = ["example.org"]\n'
    )
    assert [w for w in _rule_warnings(text) if not w.startswith("alerts.rules[0]")] == [
        f"alerts.rules[{i}] ({name}).exclude_domains[0]: {excluded!r}, which takes none of "
        f"the domains the rule watches (gmail.com): {_TAIL}"
        for i, name, excluded in ((1, "r", "yahoo.com"), (2, "s", "example.org"))
    ]


def test_a_glob_with_a_root_dot_takes_a_group_its_exclusion_leaves_in() -> None:
    """``*.рф.`` less ``*.xn--p1ai``: every domain the glob takes is left out, but the
    glob, its root dot dropped as alerts drop it, takes the group ``Магазин.рф``, which
    the exclusion leaves in. The rule fires on the group's mail, so it loads."""
    text = f'{_GROUPS}{_RULE}domains = ["*.рф."]\nexclude_domains = ["*.xn--p1ai"]\n'
    assert _fired(text, ["a@shop.example"]) == ["Магазин.рф"]


def test_a_tenant_glob_left_out_as_written_is_refused() -> None:
    """``tenants = ["Shop-*"]`` less ``exclude_tenants = ["Shop-*"]``: the rule never
    fires, whatever the case of the glob."""
    with pytest.raises(ConfigError) as refused:
        parse_config(f'{_TENANTS}{_RULE}tenants = ["Shop-*"]\nexclude_tenants = ["Shop-*"]\n')
    assert str(refused.value) == (
        "alerts.rules[0] (r).exclude_tenants: leaves out every one of the tenants the rule "
        "watches (Shop-*): it would never fire"
    )


def test_a_tenant_glob_in_other_capitals_leaves_the_rule_its_tenants() -> None:
    """A tenant's name is read as written: ``Shop-*`` leaves ``shop-eu`` in, so a rule
    on ``shop-*`` is left its tenants and loads."""
    text = f'{_TENANTS}{_RULE}tenants = ["shop-*"]\nexclude_tenants = ["Shop-*"]\n'
    rule = parse_config(text).alerts.rules[0]
    assert rule.tenants == ["shop-*"]
    assert rule.exclude_tenants == ["Shop-*"]


@pytest.mark.parametrize(
    ("watched", "excluded"), [("gmail.com", "Gmail.com."), ("Gmail.com", "gmail.com")]
)
def test_a_rules_one_domain_left_out_written_otherwise_is_refused(
    watched: str, excluded: str
) -> None:
    """``domains = ["gmail.com"]`` less ``exclude_domains = ["Gmail.com."]`` (or the
    other way round): both are the domain gmail.com to the evaluator, so the rule
    never fires, and is refused as the same name written twice alike is."""
    with pytest.raises(ConfigError) as refused:
        parse_config(f'{_RULE}domains = ["{watched}"]\nexclude_domains = ["{excluded}"]\n')
    assert str(refused.value) == (
        "alerts.rules[0] (r).exclude_domains: leaves out every one of the domains the rule "
        f"watches ({watched}): it would never fire"
    )
