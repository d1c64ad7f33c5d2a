"""A resolve left undelivered at a stop is saved as its alert still firing (the sinks
have it so), with the figure it resolved at; the first evaluation after the restart
makes the resolve again. Until then the status page, its JSON, `sesd status` and
/metrics must not show it firing at that figure (10% under a rule above 20%, a
contradiction), nor count it firing, but tell it resolved at it, its resolve to go
out, as Alertmanager is posted it. What goes to the sinks is made by an evaluation,
which reads the figure anew: before the first one, nothing is sent of it, nor does
/metrics carry a figure."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.commands.status_table import table
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.daemon import Daemon
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import write_state
from sesd.status.markup import alerts_html
from sesd.status.model import build_status, scope_page
from sesd.status.page import status_html, status_main
from tests.test_owed_ended_restart import resolve_left_unsent
from tests.test_rule_changes import SINKS, T, rule
from tests.test_rules import feed_spike


def _restarted(tmp_path: Path) -> Daemon:
    """a.example fired at 60% on the pager and resolved at 10%; the pager had not taken
    the resolve when sesd stopped. The daemon restarted on that file, not evaluated yet."""
    path = tmp_path / "state.bin"
    write_state(str(path), resolve_left_unsent(["5m"]))
    config = parse_config(f'[state]\npath = "{path}"\n' + SINKS + rule())
    daemon = Daemon(config, clock=lambda: T + 4, monotonic=lambda: T + 4)
    daemon.saver.load()
    return daemon


def test_a_resolve_owed_at_a_restart_is_not_shown_firing_at_the_figure_it_resolved_at(
    tmp_path: Path,
) -> None:
    daemon = _restarted(tmp_path)
    try:
        doc = build_status(daemon.status, T + 4, {}, (daemon.status.started, {}))
        (row,) = doc.alerts.items
        # Resolved, as sesd last knew it (and Alertmanager is posted it): firing only in
        # the state, until an evaluation makes its resolve again; no figure it fires at.
        assert (row.state, row.value) == ("resolved", None)
        # Counted neither firing nor pending: not "1 firing" in the heading or the tab.
        assert (doc.alerts.total, doc.alerts.firing, doc.alerts.resolved) == (1, 0, 1)
        assert "0 firing, 0 pending, 1 resolved" in alerts_html(
            doc.alerts.items, 1, 0, T + 4, resolved=1
        )
        assert "<title" in status_html(doc, 10.0)
        assert "firing ·" not in status_html(doc, 10.0)
        assert row.value_text == "resolved at 10.0%"
        assert any("resolve goes out" in note for note in row.notes)
        html = alerts_html(doc.alerts.items, 1, 1, T + 4)
        assert 'resolved at 10.0%<span class="note">fires above 20.0%, 5m window' in html
        page = scope_page(daemon.status, "domain", "a.example", T + 4)
        assert page is not None
        assert [(a.value, a.value_text) for a in page.alerts] == [(None, "resolved at 10.0%")]
        shown = table(doc)
        # Of a figure under the threshold: the rule's side, as the resolve's text says.
        assert "resolved at 10.0% (fires above 20.0%" in shown
        assert "ALERTS: 0 firing, 0 pending, 1 resolved" in shown
        assert "delay_ratio 10.0%" not in shown
        # /metrics does not count it firing (0), as the alert's row and Alertmanager
        # tell it; no figure.
        metrics = generate_latest(daemon.metrics.registry).decode()
        assert 'sesd_alerts_firing{domain="a.example",rule="delays"} 0.0' in metrics
        # Nothing is sent of it before an evaluation: no reminder, no re-post.
        assert daemon.alerting.evaluator.due(T + 4) == []
        assert all(not len(outbox) for outbox in daemon.alerting.outboxes.values())
        # The first evaluation resolves it, and the page lists it no more.
        daemon.alerting.evaluate(flush=True)
        after = build_status(daemon.status, T + 4, {}, (daemon.status.started, {}))
        assert after.alerts.items == []
    finally:
        daemon.saver.release()


def test_no_reminder_tells_an_owed_resolve_firing_while_its_window_is_too_thin() -> None:
    """a.example fired at 60% six hours ago, and resolved at 10%; the pager had not
    taken the resolve at the stop. The first evaluation after the restart reads more
    than half a window behind (a backlog draining): too thin to resolve on, the alert
    stays firing. Its reminder is due, but a reminder would page "firing at 10%"
    (above 20%) for an incident whose resolve was decided: none is sent; the resolve
    goes out once the window holds enough."""
    first = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    later = T + 6 * 3600
    feed_spike(pipeline, "a.example", later, 1, 9)
    (resolved,) = evaluator.evaluate(pipeline.ledger, later)
    assert (resolved.kind, resolved.value) == (Transition.RESOLVED, 0.1)
    unsent = [("delays", "a.example", Transition.RESOLVED)]
    blob = snapshot(pipeline.ledger, evaluator, later + 1, unsent, True)
    after = Evaluator(first.alerts, ["5m"])
    ledger = Pipeline(core_settings(first)).ledger
    restore(blob, ledger, after, later + 2)
    ledger.tallies.received("q", later + 2, 200.0)  # reading 200 s behind a 5m window
    assert after.evaluate(ledger, later + 2) == []
    assert after.due(later + 2, flush=True) == []
    ledger.tallies.received("q", later + 3, 1.0)  # caught up
    sent = [(n.kind, [a.value for a in n.alerts]) for n in after.due(later + 3, flush=True)]
    sent += [(a.kind, [a.value]) for a in after.evaluate(ledger, later + 3)]
    assert sent == [(Transition.RESOLVED, [0.1])]


def test_the_domain_table_does_not_list_an_owed_resolve_firing(tmp_path: Path) -> None:
    """As the first: until the first evaluation the alerts' rows read the alert
    resolved at 10%; the domains table, its JSON and `sesd status` named it firing on
    a.example, and marked the row so."""
    daemon = _restarted(tmp_path)
    try:
        doc = build_status(daemon.status, T + 4, {}, (daemon.status.started, {}))
        (domains,) = [t for t in doc.scopes if t.axis == "domain"]
        (row,) = [r for r in domains.items if r.name == "a.example"]
        assert row.firing == []
        assert "delays" not in table(doc).split("DOMAINS", 1)[-1]
        html = status_main(doc).split('id="scope-domain"', 1)[1].split("</section>", 1)[0]
        assert "a.example" in html
        assert 'class="firing"' not in html
        assert "delays" not in html
    finally:
        daemon.saver.release()
