"""A group whose name is a domain's too (``example.com``, ``Bücher.de``). A rule naming
it watches the group's label and, as the evaluator takes a name in its normal form,
the domain's: the group's own member, counted under the group, or a domain outside
it, with a label of its own. Each loads where the rule can fire, and is refused
where it never can."""

from __future__ import annotations

import pytest

from sesd.config import ConfigError, parse_config
from tests.test_domains_rule_names import _RULE, _fired

pytestmark = pytest.mark.timeout(60)

_OWN = '[domains]\ngroups = { "example.com" = ["example.com", "example.net"] }\n'
_OUTSIDE = '[domains]\ngroups = { "Bücher.de" = ["x.example"] }\n'


def test_a_rule_naming_a_group_after_its_own_member_watches_the_group() -> None:
    """``domains = ["example.com"]`` names the group ``example.com``: it was refused as
    a domain counted in that group, told to name the group instead, with the very
    line it had. It loads, and fires on the group's mail (to either member)."""
    text = f'{_OWN}{_RULE}domains = ["example.com"]\n'
    assert _fired(text, ["a@example.com", "b@example.net", "c@other.example"]) == ["example.com"]


def test_an_exclusion_of_a_group_named_after_its_own_member_leaves_the_group_out() -> None:
    """``exclude_domains = ["example.com"]`` was refused alike; it leaves the group out."""
    text = f'{_OWN}{_RULE}exclude_domains = ["example.com"]\n'
    assert _fired(text, ["a@example.com", "c@other.example"]) == ["other.example"]


def test_a_group_named_after_its_member_left_out_by_a_glob_is_refused() -> None:
    """The group left out, its member's own label never seen (its mail counts under the
    group): the rule never fires."""
    with pytest.raises(ConfigError, match="it would never fire"):
        parse_config(f'{_OWN}{_RULE}domains = ["example.com"]\nexclude_domains = ["ex*"]\n')


def test_a_domain_of_another_group_is_still_told_its_group() -> None:
    """A name that is no group's but a member's: told the group, as before."""
    with pytest.raises(ConfigError) as refused:
        parse_config(f'{_OWN}{_RULE}domains = ["example.net"]\n')
    assert str(refused.value).endswith(
        "domains[0]: 'example.net', counted in group 'example.com'; name the group instead "
        "(domains = ['example.com'])"
    )


def test_a_group_named_after_a_domain_outside_it_leaves_the_domain_to_fire_on() -> None:
    """``domains = ["Bücher.de"]`` less ``exclude_domains = ["Bü*"]``: the glob takes the
    group's label as written, not the domain bücher.de in normal form
    (``xn--bcher-kva.de``), which the rule watches too. It was refused as a rule that
    never fires; it loads, and fires on bücher.de's mail."""
    text = f'{_OUTSIDE}{_RULE}domains = ["Bücher.de"]\nexclude_domains = ["Bü*"]\n'
    assert _fired(text, ["a@bücher.de", "b@x.example"]) == ["xn--bcher-kva.de"]


@pytest.mark.parametrize("excluded", ['"Bücher.de"', '"Bü*", "xn--bcher-kva.de"', '"*"'])
def test_a_group_named_after_a_domain_outside_it_left_out_with_the_domain_is_refused(
    excluded: str,
) -> None:
    """The group and the domain both left out: the rule never fires."""
    with pytest.raises(ConfigError, match="it would never fire"):
        parse_config(f'{_OUTSIDE}{_RULE}domains = ["Bücher.de"]\nexclude_domains = [{excluded}]\n')


def test_a_group_named_after_its_own_member_left_out_by_a_glob_of_its_name_is_refused() -> None:
    """``Bücher.de`` of bücher.de itself, less ``Bü*``: the glob takes the group's
    label as written, and bücher.de's mail counts under the group, never under its
    own label (``xn--bcher-kva.de``, which the glob does not take): the rule never
    fires, unlike the rule on ``Bücher.de`` of other domains alone."""
    groups = '[domains]\ngroups = { "Bücher.de" = ["bücher.de", "x.example"] }\n'
    with pytest.raises(ConfigError, match="it would never fire"):
        parse_config(f'{groups}{_RULE}domains = ["Bücher.de"]\nexclude_domains = ["Bü*"]\n')
