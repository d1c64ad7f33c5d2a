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
