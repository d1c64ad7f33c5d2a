"""A domain in two groups, written two ways: the line names it as each group writes
it, so that a search of the file finds both."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesd.commands.main import main

pytestmark = pytest.mark.timeout(30)

QUEUE = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"\n'


@pytest.mark.parametrize(
    ("first", "second", "line"),
    [
        # The second as the first is written: its normal form is no news.
        (
            "bücher.de",
            "xn--bcher-kva.de",
            "groups.b[0]: 'xn--bcher-kva.de', already in domains.groups.a[0] (as 'bücher.de')",
        ),
        (
            "xn--bcher-kva.de",
            "Bücher.DE",
            "groups.b[0]: 'Bücher.DE' is xn--bcher-kva.de, already in domains.groups.a[0]",
        ),
        (
            "Bücher.de",
            "bücher.de.",
            "groups.b[0]: 'bücher.de.' is xn--bcher-kva.de, already in domains.groups.a[0]"
            " (as 'Bücher.de')",
        ),
    ],
)
def test_a_domain_in_two_groups_is_named_as_each_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str, second: str, line: str
) -> None:
    """``bücher.de`` in one group and ``xn--bcher-kva.de`` in another are one domain:
    the line named the second and its normal form, which the first group's line does
    not hold, and no search found it there. Both groups are named whole, as README
    writes a key (``groups.a`` alone reads as a table of its own)."""
    path = tmp_path / "sesd.toml"
    path.write_text(
        f'{QUEUE}[domains]\ngroups = {{ a = ["{first}"], b = ["{second}"] }}\n', encoding="utf-8"
    )
    assert main(["check-config", "--no-secrets", "--quiet", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"sesd: config error: {path}:4: domains.{line}: a domain counts under one group\n"
    )


def test_a_domain_tracked_and_grouped_or_twice_in_one_group_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a second group is refused: ``track`` naming a grouped domain, or one group
    listing a domain in two spellings, says the same thing twice."""
    path = tmp_path / "sesd.toml"
    path.write_text(
        f'{QUEUE}[domains]\ntrack = ["bücher.de"]\n'
        'groups = { a = ["xn--bcher-kva.de", "Bücher.DE."], b = ["hotmail.com"] }\n',
        encoding="utf-8",
    )
    assert main(["check-config", "--no-secrets", "--quiet", str(path)]) == 0
    assert "config error" not in capsys.readouterr().err
