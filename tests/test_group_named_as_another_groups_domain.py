"""A group named as a domain another group counts (``gmail.com`` beside ``google`` of
gmail.com). Each is a label of its own, and the config works; but a silence reads the
name as the domain's, whose alerts name the other group, so ``sesd silence add``
refused the group's own mute line, pointing at ``google``, which mutes the other
group. check-config and the start warn of it, naming the group to rename; the refusal
says so too. A group named as its own member (``gmail.com`` of gmail.com) is taken by
its mute line, which mutes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sesd.alerting.silence_checks import silence_check
from sesd.alerting.silences import Silence
from sesd.commands.main import main
from sesd.config import parse_config
from sesd.config.domains import counted_elsewhere
from sesd.core import domains as core
from tests.test_cli import QUEUE
from tests.test_domains_rule_names import _RULE, _fired

pytestmark = pytest.mark.timeout(60)

_GROUPS = '"gmail.com" = ["gmail.co.uk"], google = ["gmail.com", "googlemail.com"]'


def _text(groups: str) -> str:
    return f"[domains]\ngroups = {{ {groups} }}\n{_RULE}"


def _silence(domain: str) -> Silence:
    return Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain=domain)


def _warned(groups: str) -> list[str]:
    return [w for w in parse_config(_text(groups)).warnings() if w.startswith("domains.groups")]


def test_a_group_named_as_another_groups_domain_loads_and_is_warned_of() -> None:
    """Each fires under its own label, as before; the warning names the group to
    rename and the mute line that is refused."""
    assert _fired(_text(_GROUPS), ["a@gmail.co.uk", "b@gmail.com"]) == ["gmail.com", "google"]
    assert _warned(_GROUPS) == [
        "domains.groups.\"gmail.com\": 'gmail.com' is the domain gmail.com, which the group "
        "'google' counts: its alerts' mute line (--domain gmail.com) is read as that "
        "domain's, whose alerts name 'google', and `sesd silence add` refuses it (the "
        "daemon leaves it out of the silences file); rename the group 'gmail.com' to a "
        "name that is no domain another group counts"
    ]


def test_a_group_named_so_with_a_root_dot_is_told_its_mute_line_is_taken() -> None:
    """``Gmail.com.``: the name as written reads as gmail.com's; the mute line, its dot
    a set of itself, is taken."""
    groups = '"Gmail.com." = ["x.example"], google = ["gmail.com"]'
    assert _warned(groups) == [
        "domains.groups.\"Gmail.com.\": 'Gmail.com.' is the domain gmail.com, which the "
        "group 'google' counts: a silence of the name as written (--domain Gmail.com.; "
        "their mute line, --domain 'Gmail.com[.]', is not) is read as that domain's, "
        "whose alerts name 'google', and `sesd silence add` refuses it (the daemon leaves "
        "it out of the silences file); rename the group 'Gmail.com.' to a name that is no "
        "domain another group counts"
    ]
    assert silence_check(parse_config(_text(groups)))(_silence("Gmail.com[.]")) == ""


@pytest.mark.parametrize(
    "groups",
    [
        '"gmail.com" = ["gmail.com", "googlemail.com"]',
        '"gmail.com" = ["x.example"], google = ["googlemail.com"]',
        '"Bücher.de" = ["bücher.de"]',
    ],
)
def test_a_group_named_as_its_own_or_no_groups_domain_is_warned_of_nothing(groups: str) -> None:
    assert _warned(groups) == []


@pytest.mark.parametrize(
    ("groups", "name"),
    [
        ('"gmail.com" = ["gmail.com", "googlemail.com"]', "gmail.com"),
        ('"Bücher.de" = ["bücher.de"]', "Bücher.de"),
    ],
)
def test_the_mute_line_of_a_group_named_as_its_own_member_mutes_it(groups: str, name: str) -> None:
    """It was refused as a domain counted under the group, told to write the very
    line it had."""
    assert silence_check(parse_config(_text(groups)))(_silence(name)) == ""
    assert _silence(name).matches("r", name, "info")


def test_silence_add_of_the_group_refuses_it_naming_the_group_to_rename(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal pointed at ``--domain google`` alone, which mutes the other group:
    it says the name is the group's too, and which to rename."""
    silences = tmp_path / "silences.json"
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{silences}"\n' + _text(_GROUPS))
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "gmail.com"]) == 2
    assert capsys.readouterr().err == (
        "sesd: --domain 'gmail.com' counts under the group 'google': its alerts name the "
        "group (--domain google); it names the group 'gmail.com' as well, which a silence "
        "cannot tell from the domain: rename that group\n"
    )


def test_check_config_says_the_warning_on_the_groups_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sesd.toml"
    path.write_text(QUEUE + _text(_GROUPS))
    assert main(["check-config", str(path)]) == 0
    line = len(QUEUE.splitlines()) + 2
    err = capsys.readouterr().err
    assert f"sesd: warning: {path}:{line}: domains.groups.\"gmail.com\": 'gmail.com' is" in err


def test_a_member_written_in_another_case_or_with_a_root_dot_is_the_domain_still() -> None:
    """``GMail.COM.`` is gmail.com: the group ``gmail.com`` is warned of beside it."""
    groups = '"gmail.com" = ["x.example"], google = ["GMail.COM."]'
    [warned] = _warned(groups)
    assert warned.startswith(
        "domains.groups.\"gmail.com\": 'gmail.com' is the domain gmail.com, which the "
        "group 'google' counts"
    )


_AT = "sesd.config.domains"


def test_tens_of_thousands_of_groups_named_as_domains_are_read_without_idna(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A domain's normal form (IDNA) is costly: 40,000 groups named as domains
    (``shop1.example`` of m1.example) had each name and each member put in it at every
    start, reload and check-config, a third of a second more. A name and a member in
    ASCII without spaces are read lower-cased; only a member a name may be is put in
    normal form."""
    groups = ", ".join(f'"shop{i}.example" = ["m{i}.example"]' for i in range(40_000))
    config = parse_config(f'[domains]\ngroups = {{ {groups}, "M7.example" = ["x.example"] }}\n')
    calls: list[str] = []

    def counted(real: Callable[[str], str | None]) -> Callable[[str], str | None]:
        def call(written: str) -> str | None:
            calls.append(written)
            return real(written)

        return call

    monkeypatch.setattr(f"{_AT}.normalise_domain", counted(core.normalise_domain))
    monkeypatch.setattr(f"{_AT}.domain_pattern", counted(core.domain_pattern))
    assert [w[:50] for w in counted_elsewhere(config.domains)] == [
        "domains.groups.\"M7.example\": 'M7.example' is the d"
    ]
    # The one member a name may be, and the name's mute line, said in the warning.
    assert calls == ["m7.example", "M7.example"]
