"""README's configuration examples load and its command lines parse: a reader copies
them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sesd.commands.main import COMMANDS, _parser, main
from sesd.config import ConfigError, parse_config

README = Path(__file__).resolve().parent.parent / "README.md"
#: What a fragment of README leans on: the queue and the two sinks its quick start
#: sections configure.
_BASE = (
    '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"\n'
    '[alerts.slack]\nwebhook_url = "env:SLACK_WEBHOOK_URL"\n'
    '[alerts.pagerduty]\nrouting_key = "env:PAGERDUTY_ROUTING_KEY"\n'
)
_BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
#: Each block after the one before it; a sketch that leaves lines out (``# ...``) is
#: no example to load.
_EXAMPLES = [
    (before, block)
    for before, block in zip(["", *_BLOCKS], _BLOCKS, strict=False)
    if "\n# ...\n" not in block
]


@pytest.mark.parametrize(
    ("before", "block"), _EXAMPLES, ids=[block.splitlines()[0] for _, block in _EXAMPLES]
)
def test_a_toml_block_of_readme_loads(before: str, block: str) -> None:
    """Each block loads as it stands or, a fragment, beside a queue and the Slack and
    PagerDuty sinks, and the block before it (the canary's section, then its rules)."""
    for text in (block, _BASE + block, _BASE + before + "\n" + block):
        try:
            parse_config(text)
        except ConfigError as exc:
            error = exc
        else:
            return
    raise error


def test_readme_has_its_examples() -> None:
    assert len(_EXAMPLES) >= 7


def _command_lines() -> list[str]:
    """Each ``sesd COMMAND ...`` of README's shell and terminal blocks, continuation
    lines joined, up to its comment or a redirect."""
    text = README.read_text(encoding="utf-8")
    commands = "|".join(map(re.escape, COMMANDS))
    found = []
    for block in re.findall(r"```(?:sh|text)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            match = re.search(rf"(?:^|[\s$])sesd ((?:{commands})\b.*)", line)
            if match:
                found.append(match.group(1))
    return found


_LINES = _command_lines()


@pytest.mark.parametrize("line", _LINES, ids=_LINES)
def test_a_command_line_of_readme_parses(line: str) -> None:
    """Each command README shows is one the CLI takes, its flags and their values: a
    flag renamed without README breaks here, not at 3 a.m. ``--config ...`` (the
    config of the lines before) and ``[--json]`` (optional) read as written."""
    words: list[str] = []
    for word in shlex.split(line, comments=True):
        if word in ("<", ">", "|"):
            break
        if word == "..." and words[-1:] == ["--config"]:
            word = "sesd.toml"
        words.append(word.removeprefix("[").removesuffix("]"))
    _parser(words[0]).parse_args(words)


def test_readme_has_its_command_lines() -> None:
    assert len(_LINES) >= 25


def test_the_cause_readme_pastes_reads_as_readme_says(capsys: pytest.CaptureFixture[str]) -> None:
    """README's `sesd cause` examples print what the comment below each says, with a
    provider given and without."""
    text = README.read_text(encoding="utf-8")
    examples = re.findall(r"^sesd cause ((?:--\S+ \S+ )*)'([^']*)'\n# (.*?) \.\.\.$", text, re.M)
    assert len(examples) >= 2
    for options, diagnostic, said in examples:
        assert main(["cause", *options.split(), diagnostic]) == 0
        assert capsys.readouterr().out.startswith(said)


def test_how_it_works_names_every_module_of_the_core() -> None:
    """README's map of the tree names each module of the pure core, so a reader finds
    where a step of the flow lives."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## How it works", 1)[1].split("\n## ", 1)[0]
    core = README.parent / "sesd" / "core"
    modules = sorted(p.name for p in core.glob("*.py") if p.name != "__init__.py")
    assert modules
    assert [name for name in modules if f"`{name}`" not in section] == []


def test_the_example_config_asks_of_an_accounts_role_what_readme_does() -> None:
    """An [[accounts]] role reads the queue and has the account's health polled through
    it: the example config's comment asks the same IAM actions of the role as README's
    "The role needs" does, so a role written from either is not refused every poll."""
    example = README.parent.joinpath("config", "sesd.example.toml").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    (said,) = re.findall(r"The role needs (.+?) trust policy", readme, re.S)
    (commented,) = re.findall(r"# role needs (.+?) trust sesd", example, re.S)
    action = r"(?:sqs|ses|cloudwatch|kms):[A-Za-z]+"
    assert set(re.findall(action, commented)) == set(re.findall(action, said))
