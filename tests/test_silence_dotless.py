"""``sesd silence add --domain NAME`` with a name without a dot: added as written (an
alert may carry it: a tenant's, a recipient domain such as ``localhost``; a page's own
mute line must not be refused), with a note on what it mutes and what was most likely
meant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sesd.alerting.silence_checks import silence_check
from sesd.alerting.silences import Silence
from sesd.commands.main import main
from sesd.config import parse_config

pytestmark = pytest.mark.timeout(30)

RULES = (
    '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    '[[alerts.rules]]\nname = "corp"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    'domains = ["Corp.Example", "corp-mail.example"]\n'
    '[[alerts.rules]]\nname = "provider-delays"\nmetric = "delay_ratio"\n'
    'window = "15m"\nabove = 0.05\nproviders = ["*"]\n'
    '[domains]\ngroups = { Big = ["big.example"] }\n'
    '[providers.mx]\ncorp-gateway = ["mx.corp.example"]\n'
)


def _config(tmp_path: Path) -> str:
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{RULES}')
    return str(path)


def _added(tmp_path: Path) -> list[str]:
    document = json.loads((tmp_path / "silences.json").read_text())
    return [entry["domain"] for entry in document["silences"]]


@pytest.mark.parametrize(
    ("domain", "note"),
    [
        (
            "gmail",
            "--domain gmail has no dot: it mutes the alerts of a tenant, or of a recipient "
            "domain, of that very name; for gmail.com's, --domain gmail.com; for its mailbox "
            "provider's, --domain google --rule provider-delays",
        ),
        (
            "Corp.",
            "--domain corp has no dot: it mutes the alerts of a tenant, or of a recipient "
            "domain, of that very name; for corp.example's, --domain corp.example",
        ),
        (
            "localhost",
            "--domain localhost has no dot: it mutes the alerts of a tenant, or of a recipient "
            "domain, of that very name; for a domain's, write it whole (gmail.com)",
        ),
    ],
)
def test_a_name_without_a_dot_is_added_with_a_note_on_what_it_mutes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], domain: str, note: str
) -> None:
    add = ["silence", "add", "--config", _config(tmp_path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", domain]) == 0
    assert capsys.readouterr().err == f"sesd: note: {note}\n"
    assert _added(tmp_path) == [domain]


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",  # a domain
        "gma*",  # a glob: checked as globs are
        "google",  # a provider
        "corp-gateway",  # the config's own provider
        "canary",
        "other",
        "big",  # a group, in any case
        "BIG",
        "default/us-east-1",  # an account and region
    ],
)
def test_a_name_an_alert_of_this_config_carries_gets_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], domain: str
) -> None:
    add = ["silence", "add", "--config", _config(tmp_path), "--for", "1h", "--comment", "c"]
    add += ["--rule", "provider-delays"] if domain in ("google", "corp-gateway", "other") else []
    assert main([*add, "--domain", domain]) == 0
    assert capsys.readouterr().err == ""


def test_the_daemon_keeps_a_silence_of_a_name_without_a_dot(tmp_path: Path) -> None:
    """What the page's mute line names (a recipient domain ``localhost``, a tenant) is
    muted: the daemon does not leave such a silence out of the file."""
    config = parse_config(f'[alerts]\nsilences_path = "{tmp_path / "s.json"}"\n{RULES}')
    check = silence_check(config)
    for name in ("localhost", "gmail", "acme"):
        silence = Silence(id="a1", comment="c", starts_at=0.0, ends_at=None, domain=name)
        assert check(silence) == "", name


NAMED = (
    '[[alerts.rules]]\nname = "tenant-delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    'above = 0.1\ntenants = ["Acme", "beta-*", "*"]\n'
    '[[alerts.rules]]\nname = "intranet"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    'above = 0.1\ndomains = ["intranet", "Büro"]\n'
    "[tenants]\nenabled = true\n"
)


@pytest.mark.parametrize(
    "domain",
    [
        "acme",  # a tenant a rule names, in any case
        "ACME",
        "beta-eu",  # one a rule's glob takes
        "intranet",  # a recipient domain without a dot a rule names
        "Intranet.",
        "büro",  # in any spelling a rule takes
        "xn--bro-hoa",
    ],
)
def test_a_name_a_rule_watches_by_name_gets_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], domain: str
) -> None:
    """The one who typed a tenant or a domain a rule names meant it: a note saying what
    they most likely meant instead would be noise at 3 a.m."""
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{NAMED}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", domain]) == 0
    assert capsys.readouterr().err == ""
    assert _added(tmp_path) == [domain]


def test_a_rule_on_every_tenant_still_gets_the_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``*`` watches every tenant: it says nothing of whether ``gmail`` is one."""
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{NAMED}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "gmail"]) == 0
    assert "--domain gmail has no dot" in capsys.readouterr().err


def test_no_note_when_the_silence_is_not_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A note on what a silence mutes, beside the error that refused it, would read as
    if it were added."""
    add = ["silence", "add", "--config", _config(tmp_path), "--for", "-1h", "--comment", "c"]
    assert main([*add, "--domain", "gmail"]) != 0
    err = capsys.readouterr().err
    assert "positive time" in err
    assert "note" not in err


def test_a_domain_meant_that_counts_under_a_group_is_told_as_the_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--domain gmail.com`` is refused where gmail.com counts under a group: the note
    gives the line that is taken."""
    path = tmp_path / "sesd.toml"
    rules = RULES.replace('Big = ["big.example"]', 'Big = ["big.example"], Mail = ["gmail.com"]')
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{rules}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "gmail"]) == 0
    assert "for gmail.com's, --domain Mail;" in capsys.readouterr().err
    assert main([*add, "--domain", "Mail"]) == 0


def test_each_line_the_note_gives_is_taken_where_the_group_is_named_as_a_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped configs count outlook.com and hotmail.com under a group named
    microsoft, the mailbox provider's name too: ``--domain microsoft`` alone is refused
    (which alerts?), so the note gives the group's line with the ``--rule`` that
    watches it. A consumer glob (``hotmail.*``) is given as typed, and the group its
    members counted under are named for: its alerts name the group, not the glob's
    domains. Each line the note gives is then taken."""
    path = tmp_path / "sesd.toml"
    rules = RULES.replace(
        'Big = ["big.example"]', 'Big = ["big.example"], microsoft = ["outlook.com", "hotmail.com"]'
    )
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{rules}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    group = "--domain microsoft --rule delays"
    for typed, told in (
        ("outlook", [f"for outlook.com's, {group}", "for outlook.*'s, --domain 'outlook.*'"]),
        (
            "hotmail",
            [f"for hotmail.*'s, --domain 'hotmail.*' (under the group microsoft: {group})"],
        ),
    ):
        assert main([*add, "--domain", typed]) == 0
        err = capsys.readouterr().err
        for line in told:
            assert line in err, err
    for line in (group, "--domain hotmail.*", "--domain outlook.*"):
        assert main([*add, *line.split()]) == 0, capsys.readouterr().err


def test_a_group_told_for_a_domain_meant_is_given_as_its_own_label_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The group ``Mail [x]``: the note gives ``--domain 'Mail [[]x]'``, which is taken
    and mutes that group (the name as written is a glob that matches no label)."""
    path = tmp_path / "sesd.toml"
    rules = RULES.replace(
        'Big = ["big.example"]', 'Big = ["big.example"], "Mail [x]" = ["gmail.com"]'
    )
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{rules}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "gmail"]) == 0
    assert "for gmail.com's, --domain 'Mail [[]x]';" in capsys.readouterr().err
    assert main([*add, "--domain", "Mail [[]x]"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("domain", ["Shop.", "shop.", " SHOP. "])
def test_a_group_named_with_a_root_dot_typed_as_written_gets_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], domain: str
) -> None:
    """``--domain Shop.`` takes the group ``Shop.``'s alerts (its mute line is
    ``Shop[.]``): the note said it muted a tenant's or a domain's of that very name."""
    path = tmp_path / "sesd.toml"
    path.write_text(
        f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n'
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.1\n[domains]\ngroups = { "Shop." = ["a.example"] }\n'
    )
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", domain]) == 0
    assert capsys.readouterr().err == ""
    assert Silence(id="s", comment="c", starts_at=0.0, ends_at=None, domain=domain).matches(
        "delays", "Shop.", "info"
    )
