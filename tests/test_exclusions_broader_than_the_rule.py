"""An exclusion broader than the glob a rule watches, written otherwise: ``*.com``
takes every domain ``*.example.com`` takes, so a rule on the one less the other
never fires, and is refused as one less its own glob is. A rule left a domain, a
group or ``other`` to fire on loads, and fires on it."""

from __future__ import annotations

import string
import time

import pytest

from sesd.config import ConfigError, parse_config
from sesd.core.domains import takes_glob
from sesd.core.glob_cover import leaves_a_domain
from tests.test_domains_rule_names import _RULE, _fired

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("watched", "excluded", "label"),
    [
        ('"*.example.com"', '"*.com"', "shop.example.com"),
        ('"*.Example.COM."', '"*.com"', "shop.example.com"),
        ('"*.рф"', '"*.xn--*"', "xn--80aa0cbo65f.xn--p1ai"),
        ('"[ab].example"', '"a.example", "B.example."', "b.example"),
        ('"shop-*.example"', '"shop*"', "shop-eu.example"),
        # A domain's part is never empty: ``*.example`` takes none that ``?*.example``
        # does not.
        ('"*.example"', '"?*.example"', "a.example"),
        ('"*.example.com", "*.example.org"', '"*.example.*"', "shop.example.org"),
    ],
)
def test_an_exclusion_that_takes_every_domain_the_rule_does_is_refused(
    watched: str, excluded: str, label: str
) -> None:
    """Each domain the rule's glob takes, the exclusion takes too, though the two are
    written otherwise: the rule never fires. It loaded (only an exclusion written as
    the rule's glob was seen to take it whole), and never paged."""
    # As the evaluator takes labels: this one (and every other) is left out.
    patterns = excluded.replace('"', "").split(", ")
    assert any(takes_glob(label, glob, domains=True) for glob in watched.split('"')[1::2])
    assert any(takes_glob(label, pattern, domains=True) for pattern in patterns) or any(
        label == pattern.lower().rstrip(".") for pattern in patterns
    )
    listed = watched.replace('"', "")
    with pytest.raises(ConfigError) as refused:
        parse_config(f"{_RULE}domains = [{watched}]\nexclude_domains = [{excluded}]\n")
    assert str(refused.value) == (
        "alerts.rules[0] (r).exclude_domains: leaves out every one of the domains the rule "
        f"watches ({listed}): it would never fire"
    )


@pytest.mark.parametrize(
    ("watched", "excluded", "addresses", "fired"),
    [
        # Broader, but of another name: every subdomain of example.com is left in.
        ('"*.example.com"', '"*.org"', ["a@shop.example.com"], ["shop.example.com"]),
        # Narrower: a.example.com is left out, b.example.com in.
        (
            '"*.example.com"',
            '"a.*.com"',
            ["a@a.example.com", "b@b.example.com"],
            ["b.example.com"],
        ),
        ('"[ab].example"', '"a.example"', ["a@a.example", "b@b.example"], ["b.example"]),
        # Two exclusions, a part each of what the rule takes, and a part left in.
        (
            '"*.example"',
            '"[a-m]*.example", "[o-z]*.example"',
            ["a@a.example", "b@n.example"],
            ["n.example"],
        ),
    ],
)
def test_an_exclusion_that_leaves_a_domain_in_loads_and_the_rule_fires_on_it(
    watched: str, excluded: str, addresses: list[str], fired: list[str]
) -> None:
    """Each exclusion leaves the rule a domain it watches: the config loads, and the
    rule fires on that domain's mail, not on what is left out."""
    text = f"{_RULE}domains = [{watched}]\nexclude_domains = [{excluded}]\n"
    assert _fired(text, addresses) == fired


def test_an_exclusion_of_every_domain_leaves_a_group_of_the_glob_in() -> None:
    """``*.рф`` less ``*.xn--*`` takes the group ``Магазин.рф`` as it is written, which
    the exclusion leaves in: the rule loads and fires on the group's mail."""
    groups = '[domains]\ngroups = { "Магазин.рф" = ["shop.example"] }\n'
    text = f'{groups}{_RULE}domains = ["*.рф"]\nexclude_domains = ["*.xn--*"]\n'
    assert _fired(text, ["a@shop.example", "b@xn--80aa0cbo65f.xn--p1ai"]) == ["Магазин.рф"]


def test_an_exclusion_of_every_dotted_domain_leaves_other_in() -> None:
    """``exclude_domains = ["*.*"]`` leaves out every recipient's domain (each has a
    dot), but not ``other``, where the domains past ``max_tracked`` are counted: the
    rule loads and fires on it."""
    text = f'[domains]\nmax_tracked = 1\n{_RULE}exclude_domains = ["*.*"]\n'
    assert _fired(text, ["a@first.example", "b@second.example"]) == ["other"]


@pytest.mark.parametrize(
    ("glob", "excluded", "left"),
    [
        ("*.example.com", ["*.com"], False),
        ("*.example.com", ["*.example.*", "*.org"], False),
        ("[ab].example", ["a.example", "b.example"], False),
        ("*.example", ["?*.example"], False),
        # A part of 64 characters is no domain's; one of 63 is.
        ("[a-z]" * 64 + ".example", [], False),
        ("[a-z]" * 63 + ".example", [], True),
        ("*.example", ["[a-z]" * 63 + "*"], True),
        ("*.example.com", ["*.org"], True),
        ("*.example.com", ["a.*.com"], True),
        ("[ab].example", ["a.example"], True),
        ("*", ["*.*"], True),
        # Upper case takes no domain in normal form: nothing is left to leave out.
        ("*.EXAMPLE", [], False),
    ],
)
def test_what_a_glob_leaves_in(glob: str, excluded: list[str], left: bool) -> None:
    """Whether a glob takes a domain in normal form that none of the exclusions takes."""
    assert leaves_a_domain(glob, excluded) is left


def test_a_long_list_of_names_costs_no_search() -> None:
    """Two thousand names beside a glob: each is stepped around only when the search
    finds it, so the answer comes in a few steps, not a search of each one begun."""
    names = [f"shop{i}.example.com" for i in range(2000)]
    assert not leaves_a_domain("*.example.com", [*names, "*.com"])
    assert leaves_a_domain("*.example.com", names)
    assert not leaves_a_domain("shop[0-9].example.com", names)


def test_a_costly_search_is_given_up_soon_and_the_rule_loads() -> None:
    """A glob beside ten others and many names, each of those the shortest domain
    left in: each name found is stepped around and the search made again, each a few
    thousand steps over every glob. Before, the searches took about 50 s of CPU for
    one rule (a reload gives its read 30 s, then refuses the config); the work of all
    of them is now bounded, and past it the rule loads, as one that may fire."""
    letters = string.ascii_lowercase + string.digits
    globs = [f"*.{c}*.example.com" for c in letters[:5]] + [
        f"{c}*.example.com" for c in letters[5:10]
    ]
    names = [f"{c}.example.com" for c in letters + "_"] + [f"a{c}.example.com" for c in letters]
    started = time.process_time()
    assert leaves_a_domain("*.example.com", [*globs, *names])
    assert time.process_time() - started < 3.0


def test_a_glob_less_each_of_its_domains_by_name_is_refused_within_the_bound() -> None:
    """``[a-z0-9_].example`` less each of its 37 domains by name: each is found and
    stepped around in turn, each search longer than the last, and all of them within
    the bound: the rule is refused, as it never fires."""
    names = [f"{c}.example" for c in string.ascii_lowercase + string.digits + "_"]
    assert not leaves_a_domain("[a-z0-9_].example", names)
    assert leaves_a_domain("[a-z0-9_].example", names[1:])


def test_a_search_past_its_bound_says_the_rule_may_fire() -> None:
    """``*.example.com`` less a glob of each length its first part may have and one of
    two parts or more leaves it nothing, but telling so takes a search of each length:
    past the bound, the glob is said to leave a domain in. A config refused by mistake
    is worse than a rule that never fires."""
    lengths = [f"{'?' * n}.example.com" for n in range(1, 64)]
    assert leaves_a_domain("*.example.com", [*lengths, "*.*.example.com"])
