"""A rule's domains as the user means them, whichever full stop they typed: a root
dot after a group's name (``Bücher.``, or a full stop of a CJK input method, which
IDNA reads as a dot) names the group, as it does after a domain's name and in a
silence; a glob's inner full stop (``*。example.com``) is a dot, as it is in a name
and in the events' domains."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.silence_checks import domain_problem
from sesd.alerting.silences import Silence
from sesd.config import ConfigError, core_settings, parse_config
from sesd.core.domains import domain_pattern, takes_glob, takes_name
from sesd.core.pipeline import Pipeline
from tests import factory as f

pytestmark = pytest.mark.timeout(60)

NOW = 1_700_000_000.0
ROOTS = [".", "\u3002", "\uff0e", "\uff61"]
STOPS = ROOTS[1:]  # a dot IDNA reads, other than ASCII's

_GROUPS = (
    '[domains]\ngroups = { "Bücher" = ["buecher.example"], "Consumer MS" = ["hotmail.com"] }\n'
)
_RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'


def _fired(config_text: str, addresses: list[str]) -> list[str]:
    """The labels the config's rule fires on after a delivery and a delay to each."""
    config = parse_config(config_text)
    pipeline = Pipeline(core_settings(config))
    for address in addresses:
        pipeline.feed(f.raw(f.delivery([address])), "q", NOW)
        pipeline.feed(f.raw(f.delay([address])), "q", NOW)
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    return sorted(a.domain for a in evaluator.evaluate(pipeline.ledger, NOW + 1))


@pytest.mark.parametrize("root", ROOTS)
def test_a_name_with_a_root_dot_takes_the_group_of_that_name(root: str) -> None:
    """The group's label is its name as the config writes it; the name with a root dot
    took it not (only a domain's normal form drops the dot). Of providers and tenants
    (no domain), nothing changes."""
    assert takes_name("Bücher", f"Bücher{root}", domains=True)
    assert takes_name("Consumer MS", f"Consumer MS{root}", domains=True)
    assert takes_name("xn--bcher-kva.de", f"Bücher.de{root}", domains=True)
    assert not takes_name("Bücher-2", f"Bücher{root}", domains=True)
    assert not takes_name("acme", f"acme{root}", domains=False)


@pytest.mark.parametrize("stop", STOPS)
def test_a_globs_inner_full_stop_is_a_dot(stop: str) -> None:
    """``*。example.com``: the glob part before the full stop was kept whole, so the
    glob matched no domain (and the config refused it); a name's full stop was read
    as a dot already."""
    assert domain_pattern(f"*{stop}example.com") == "*.example.com"
    assert domain_pattern(f"*.Bücher{stop}de") == "*.xn--bcher-kva.de"
    assert takes_glob("mail.example.com", f"*{stop}example.com", domains=True)
    assert takes_glob("mail.example.com", f"mail{stop}*", domains=True)


@pytest.mark.parametrize("root", ROOTS)
def test_a_group_glob_with_a_root_dot_takes_the_group(root: str) -> None:
    """As a name does: ``Bü*.`` takes the group Bücher."""
    assert takes_glob("Bücher", f"Bü*{root}", domains=True)


@pytest.mark.parametrize("root", ROOTS)
def test_a_rule_naming_a_group_with_a_root_dot_fires_on_it_and_check_config_agrees(
    root: str,
) -> None:
    """``domains = ["Bücher."]``: the rule watched nothing (the group's mail counts
    under ``Bücher``), check-config warned it was no group, and a group whose name is
    no domain (``Consumer MS.``) was refused as no domain name. Each now takes the
    group, fires on its mail, and says nothing; nor is the name tracked as a domain."""
    rule = f'{_GROUPS}{_RULE}domains = ["Bücher{root}", "Consumer MS{root}"]\n'
    config = parse_config(rule)
    assert not [w for w in config.warnings() if w.startswith("alerts.rules")]
    assert core_settings(config).track == ()
    mail = ["a@buecher.example", "b@hotmail.com", "c@other.example"]
    assert _fired(rule, mail) == ["Bücher", "Consumer MS"]
    excluded = f'{_GROUPS}{_RULE}exclude_domains = ["Bücher{root}"]\n'
    assert _fired(excluded, mail) == ["Consumer MS", "other.example"]


@pytest.mark.parametrize("stop", STOPS)
def test_a_rule_with_a_glob_of_an_inner_full_stop_is_taken_and_fires(stop: str) -> None:
    """``domains = ["*。example.com"]`` was refused as matching no domain; it is taken,
    and fires on the mail to a subdomain of example.com, not on example.org's."""
    rule = f'{_RULE}domains = ["*{stop}example.com"]\n'
    assert _fired(rule, ["a@mail.example.com", "b@mail.example.org"]) == ["mail.example.com"]


def test_a_name_no_group_has_is_still_warned_of_with_its_root_dot() -> None:
    """``Bücherei.`` is no group's name with or without the dot: warned of as before."""
    (warning,) = [
        w
        for w in parse_config(f'{_GROUPS}{_RULE}domains = ["Bücherei."]\n').warnings()
        if w.startswith("alerts.rules")
    ]
    assert "'Bücherei.', which is no group of [domains] groups" in warning
    with pytest.raises(ConfigError, match="which is no domain name"):
        parse_config(f'{_GROUPS}{_RULE}domains = ["Consumer M."]\n')


@pytest.mark.parametrize("stop", STOPS)
def test_a_silences_glob_of_an_inner_full_stop_mutes_what_it_names(stop: str) -> None:
    """A silence reads its glob as a rule does: ``*。example.com`` mutes
    mail.example.com's alerts, not mail.example.org's."""
    silence = Silence(
        id="s1", comment="c", starts_at=0.0, ends_at=None, domain=f"*{stop}example.com"
    )
    assert silence.matches("r", "mail.example.com", "info")
    assert not silence.matches("r", "mail.example.org", "info")


@pytest.mark.parametrize("root", ROOTS)
def test_an_exclusion_of_the_group_a_rule_names_with_a_root_dot_is_refused(root: str) -> None:
    """``domains = ["Consumer MS."]`` beside ``exclude_domains = ["Consumer MS"]``
    leaves out the one group the rule watches: it would never fire, and is refused as
    the same names without the dot are (the name with it was compared as written, a
    label no group has)."""
    with pytest.raises(ConfigError, match="it would never fire"):
        parse_config(
            f'{_GROUPS}{_RULE}domains = ["Consumer MS{root}"]\nexclude_domains = ["Consumer MS"]\n'
        )


@pytest.mark.parametrize("written", ["Consumer MS.", "Consumer MS\u3002", "consumer ms"])
def test_a_silence_of_a_group_as_a_rule_names_it_is_taken(written: str) -> None:
    """A silence mutes a group's alerts by its name in any case, a root dot after it or
    not, as a rule names it; ``sesd silence add`` refused ``Consumer MS.`` as naming
    no label, and so the on-call could not mute the group as the rule writes it."""
    config = parse_config(_GROUPS + _RULE)
    assert domain_problem(config, written) == ""
    silence = Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain=written)
    assert silence.matches("r", "Consumer MS", "info")
    assert "names no domain" in domain_problem(config, "Consumer M.")


@pytest.mark.parametrize("written", ["Bücher. ", " Bücher", "Bücher\u3002 ", "\tConsumer MS "])
def test_a_groups_name_with_spaces_around_it_names_the_group(written: str) -> None:
    """``domains = ["Bücher. "]``: spaces inside the quotes are a typo, dropped as a
    domain's are and as a silence drops them. The rule watched a domain ``bücher`` no
    recipient has (tracked as one), and check-config warned the name was no group.
    It now takes the group, fires on its mail and says nothing; leaving it out takes
    the group out."""
    group = written.strip().rstrip("".join(ROOTS))
    assert takes_name(group, written, domains=True)
    assert takes_glob("Bücher", "Bü* ", domains=True)
    rule = f'{_GROUPS}{_RULE}domains = ["{written}"]\n'
    config = parse_config(rule)
    assert not [w for w in config.warnings() if w.startswith("alerts.rules")]
    assert core_settings(config).track == ()
    mail = ["a@buecher.example", "b@hotmail.com", "c@other.example"]
    assert _fired(rule, mail) == [group]
    excluded = f'{_GROUPS}{_RULE}exclude_domains = ["{written}"]\n'
    assert group not in _fired(excluded, mail)


@pytest.mark.parametrize(
    ("watched", "excluded"),
    [
        ('"Bücher"', '"Bü*"'),
        ('"Bücher."', '"Bü*"'),
        ('"Bücher"', '"Bü*."'),
        ('"Bücher", "Consumer MS"', '"Bü*", "Consumer*"'),
    ],
)
def test_an_exclusion_glob_of_the_group_a_rule_names_is_refused(
    watched: str, excluded: str
) -> None:
    """``domains = ["Bücher"]`` beside ``exclude_domains = ["Bü*"]``: the glob takes the
    group's label, so the rule never fires. It was accepted (the name was compared in
    its normal form, ``xn--bcher-kva``, which the glob does not take, a label no mail
    has); it is refused as ``exclude_domains = ["Bücher"]`` is, with the same words."""
    rule = f"{_GROUPS}{_RULE}domains = [{watched}]\nexclude_domains = [{excluded}]\n"
    listed = watched.replace('"', "")
    with pytest.raises(ConfigError) as refused:
        parse_config(rule)
    assert str(refused.value) == (
        "alerts.rules[0] (r).exclude_domains: leaves out every one of the domains the rule "
        f"watches ({listed}): it would never fire"
    )


def test_an_exclusion_of_the_domain_a_groups_name_spells_is_not_refused() -> None:
    """A group named ``Microsoft`` is its own label: ``exclude_domains = ["microsoft"]``
    (the domain ``microsoft``, which the name is in normal form) leaves the group in,
    and the rule fires on its mail, so the config is not refused as one that never
    fires."""
    groups = '[domains]\ngroups = { "Microsoft" = ["hotmail.com"] }\n'
    rule = f'{groups}{_RULE}domains = ["Microsoft"]\nexclude_domains = ["microsoft"]\n'
    assert _fired(rule, ["a@hotmail.com"]) == ["Microsoft"]


@pytest.mark.parametrize(
    ("watched", "excluded"),
    [
        ('"*.example"', '"*."'),
        ('"*.example"', '"* "'),
        ('"*.example"', '"*\u3002"'),
        ('"*.example"', '"*.example "'),
        ('"*.example", "Bücher"', '"*.Example.", "Bü*"'),
    ],
)
def test_an_exclusion_glob_that_is_the_rules_own_as_written_otherwise_is_refused(
    watched: str, excluded: str
) -> None:
    """``exclude_domains = ["*."]`` is ``*`` to the evaluator (a root dot, spaces and
    case dropped, as a domain's are), and ``"*.example "`` the rule's own glob: the
    rule never fires. Only ``*`` and the glob as the rule writes it were refused; the
    others loaded, and the rule never fired."""
    rule = f"{_GROUPS}{_RULE}domains = [{watched}]\nexclude_domains = [{excluded}]\n"
    # As the evaluator takes labels: each the rule watches is left out.
    patterns = excluded.replace('"', "").split(", ")
    assert takes_glob("x.example", patterns[0], domains=True)
    assert all(takes_glob("Bücher", glob, domains=True) for glob in patterns[1:])
    with pytest.raises(ConfigError, match="would never fire"):
        parse_config(rule)


@pytest.mark.parametrize("key", ["domains", "exclude_domains"])
def test_a_groups_name_in_another_case_is_told_the_group(key: str) -> None:
    """A rule names a group as written, in its case: ``microsoft`` beside the group
    ``Microsoft`` is the domain ``microsoft``, no recipient's (a silence takes the
    group in any case, a rule does not). The warning pointed at a rule on providers,
    and ``consumer ms`` was refused as no domain name, with how to write a domain:
    neither named the group meant. Both now do."""
    groups = '[domains]\ngroups = { "Microsoft" = ["outlook.com"], "Consumer MS" = ["live.com"] }\n'
    watched = "" if key == "domains" else 'domains = ["*"]\n'
    config = parse_config(f'{groups}{_RULE}{watched}{key} = ["microsoft."]\n')
    (warning,) = [w for w in config.warnings() if w.startswith("alerts.rules")]
    assert warning.endswith(
        "(the group 'Microsoft'? a rule names a group as its name is written, in its case)"
    )
    with pytest.raises(ConfigError) as refused:
        parse_config(f'{groups}{_RULE}{watched}{key} = ["consumer ms"]\n')
    assert str(refused.value) == (
        f"alerts.rules[0] (r).{key}[0]: 'consumer ms', which is no domain name (the group "
        "'Consumer MS'? a rule names a group as its name is written, in its case)"
    )


@pytest.mark.parametrize(
    ("watched", "excluded", "label"),
    [
        ("*.рф", "*.xn--p1ai", "xn--80aa0cbo65f.xn--p1ai"),
        ("*.Example.com. ", "*.example.com", "shop.example.com"),
        ("*.example.com.", "*.example.com", "shop.example.com"),
        ("*.example", "**", "shop.example"),
        ("Bü[c]her", "Bücher", "Bücher"),
    ],
)
def test_a_glob_written_otherwise_than_its_exclusion_is_refused(
    watched: str, excluded: str, label: str
) -> None:
    """The rule's glob written otherwise than its exclusion (``*.рф`` less
    ``*.xn--p1ai``), or an exclusion of stars alone (``**``, which is ``*``): each
    domain the glob takes is in normal form, which the exclusion takes too, and it
    takes no group the exclusion leaves in, so the rule never fires. Only an exclusion
    written otherwise than the rule's glob was refused; these loaded."""
    # As the evaluator takes labels: what the rule watches is left out.
    assert takes_glob(label, watched, domains=True)
    assert takes_glob(label, excluded, domains=True)
    with pytest.raises(ConfigError, match="would never fire"):
        parse_config(f'{_GROUPS}{_RULE}domains = ["{watched}"]\nexclude_domains = ["{excluded}"]\n')


@pytest.mark.parametrize(
    ("groups", "watched", "excluded", "address", "label"),
    [
        # A group's name as written is a label no exclusion in normal form takes.
        ('"Магазин.рф" = ["shop.example"]', "*.рф", "*.xn--p1ai", "a@shop.example", "Магазин.рф"),
        # [!A] takes a domain that [!a], read in lower case, does not.
        ('"Bücher" = ["b.example"]', "[!A]*.example", "[!a]*.example", "a@a.example", "a.example"),
    ],
)
def test_a_glob_that_takes_a_label_its_exclusion_leaves_in_is_taken(
    groups: str, watched: str, excluded: str, address: str, label: str
) -> None:
    """Alike as written, not as read: the rule fires on what the exclusion leaves in."""
    config = f"[domains]\ngroups = {{ {groups} }}\n{_RULE}"
    config += f'domains = ["{watched}"]\nexclude_domains = ["{excluded}"]\n'
    assert _fired(config, [address]) == [label]
