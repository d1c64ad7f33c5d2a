"""A resolve owed at a restart takes its note from the state file, and the note goes
on to every sink (Alertmanager's and a webhook's description, the console, the log's
reason). sesd wrote it, but a file damaged or edited by hand can hold anything there:
it is read as event text is, control characters escaped and its length bounded."""

from __future__ import annotations

from sesd.config import parse_config, saved_rule
from sesd.runtime.state_alerts import NOTE_CHARS, read_retired
from tests.test_routing import RULE

T = 1_700_000_000.0


def _read(note: str) -> str:
    (rule,) = parse_config(RULE).alerts.rules
    owed = [saved_rule(rule), {"gmail.com": ["firing", T, T, 0.5, T, True]}, note]
    (retired,), unread, skipped = read_retired({"retired": [owed]}, T)
    assert (unread, skipped) == ({}, 0)
    return retired[2]


def test_a_note_as_sesd_writes_it_reads_unchanged() -> None:
    note = "the rule was removed; the rule was changed in the config (was above 0.2)"
    assert _read(note) == note


def test_control_characters_in_a_saved_note_are_escaped() -> None:
    read = _read("rule removed\x1b[2J\r\nFIRING: all clear")
    assert not any(char in read for char in "\x1b\r\n")
    assert read.startswith("rule removed")


def test_a_saved_note_is_bounded() -> None:
    read = _read("removed " * 100_000)
    assert len(read) <= NOTE_CHARS
    assert read.startswith("removed removed")


def test_a_note_longer_than_an_events_text_reads_whole() -> None:
    """Bounded by its own bound, not event text's 200 characters: a changed rule's
    note names what it was, which can run past 200."""
    note = "the rule was changed in the config (was " + "above 0.2, " * 40 + ")"
    assert 200 < len(note) <= NOTE_CHARS
    assert _read(note) == note
