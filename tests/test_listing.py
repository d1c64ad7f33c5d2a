"""A rule's labels are listed again only when what they depend on changed: the scope's
labels, the rule's states, or the rule. Whatever happens to them, the listing kept
answers as listing them anew does."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.alerting.labels import Listing, labels
from sesd.config import parse_config
from sesd.core.scopes import DOMAIN, Scope
from sesd.core.windows import DomainWindows, window_specs

EXAMPLES = 20 if os.environ.get("SESD_MUTATION") else 200
RULE = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.5\n'
#: The same rule by name: every domain, then every domain but one, then some by glob.
RULES = [
    parse_config(RULE + watched).alerts.rules[0]
    for watched in (
        'domains = ["*"]\n',
        'domains = ["*"]\nexclude_domains = ["b.example"]\n',
        'domains = ["a.*", "c.example"]\n',
    )
]
LABELS = ["a.example", "b.example", "c.example", "d.example"]

#: What happens between two listings: a label admitted to the scope or evicted from
#: it, a state made or forgotten, or the rule replaced under its name (a reload).
changes = st.lists(
    st.tuples(
        st.sampled_from(["admit", "evict", "state", "forget", "reload"]),
        st.integers(0, len(LABELS) - 1),
    ),
    max_size=30,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(changes=changes)
def test_a_listing_kept_is_the_listing_made_anew(changes: list[tuple[str, int]]) -> None:
    """After each change the listing kept equals labels(); with none since, it is the
    same list, not one listed anew."""
    specs = window_specs([("5m", 300.0)], 10.0, 30, ())
    scope = Scope(DOMAIN, 0, specs)
    states: dict[str, object] = {}
    listing, rule = Listing(), RULES[0]
    for kind, i in changes:
        label = LABELS[i]
        if kind == "admit":
            scope.windows.setdefault(label, DomainWindows(specs))
        elif kind == "evict":
            scope.windows.pop(label, None)
        elif kind == "state":
            states.setdefault(label, None)
        elif kind == "forget":
            states.pop(label, None)
        else:
            rule = RULES[i % len(RULES)]
        listed = listing.labels(rule, scope, states)
        assert listed == labels(rule, scope, states)
        # Nothing changed since: the list kept is answered, not listed anew (what the
        # listing saves each evaluation).
        assert listing.labels(rule, scope, states) is listed
