"""A group's own mute line mutes it, whatever its name: a silence drops spaces around
a name (``Shop ``) and a root dot (``Shop.``), and reads ``*``, ``?`` and ``[`` as a
glob's (``[ab]`` takes ``a`` and ``b``), so the line printed with an alert gives the
name with each such character as a glob's set of itself (``Shop[ ]``, ``Shop[.]``,
``[[]ab]``). Pasted into a shell and run, it
mutes the alert's label and no other."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from sesd.alerting.alert import notification_of
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence, silence_command
from sesd.commands.main import main
from sesd.config.alerts import AlertsConfig
from sesd.core.domains import exact_matcher
from tests.test_render import RULE, T, _alert, _render

pytestmark = pytest.mark.timeout(30)

RULES = (
    "[tenants]\nenabled = true\n"
    '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
    '[[alerts.rules]]\nname = "tenants"\nmetric = "delay_ratio"\n'
    'window = "5m"\nabove = 0.1\ntenants = ["*"]\n'
)
# Each group beside the labels its name, read as a silence reads a glob or without
# its spaces, would take: another group, a tenant (``a``, ``b``), a domain.
OTHERS = ["Shop", "shop", "Shop E", "Shop EU", "Shopx", "a", "b", "ax", "Shop  ", "shop.example"]
NAMES = ["Shop ", " Shop", "\u3000Shop", "Shop [EU]", "[ab]", "Shop*", "a?", "Shop?[x]", "Shop "]
# A root dot, which a silence drops: ``Shop.`` as written mutes ``Shop`` too.
NAMES += ["Shop.", "Shop\u3002", "Shop. ", "Shop ."]


@pytest.mark.parametrize(
    ("name", "matcher"),
    [
        ("Shop ", "Shop[ ]"),
        ("\u3000Shop", "[\u3000]Shop"),
        ("Shop [EU]", "Shop [[]EU]"),
        ("[ab]", "[[]ab]"),
        ("Shop*", "Shop[*]"),
        ("a?", "a[?]"),
        ("Shop.", "Shop[.]"),
        ("Shop\u3002", "Shop[\u3002]"),
        ("Shop. ", "Shop[.][ ]"),
        ("Shop.EU", "Shop.EU"),
        ("Shop EU", "Shop EU"),
        ("example.com", "example.com"),
        ("*.example.com", "[*].example.com"),
    ],
)
def test_the_matcher_of_a_name_keeps_its_spaces_and_glob_characters_as_sets(
    name: str, matcher: str
) -> None:
    """A name with none of them reads as itself, as every mute line did."""
    assert exact_matcher(name) == matcher


@pytest.mark.parametrize("name", sorted(set(NAMES)))
def test_a_groups_pasted_mute_line_mutes_its_alerts_and_no_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """``sesd silence add`` takes the line as printed (no refusal, no note), and the
    silence it writes mutes the group's alerts; not those of a group, tenant or domain
    its name alone would take (``Shop `` muted ``shop``, ``[ab]`` tenants ``a`` and
    ``b``, and ``Shop [EU]`` was refused as matching no label)."""
    others = [o for o in OTHERS if o != name]
    groups = ", ".join(f'"{g}" = ["m{i}.example"]' for i, g in enumerate([name, *others[:5]]))
    path = tmp_path / "sesd.toml"
    silences = tmp_path / "silences.json"
    path.write_text(
        f'[alerts]\nsilences_path = "{silences}"\n[domains]\ngroups = {{ {groups} }}\n{RULES}'
    )
    line = silence_command(f"sesd silence add --config {shlex.quote(str(path))}", "delays", [name])
    words = shlex.split(line)
    assert words[:2] == ["sesd", "silence"]
    assert main(words[1:]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""
    [silence] = SilenceFile(str(silences)).read()
    assert silence.matches("delays", name, "info")
    assert [o for o in others if silence.matches("delays", o, "info")] == [
        o for o in others if o.lower() == name.lower()
    ]


def test_a_mute_line_of_several_domains_still_takes_them_all() -> None:
    """A rule naming several domains: the line's ``*`` is a glob, as before."""
    line = silence_command("sesd silence add", "delays", ["a.example", "b.example"])
    assert "--domain '*'" in line


def test_a_silence_as_written_in_a_file_mutes_what_it_muted() -> None:
    """Only the printed line changes: a silence of ``Shop `` read from a file is one of
    ``shop`` still, and ``[ab]`` takes ``a``."""
    blank = Silence(id="s1", comment="c", starts_at=0.0, ends_at=None, domain="Shop ")
    glob = Silence(id="s2", comment="c", starts_at=0.0, ends_at=None, domain="[ab]")
    assert blank.matches("r", "shop", "info")
    assert not blank.matches("r", "Shop ", "info")
    assert glob.matches("r", "a", "info")
    assert not glob.matches("r", "[ab]", "info")


def test_a_domain_counted_in_such_a_group_is_refused_with_the_groups_exact_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--domain`` of a domain counted under the group ``Shop [EU]`` is refused (its
    alerts name the group), giving the group's line: as printed, it mutes the group;
    the name as written was refused as matching no label."""
    path = tmp_path / "sesd.toml"
    silences = tmp_path / "silences.json"
    groups = '"Shop [EU]" = ["eu.example"], "Shop E" = ["e.example"]'
    path.write_text(
        f'[alerts]\nsilences_path = "{silences}"\n[domains]\ngroups = {{ {groups} }}\n{RULES}'
    )
    add = ["silence", "add", "--config", str(path), "--for", "1h", "--comment", "c"]
    assert main([*add, "--domain", "eu.example"]) != 0
    err = capsys.readouterr().err
    assert "its alerts name the group (--domain 'Shop [[]EU]')" in err
    assert main([*add, "--domain", "Shop [[]EU]"]) == 0, capsys.readouterr().err
    [silence] = SilenceFile(str(silences)).read()
    assert silence.matches("delays", "Shop [EU]", "info")
    assert not silence.matches("delays", "Shop E", "info")


def test_each_sink_carries_the_line_as_it_is_run() -> None:
    """A group whose name holds what Slack formats (``*``, ``_``, backticks) and the
    glob sets of its line (``[*]``): each sink gives the line character for character
    (Slack as text it does not format, the others as JSON strings or a console line),
    so what the on-call copies is the command that mutes that group alone."""
    name = "Shop [EU]*_x_ `y` "
    alert = dataclasses.replace(_alert(Transition.FIRING, "a.example"), domain=name)
    mute = Evaluator(AlertsConfig(), []).mute
    notification = notification_of(RULE, Transition.FIRING, tuple(RULE.sinks), (alert,), T, mute)
    line = silence_command("sesd silence add", RULE.name, [name])
    words = shlex.split(line)
    assert words[words.index("--domain") + 1] == "Shop [[]EU][*]_x_ `y`[ ]"
    got = _render(notification)
    closing = got["slack"]["blocks"][-1]["elements"][-1]
    assert closing == {"type": "plain_text", "text": f"mute: {line}", "emoji": False}
    assert [e["payload"]["custom_details"]["mute"] for e in got["pagerduty"]] == [line]
    assert [d["annotations"]["mute"] for d in got["alertmanager"]] == [line]
    assert f"    mute: {line}" in got["console"]
    assert got["webhook"]["mute"] == line
