"""A rule whose exclusions leave it nothing only together, each taking a part of what
it watches, is refused within the search's bound, not loaded as one that may fire: the
search steps over each combination of exclusions a domain may be taken by, and a
part's length, or a run of stars written for one, would multiply those steps past the
bound. A rule whose every domain left in has a part as long as a domain's may be, or
a dot no glob writes, loads: the search tries a dot wherever one may follow."""

from __future__ import annotations

import pytest

from sesd.config import ConfigError, parse_config
from tests.test_domains_rule_names import _RULE

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("star", ["*", "**"])
def test_exclusions_that_leave_nothing_together_are_refused_within_the_bound(star: str) -> None:
    """``*.example`` less a glob for each of six letters a domain may hold and one for
    any other character: every domain is taken, by one or more of them, in any of 64
    combinations. The search counts a part's length only once a text it found has a
    part longer than a domain's (counted from the start, each combination at each
    length passes the bound), and reads a run of stars as one star (``**``, as other
    tools write a glob of any depth, takes what ``*`` takes): refused, as it never
    fires."""
    excluded = [f"{star}{c}*.example" for c in "abcdef"] + ["*[!a-f]*.example"]
    listed = ", ".join(f'"{pattern}"' for pattern in excluded)
    with pytest.raises(ConfigError) as refused:
        parse_config(f'{_RULE}domains = ["*.example"]\nexclude_domains = [{listed}]\n')
    assert str(refused.value) == (
        "alerts.rules[0] (r).exclude_domains: leaves out every one of the domains the rule "
        "watches (*.example): it would never fire"
    )


def test_one_letter_left_in_loads() -> None:
    """The same exclusions less the one of ``f``: ``f.example`` is left in, and the rule
    loads (the bound is not what refused the config above)."""
    excluded = [f"*{c}*.example" for c in "abcde"] + ["*[!a-f]*.example"]
    listed = ", ".join(f'"{pattern}"' for pattern in excluded)
    config = parse_config(f'{_RULE}domains = ["*.example"]\nexclude_domains = [{listed}]\n')
    assert config.alerts.rules[0].exclude_domains == excluded


@pytest.mark.parametrize(
    ("watched", "excluded"),
    [
        # Domains of 64 characters or more: each has a dot, no part being longer than
        # 63, though neither glob writes one.
        ("?" * 64 + "*", "test*"),
        # A first part of 63 characters, then more parts: the longest a part may be,
        # followed by a dot.
        ("?" * 63 + "*.example", "?" * 63 + ".example"),
        # Of 63 letters, then a dot or a '-', then one: a part of 63 (a dot) or of 65.
        ("[a-z]" * 63 + "[.-][a-z]", "*.test"),
    ],
)
def test_a_rule_on_domains_only_a_long_name_has_loads(watched: str, excluded: str) -> None:
    """Rules whose every domain left in has a part as long as a domain's may be, or
    more than one part where the globs name no dot: the search tries a dot there too,
    finds such a domain, and the rule loads, as it fires on it."""
    text = f'{_RULE}domains = ["{watched}"]\nexclude_domains = ["{excluded}"]\n'
    assert parse_config(text).alerts.rules[0].domains == [watched]
