"""A resolve no sink had taken at a stop says, when the restart sends it, when the
alert ended: not when sesd started again. Sent as ending at the restart,
Alertmanager's endsAt and the "fired for" of Slack and PagerDuty stretched by the
time sesd was down (an hour's outage read as an hour more of incident)."""

from __future__ import annotations

from sesd.alerting.alert import Alert
from sesd.alerting.documents import alertmanager_documents
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import firing_span
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.timestamps import iso
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.test_state_removed import RULE


def _ended_and_saved() -> tuple[bytes, Alert]:
    """hotmail.com's alert fired at T0 and was sent; it ended at T0 + 600 and its
    resolve was not delivered when sesd stopped: the file saved, and the resolve."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    evaluator.due(f.T0)
    (resolve,) = evaluator.evaluate(pipeline.ledger, f.T0 + 600)
    assert (resolve.kind, resolve.at) == (Transition.RESOLVED, f.T0 + 600)
    rule = config.alerts.rules[0]
    return snapshot(pipeline.ledger, evaluator, f.T0 + 601, retired=[(rule, resolve)]), resolve


def _resent(blob: bytes, now: float) -> Alert:
    """The resolve a restart at ``now`` from the file ``blob`` sends."""
    config = parse_config(RULE)
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, ["5m"])
    restore(blob, fresh.ledger, after, now)
    (notification,) = after.due(now)
    assert notification.kind is Transition.RESOLVED
    (alert,) = notification.alerts
    documents = alertmanager_documents(notification, 60.0, now)
    assert documents[0]["endsAt"] == iso(alert.at)
    return alert


def test_a_resolve_sent_after_a_restart_ends_when_the_alert_ended() -> None:
    """sesd comes back an hour after the stop: the resolve ends at T0 + 600, and says
    the alert fired ten minutes, as it would have said before the stop."""
    blob, resolve = _ended_and_saved()
    resent = _resent(blob, f.T0 + 4200)
    assert resent.at == f.T0 + 600
    assert firing_span(resent) == firing_span(resolve)


def test_a_file_saved_ahead_of_the_clock_ends_the_alert_no_later_than_now() -> None:
    """The clock stepped back across the stop, to before the alert ended (the file is
    saved 301 s ahead of the restart): the resolve's times move back as far, ending a
    second before the restart as it ended a second before the save (Alertmanager would
    keep an alert ending later firing until then), and it says the alert fired ten
    minutes, as before the stop (ended at the restart, from its start as saved, it
    read five)."""
    blob, resolve = _ended_and_saved()
    resent = _resent(blob, f.T0 + 300)
    assert (resent.since, resent.at) == (f.T0 - 301, f.T0 + 299)
    assert firing_span(resent).startswith("fired for 10m00s, since ")
    assert firing_span(resolve).startswith("fired for 10m00s, since ")
