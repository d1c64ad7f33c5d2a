"""``sesd silence add --domain GLOB``: a glob that matches no label an alert names (an
address or a URL pasted in as a glob) would be listed as active while muting nothing,
and the page the on-call meant to mute goes on coming. It is refused as a rule's
domain glob is, by the same checks, on every kind of label an alert names (a domain,
a group, a provider, a tenant, an account and region), in lower case as a silence
matches it; every other glob is taken, and mutes the alerts it matches."""

from __future__ import annotations

import itertools
import json
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.alerting.silence_file import SilenceFile
from sesd.commands.main import main
from sesd.core.accounts import glob_takes_an_account, is_region
from sesd.core.globs import glob_takes_a_sequence

_EXTRA = (
    '[domains]\ngroups = { "Почта" = ["почта.рф"], "Team EU" = ["shop.example"] }\n'
    '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/sesd"\n'
)


def _add(tmp_path: Path) -> list[str]:
    """``sesd silence add`` on a config with groups and an account, but ``--domain``."""
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{_EXTRA}')
    return ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "x"]


@pytest.mark.parametrize(
    "pasted",
    [
        "*@gmail.com",  # an address, its local part made a glob
        "*.gmail.com/",  # a URL's host and slash
        "https://*.gmail.com",
        "*@*",
        "* .example",  # a space: no label has one
        "*-.example",  # no domain's part ends with '-'
        "*..example",
        "staging/*",  # no such account
        "prod-eu/eu-*/1",  # an account's label has one '/'
        "prod-eu/*[.]*",  # no region has a dot
        "[!a-z0-9_-]",  # no character a name has in lower case, as matched
    ],
)
def test_silence_add_refuses_a_glob_that_matches_no_label(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pasted: str
) -> None:
    """Each glob above matches no domain (lower case, IDNA, letters, digits, '-', '_'
    and dots), group, provider, tenant nor ACCOUNT/REGION: refused (exit 2) in one
    line naming it and why, and nothing is written."""
    assert main([*_add(tmp_path), "--domain", pasted]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"sesd: --domain {pasted!r} is a glob that matches no label an alert names (a "
        "domain is lower case, IDNA, of letters, digits, '-', '_' and dots; or a provider, "
        "tenant, group or ACCOUNT/REGION): it would mute nothing (write the domain alone, "
        "as gmail.com for ann@gmail.com)\n"
    )
    assert not (tmp_path / "silences.json").exists()


@pytest.mark.parametrize(
    ("glob", "label"),
    [
        ("*", "gmail.com"),
        ("*.gmail.com", "mail.gmail.com"),
        ("Yahoo.*", "yahoo.co.uk"),  # a domain in any case
        ("*.рф", "xn--80a1acny.xn--p1ai"),  # in IDNA form, as labels are
        ("Почт*", "Почта"),  # a group named in any script
        ("team *", "Team EU"),  # a group's name, with its space, in any case
        ("oth*", "other"),  # the domains past the cap
        ("micro*", "microsoft"),  # a provider
        ("unknow[n]", "unknown"),  # a provider rule naming it fires on it
        ("ACME_*", "Acme_Tenant-1"),  # a tenant, in any case
        ("'unkn*", "'unknown'"),  # the tenant SES names unknown
        ("prod-eu/*", "prod-eu/eu-west-1"),  # an account rule's alert
        ("PROD-EU/EU-*", "prod-eu/eu-west-1"),
        ("*/us-gov-*", "default/us-gov-west-1"),
        ("canar?", "canary"),
    ],
)
def test_silence_add_takes_a_glob_of_every_kind_of_label_and_it_mutes_that_label(
    tmp_path: Path, glob: str, label: str
) -> None:
    """A glob that matches some label is written, and the silence read back from the
    file mutes an alert on that label."""
    assert main([*_add(tmp_path), "--domain", glob]) == 0
    (silence,) = SilenceFile(str(tmp_path / "silences.json")).read()
    assert silence.domain == glob
    assert silence.matches("r", label, "warning")


def test_a_silence_glob_refused_leaves_the_silences_in_force_as_they_were(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A silence in force, then one refused: the file still holds the first alone."""
    add = _add(tmp_path)
    assert main([*add, "--domain", "gmail.com"]) == 0
    assert main([*add, "--domain", "*@gmail.com"]) == 2
    capsys.readouterr()
    assert main(["silence", "list", "--config", add[3], "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["domain"] for row in rows] == ["gmail.com"]


def test_an_account_label_is_taken_when_its_region_is_one_of_each_partitions() -> None:
    """The named regions of each partition, and one that only looks like a region: as
    the drawn ones below (five fixed names, so checked once, not at every example)."""
    for name in ("us-east-1", "us-gov-west-1", "us-iso-east-1", "us-isob-east-1", "e-w-1"):
        assert glob_takes_an_account(f"a/{name}", ["a"]) == is_region(name)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text("usgovinte-19", min_size=1, max_size=16))
def test_an_account_label_is_taken_when_its_region_is_a_region(region: str) -> None:
    """A glob without ``*``, ``?`` or ``[`` is one label: the search of
    ``ACCOUNT/REGION`` labels takes it where its region is one :func:`is_region`
    takes (its items are the same names as its pattern), for the account given only."""
    assert glob_takes_an_account(f"a/{region}", ["a"]) == is_region(region)
    assert not glob_takes_an_account(f"b/{region}", ["a"])


#: The texts of a small sequence (sesd.core.globs.glob_takes_a_sequence): one to three
#: of ``a`` and ``b``, a ``-``, up to two ``c``.
_ITEMS = (("ab", 1, 3), ("-", 1, 1), ("c", 0, 2))
_TEXTS = [
    "".join(head) + "-" + "c" * n
    for k in range(1, 4)
    for head in itertools.product("ab", repeat=k)
    for n in range(3)
]


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text("abc-*?[]!", min_size=1, max_size=7))
def test_a_glob_is_taken_when_some_text_of_a_sequence_matches_it(glob: str) -> None:
    """What the search asks of a glob agrees with trying it on every text the
    sequence makes."""
    matched = any(fnmatchcase(text, glob) for text in _TEXTS)
    assert glob_takes_a_sequence(glob, _ITEMS) == matched


def test_silence_add_refuses_a_glob_that_matches_only_a_groups_members(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A member's alerts name its group: a glob that matches no other label mutes
    nothing, and is refused as the member's name is, naming the group."""
    assert main([*_add(tmp_path), "--domain", "Shop.exampl[e]"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain 'Shop.exampl[e]' is a glob that matches only domains counted "
        "under the group 'Team EU': its alerts name the group (--domain 'Team EU')\n"
    )
    assert main([*_add(tmp_path), "--domain", "shop.exampl?"]) == 0  # shop.examplx


@pytest.mark.parametrize("glob", ["sho[p].рф", "SHO[P].РФ", "sho[p].xn--p1ai.", "sho[p].рф."])
def test_a_glob_of_a_members_name_as_people_write_it_names_the_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], glob: str
) -> None:
    """A member written in Unicode (``shop.рф``) is labelled in IDNA form: a glob of its
    name as people write it, in Unicode or with a trailing dot, matches it there, and
    is refused naming its group, as the glob written as the label is."""
    add = _add(tmp_path)
    config = Path(add[add.index("--config") + 1])
    config.write_text(config.read_text().replace('"Team EU"', '"Магазин" = ["shop.рф"], "Team EU"'))
    assert main([*add, "--domain", glob]) == 2
    assert capsys.readouterr().err == (
        f"sesd: --domain {glob!r} is a glob that matches only domains counted under the "
        "group 'Магазин': its alerts name the group (--domain 'Магазин')\n"
    )


def test_a_glob_of_members_of_two_groups_names_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A glob that matches members of two groups, and no other label, is refused naming
    both groups, either of which the silence may be written for."""
    add = _add(tmp_path)
    config = Path(add[add.index("--config") + 1])
    teams = '"Team EU" = ["shop1.example"], "Team US" = ["shop2.example"]'
    config.write_text(config.read_text().replace('"Team EU" = ["shop.example"]', teams))
    assert main([*add, "--domain", "shop[12].example"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain 'shop[12].example' is a glob that matches only domains counted under "
        "the groups 'Team EU', 'Team US': its alerts name the groups (--domain 'Team EU')\n"
    )
