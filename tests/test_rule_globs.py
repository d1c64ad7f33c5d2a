"""A rule's domain and provider globs: one that can take no label the rule's scope
has (an address or a URL pasted in as a glob, a space, a character no domain has, a
provider sesd does not know) would watch nothing, or, left out, leave out nothing
(the rule pages on what was meant to be left out), so the config refuses it, naming
the key; one that can take a label (a domain in its normal form, a group's name,
``other``) is taken."""

from __future__ import annotations

import gc
import itertools
import sys
import tracemalloc
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.alerting.alert import Alert
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import Config, ConfigError, core_settings, parse_config
from sesd.core.domains import normalise_domain
from sesd.core.globs import glob_takes_a_domain
from sesd.core.pipeline import Pipeline
from tests.test_tenants import NOW, _event

_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
_GROUPS = '[domains]\ngroups = {"Team EU" = ["shop.example"], microsoft = ["outlook.com"]}\n'
#: A second rule, leaving out what the first watches.
_SECOND = _RULE.replace('"r"', '"s"')
_PROVIDERS = '[providers]\nenabled = true\nmx = {acme = ["mx.acme.example"]}\n'


def _fired_on_shop(config: Config) -> list[Alert]:
    """What ``config``'s rules fire on after two deliveries and two delays to
    shop.example."""
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    for k in range(4):
        kind = "delay" if k % 2 else "delivery"
        pipeline.feed(_event(kind, f"u{k}@shop.example"), "q", NOW)
    return evaluator.evaluate(pipeline.ledger, NOW + 1)


@pytest.mark.parametrize(
    ("watched", "message"),
    [
        # An address pasted in as a glob: no label holds an '@'.
        (
            'domains = ["*@gmail.com"]',
            "alerts.rules[0] (r).domains[0]: '*@gmail.com', a glob that matches no "
            "domain name nor group",
        ),
        # Left out: the rule would go on paging on every gmail.com address.
        (
            'exclude_domains = ["*@gmail.com"]',
            "alerts.rules[0] (r).exclude_domains[0]: '*@gmail.com', a glob that matches",
        ),
        ('domains = ["*.gmail.com/"]', "domains[0]: '*.gmail.com/', a glob that matches no"),
        ('exclude_domains = ["* .example"]', "exclude_domains[0]: '* .example', a glob"),
        # No domain's part starts or ends with '-', nor is empty, nor is 64 long.
        ('domains = ["*-.example"]', "domains[0]: '*-.example', a glob that matches no"),
        ('domains = ["*..example"]', "domains[0]: '*..example', a glob that matches no"),
        ('domains = ["' + "x" * 64 + '.*"]', "a glob that matches no domain name"),
        # Labels are ASCII: Unicode is matched in IDNA form only where it is a whole part.
        ('domains = ["*рф"]', "domains[0]: '*рф', a glob that matches no domain name"),
        # A group's name is matched as written: a glob of another name takes nothing.
        ('domains = ["Team *"]', "domains[0]: 'Team *', a glob that matches no domain name"),
    ],
)
def test_a_domain_glob_that_matches_no_label_is_refused(watched: str, message: str) -> None:
    """Each glob above can take no domain label (lower case, IDNA, parts of letters,
    digits, '_' and '-'), no group's name and not ``other``: refused in one line."""
    with pytest.raises(ConfigError) as info:
        parse_config(f"{_RULE}{watched}\n")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "glob",
    [
        "*.com",
        "*-*.example",
        "Yahoo.*",  # in normal form, yahoo.*, as labels are matched
        "*.рф",  # *.xn--p1ai
        "*.Bücher.de",
        "[a-z]*.example",
        "?" * 64,  # two parts
        "oth*",  # sesd's `other`, the domains past the cap
        "Team*",  # the group "Team EU"
        "micro*",
    ],
)
def test_a_domain_glob_that_can_match_a_label_is_taken(glob: str) -> None:
    """A glob that takes some domain in its normal form, a group's name as written, or
    ``other`` is taken, in domains and exclude_domains alike."""
    rules = f'{_GROUPS}{_RULE}domains = ["{glob}"]\n{_SECOND}exclude_domains = ["{glob}"]\n'
    assert parse_config(rules).alerts.rules[0].domains == [glob]


def test_a_group_with_a_space_in_its_name_can_be_named_by_a_rule() -> None:
    """A group's name may hold a space (or be in any script): a rule names it as
    written, as its label is, and fires on its members' delays."""
    config = parse_config(f'{_GROUPS}{_RULE}domains = ["Team EU"]\n')
    fired = _fired_on_shop(config)
    assert [(a.kind, a.domain) for a in fired] == [(Transition.FIRING, "Team EU")]


def test_a_glob_in_capitals_takes_a_group_named_in_lower_case() -> None:
    """A domain glob is matched as written and in lower case, as domains are named:
    ``Team *`` takes the group ``team eu``, no domain's name (a space), and the rule
    fires on its members' delays."""
    groups = '[domains]\ngroups = {"team eu" = ["shop.example"]}\n'
    config = parse_config(f'{groups}{_RULE}domains = ["Team *"]\n')
    fired = _fired_on_shop(config)
    assert [(a.kind, a.domain) for a in fired] == [(Transition.FIRING, "team eu")]


@pytest.mark.parametrize("glob", ["[!A-Z0-9_]*.example.", " [!A-Z0-9_]*.example "])
def test_a_glob_with_a_root_dot_takes_what_it_takes_without_it(glob: str) -> None:
    """A domain glob is matched as written, without a root dot nor spaces around it, and
    in lower case. Without its root dot, a glob whose set leaves out capitals takes
    ``shop.example`` (a lower-case letter first), though in lower case (``[!a-z0-9_]``)
    it takes no domain: the config takes it, and the rule fires on that domain."""
    rules = f'{_RULE}domains = ["{glob}"]\n{_SECOND}exclude_domains = ["{glob}"]\n'
    config = parse_config(rules)
    fired = _fired_on_shop(config)
    assert [(a.rule, a.kind, a.domain) for a in fired] == [("r", Transition.FIRING, "shop.example")]


@pytest.mark.parametrize("key", ["providers", "exclude_providers"])
@pytest.mark.parametrize("glob", ["gmail*", "*.com", "Goog*"])
def test_a_provider_glob_that_matches_no_provider_is_refused(key: str, glob: str) -> None:
    """Provider labels are the built-in names and ``[providers] mx``'s: a glob none of
    them matches (a domain's, or written in upper case: labels are lower case) watches
    nothing, or leaves out nothing, as an unknown name would."""
    watched = f'providers = ["{glob}"]' if key == "providers" else 'providers = ["*"]'
    if key == "exclude_providers":
        watched += f'\nexclude_providers = ["{glob}"]'
    with pytest.raises(ConfigError) as info:
        parse_config(f"{_PROVIDERS}{_RULE}{watched}\n")
    assert f"{key}[0]: {glob!r}, a glob that matches no provider sesd knows" in str(info.value)


@pytest.mark.parametrize("glob", ["goo*", "ac?e", "[a-z]*", "oth*", "*soft"])
def test_a_provider_glob_that_can_match_a_provider_is_taken(glob: str) -> None:
    """A glob that takes a built-in provider, one of ``[providers] mx`` or ``other``
    is taken, in providers and exclude_providers alike."""
    rules = (
        f'{_PROVIDERS}{_RULE}providers = ["{glob}"]\n'
        f'{_SECOND}providers = ["*"]\nexclude_providers = ["{glob}"]\n'
    )
    assert parse_config(rules).alerts.rules[0].providers == [glob]


#: Every domain label of up to six characters drawn from those the globs below use (a
#: set or ``?`` finds one of them): enough to hold a match of any of them when one
#: exists (a star may need a character beside a '-' or a '.').
_GLOB_CHARACTERS = "ab.-*?[]! "
_SHORT_LABELS = [
    text
    for n in range(1, 7)
    for chars in itertools.product("ab.-", repeat=n)
    if normalise_domain(text := "".join(chars)) == text
]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(_GLOB_CHARACTERS, min_size=1, max_size=5))
def test_a_domain_glob_is_taken_when_some_domain_label_matches_it(glob: str) -> None:
    """What the config asks of a rule's domain glob agrees with trying it on every
    short domain label it could take."""
    matched = any(fnmatchcase(label, glob) for label in _SHORT_LABELS)
    assert glob_takes_a_domain(glob) == matched


def test_a_domain_glob_is_held_to_the_length_of_a_domain_name() -> None:
    """253 characters at most, 63 in one part: a longer match is no domain's. A glob
    whose shortest match has a longer part may still take a domain with a dot more
    (a star takes it)."""
    assert glob_takes_a_domain("?" * 63)
    assert not glob_takes_a_domain("a" * 64 + "*")
    assert glob_takes_a_domain(".".join(["?" * 63] * 3) + ".?*")  # 253
    assert not glob_takes_a_domain(".".join(["?" * 63] * 4))  # 255
    assert glob_takes_a_domain("a" * 60 + "*-" + "a" * 10)  # a*60 + ".a-" + a*10
    assert glob_takes_a_domain("*a" * 250)  # three dots: 253
    assert not glob_takes_a_domain("*a" * 251)
    assert not glob_takes_a_domain("a" * 60 + "[a-]" * 4 + "-*")
    assert not glob_takes_a_domain("a" * 62 + "*-?" + "a" * 62)  # '-' neither ends a part


@pytest.mark.parametrize("glob", ["*-" * 150, "*." * 150, "[a-]*" * 100 + "-"])
def test_a_long_glob_that_takes_no_domain_is_told_so_in_a_few_steps(glob: str) -> None:
    """A glob of hundreds of characters (pasted or edited in) that no domain matches:
    the search counted each part's length, tens of thousands of steps, a quarter of a
    second for ``*-`` 150 times, at each check of a rule's glob or of a silence's (at
    each reload). Measured by the memory the steps take (the time is noisy here)."""
    glob_takes_a_domain(glob)
    # Only the search's own memory is counted: tracemalloc counts every thread's, and
    # what a collection's finalisers make. In a worker with a server's thread and an
    # earlier test's leftovers, those once passed the bound: leftovers are collected
    # first, and while measured nothing is collected and no other thread runs (the
    # search never blocks, so it keeps the interpreter for the switch interval).
    gc.collect()
    interval, collecting = sys.getswitchinterval(), gc.isenabled()
    gc.disable()
    sys.setswitchinterval(60.0)
    tracemalloc.start()
    try:
        assert not glob_takes_a_domain(glob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()
    assert peak < 1 << 20, peak  # 6-8 MB, counted


@pytest.mark.parametrize("key", ["domains", "exclude_domains"])
@pytest.mark.parametrize(
    ("glob", "groups"),
    [
        ("outlook.co[m]", "'microsoft'"),
        ("Outlook.CO[M]", "'microsoft'"),  # in normal form, as labels are matched
        ("[h]otmail.com", "'microsoft'"),
        ("[hs]hop.example", "'Team EU', 'microsoft'"),  # one of each group
    ],
)
def test_a_domain_glob_that_matches_only_group_members_is_refused(
    key: str, glob: str, groups: str
) -> None:
    """A group's members count under the group's label, never their own: a glob that
    matches no domain but members (and no group's name, nor ``other``) would watch
    nothing, or leave out nothing. Refused as a member named is, naming the groups."""
    members = (
        '[domains]\ngroups = {"Team EU" = ["shop.example"], '
        'microsoft = ["outlook.com", "hotmail.com", "hhop.example"]}\n'
    )
    watched = "" if key == "domains" else 'domains = ["*"]\n'
    with pytest.raises(ConfigError) as info:
        parse_config(f'{members}{_RULE}{watched}{key} = ["{glob}"]\n')
    group = "group" if "," not in groups else "groups"
    assert str(info.value) == (
        f"alerts.rules[0] (r).{key}[0]: {glob!r}, a glob that matches only domains "
        f"counted in {group} {groups}: name the {group} instead ({key} = [{groups}])"
    )


@pytest.mark.parametrize("glob", ["outlook.co?", "outlook.*", "*.com", "[ho]*.com"])
def test_a_domain_glob_that_matches_a_domain_besides_the_members_is_taken(glob: str) -> None:
    """A glob that takes a member and some other domain (``outlook.coa``) watches
    that domain: taken."""
    rules = f'{_GROUPS}{_RULE}domains = ["{glob}"]\n{_SECOND}exclude_domains = ["{glob}"]\n'
    assert parse_config(rules).alerts.rules[0].domains == [glob]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.text(_GLOB_CHARACTERS, min_size=1, max_size=5),
    st.lists(st.sampled_from(_SHORT_LABELS[:200]), max_size=4),
)
def test_a_domain_glob_besides_some_domains_agrees_with_trying_it(
    glob: str, besides: list[str]
) -> None:
    """Whether a glob takes a domain label other than ``besides`` agrees with trying
    it on every short label but those."""
    matched = any(fnmatchcase(label, glob) for label in _SHORT_LABELS if label not in besides)
    assert glob_takes_a_domain(glob, besides) == matched
