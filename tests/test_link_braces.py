"""A link template holding braces of its own (a Grafana Explore link's JSON): the line
says how to write them, and so written the link is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.commands.main import main

pytestmark = pytest.mark.timeout(30)

QUEUE = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"\n'
EXPLORE = "https://grafana.example/explore?left={OPEN}'datasource':'loki'{CLOSE}&d={{domain}}"


def _check(tmp_path: Path, link: str) -> int:
    path = tmp_path / "sesd.toml"
    path.write_text(f'{QUEUE}[alerts]\ndashboard_url = "{link}"\n', encoding="utf-8")
    return main(["check-config", "--no-secrets", "--quiet", str(path)])


def test_a_brace_of_the_links_own_is_told_how_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON in the link read as a field: the line said to write each field alone,
    which is no help; it says a brace of the link's own is doubled."""
    link = EXPLORE.format(OPEN="{", CLOSE="}")
    assert _check(tmp_path, link) == 2
    assert capsys.readouterr().err.endswith(
        "(\"{'datasource':'loki'}\" is no field: a brace of the link's own is written {{ or }})\n"
    )
    assert _check(tmp_path, EXPLORE.format(OPEN="{{", CLOSE="}}")) == 0
