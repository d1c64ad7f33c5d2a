"""What a save says it left out of the state file, read without a save: each resolve
to each sink a row, two incidents of one label two rows (a later save leaving out
the second says so again), and the stop's warning naming the labels of each rule
left out to any sink (the line names as many as it holds, and counts the others),
and the sinks they are left out to."""

from __future__ import annotations

from dataclasses import replace

import msgspec

from sesd.alerting.rules import Transition
from sesd.config import RuleConfig, parse_config
from sesd.runtime.saver import _left_out, _rows
from sesd.runtime.state_refused import NAMED_FIRING
from tests.test_render import _alert
from tests.test_state_alert_bytes import CONFIG, T

(RULE,) = parse_config(CONFIG).alerts.rules
RESOLVE = _alert(Transition.RESOLVED, "")


def _gone(*sinks: str) -> RuleConfig:
    return msgspec.structs.replace(RULE, name="gone", sinks=list(sinks))


def test_each_resolve_to_each_sink_is_a_row_of_its_own() -> None:
    """One label's two incidents (two starts), two labels of one start, and a resolve
    owed to two sinks: five rows, none taken for another."""
    first = replace(RESOLVE, rule="gone", domain="a.example", since=T)
    owed = [
        (_gone("pager"), first),
        (_gone("pager"), replace(first, since=T + 1)),
        (_gone("pager"), replace(first, domain="b.example")),
        (_gone("pager", "chat"), replace(first, domain="c.example")),
    ]
    assert _rows(owed) == {
        ("gone", "a.example", T, "pager"),
        ("gone", "a.example", T + 1, "pager"),
        ("gone", "b.example", T, "pager"),
        ("gone", "c.example", T, "pager"),
        ("gone", "c.example", T, "chat"),
    }


def test_the_labels_left_out_to_any_sink_are_named_with_the_sinks() -> None:
    """Of rule ``gone``: more resolves left out than a line names (each given, sorted:
    the line counts those it does not name), one kept for one of its two sinks (named:
    the other sink's incident stays open), one kept whole (not named); each left out
    to ``pager`` alone, the sink named."""
    many = [
        (_gone("pager"), replace(RESOLVE, rule="gone", domain=f"{i:03}.example"))
        for i in range(NAMED_FIRING + 2)
    ]
    halved = replace(RESOLVE, rule="gone", domain="000-half.example")
    whole = replace(RESOLVE, rule="gone", domain="000-whole.example")
    owed = [*many, (_gone("pager", "chat"), halved), (_gone("pager"), whole)]
    kept = [(_gone("chat"), halved), (_gone("pager"), whole)]
    named = ["000-half.example", *(f"{i:03}.example" for i in range(NAMED_FIRING + 2))]
    assert _left_out(owed, kept) == ([("gone", named)], ["pager"])
