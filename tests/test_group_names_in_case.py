"""Two groups whose names differ in case alone (``Shop`` and ``shop``), or a group
named sesd's ``other`` in another case (``Other``), load and fire each under its own
label, but a silence takes a group's name in any case, and so mutes both: warned of,
naming both, not refused (an upgrade refusing a config that works is worse). Groups
named otherwise are warned of nothing."""

from __future__ import annotations

import pytest

from sesd.alerting.silences import Silence
from sesd.config import parse_config
from tests.test_domains_rule_names import _RULE, _fired

pytestmark = pytest.mark.timeout(60)


def test_a_silence_takes_a_groups_name_in_any_case() -> None:
    """Why two such groups are one name to the on-call: a silence of ``shop`` mutes
    the alerts of the group ``Shop`` and of the group ``shop`` alike, and one of
    ``other`` those of a group ``Other`` and of sesd's ``other``."""
    silence = Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain="shop")
    assert silence.matches("r", "Shop", "info")
    assert silence.matches("r", "shop", "info")
    other = Silence(id="s2", comment="c", starts_at=0.0, ends_at=None, domain="other")
    assert other.matches("r", "Other", "info")
    assert other.matches("r", "other", "info")


@pytest.mark.parametrize(
    ("groups", "key", "first", "second"),
    [
        ('"Shop" = ["a.example"], "shop" = ["b.example"]', "shop", "Shop", "shop"),
        ('shop = ["a.example"], SHOP = ["b.example"]', "SHOP", "shop", "SHOP"),
        ('"Магазин" = ["a.example"], "магазин" = ["b.example"]', '"магазин"', "Магазин", "магазин"),
    ],
)
def test_groups_whose_names_differ_in_case_alone_load_and_are_warned_of(
    groups: str, key: str, first: str, second: str
) -> None:
    """Each is its own label, and a rule fires on each: the config loads as it did.
    A silence meant for one mutes both, and ``sesd silence add`` cannot tell which
    was meant: check-config and the start warn of the second, naming the first."""
    text = f"[domains]\ngroups = {{ {groups} }}\n{_RULE}"
    config = parse_config(text)
    assert [w for w in config.warnings() if "differ in case" in w] == [
        f"domains.groups.{key}: {second!r} and the group {first!r} differ in case alone: a "
        "silence takes a group's name in any case, and mutes both; make them one group, "
        "or name them otherwise"
    ]
    assert _fired(text, ["x@a.example", "y@b.example"]) == sorted([first, second])


@pytest.mark.parametrize("name", ["Other", "OTHER"])
def test_a_group_named_other_in_another_case_loads_and_is_warned_of(name: str) -> None:
    """``other`` is reserved, but ``Other`` loaded, a label of its own beside sesd's
    ``other`` (the domains past ``max_tracked``), and fires: a silence of either mutes
    both. It loads as it did, and is warned of."""
    text = f'[domains]\nmax_tracked = 2\ngroups = {{ "{name}" = ["a.example"] }}\n{_RULE}'
    config = parse_config(text)
    assert [w for w in config.warnings() if "differ in case" in w] == [
        f"domains.groups.{name}: {name!r} and sesd's 'other' (the domains past "
        "max_tracked) differ in case alone: a silence takes a group's name in any case, "
        "and mutes both; name the group otherwise"
    ]
    mail = ["x@a.example", "y@b.example", "z@c.example"]
    assert _fired(text, mail) == sorted([name, "b.example", "other"])


def test_groups_whose_names_differ_otherwise_are_warned_of_nothing() -> None:
    """``Shop`` and ``Shop EU``, or ``Shop`` and ``Shops``, or ``Others``: each is its
    own name to a silence too."""
    groups = (
        '"Shop" = ["a.example"], "Shop EU" = ["b.example"], "Shops" = ["c.example"], '
        '"Others" = ["d.example"]'
    )
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    assert list(config.domains.groups) == ["Shop", "Shop EU", "Shops", "Others"]
    assert not [w for w in config.warnings() if "differ in case" in w]


def test_a_rule_on_one_group_less_the_other_named_alike_fires_on_its_own() -> None:
    """``shop eu`` less ``Shop EU``: the exclusion takes the group named as written,
    as the evaluator labels it, not the other (a silence would take both, an exclusion
    does not). The rule loads, warned that the exclusion leaves out nothing it
    watches, and fires on ``shop eu``."""
    groups = '"Shop EU" = ["a.example"], "shop eu" = ["b.example"]'
    rule = 'domains = ["shop eu"]\nexclude_domains = ["Shop EU"]\n'
    text = f"[domains]\ngroups = {{ {groups} }}\n{_RULE}{rule}"
    assert [w for w in parse_config(text).warnings() if "leaves out nothing" in w] == [
        "alerts.rules[0] (r).exclude_domains[0]: 'Shop EU', which takes none of the domains "
        "the rule watches (shop eu): it leaves out nothing (a typo, or left from an edit?); "
        "correct it or drop the exclusion"
    ]
    assert _fired(text, ["x@a.example", "y@b.example"]) == ["shop eu"]
