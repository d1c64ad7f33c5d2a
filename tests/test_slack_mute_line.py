"""The ``sesd silence add`` line under a Slack alert: sent as plain text, as written
(Slack parses no mention or link there), and within Slack's bounds whatever the
config's names and path."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sesd.alerting.alert import Notification
from sesd.alerting.render_slack import SLACK_MAX_MUTE, slack_message
from sesd.alerting.rules import Transition
from sesd.alerting.silences import silence_command
from tests.test_render import T, _alert, _wide

pytestmark = pytest.mark.timeout(30)


def _muted(line: str, domain: str = "a.example") -> Notification:
    return Notification(
        rule="delay-ratio-high",
        kind=Transition.FIRING,
        severity="critical",
        sinks=(),
        alerts=(_alert(Transition.FIRING, domain),),
        at=T,
        silence=line,
    )


def test_a_groups_ampersand_and_brackets_are_sent_as_written() -> None:
    """A group named ``R&D <eu>`` or ``<!channel>``, on a config file whose path holds
    ``&`` and ``<>``: the mute line goes as a plain text object, character for
    character. Plain text is not parsed for mentions or links, and an entity there
    (``&amp;``) could show as written: the command copied would name another group."""
    prefix = "sesd silence add --config '/etc/sesd&co/<prod>.toml'"
    for name in ("R&D <eu>", "<!channel>", "a&amp;b", "x`y`"):
        line = silence_command(prefix, "delay-ratio-high", [name])
        closing = slack_message(_muted(line, name))["blocks"][-1]["elements"]
        assert closing[-1] == {"type": "plain_text", "text": f"mute: {line}", "emoji": False}


def test_a_mute_line_too_long_for_slack_is_left_out_and_the_message_fits() -> None:
    """A config file's path of 5,000 characters, in a wide incident's message (its
    alerts' sections at their 9,000): the whole line would pass a text object's 3,000
    and the message's blocks' 12,000, and Slack would refuse the message and every
    alert in it. The line is left out, said with its length; cut, it would be another
    command. A line just within the bound goes whole."""
    prefix = "sesd silence add --config /etc/" + "d" * 5000 + ".toml"
    line = silence_command(prefix, "delay-ratio-high", ["*"])
    message = slack_message(replace(_wide(200), silence=line))
    blocks = message["blocks"]
    texts = [b["text"]["text"] for b in blocks if "text" in b]
    texts += [e["text"] for b in blocks for e in b.get("elements", ())]
    assert all(len(text) <= 3000 for text in texts)
    assert sum(map(len, texts)) <= 12_000
    mute = blocks[-1]["elements"][-1]
    assert mute["type"] == "plain_text"
    assert mute["text"] == (
        f"mute: its sesd silence add line ({len(line):,} characters) is too long to show here"
    )
    fits = silence_command("sesd silence add", "delay-ratio-high", ["a.example"])
    fits = fits.replace("add", "add" + " " * (SLACK_MAX_MUTE - len("mute: ") - len(fits)), 1)
    shown = slack_message(_muted(fits))["blocks"][-1]["elements"][-1]["text"]
    assert shown == f"mute: {fits}"
    assert len(shown) == SLACK_MAX_MUTE
