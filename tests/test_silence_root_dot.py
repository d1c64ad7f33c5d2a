"""A silence's ``--domain`` with a root dot typed after the name, as ``.`` or as a
full stop of a CJK input method (ideographic ``。``, full-width U+FF0E, half-width
U+FF61), which IDNA reads as a dot: it mutes what the name alone mutes, a group's
(whose name is no domain) as a domain's, in ``sesd silence add`` and in the daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.alerting.silence_checks import silence_check
from sesd.alerting.silences import Silence
from sesd.commands.main import main
from sesd.config import parse_config

pytestmark = pytest.mark.timeout(30)

CONFIG = (
    '[domains]\ngroups = { "Bücher" = ["buecher.example"] }\n'
    '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
)
ROOTS = [".", "\u3002", "\uff0e", "\uff61"]


def _silence(domain: str) -> Silence:
    return Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain=domain)


@pytest.mark.parametrize("root", ROOTS)
def test_a_name_with_a_root_dot_mutes_what_the_name_alone_mutes(root: str) -> None:
    """The group Bücher's alerts (labelled with its name as the config writes it), a
    domain's, a glob's."""
    assert _silence(f"Bücher{root}").matches("delays", "Bücher", "info")
    assert _silence(f"outlook.com{root}").matches("delays", "outlook.com", "info")
    assert _silence(f"*.Bücher.de{root}").matches("delays", "a.xn--bcher-kva.de", "info")
    assert not _silence(f"Bücher{root}").matches("delays", "Bücher-2", "info")


@pytest.mark.parametrize("root", ROOTS)
def test_silence_add_takes_a_name_with_a_root_dot_and_the_daemon_keeps_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], root: str
) -> None:
    """Added as the name alone is: no refusal ("names no domain"), and no note that it
    has no dot and mutes a domain of that very name (it names the group); the daemon's
    check of the file finds nothing wrong with it."""
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{CONFIG}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    check = silence_check(parse_config(path.read_text()))
    for name in (f"Bücher{root}", f"outlook.com{root}"):
        assert main([*add, "--domain", name]) == 0, capsys.readouterr().err
        assert capsys.readouterr().err == ""
        assert check(_silence(name)) == ""


@pytest.mark.parametrize("group", ["Bücher.", "shop\u3002"])
def test_the_mute_line_of_a_group_named_with_its_root_dot_gets_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], group: str
) -> None:
    """A group may be named with a root dot after it, and a silence of its name as
    written mutes its alerts: no note that the name has no dot and mutes a tenant or a
    domain of that very name, which would send the on-call engineer after another."""
    config = CONFIG.replace('"Bücher"', f'"{group}"')
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{config}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", group]) == 0
    assert capsys.readouterr().err == ""
    assert _silence(group).matches("delays", group, "info")
    assert silence_check(parse_config(path.read_text()))(_silence(group)) == ""


def test_the_mute_line_of_a_group_named_as_a_provider_with_its_root_dot_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The group ``Microsoft.``, a mailbox provider's name with a root dot, watched by a
    rule: ``--domain Microsoft. --rule grp`` mutes its alerts, as the daemon keeps it.
    It was refused as naming no group (``microsoft``, looked for without the dot)."""
    rules = (
        '[domains]\ngroups = { "Microsoft." = ["a.example"] }\n[providers]\nenabled = true\n'
        '[[alerts.rules]]\nname = "grp"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
        'domains = ["Microsoft."]\n'
        '[[alerts.rules]]\nname = "prov"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
        'providers = ["*"]\n'
    )
    path = tmp_path / "sesd.toml"
    path.write_text(f'[alerts]\nsilences_path = "{tmp_path / "silences.json"}"\n{rules}')
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "Microsoft.", "--rule", "grp"]) == 0
    assert capsys.readouterr().err == ""
    silence = Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain="Microsoft.")
    assert silence.matches("grp", "Microsoft.", "info")
    assert silence_check(parse_config(path.read_text()))(silence) == ""
