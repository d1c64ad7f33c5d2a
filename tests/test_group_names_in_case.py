"""Two groups whose names differ in case alone (``Shop`` and ``shop``) are refused:
a silence takes a group's name in any case, and so mutes both, and a rule's name in
another case is told one group of the two. Groups named otherwise load."""

from __future__ import annotations

import pytest

from sesd.alerting.silences import Silence
from sesd.config import ConfigError, parse_config

pytestmark = pytest.mark.timeout(60)


def test_a_silence_takes_a_groups_name_in_any_case() -> None:
    """Why two such groups are one name to the on-call: a silence of ``shop`` mutes
    the alerts of the group ``Shop`` and of the group ``shop`` alike."""
    silence = Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain="shop")
    assert silence.matches("r", "Shop", "info")
    assert silence.matches("r", "shop", "info")


@pytest.mark.parametrize(
    ("groups", "key", "first", "second"),
    [
        ('"Shop" = ["a.example"], "shop" = ["b.example"]', "shop", "Shop", "shop"),
        ('shop = ["a.example"], SHOP = ["b.example"]', "SHOP", "shop", "SHOP"),
        ('"Магазин" = ["a.example"], "магазин" = ["b.example"]', '"магазин"', "Магазин", "магазин"),
    ],
)
def test_groups_whose_names_differ_in_case_alone_are_refused(
    groups: str, key: str, first: str, second: str
) -> None:
    """Both loaded, each its own label: a silence meant for one muted both, and
    ``sesd silence add`` could not tell which was meant. The second is refused,
    naming the first."""
    with pytest.raises(ConfigError) as refused:
        parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    assert str(refused.value).endswith(
        f"domains.groups.{key}: {second!r} and the group {first!r} differ in case alone: a "
        "silence takes a group's name in any case, and would mute both; make them one "
        "group, or name them otherwise"
    )


def test_groups_whose_names_differ_otherwise_load() -> None:
    """``Shop`` and ``Shop EU``, or ``Shop`` and ``Shops``: each is its own name to a
    silence too."""
    groups = '"Shop" = ["a.example"], "Shop EU" = ["b.example"], "Shops" = ["c.example"]'
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    assert list(config.domains.groups) == ["Shop", "Shop EU", "Shops"]
