"""A resolve left undelivered at a stop keeps its alert firing in the state file (the
sinks have it so), and the first evaluation after the restart makes it again. A sink
the restart's rules name anew was never told the alert fired, and the incident had
ended before it was named: it is not paged that alert (a page, then its resolve, for
an incident over before the restart), nor its resolve; should the first evaluation
find it firing still, it is paged then, as an incident going on."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike


def resolve_left_unsent(windows: list[str] = WINDOWS, text: str = "") -> bytes:
    """The state file of a stop at which a resolve was left undelivered: a.example
    fired at 60% on the pager (or the sinks of ``text``, the config then) and
    resolved at 10%, and the pager had not taken the resolve."""
    first = parse_config(text or SINKS + rule())
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, windows)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    feed_spike(pipeline, "a.example", T + 2, 0, 50)
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 2)
    assert (resolved.kind, resolved.value) == (Transition.RESOLVED, 0.1)
    unsent = [("delays", "a.example", Transition.RESOLVED)]
    return snapshot(pipeline.ledger, evaluator, T + 3, unsent, True)


def restarted(blob: bytes, text: str, windows: list[str], at: float) -> tuple[Evaluator, Ledger]:
    """The evaluator and ledger of a start at ``at`` on the config ``text``, from
    the state file ``blob``."""
    config = parse_config(text)
    evaluator = Evaluator(config.alerts, windows)
    ledger = Pipeline(core_settings(config)).ledger
    restore(blob, ledger, evaluator, at)
    return evaluator, ledger


def test_a_sink_named_at_the_restart_is_not_paged_an_alert_that_had_resolved() -> None:
    """a.example fires at 60% on the pager and resolves at 10%; the pager has not taken
    the resolve when sesd stops. The restart's rule also names the chat: the pager is
    resolved, and the chat is sent nothing."""
    blob = resolve_left_unsent()
    after, ledger = restarted(
        blob, SINKS + rule(extra='sinks = ["pager", "chat"]\n'), WINDOWS, T + 4
    )
    after.evaluate(ledger, T + 4)
    sent = [(n.kind, n.sinks) for n in after.due(T + 4, flush=True)]
    # The chat never had the page: it is not told the incident ended either.
    assert sent == [(Transition.RESOLVED, ("pager",))]


def test_an_alert_whose_resolve_is_owed_is_not_fired_again_under_new_labels() -> None:
    """As above, on Alertmanager; the restart's rule carries other labels. The alert
    under its old labels is resolved, and nothing fires under the new ones: routed by
    them, it would page another team for an incident that had ended."""
    sinks = '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
    sinks += 'urls = ["http://127.0.0.1:9"]\n'
    blob = resolve_left_unsent(text=sinks + rule(extra='sinks = ["am"]\n'))
    later = sinks + rule(extra='sinks = ["am"]\nlabels = {team = "mail"}\n')
    after, ledger = restarted(blob, later, WINDOWS, T + 4)
    after.evaluate(ledger, T + 4)
    sent = [(n.kind, a.labels) for n in after.due(T + 4, flush=True) for a in n.alerts]
    assert [labels for kind, labels in sent if kind is Transition.FIRING] == []
    assert (Transition.RESOLVED, {}) in sent


def test_a_sink_named_at_the_restart_is_paged_an_alert_found_firing_still() -> None:
    """As the first, but the restart's rule clears only below 5%: the first evaluation
    finds the alert firing at 10%. The chat, named anew, is paged it then."""
    blob = resolve_left_unsent()
    named = rule(extra='sinks = ["pager", "chat"]\nclear_below = 0.05\n')
    after, ledger = restarted(blob, SINKS + named, WINDOWS, T + 4)
    after.evaluate(ledger, T + 4)
    sent = [(n.kind, n.sinks) for n in after.due(T + 4, flush=True)]
    assert sent == [(Transition.FIRING, ("chat",))]


def test_a_sink_named_at_the_restart_is_not_paged_while_the_window_is_too_thin() -> None:
    """As the first, but the first evaluation after the restart reads more than half a
    window behind (a backlog draining): too thin to resolve on, the alert stays firing
    on the resolve decided before the stop, not on its own figure. The chat is not
    paged it then ("firing at 10%" above 20%, for an incident whose resolve is owed);
    once caught up, the resolve goes to the pager alone."""
    blob = resolve_left_unsent(["5m"])
    after, ledger = restarted(
        blob, SINKS + rule(extra='sinks = ["pager", "chat"]\n'), ["5m"], T + 4
    )
    ledger.tallies.received("q", T + 4, 200.0)  # reading 200 s behind a 5m window
    after.evaluate(ledger, T + 4)
    assert [(n.kind, n.sinks) for n in after.due(T + 4, flush=True)] == []
    ledger.tallies.received("q", T + 5, 1.0)  # caught up
    after.evaluate(ledger, T + 5)
    sent = [(n.kind, n.sinks) for n in after.due(T + 5, flush=True)]
    assert sent == [(Transition.RESOLVED, ("pager",))]
