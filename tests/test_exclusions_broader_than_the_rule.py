"""An exclusion broader than the glob a rule watches, written otherwise: ``*.com``
takes every domain ``*.example.com`` takes, so a rule on the one less the other
never fires, and is refused as one less its own glob is. A rule left a domain, a
group or ``other`` to fire on loads, and fires on it."""

from __future__ import annotations

import random
import string
import time
from fnmatch import fnmatchcase

import pytest

from sesd.config import ConfigError, parse_config
from sesd.core.domains import normalise_domain, takes_glob
from sesd.core.glob_cover import _searched, _some_domains, leaves_a_domain
from tests.test_domains_rule_names import _RULE, _fired

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("watched", "excluded", "label"),
    [
        ('"*.example.com"', '"*.com"', "shop.example.com"),
        ('"*.Example.COM."', '"*.com"', "shop.example.com"),
        ('"*.example.com"', '"*.COM."', "shop.example.com"),
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


#: Globs, what is left out of them, and whether a domain is left in.
_WHAT_GLOBS_LEAVE: list[tuple[str, list[str], bool]] = [
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
    # Left in, each beside the few domains tried before any search: the first
    # (``a.shop5.example.com``), a later one (``z.shop5...``), none of them.
    ("*.shop5.example.com", ["b*.shop5.example.com", "*.test", "c?.shop5.example.com"], True),
    ("shop-[a-z]*.example", ["shop-a*.example", "*-eu.example"], True),
    ("*.example", ["[a-y]*", "[0-9]*", "_*"], True),
    ("*.example", ["[a-z]*", "[0-9]*", "_*"], False),
    ("?.example", ["[!a-z0-9_-]*.example", "[a-z].example", "[0-9].example"], True),
    ("*-*.example", ["*-?.example", "?-*.example"], True),
    ("*-*.example", ["*-?*.example"], False),
    # Nothing tried first that is no domain, or not the glob's: ``-x.example``,
    # ``x.example`` (the set takes no character of a domain), one of 255.
    ("[-]x.example", [], False),
    ("[A-Z]x.example", [], False),
    (".".join(["[a-z]" * 63] * 4), [], False),
    (".".join(["[a-z]" * 63] * 3 + ["[a-z]" * 61]), [], True),
]


@pytest.mark.parametrize(("glob", "excluded", "left"), _WHAT_GLOBS_LEAVE)
def test_what_a_glob_leaves_in(glob: str, excluded: list[str], left: bool) -> None:
    """Whether a glob takes a domain in normal form that none of the exclusions takes."""
    assert leaves_a_domain(glob, excluded) is left


@pytest.mark.parametrize(("glob", "excluded", "left"), _WHAT_GLOBS_LEAVE)
def test_the_domains_tried_first_are_the_globs_and_the_search_agrees(
    glob: str, excluded: list[str], left: bool
) -> None:
    """Before any search, a few domains the glob takes are tried: each is a domain
    in normal form the glob takes, as the evaluator takes it, and the search alone
    gives the same answer, left in or not. One of them no exclusion takes is a domain
    left in; the search decides when each is taken."""
    for domain in _some_domains(glob):
        assert normalise_domain(domain) == domain
        assert takes_glob(domain, glob, domains=True)
    assert _searched(glob, excluded) is left
    if any(not any(fnmatchcase(d, e) for e in excluded) for d in _some_domains(glob)):
        assert left


def test_the_domains_tried_first_agree_with_the_search_on_many_globs() -> None:
    """Globs and exclusions made of a few pieces each, at random (seeded): the answer
    with the domains tried first is the search's, each time. A domain tried that is
    none (``-a``, ``a..b``), or that the glob does not take, would be told left in
    where the search finds none."""
    pieces = ["*", "?", "a", "z", "0", "_", "-", ".", "[a-m]", "[!a]", "[-]", "[.]", "[A-Z]"]
    made = random.Random(53)

    def glob() -> str:
        return "".join(made.choices(pieces, k=made.randint(1, 5)))

    answers = set()
    for _ in range(400):
        pattern, excluded = glob(), [glob() for _ in range(made.randint(0, 3))]
        answer = leaves_a_domain(pattern, excluded)
        assert answer is _searched(pattern, excluded), (pattern, excluded)
        answers.add(answer)
    assert answers == {True, False}


@pytest.mark.parametrize(
    ("glob", "excluded"),
    [
        ("*.shop5.example.com", ["a*.shop5.example.com", "*.test", "b?.shop5.example.com"]),
        ("*.example.org", ["x*.example.org", "*.net", "shop5.*"]),
        ("*", ["*.example.com", "*.org", "*.net"]),
        ("shop5-[a-z]*.example.com", ["shop5-a*.example.com", "*-eu.example.com"]),
    ],
)
def test_a_rule_that_fires_is_told_so_without_a_search(glob: str, excluded: list[str]) -> None:
    """Rules as most configs write them: one of the domains tried first is left in,
    so no search is made (a search costs milliseconds a rule; hundreds of rules are
    read at each start, reload and check-config)."""
    assert not _searched_for(glob, excluded)
    assert leaves_a_domain(glob, excluded)


def test_a_long_list_of_names_costs_no_search() -> None:
    """Two thousand names beside a glob: each is stepped around only when the search
    finds it, so the answer comes in a few steps, not a search of each one begun."""
    names = [f"shop{i}.example.com" for i in range(2000)]
    assert not leaves_a_domain("*.example.com", [*names, "*.com"])
    assert leaves_a_domain("*.example.com", names)
    assert not leaves_a_domain("shop[0-9].example.com", names)


def test_thousands_of_names_are_looked_up_not_matched() -> None:
    """Twenty thousand names beside a glob: the domains tried first are looked up
    among them, not matched against each as a pattern (each compiled once, half a
    second of CPU, and fnmatch's cache of patterns filled with them)."""
    names = [f"mailbox{i}.example.net" for i in range(20_000)]
    started = time.thread_time()
    assert leaves_a_domain("*.example.net", names)
    assert time.thread_time() - started < 0.2


def test_a_costly_search_is_given_up_soon_and_the_rule_loads() -> None:
    """A glob beside ten others and many names, each of those the shortest domain
    left in: each name found is stepped around and the search made again, each a few
    thousand steps over every glob. Before, the searches took about 50 s of CPU for
    one rule (a reload gives its read 30 s, then refuses the config); the work of all
    of them is now bounded, and past it the rule loads, as one that may fire. (This
    thread's CPU: the process's counts the threads earlier tests left in a worker.)"""
    letters = string.ascii_lowercase + string.digits
    globs = [f"*.{c}*.example.com" for c in letters[:5]] + [
        f"{c}*.example.com" for c in letters[5:10]
    ]
    names = [f"{c}.example.com" for c in letters + "_"] + [f"a{c}.example.com" for c in letters]
    assert _searched_for("*.example.com", [*globs, *names])
    started = time.thread_time()
    assert leaves_a_domain("*.example.com", [*globs, *names])
    assert time.thread_time() - started < 3.0


def test_a_glob_less_each_of_its_domains_by_name_is_refused_within_the_bound() -> None:
    """``[a-z0-9_].example`` less each of its 37 domains by name: each is found and
    stepped around in turn, each search longer than the last, and all of them within
    the bound: the rule is refused, as it never fires."""
    names = [f"{c}.example" for c in string.ascii_lowercase + string.digits + "_"]
    assert _searched_for("[a-z0-9_].example", names[:-1])
    assert not leaves_a_domain("[a-z0-9_].example", names)
    assert leaves_a_domain("[a-z0-9_].example", names[:-1])


def test_a_search_past_its_bound_says_the_rule_may_fire() -> None:
    """``*.example.com`` less a glob of each length its first part may have and one of
    two parts or more leaves it nothing, but telling so takes a search of each length:
    past the bound, the glob is said to leave a domain in. A config refused by mistake
    is worse than a rule that never fires."""
    lengths = [f"{'?' * n}.example.com" for n in range(1, 64)]
    assert _searched_for("*.example.com", [*lengths, "*.*.example.com"])
    assert leaves_a_domain("*.example.com", [*lengths, "*.*.example.com"])


def _searched_for(glob: str, excluded: list[str]) -> bool:
    """Whether each domain tried before the search is left out: the search is made."""
    return all(any(fnmatchcase(d, e) for e in excluded) for d in _some_domains(glob))
