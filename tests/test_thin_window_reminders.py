"""While sesd reads more than half a window behind (a backlog draining, after a
restart say), a window holds a slice of its span, too thin to resolve a firing alert
on: the alert is held firing. What it tells meanwhile is what sesd last knew of it. A
reminder tells the figure it last fired at (not the thin window's, under its
threshold), and says it is held by a window with too few events. An alert whose
resolve a stop left undelivered stays resolved as far as the sinks are told (no
reminder, Alertmanager posted it resolved); should it fire still once the window
fills, its resolve goes as told, then a new firing, paged once to every sink of the
rule."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, Counter

from sesd.alerting.alert import Notification
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.held import THIN_NOTE
from sesd.alerting.outbox import Outbox
from sesd.alerting.render import pagerduty_events
from sesd.alerting.render_slack import slack_message
from sesd.alerting.resends import Resends
from sesd.alerting.rules import FIRING, Transition
from sesd.alerting.silences import Silence, SilenceSet
from sesd.config import AlertmanagerConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from sesd.status.alerts import active, alert_rows
from tests.test_owed_ended_restart import resolve_left_unsent
from tests.test_rule_changes import SINKS, T, rule
from tests.test_rules import feed_spike

#: Reminders every ten minutes, so one falls due while the window is thin.
REMINDED = SINKS.replace('group_wait = "0s"\n', 'group_wait = "0s"\nrepeat_interval = "10m"\n')


def _firing_then_thin() -> tuple[Evaluator, Pipeline, float]:
    """a.example fires at 60% (above 20%); eleven minutes on, sesd reads 200 s behind
    its 5m window (a backlog draining), where one delay in ten reads 10%."""
    config = parse_config(REMINDED + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m"])
    feed_spike(pipeline, "a.example", T, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, T)
    assert (fired.kind, fired.value) == (Transition.FIRING, 0.6)
    evaluator.due(T, flush=True)
    later = T + 660
    feed_spike(pipeline, "a.example", later, 1, 9)
    pipeline.ledger.tallies.received("q", later, 200.0)
    return evaluator, pipeline, later


def test_a_reminder_while_the_window_is_thin_tells_the_figure_it_last_fired_at() -> None:
    evaluator, pipeline, later = _firing_then_thin()
    (reminder,) = evaluator.evaluate(pipeline.ledger, later)
    assert reminder.kind is Transition.REPEAT
    # Not "10.0% (above 20.0%)", a figure that would have resolved it.
    assert reminder.value == 0.6
    (note,) = [n for n in reminder.notes if "too few events" in n]
    (sent,) = evaluator.due(later, flush=True)
    slack = slack_message(sent)
    # Its counts are the thin window's (one delay in ten, not 60%): the note says so.
    counts = [b["text"]["text"] for b in slack["blocks"][1:-1] if "counts:" in b["text"]["text"]]
    assert counts
    assert "delivery 9" in counts[0]
    assert "counts are the thin window's" in note
    assert "60.0%" in slack["text"]
    assert "10.0%" not in slack["text"]
    assert any("too few events" in b["text"]["text"] for b in slack["blocks"][1:-1])
    (event,) = pagerduty_events(sent, "key", "sesd")
    assert b"60.0%" in event
    assert note.encode() in event
    # Once the window holds enough again, the alert is judged on it: it resolves.
    pipeline.ledger.tallies.received("q", later + 10, 1.0)
    (resolved,) = evaluator.evaluate(pipeline.ledger, later + 10)
    assert (resolved.kind, resolved.value, resolved.notes) == (Transition.RESOLVED, 0.1, ())


def _restored_thin(extra: str) -> tuple[Evaluator, Pipeline]:
    """a.example fired at 60% on the pager and resolved at 10%; the pager had not taken
    the resolve at the stop. The restart's rule (``extra``) clears below 5%; sesd
    reads 200 s behind the 5m window: too thin to make the resolve again."""
    later = parse_config(SINKS + rule(extra=extra + "clear_below = 0.05\n"))
    pipeline = Pipeline(core_settings(later))
    after = Evaluator(later.alerts, ["5m"])
    restore(resolve_left_unsent(["5m"]), pipeline.ledger, after, T + 4)
    pipeline.ledger.tallies.received("q", T + 4, 200.0)
    assert after.evaluate(pipeline.ledger, T + 4) == []
    assert after.due(T + 4, flush=True) == []
    # The status page reads it resolved, its resolve waiting for a window full again.
    (row,) = alert_rows(pipeline.ledger, after, active(after), T + 4)
    assert (row.value, row.value_text) == (None, "resolved at 10.0%")
    assert any("window holds enough events" in note for note in row.notes)
    return after, pipeline


@pytest.mark.parametrize(
    "sinks", [["pager"], ["pager", "chat"]], ids=["same sinks", "a sink named anew"]
)
def test_an_owed_resolve_firing_still_once_the_window_fills_resolves_then_fires(
    sinks: list[str],
) -> None:
    """Held through the thin window as resolved, then found firing on a full one (a rule
    with no `for`): the sinks were told the incident ended, so the resolve goes as it
    was told (at 10%, to the pager, which had the firing), then the new firing from
    then, paged once to every sink of the rule (the chat, named anew, and the pager
    alike). Paged alone, PagerDuty took it into the incident still open (one dedup
    key an alert), and Slack showed a second firing with no resolve between."""
    named = ", ".join(f'"{sink}"' for sink in sinks)
    after, pipeline = _restored_thin(f"sinks = [{named}]\n")
    feed_spike(pipeline, "a.example", T + 5, 60, 0)
    pipeline.ledger.tallies.received("q", T + 5, 1.0)  # caught up
    resolved, fired = after.evaluate(pipeline.ledger, T + 5)
    assert (resolved.kind, resolved.value, resolved.at) == (Transition.RESOLVED, 0.1, T + 2)
    assert (fired.kind, fired.since) == (Transition.FIRING, T + 5)
    # Due at once (group_wait 0s), the new firing's group made at its evaluation's time.
    sent: list[Notification] = after.due(T + 5)
    assert [(n.kind, n.sinks) for n in sent] == [
        (Transition.RESOLVED, ("pager",)),
        (Transition.FIRING, tuple(sinks)),
    ]
    assert after.evaluate(pipeline.ledger, T + 6) == []
    assert after.due(T + 6, flush=True) == []


def test_the_status_page_says_why_a_firing_alert_is_held() -> None:
    """The alert's row reads as its reminder does: the figure it last fired at, and the
    note that the window holds too few events."""
    evaluator, pipeline, later = _firing_then_thin()
    evaluator.evaluate(pipeline.ledger, later)
    (row,) = alert_rows(pipeline.ledger, evaluator, active(evaluator), later)
    assert (row.state, row.value) == ("firing", 0.6)
    assert THIN_NOTE in row.notes


async def test_alertmanager_is_not_told_an_alert_held_once_the_window_is_full() -> None:
    """The reminder sent while the window was thin is what Alertmanager is posted again
    at each resend: once the window holds enough, and the alert fires on it, that post
    no longer says it is held."""
    am = '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\n'
    config = parse_config(REMINDED + am + rule(extra='sinks = ["pager", "am"]\n'))
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m"])
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T, flush=True)
    later = T + 660
    feed_spike(pipeline, "a.example", later, 1, 9)
    pipeline.ledger.tallies.received("q", later, 200.0)
    (reminder,) = evaluator.evaluate(pipeline.ledger, later)
    assert THIN_NOTE in reminder.notes
    evaluator.due(later, flush=True)
    feed_spike(pipeline, "a.example", later + 10, 60, 0)
    pipeline.ledger.tallies.received("q", later + 10, 1.0)
    assert evaluator.evaluate(pipeline.ledger, later + 10) == []
    async with aiohttp.ClientSession() as session:
        sink_config = config.alerts.named_sinks()["am"]
        assert isinstance(sink_config, AlertmanagerConfig)
        counter = Counter("n", "n", ["sink", "outcome"], registry=CollectorRegistry())
        outbox = Outbox(AlertmanagerSink(sink_config, session, "am"), size=10, counter=counter)
        resends = Resends()
        resends.at_once("am")
        resends.post(evaluator, {"am": outbox}, later + 10)
        (posted,) = outbox.unsent()
        (alert,) = posted.alerts
        assert (posted.kind, alert.value) == (Transition.REPEAT, 0.6)
        assert THIN_NOTE not in alert.notes


def test_an_owed_resolve_read_thin_again_then_firing_beside_another_goes_in_order() -> None:
    """Read thin a second time, the owed resolve is still held: nothing goes (it is
    not taken for the resolve of a full window). Then, the window full again with
    another domain firing in the same evaluation (decided before it): that firing, the
    resolve as told and the new incident's firing all go, due at once (not flushed)."""
    after, pipeline = _restored_thin('sinks = ["pager"]\n')
    pipeline.ledger.tallies.received("q", T + 4.5, 200.0)
    assert after.evaluate(pipeline.ledger, T + 4.5) == []
    feed_spike(pipeline, "0.example", T + 5, 60, 0)
    feed_spike(pipeline, "a.example", T + 5, 60, 0)
    pipeline.ledger.tallies.received("q", T + 5, 1.0)
    alerts = after.evaluate(pipeline.ledger, T + 5)
    assert [(a.kind, a.domain, a.since) for a in alerts] == [
        (Transition.FIRING, "0.example", T + 5),
        (Transition.RESOLVED, "a.example", T),
        (Transition.FIRING, "a.example", T + 5),
    ]
    assert [(n.kind, [a.domain for a in n.alerts]) for n in after.due(T + 5)] == [
        (Transition.RESOLVED, ["a.example"]),
        (Transition.FIRING, ["0.example", "a.example"]),
    ]


@pytest.mark.parametrize("silenced", [True, False])
def test_an_owed_resolve_of_a_firing_never_sent_pages_only_the_new_incident(
    silenced: bool,
) -> None:
    """A state file of an earlier build, which saved what a stop left undelivered as
    the alert's state: a.example fired at 60% and resolved at 10% while the pager was
    down, and neither had gone at the stop: saved firing, its resolve owed, and never
    sent. sesd restarts reading 200 s behind (under a silence on a.example, or not):
    the thin window holds it, and its firing is not paged (unsilenced, it was: "firing"
    at the thin window's figure, under the threshold, with a note that the figure was
    the one it last fired at, for an incident that had ended). Once the silence has
    ended and the window is full, reading 55%: no resolve goes (no sink had the
    firing), and the same reading begins a new incident, fired then and paged once."""
    config = parse_config(SINKS + rule())
    first = Pipeline(core_settings(config))
    before = Evaluator(config.alerts, ["5m"])
    feed_spike(first, "a.example", T, 6, 4)
    before.evaluate(first.ledger, T)
    before.due(T)
    feed_spike(first, "a.example", T + 2, 0, 50)
    (resolved,) = before.evaluate(first.ledger, T + 2)
    assert resolved.kind is Transition.RESOLVED
    # In the order that build listed them: the resolve first.
    unsent = [("delays", "a.example", kind) for kind in (Transition.RESOLVED, Transition.FIRING)]
    blob = snapshot(first.ledger, before, T + 3, unsent, True)
    pipeline = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, ["5m"])
    restore(blob, pipeline.ledger, after, T + 4)
    (state,) = after.states["delays"].values()
    assert (state.status, state.notified, state.resolved_at) == (FIRING, False, T + 2)
    quiet = Silence(id="s", comment="", starts_at=T + 4, ends_at=T + 5, domain="a.example")
    after.silences = SilenceSet([quiet] if silenced else [])
    pipeline.ledger.tallies.received("q", T + 4, 200.0)
    assert after.evaluate(pipeline.ledger, T + 4) == []
    assert after.due(T + 4, flush=True) == []
    # The silence over, the window still thin: the firing stays unpaged.
    pipeline.ledger.tallies.received("q", T + 5.5, 200.0)
    assert after.evaluate(pipeline.ledger, T + 5.5) == []
    feed_spike(pipeline, "a.example", T + 6, 60, 0)
    pipeline.ledger.tallies.received("q", T + 6, 1.0)  # caught up
    (fired,) = after.evaluate(pipeline.ledger, T + 6)
    assert (fired.kind, fired.rule, fired.domain) == (Transition.FIRING, "delays", "a.example")
    assert (fired.value, fired.since, fired.scope) == (0.55, T + 6, "domain")
    sent = [(n.kind, n.sinks, [a.domain for a in n.alerts]) for n in after.due(T + 6)]
    assert sent == [(Transition.FIRING, ("pager",), ["a.example"])]
    assert (state.status, state.notified, state.since) == (FIRING, True, T + 6)
    assert after.evaluate(pipeline.ledger, T + 7) == []
