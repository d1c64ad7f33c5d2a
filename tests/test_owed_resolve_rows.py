"""Whatever the sinks and reloads did, the state file keeps every resolve owed: its
rows of resolves owed (key ``retired``) are grouped by the rule as each was made
(narrowed to the sinks owed it, under the labels and severity it was made with) and
its note, one row per label. Two resolves of one label in one group would keep one
row, the other lost: a sink owed it would keep the incident open. A sink is owed one
resolve of an alert (Alertmanager, which tells alerts apart by their labels, that
of the labels it had), which should make that impossible; this tries to break it
with incidents, sinks that take some of what is queued and not the rest, and reloads
that relabel the rule, change its sinks, or remove it and bring it back."""

from __future__ import annotations

import os

import aiohttp
import anyio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.alerting.rules import Transition
from sesd.config import parse_config
from sesd.runtime.state_alerts import saved_retired
from tests.test_routing import RULE, _alerting
from tests.test_rules import feed_spike

EXAMPLES = 15 if os.environ.get("SESD_MUTATION") else 30
SINKS = ("slack", "pagerduty", "am")
HEAD = (
    '[alerts]\ngroup_wait = "0s"\n'
    '[alerts.sinks.slack]\ntype = "slack"\nwebhook_url = "http://127.0.0.1:9/s"\n'
    '[alerts.sinks.pagerduty]\ntype = "pagerduty"\nrouting_key = "k"\n'
    'events_url = "http://127.0.0.1:9/e"\n'
    '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\n'
    'resend_every = "1h"\n'
)
DOMAINS = ("a.example", "b.example")


def _text(sinks: tuple[str, ...], team: str, severity: str, present: bool) -> str:
    if not present:
        return HEAD
    listed = ", ".join(f'"{sink}"' for sink in sinks)
    return (
        HEAD + RULE + f'sinks = [{listed}]\nseverity = "{severity}"\n'
        f'labels = {{ team = "{team}" }}\n'
    )


#: What happens between two evaluations: a spike on a domain (it fires), a quiet
#: spell on it (it ends), the first spikes out of the window, a sink taking all it
#: has queued, and reloads.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("fire"), st.sampled_from(DOMAINS)),
        st.tuples(st.just("end"), st.sampled_from(DOMAINS)),
        st.tuples(st.just("fire"), st.just(DOMAINS[0])),
        st.tuples(st.just("end"), st.just(DOMAINS[0])),
        st.tuples(st.just("wait"), st.none()),
        st.tuples(st.just("take"), st.sampled_from(SINKS)),
        st.tuples(st.just("team"), st.sampled_from(["mail", "ops", "web"])),
        st.tuples(st.just("severity"), st.sampled_from(["critical", "warning"])),
        st.tuples(st.just("sinks"), st.frozensets(st.sampled_from(SINKS), min_size=1)),
        st.tuples(st.just("remove"), st.booleans()),
    ),
    min_size=6,
    max_size=30,
)


async def _check(changes: list[tuple[str, object]]) -> None:
    sinks: tuple[str, ...] = SINKS
    team, severity, present = "mail", "critical", True
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(_text(sinks, team, severity, present))
        alerting.open(session)  # no outbox runs: a sink takes what a step says alone
        for kind, arg in changes:
            now[0] += 301 if kind == "wait" else 1
            if kind in ("fire", "end"):
                domain = str(arg)
                delayed, delivered = (6, 4) if kind == "fire" else (0, 400)
                feed_spike(pipeline, domain, now[0], delayed, delivered)
            elif kind == "take":
                alerting.outboxes[str(arg)]._queue.clear()
            elif kind in ("team", "severity", "sinks", "remove"):
                if kind == "team":
                    team = str(arg)
                elif kind == "severity":
                    severity = str(arg)
                elif kind == "sinks":
                    assert isinstance(arg, frozenset)
                    sinks = tuple(s for s in SINKS if s in arg)
                else:
                    present = not arg
                alerting.reconfigure(parse_config(_text(sinks, team, severity, present)))
            alerting.evaluate()
        unsent = alerting.undelivered()
    # Each sink owed one resolve of an alert (Alertmanager too, whatever its labels).
    owed = [
        (sink, alert.rule, alert.domain) for rule, alert in unsent.retired for sink in rule.sinks
    ]
    assert len(owed) == len(set(owed)), owed
    # And the file keeps a row of each.
    rows = saved_retired(unsent.retired)
    assert sum(len(labels) for _, labels, _ in rows) == len(unsent.retired)
    kinds = {alert.kind for _, alert in unsent.retired}
    assert kinds <= {Transition.RESOLVED}


@settings(max_examples=EXAMPLES, deadline=None)
@given(changes=steps)
# An alert's end owed to every sink, then a relabel: the resolves of one label under
# two rules as made (the labels before, and after for Alertmanager's own).
@example(changes=[("fire", "a.example"), ("end", "a.example"), ("team", "ops")])
def test_no_resolve_owed_shares_a_row_with_another(changes: list[tuple[str, object]]) -> None:
    anyio.run(_check, changes)
