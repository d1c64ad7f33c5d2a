"""README's configuration examples load: a reader copies them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
