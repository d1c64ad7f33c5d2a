"""A reload logs the warnings its config brought, not those of the config it replaced:
a warning names a queue or a rule by its index, which moves when one is written before
it. In process, of parsed configs (the daemon's reload calls the same function)."""

from __future__ import annotations

import pytest

from sesd.config import Config, parse_config
from sesd.config.said_anew import new_warnings

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


def _excluding(scope: str, named: str, glob: str, left_out: str) -> str:
    """A rule on ``scope`` watching ``named`` and ``glob``, less ``left_out``, which it
    does not watch: warned of, the rule's names listed in the warning."""
    enabled = "[tenants]\nenabled = true\n" if scope == "tenants" else ""
    return f'{enabled}{RA}{scope} = ["{named}", "{glob}"]\nexclude_{scope} = ["{left_out}"]\n'


@pytest.mark.parametrize(
    ("scope", "named", "old", "new", "left_out"),
    [
        ("tenants", "a", "eu[1]*", "eu[2]*", "zz"),
        ("domains", "a.example", "eu[1]*.example", "eu[2]*.example", "zz.example"),
    ],
)
def test_a_reload_says_a_warning_whose_names_differ_in_a_bracket_alone(
    scope: str, named: str, old: str, new: str, left_out: str
) -> None:
    """The warning lists what the rule watches: ``eu[1]*`` there is a glob, no key's
    index, and was read as one, so the warning of the rule now on ``eu[2]*`` read as
    the last config's and went unsaid. It is said; the same rule moved, its glob the
    same, is not."""
    before = _parsed(_excluding(scope, named, old, left_out))
    after = _excluding(scope, named, new, left_out)
    assert [w for w in new_warnings(before, _parsed(after)) if "(r)" in w] == [
        f"alerts.rules[0] (r).exclude_{scope}[0]: {left_out!r}, which takes none of the "
        f"{scope} the rule watches ({named}, {new}): it leaves out nothing (a typo, or "
        "left from an edit?); correct it or drop the exclusion"
    ]
    moved = after.replace(RA, RA.replace('"r"', '"s"') + RA)
    assert not [w for w in new_warnings(_parsed(after), _parsed(moved)) if "(r)" in w]


@pytest.mark.parametrize("name", ["Shop queues[0]", "Shop queues[0].eu", "Shop queues[0]x"])
def test_a_reload_of_another_queue_does_not_say_a_groups_warning_again(name: str) -> None:
    """A group named ``Shop queues[0]`` is warned of (a silence reads ``[0]`` as a
    glob's set): its name was read as the first queue's index, and said as that
    queue's name, so a reload giving the queue another URL said the group's warning
    again, as new; and so it was of ``Shop queues[0].eu`` (``queues[0]`` read alone,
    ``.eu`` left) or ``Shop queues[0]x``. Nothing of the group changed: it is not
    said."""
    group = f'[domains]\ngroups = {{ "{name}" = ["a.example"] }}\n'
    before, after = _parsed(Q + group), _parsed(Q.replace("/1/q", "/1/p") + group)
    assert [w for w in after.warnings() if w.startswith(f'domains.groups."{name}"')]
    assert not [w for w in new_warnings(before, after) if w.startswith("domains.groups")]


def test_a_tenant_glob_spelt_as_a_queue_past_the_last_is_no_queue() -> None:
    """A tenant glob may read ``queues[1]``, which the warning listing the rule's
    tenants says after a space, as it says a queue's key: with one queue there is none
    at that index, and the warning is said as written, not a reload raising."""
    enabled = "[tenants]\nenabled = true\n"
    watched = enabled + RA + 'tenants = ["a", "queues[1]"]\nexclude_tenants = ["zz"]\n'
    said = [w for w in new_warnings(_parsed(enabled), _parsed(watched)) if "(r)" in w]
    assert said == [
        "alerts.rules[0] (r).exclude_tenants[0]: 'zz', which takes none of the tenants the "
        "rule watches (a, queues[1]): it leaves out nothing (a typo, or left from an "
        "edit?); correct it or drop the exclusion"
    ]


def test_a_reload_says_a_warning_of_a_group_renamed() -> None:
    """A group's key is quoted in a warning (``domains.groups."Shop A"[1]``) and kept
    as written: only the index after it is left out. Renamed, the group's warning
    names another group, and is said."""
    group = '[domains]\ngroups = {{ "{}" = ["a.example", "a.example"] }}\n'
    before, after = _parsed(group.format("Shop A")), _parsed(group.format("Shop B"))
    assert new_warnings(before, after) == [
        'domains.groups."Shop B"[1]: \'a.example\', listed at domains.groups."Shop B"[0] '
        "too: it counts once (another domain meant?)"
    ]
