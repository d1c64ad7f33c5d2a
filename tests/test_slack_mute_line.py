"""The ``sesd silence add`` line under a Slack alert: sent as plain text, as written
(Slack parses no mention or link there)."""

from __future__ import annotations

import pytest

from sesd.alerting.alert import Notification
from sesd.alerting.render_slack import slack_message
from sesd.alerting.rules import Transition
from sesd.alerting.silences import silence_command
from tests.test_render import T, _alert

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

