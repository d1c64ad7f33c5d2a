"""The mute line of an alert on sesd's ``other`` (the domains past max_tracked, on
which a rule on domains fires) reads ``--rule delays --domain other``, and of a group
named ``other.``, ``--domain 'other[.]'``. ``other`` is a mailbox provider's label
too, and ``sesd silence add`` refused the first as muting nothing ("no group is
named other"), and a silence of the group typed as written (``other.``) alike: the
page went on with no silence that took."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from sesd.alerting.silences import silence_command
from sesd.commands.main import main
from sesd.commands.silence_provider import provider_problem
from sesd.config import parse_config
from sesd.core.domains import OTHER

pytestmark = pytest.mark.timeout(30)

RULE = '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
QUEUE = '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'


def test_the_mute_line_of_the_domains_past_max_tracked_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silences = tmp_path / "silences.json"
    path = tmp_path / "sesd.toml"
    path.write_text(
        f'{QUEUE}[alerts]\nsilences_path = "{silences}"\n[domains]\nmax_tracked = 2\n{RULE}'
    )
    line = silence_command("sesd silence add", "delays", [OTHER])
    assert shlex.split(line)[3:7] == ["--rule", "delays", "--domain", "other"]
    words = shlex.split(line)[3:]
    assert main(["silence", "add", "--config", str(path), *words]) == 0, capsys.readouterr()
    [silence] = json.loads(silences.read_text())["silences"]
    assert silence["domain"] == OTHER


def test_the_domains_past_max_tracked_are_told_apart_from_the_provider() -> None:
    """Without --rule, the silence would mute the provider's alerts and the domains
    past max_tracked alike: the --rule of each is asked for, not "mute nothing"."""
    config = parse_config(f"[domains]\nmax_tracked = 2\n{RULE}")
    assert provider_problem(config, "other", None) == (
        "--domain other names the mailbox provider other and sesd's other (the domains "
        "past max_tracked): add --rule to say which alerts: --rule delays for the domains "
        "past max_tracked (other)"
    )
    assert provider_problem(config, "other", "delays") == ""


def test_a_group_named_other_with_a_root_dot_is_its_silences_group() -> None:
    """``--domain other.`` takes the group ``other.`` (and sesd's ``other``): the rule
    on domains that fires on both is each one's."""
    config = parse_config(f'[domains]\ngroups = {{ "other." = ["a.example"] }}\n{RULE}')
    assert provider_problem(config, "other.", "delays") == ""
    assert provider_problem(config, "other[.]", "delays") == ""
    assert "--rule delays for the group other's" in provider_problem(config, "other.", None)
