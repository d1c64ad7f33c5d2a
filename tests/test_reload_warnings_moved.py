"""A reload logs the warnings its config brought, not those of the config it replaced:
a warning names a queue or a rule by its index, which moves when one is written before
it. In process, of parsed configs (the daemon's reload calls the same function)."""

from __future__ import annotations

import pytest

from sesd.config import Config, parse_config
from sesd.config.checks import new_warnings

pytestmark = pytest.mark.timeout(60)

Q = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n'
RA = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
AM = '[alerts.sinks.am]\ntype = "alertmanager"\n'
PD = '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "0123456789abcdef0123456789abcdef"\n'
FLEET = AM + 'urls = ["http://a"]\nshared = true\n' + PD


def _id(text: str) -> str:
    return text.strip().splitlines()[-1][:40]


def _parsed(text: str) -> Config:
    return parse_config(text if "[[queues]]" in text else Q + text)


FIFO = Q.replace("/1/q", "/1/f.fifo")
#: A config whose warnings name a queue and a rule by their index, and the same config
#: with a queue and a rule written before them: each moved one index on.
MOVED = [
    (FIFO + RA, Q + FIFO + RA.replace('"r"', '"s"') + RA),
    (Q + "visibility_timeout = 0\n" + RA, Q.replace("/1/q", "/1/p") + Q + "visibility_timeout = 0\n"
     + RA),
    (FLEET + RA + 'sinks = ["am", "pd"]', FLEET + RA.replace('"r"', '"s"') + RA + 'sinks = ["am",'
     ' "pd"]'),
    ('[domains]\ngroups = {g = ["a.com"]}\n' + RA + 'domains = ["gg"]', '[domains]\ngroups = {g = '
     '["a.com"]}\n' + RA + 'domains = ["b.com", "gg"]'),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), MOVED, ids=[_id(new) for _, new in MOVED])
def test_a_reload_does_not_warn_again_of_what_moved_to_another_index(old: str, new: str) -> None:
    """A reload logs the warnings the new config brought. They name a queue or a rule by
    its index (``queues[0].delete_invalid``): one written before it moves it, and the
    same warning of the same queue or rule, its text now ``queues[1]``, is no news."""
    assert not [said for said in new_warnings(_parsed(old), _parsed(new)) if "(r)" in said
                or "queues[1]" in said]  # fmt: skip


def test_a_reload_warns_of_a_second_queue_or_rule_of_the_same_kind() -> None:
    """Said apart: a queue added with the same warning as one there, a rule too."""
    old, new = (
        _parsed(Q + "visibility_timeout = 0\n"),
        _parsed(
            Q + "visibility_timeout = 0\n" + Q.replace("/1/q", "/1/p") + "visibility_timeout = 0\n"
        ),
    )
    assert [said[:40] for said in new_warnings(old, new)] == [
        "queues[1].visibility_timeout: 0 shows ea"
    ]
