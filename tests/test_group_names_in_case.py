"""Two groups whose names one silence takes alike: in case alone (``Shop`` and
``shop``), but for a root dot (``Shop.`` and ``shop``), or in a domain's normal form
(``Bücher`` and ``xn--bcher-kva``), or a group so named beside sesd's ``other``
(``Other``, ``other.``). Each loads and fires under its own label, but a silence
takes a name in any case, without its root dot and as a domain's too, and so mutes
both: warned of, naming both and the silence, not refused (an upgrade refusing a
config that works is worse). Groups a silence tells apart, and a group named as a
mailbox provider (``sesd silence add`` asks for the ``--rule`` that tells them
apart), are warned of nothing. A group a silence of its name as written mutes none
of the alerts of (``Shop ``, ``Shop [EU]``) is warned of too, with the line that
does."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from sesd.alerting.silence_checks import silence_check
from sesd.alerting.silences import Silence
from sesd.commands.main import main
from sesd.commands.silence_provider import provider_problem
from sesd.config import parse_config
from sesd.config.domains import unmuted
from sesd.config.said_anew import new_warnings
from sesd.config.values import toml_key
from sesd.config.warned import said
from tests.test_cli import QUEUE
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


def _silence(domain: str) -> Silence:
    return Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain=domain)


def test_a_silence_takes_a_groups_name_without_its_root_dot_and_as_a_domains() -> None:
    """Why ``Shop.`` and ``shop``, or ``Bücher`` and ``xn--bcher-kva``, are one name to
    the on-call: a silence typed as ``--domain Shop.`` mutes the group ``shop`` too
    (the mute line of ``Shop.``'s alerts, ``Shop[.]``, does not), and that of
    ``Bücher``, its mute line too, the group ``xn--bcher-kva``; the other way round,
    each mutes its own group alone."""
    assert _silence("Shop.").matches("r", "Shop.", "info")
    assert _silence("Shop.").matches("r", "shop", "info")
    assert not _silence("shop").matches("r", "Shop.", "info")
    assert _silence("Shop[.]").matches("r", "Shop.", "info")
    assert not _silence("Shop[.]").matches("r", "shop", "info")
    assert _silence("Bücher").matches("r", "Bücher", "info")
    assert _silence("Bücher").matches("r", "xn--bcher-kva", "info")
    assert not _silence("xn--bcher-kva").matches("r", "Bücher", "info")


_ALIKE = "make them one group, or name them otherwise"


@pytest.mark.parametrize(
    ("groups", "warning"),
    [
        (
            '"Shop." = ["a.example"], "shop" = ["b.example"]',
            "domains.groups.shop: 'shop' and the group 'Shop.' are one name but for a root "
            "dot, which a silence drops: one of 'Shop.' as written mutes both, where their "
            "alerts' mute lines (--domain 'Shop[.]') mute each alone; " + _ALIKE,
        ),
        (
            '"shop" = ["a.example"], "SHOP\u3002" = ["b.example"]',
            "domains.groups.\"SHOP\u3002\": 'SHOP\u3002' and the group 'shop' are one name but for "
            "a root dot, which a silence drops: one of 'SHOP\u3002' as written mutes both, "
            "where their alerts' mute lines (--domain 'SHOP[\u3002]') mute each alone; " + _ALIKE,
        ),
        (
            '"Bücher" = ["a.example"], "xn--bcher-kva" = ["b.example"]',
            "domains.groups.xn--bcher-kva: 'xn--bcher-kva' and the group 'Bücher' are one name "
            "in a domain's normal form (IDNA), as a silence reads a name: one of 'Bücher' "
            "mutes both; " + _ALIKE,
        ),
        (
            '"xn--bcher-kva.de" = ["a.example"], "Bücher.DE" = ["b.example"]',
            "domains.groups.\"Bücher.DE\": 'Bücher.DE' and the group 'xn--bcher-kva.de' are one "
            "name in a domain's normal form (IDNA), as a silence reads a name: one of "
            "'Bücher.DE' mutes both; " + _ALIKE,
        ),
    ],
)
def test_groups_one_silence_takes_otherwise_load_and_are_warned_of(
    groups: str, warning: str
) -> None:
    """Each is its own label, and a rule fires on each: the config loads as it did.
    A silence of one mutes the other's alerts too (typed as written, where a root
    dot's mute line tells them apart): warned of, naming the silence that mutes both."""
    text = f"[domains]\ngroups = {{ {groups} }}\n{_RULE}"
    config = parse_config(text)
    assert [w for w in config.warnings() if w.startswith("domains.groups")] == [warning]
    assert len(_fired(text, ["x@a.example", "y@b.example"])) == 2


#: ``other`` in full-width letters, which IDNA maps to ``other``.
_WIDE_OTHER = "\uff4f\uff54\uff48\uff45\uff52"


@pytest.mark.parametrize(
    ("name", "how"),
    [
        (
            "other.",
            "are one name but for a root dot, which a silence drops: one of 'other.' as "
            "written mutes both, where their alerts' mute lines (--domain 'other[.]') "
            "mute each alone",
        ),
        (
            _WIDE_OTHER,
            "are one name in a domain's normal form (IDNA), as a silence reads a name: "
            f"one of {_WIDE_OTHER!r} mutes both",
        ),
    ],
)
def test_a_group_a_silence_of_takes_as_other_loads_and_is_warned_of(name: str, how: str) -> None:
    """``other.`` (or ``other`` in full-width letters) is no reserved name, but a
    silence of it takes sesd's ``other`` too: it loads, fires, and is warned of
    (``other.`` typed as written: its alerts' mute line, ``other[.]``, mutes it alone)."""
    text = f'[domains]\nmax_tracked = 2\ngroups = {{ "{name}" = ["a.example"] }}\n{_RULE}'
    config = parse_config(text)
    assert [w for w in config.warnings() if w.startswith("domains.groups")] == [
        f"domains.groups.\"{name}\": {name!r} and sesd's 'other' (the domains past "
        f"max_tracked) {how}; name the group otherwise"
    ]
    mail = ["x@a.example", "y@b.example", "z@c.example"]
    assert _fired(text, mail) == sorted([name, "b.example", "other"])


def test_groups_a_silence_tells_apart_are_warned_of_nothing() -> None:
    """A name whose dot is inside it (``Bücher.de`` beside ``bücher``), one that is
    another's with a letter more (``Shop.EU``, ``Shops.``), or in another script
    (``Bucher``): no silence of one takes the other."""
    groups = (
        '"Bücher.de" = ["a.example"], "bücher" = ["b.example"], "Shop" = ["c.example"], '
        '"Shop.EU" = ["d.example"], "Shops." = ["e.example"], "Bucher" = ["f.example"], '
        '"xn--bcher-kva.com" = ["g.example"]'
    )
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    assert not [w for w in config.warnings() if w.startswith("domains.groups")]
    names = list(config.domains.groups)
    assert not [(a, b) for a in names for b in names if a != b and _silence(a).matches("r", b, "i")]


@pytest.mark.parametrize(
    ("provider", "mx"), [("google", ""), ("acme", '[providers.mx]\nacme = ["mx.acme.example"]\n')]
)
def test_a_group_named_as_a_mailbox_provider_is_warned_of_nothing(provider: str, mx: str) -> None:
    """The group ``Google`` beside the provider ``google``, or ``Acme`` beside the
    config's own provider ``acme``: a silence of the name alone would mute both, but
    ``sesd silence add`` refuses it, asking for the ``--rule`` of each (of the
    config's own providers it took it, and muted both), and a rule's alerts are of
    providers or of domains: the rule tells them apart, as the mute line of either
    writes it."""
    group = provider.capitalize()
    rules = (
        f'{_RULE}[[alerts.rules]]\nname = "p"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        f'above = 0.1\nproviders = ["{provider}"]\n'
    )
    config = parse_config(f'{mx}[domains]\ngroups = {{ "{group}" = ["a.example"] }}\n{rules}')
    assert not [w for w in config.warnings() if w.startswith("domains.groups")]
    assert provider_problem(config, group, None) == (
        f"--domain {group} names the mailbox provider and the group {provider}: add --rule to "
        f"say which alerts: --rule p for the provider's; --rule r for the group {provider}'s"
    )
    assert provider_problem(config, group, "r") == ""
    assert provider_problem(config, group, "p") == ""


def test_check_config_prints_the_warnings_of_groups_named_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sesd check-config`` says each, with the file and the line of its key, and
    exits 0: the config loads."""
    groups = (
        '[domains]\ngroups = { "Shop" = ["a.example"], "shop" = ["b.example"], '
        '"Shop." = ["c.example"], "Bücher" = ["d.example"], "xn--bcher-kva" = ["e.example"] }\n'
    )
    path = tmp_path / "sesd.toml"
    path.write_text(QUEUE + groups + _RULE)
    assert main(["check-config", str(path)]) == 0
    line = len(QUEUE.splitlines()) + 2
    warned = [w for w in capsys.readouterr().err.splitlines() if "domains.groups" in w]
    assert warned == [
        f"sesd: warning: {path}:{line}: domains.groups.shop: 'shop' and the group 'Shop' "
        "differ in case alone: a silence takes a group's name in any case, and mutes both; "
        + _ALIKE,
        f"sesd: warning: {path}:{line}: domains.groups.\"Shop.\": 'Shop.' and the group "
        "'Shop' are one name but for a root dot, which a silence drops: one of 'Shop.' "
        "as written mutes both, where their alerts' mute lines (--domain 'Shop[.]') mute "
        "each alone; " + _ALIKE,
        f"sesd: warning: {path}:{line}: domains.groups.xn--bcher-kva: 'xn--bcher-kva' and "
        "the group 'Bücher' are one name in a domain's normal form (IDNA), as a silence "
        "reads a name: one of 'Bücher' mutes both; " + _ALIKE,
    ]


@pytest.mark.parametrize(
    ("groups", "warning"),
    [
        (
            '"Shop*" = ["a.example"], "shop-eu" = ["b.example"]',
            "domains.groups.shop-eu: 'shop-eu' and the group 'Shop*' are one name to a "
            "silence, which reads 'Shop*' as a glob: one of 'Shop*' as written mutes both, "
            "where their alerts' mute lines (--domain 'Shop[*]') mute each alone; " + _ALIKE,
        ),
        (
            '"Shop*" = ["a.example"], "Shop?" = ["b.example"]',
            "domains.groups.\"Shop?\": 'Shop?' and the group 'Shop*' are one name to a "
            "silence, which reads 'Shop*' as a glob: one of either as written mutes both, "
            "where their alerts' mute lines (--domain 'Shop[*]' and --domain 'Shop[?]') "
            "mute each alone; " + _ALIKE,
        ),
        (
            '"Shop*" = ["a.example"], "Shop EU" = ["b.example"]',
            "domains.groups.\"Shop EU\": 'Shop EU' and the group 'Shop*' are one name to a "
            "silence, which reads 'Shop*' as a glob: one of 'Shop*' as written mutes both, "
            "where their alerts' mute lines (--domain 'Shop[*]') mute each alone; " + _ALIKE,
        ),
        (
            '"Shop " = ["a.example"], "shop" = ["b.example"]',
            "domains.groups.shop: 'shop' and the group 'Shop ' are one name but for spaces "
            "around it, which a silence drops: one of 'Shop ' as written mutes the other, "
            "and not its own, where their alerts' mute lines (--domain 'Shop[ ]') mute "
            "each alone; " + _ALIKE,
        ),
        (
            '"[ab]" = ["a.example"], "[AB]" = ["b.example"]',
            "domains.groups.\"[AB]\": '[AB]' and the group '[ab]' differ in case alone: a "
            "silence takes a group's name in any case, and mutes both; " + _ALIKE,
        ),
    ],
)
def test_groups_named_as_globs_or_with_spaces_are_warned_of_as_a_silence_takes_them(
    groups: str, warning: str
) -> None:
    """A group's name a silence reads as a glob (``Shop*``) takes the other's (and
    ``Shop?``'s takes ``Shop*``: a silence of either mutes both); one with
    a space after it is read without, so its mute line mutes the other group and not
    its own; two in another case alone are taken alike by every silence (``[[]ab]``
    takes both), though their own names, as globs, take neither."""
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    own = unmuted(config.domains)  # Shop 's, [ab]'s: their own mute line mutes them not
    assert [w for w in config.warnings() if w.startswith("domains.groups")] == [warning, *own]


@pytest.mark.timeout(20)
def test_thousands_of_groups_named_as_globs_load_at_once_and_are_said_unmatched() -> None:
    """A silence of a name read as a glob (``Shop [EU]``) is matched with every other
    name: thousands so named took a minute at each start and reload. Matched up to a
    bound: the first are warned of as before, and the rest said not matched, naming
    the first group left: first, as a load says only the first of many warnings, and
    the hundreds before it went unshown."""
    names = ["Shop*", "shop-eu", *(f"Shop [{i}]" for i in range(4000))]
    groups = ", ".join(f'"{name}" = ["m{i}.example"]' for i, name in enumerate(names))
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    own = unmuted(config.domains)  # each Shop [N]: its own mute line mutes it not
    warned = [w for w in config.warnings() if w.startswith("domains.groups") and w not in own]
    assert len(own) == 4000
    unmatched = (
        "domains.groups: 4001 of 4002 groups' names a silence reads as globs (with *, ? "
        "or [, as 'Shop*'): too many matches of each with every other name to make at each "
        "load, and from 'Shop [314]' on they were not made, so a silence of one may mute "
        "groups not warned of here; name the groups without *, ? and ["
    )
    assert warned[:2] == [
        unmatched,
        "domains.groups.shop-eu: 'shop-eu' and the group 'Shop*' are one name to a "
        "silence, which reads 'Shop*' as a glob: one of 'Shop*' as written mutes both, "
        "where their alerts' mute lines (--domain 'Shop[*]') mute each alone; " + _ALIKE,
    ]
    assert unmatched in said(config.warnings(), str)  # as check-config and a start say
    # Each group before it, a glob's name the first takes, is warned of.
    assert len(warned) == 2 + 314


def test_a_silence_of_the_configs_own_provider_read_from_a_file_is_kept() -> None:
    """``--domain acme`` without ``--rule``, ``acme`` of ``[providers.mx]``, is refused
    when added, but one added before (or edited in) is read as before at a start or a
    reload: kept, muting the provider's alerts and those of a group named ``Acme``
    alike, as written."""
    mx = '[providers.mx]\nacme = ["mx.acme.example"]\n'
    config = parse_config(f'{mx}[domains]\ngroups = {{ "Acme" = ["a.example"] }}\n{_RULE}')
    silence = _silence("acme")
    assert silence_check(config)(silence) == ""
    assert silence.matches("r", "acme", "info")
    assert silence.matches("r", "Acme", "info")
    assert provider_problem(config, "acme", None)


def test_a_name_alike_several_is_warned_of_with_the_first() -> None:
    """``other.`` is alike sesd's ``other`` (but for a root dot) and the group
    ``OTHER.`` before it (in case), and ``shop`` alike ``shop.`` and ``SHOP``: each
    warning names the first, sesd's own ``other`` before any group, as a config reads
    from the top."""
    groups = (
        '"OTHER." = ["a.example"], "other." = ["b.example"], "shop." = ["c.example"], '
        '"SHOP" = ["d.example"], "shop" = ["e.example"]'
    )
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    own = "sesd's 'other' (the domains past max_tracked) are one name but for a root dot"
    dot = (
        "are one name but for a root dot, which a silence drops: one of 'shop.' as "
        "written mutes both, where their alerts' mute lines (--domain 'shop[.]') mute "
        "each alone"
    )
    assert [w for w in config.warnings() if w.startswith("domains.groups")] == [
        f"domains.groups.\"OTHER.\": 'OTHER.' and {own}, which a silence drops: one of "
        "'OTHER.' as written mutes both, where their alerts' mute lines (--domain "
        "'OTHER[.]') mute each alone; name the group otherwise",
        f"domains.groups.\"other.\": 'other.' and {own}, which a silence drops: one of "
        "'other.' as written mutes both, where their alerts' mute lines (--domain "
        "'other[.]') mute each alone; name the group otherwise",
        f"domains.groups.SHOP: 'SHOP' and the group 'shop.' {dot}; " + _ALIKE,
        f"domains.groups.shop: 'shop' and the group 'shop.' {dot}; " + _ALIKE,
    ]


@pytest.mark.timeout(20)
def test_a_group_named_as_a_glob_among_thousands_is_matched_with_each() -> None:
    """One name read as a glob beside thousands of groups named plainly is matched
    with each of them, within the bound: each it takes is warned of, and none left
    unmatched."""
    names = ["Shop*", *(f"shop-{i}" for i in range(3000))]
    groups = ", ".join(f'"{name}" = ["m{i}.example"]' for i, name in enumerate(names))
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    warned = [w for w in config.warnings() if w.startswith("domains.groups")]
    assert len(warned) == 3000
    assert warned[-1] == (
        "domains.groups.shop-2999: 'shop-2999' and the group 'Shop*' are one name to a "
        "silence, which reads 'Shop*' as a glob: one of 'Shop*' as written mutes both, "
        "where their alerts' mute lines (--domain 'Shop[*]') mute each alone; " + _ALIKE
    )


def _plain_groups_load(count: int) -> float:
    """CPU seconds of this thread (best of two) to load ``count`` plainly named groups
    and say the config's warnings; none of the groups' warned of."""
    groups = ", ".join(f'"Shop-{i}" = ["m{i}.example"]' for i in range(count))
    text = f"[domains]\ngroups = {{ {groups} }}\n"
    spent = []
    for _ in range(2):
        began = time.thread_time()
        config = parse_config(text)
        assert not [w for w in config.warnings() if w.startswith("domains.groups")]
        spent.append(time.thread_time() - began)
    return min(spent)


def test_tens_of_thousands_of_groups_named_plainly_load_at_once() -> None:
    """Names no silence reads as a glob are looked up, not matched with each other:
    40,000 groups so named held a start, a reload and check-config for twenty seconds
    and more, each name's match with a glob's gone through every name before it. Four
    times the groups cost about four times the CPU, not sixteen: 16,000 against 4,000,
    where the old matching took 22 s for 4,000 alone (a ratio of this thread's CPU
    time, which neither a busy machine nor coverage's tracing moves as they move a
    time: a bound in seconds failed under load)."""
    assert _plain_groups_load(16_000) < 7 * _plain_groups_load(4_000)


_SPACES = "has spaces around it, which a silence drops"
_GLOB = "is read by a silence as a glob, whose [...] takes one character"


@pytest.mark.parametrize(
    ("name", "why", "line"),
    [
        ("Shop ", _SPACES, "'Shop[ ]'"),
        ("\u3000Shop", _SPACES, "'[\u3000]Shop'"),
        ("Shop [EU]", _GLOB, "'Shop [[]EU]'"),
        ("[ab]", _GLOB, "'[[]ab]'"),
    ],
)
def test_a_group_its_name_as_written_mutes_not_loads_and_is_warned_of(
    name: str, why: str, line: str
) -> None:
    """A silence of ``Shop `` is one of ``shop``, and ``[ab]`` takes ``a`` or ``b`` (a
    tenant's, a group's), neither the group: ``sesd silence add`` refuses the name
    typed so, or takes it and mutes another label's alerts while the group's pages go
    on. It loads and fires as before, and is warned of, with the matcher its alerts'
    mute line gives, which mutes the group alone."""
    text = f'[domains]\ngroups = {{ "{name}" = ["a.example"] }}\n{_RULE}'
    config = parse_config(text)
    quoted = shlex.quote(name)
    assert [w for w in config.warnings() if w.startswith("domains.groups")] == [
        f"domains.groups.{toml_key(name)}: {name!r} {why}: a silence of the name as "
        f"written (--domain {quoted}) mutes none of the group's alerts; their mute line "
        f"gives --domain {line}, which mutes them alone (or name the group otherwise)"
    ]
    assert not _silence(name).matches("r", name, "info")
    assert _fired(text, ["x@a.example"]) == [name]


def test_groups_their_own_mute_line_mutes_are_warned_of_nothing() -> None:
    """A name with a glob's ``*`` or ``?`` (each takes itself), a root dot, a space
    inside, in another script or as a domain, or a ``[`` a glob reads as itself (no
    set closes it, or an empty one): its own mute line mutes it."""
    groups = (
        '"Shop*" = ["a.example"], "Shop?" = ["b.example"], "Shop." = ["c.example"], '
        '"Shop EU" = ["d.example"], "Bücher" = ["e.example"], "Почта" = ["f.example"], '
        '"Shop [" = ["g.example"], "a[]b" = ["h.example"]'
    )
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    assert unmuted(config.domains) == []
    assert all(_silence(name).matches("r", name, "info") for name in config.domains.groups)


@pytest.mark.parametrize("name", ["Shop EU.", "Ab Cd\u3002"])
def test_the_mute_line_of_a_group_named_with_a_space_and_a_root_dot_is_taken(
    name: str,
) -> None:
    """``Shop EU.`` is no domain, and a silence of it takes the group as written; but
    ``sesd silence add`` looked for a group named ``Shop EU``, without the dot, and
    refused the group's own mute line as naming no label, the daemon leaving it out
    of the file the same. It is taken, and mutes the group's alerts."""
    config = parse_config(f'[domains]\ngroups = {{ "{name}" = ["a.example"] }}\n{_RULE}')
    assert not [w for w in config.warnings() if w.startswith("domains.groups")]
    assert silence_check(config)(_silence(name)) == ""
    assert _silence(name).matches("r", name, "info")


def test_a_reload_says_a_new_group_its_own_mute_line_mutes_not() -> None:
    """A reload says the warnings its config brings, each told from the last config's
    with any list index left out (an entry moved is no news): the warning of a group
    ``Shop [2]`` read as that of ``Shop [1]`` before it, and went unsaid."""
    before = parse_config('[domains]\ngroups = { "Shop [1]" = ["a.example"] }\n')
    after = parse_config(
        '[domains]\ngroups = { "Shop [1]" = ["a.example"], "Shop [2]" = ["b.example"] }\n'
    )
    assert new_warnings(before, after) == unmuted(after.domains)[1:]
    assert new_warnings(after, after) == []


def test_each_group_its_own_mute_line_mutes_not_is_warned_of_among_others() -> None:
    """Each such group is warned of, wherever it comes among groups whose mute line
    mutes them, in the order the config gives them."""
    groups = '"Shop" = ["a.example"], "[ab]" = ["b.example"], "EU " = ["c.example"]'
    config = parse_config(f"[domains]\ngroups = {{ {groups} }}\n")
    assert [w.split(":")[0] for w in unmuted(config.domains)] == [
        'domains.groups."[ab]"',
        'domains.groups."EU "',
    ]


def test_a_reload_says_a_new_group_named_with_an_index_and_no_space() -> None:
    """``Shop[2]``, written without a space, is no index either: its quoted key and
    its name as the warning quotes it keep the ``[2]`` that tells it from ``Shop[1]``."""
    before = parse_config('[domains]\ngroups = { "Shop[1]" = ["a.example"] }\n')
    after = parse_config(
        '[domains]\ngroups = { "Shop[1]" = ["a.example"], "Shop[2]" = ["b.example"] }\n'
    )
    assert new_warnings(before, after) == unmuted(after.domains)[1:]
    assert new_warnings(after, after) == []


def test_a_reload_moving_a_member_of_a_group_named_with_a_dash_says_nothing() -> None:
    """A group's bare name may end in ``-``: the index after it is a member's, which a
    domain written before it moves, and a warning moved is no news at a reload."""
    before = parse_config('[domains]\ngroups = { shop- = ["a.example", "a.example"] }\n')
    after = parse_config(
        '[domains]\ngroups = { shop- = ["c.example", "a.example", "a.example"] }\n'
    )
    assert [w for w in after.warnings() if "shop-[2]" in w]
    assert new_warnings(before, after) == []


def test_a_groups_mute_line_that_takes_its_name_in_another_case_says_so() -> None:
    """``[[]ab]``, the mute line of ``[ab]``'s alerts, takes ``[AB]`` too (a silence
    takes a name in any case): the warning of each says so, not "alone"."""
    config = parse_config(
        '[domains]\ngroups = { "[ab]" = ["a.example"], "[AB]" = ["b.example"] }\n'
    )
    said = [w.rpartition("; their mute line gives ")[2] for w in unmuted(config.domains)]
    assert said == [
        "--domain '[[]ab]', which mutes them and those of the group named so in another "
        "case (or name the group otherwise)",
        "--domain '[[]AB]', which mutes them and those of the group named so in another "
        "case (or name the group otherwise)",
    ]
    assert _silence("[[]ab]").matches("r", "[AB]", "info")
