"""A restart on a wall clock an hour behind the state file's save time (the clock
stepped back while sesd was stopped: no process measured the step, the file's times
are the old clock's). Every alert time the file holds moves back by as much as the
save time is ahead: an alert that had fired forty minutes at the save has fired forty
minutes by the new clock (its reminder says so, its Alertmanager startsAt is when it
began on that clock), a pending alert's ``for`` runs on from where it was, a resolve
owed starts before it ends, and the rule a changed alert fired under is kept for it.
Taken as the restart's time, a forty-minute incident read "firing for 1s" at its next
reminder, startsAt moved to the restart, and a pending ``for`` began again."""

from __future__ import annotations

import io
from pathlib import Path

from sesd.alerting.documents import alertmanager_documents
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.render import firing_span
from sesd.alerting.retiring import Undelivered
from sesd.alerting.rules import Transition
from sesd.alerting.service import Alerting
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.timestamps import iso
from sesd.metrics.registry import Metrics
from sesd.runtime.clock import AnchoredClock
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore, snapshot
from tests.test_fired_step_back import CHANGED
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike

REMINDED = SINKS.replace('group_wait = "0s"', 'group_wait = "0s"\nrepeat_interval = "10m"')
#: How far the restart's clock is behind the file's save time.
BACK = 3600.0


def _restored(text: str, blob: bytes, now: float) -> tuple[Pipeline, Evaluator]:
    """A fresh sesd of config ``text`` restored from ``blob`` at ``now``."""
    config = parse_config(text)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    restore(blob, pipeline.ledger, evaluator, now)
    return pipeline, evaluator


def test_a_firing_alert_s_reminder_after_a_restart_an_hour_back_says_how_long_it_fired() -> None:
    """a.example fired at T and was reminded at T + 30m (every 10m); the file is saved
    at T + 40m, and sesd restarts an hour behind that. Its next reminder is due at once
    (ten minutes after the last, by the new clock), says "firing for 40m00s", and
    Alertmanager's startsAt is forty minutes before the restart, no later than endsAt."""
    config = parse_config(REMINDED + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    for at, kind in ((T, Transition.FIRING), (T + 1800, Transition.REPEAT)):
        feed_spike(pipeline, "a.example", at, 6, 4)
        (alert,) = evaluator.evaluate(pipeline.ledger, at)
        assert alert.kind is kind
        evaluator.due(at)
    saved = T + 2400
    now = saved - BACK
    pipeline, evaluator = _restored(
        REMINDED + rule(), snapshot(pipeline.ledger, evaluator, saved), now
    )
    assert evaluator.states["delays"]["a.example"].since == now - 2400
    feed_spike(pipeline, "a.example", now, 6, 4)
    (reminder,) = evaluator.evaluate(pipeline.ledger, now)
    assert reminder.kind is Transition.REPEAT
    assert firing_span(reminder).startswith("firing for 40m00s, since ")
    (notification,) = evaluator.due(now)
    (doc,) = alertmanager_documents(notification, 60.0)
    assert doc["startsAt"] == iso(now - 2400) < doc["endsAt"]


def test_a_pending_alert_s_for_runs_on_after_a_restart_an_hour_back() -> None:
    """a.example breaches from T under a ``for`` of ten minutes; the file is saved at
    T + 5m, and sesd restarts an hour behind that: the alert fires five minutes after
    the restart, ten after it began breaching (not ten after the restart), its start
    when it fired."""
    text = SINKS + rule(extra='for = "10m"\nsinks = ["pager"]\n')
    config = parse_config(text)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, T) == []
    saved = T + 300
    now = saved - BACK
    pipeline, evaluator = _restored(text, snapshot(pipeline.ledger, evaluator, saved), now)
    for at in (now, now + 299):
        feed_spike(pipeline, "a.example", at, 6, 4)
        assert evaluator.evaluate(pipeline.ledger, at) == [], at
    feed_spike(pipeline, "a.example", now + 300, 6, 4)
    (fired,) = evaluator.evaluate(pipeline.ledger, now + 300)
    assert (fired.kind, fired.since) == (Transition.FIRING, now + 300)


def test_a_resolve_undelivered_at_the_stop_after_a_restart_an_hour_back_fired_as_long() -> None:
    """a.example fired at T and resolved at T + 40m; the resolve was not delivered when
    sesd stopped at T + 41m, and sesd restarts an hour behind that. The restart's
    resolve says it fired forty minutes, starting forty-one minutes before the restart
    and ending a minute before it (taken as the restart's, its start was its end)."""
    config = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    feed_spike(pipeline, "a.example", T + 2400, 0, 50)
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 2400)
    assert resolved.kind is Transition.RESOLVED
    saved = T + 2460
    unsent = [("delays", "a.example", Transition.RESOLVED)]
    blob = snapshot(pipeline.ledger, evaluator, saved, unsent, True, resolves=[resolved])
    now = saved - BACK
    pipeline, evaluator = _restored(SINKS + rule(), blob, now)
    (again,) = evaluator.evaluate(pipeline.ledger, now)
    assert (again.kind, again.since, again.at) == (Transition.RESOLVED, now - 2460, now - 60)
    assert firing_span(again).startswith("fired for 40m00s, since ")


def test_a_changed_rule_s_resolve_after_a_restart_an_hour_back_says_the_rule_changed() -> None:
    """a.example fires at 60% above 20%; a reload moves the rule to 30%, and the file
    is saved. sesd restarts an hour behind the save: the alert's start moves back as
    far, and so does the rule it fired under, kept for it: resolved at 25%, the resolve
    says the rule changed, as without the step."""
    first = parse_config(SINKS + rule())
    later = SINKS + rule().replace("0.2", "0.3")
    pipeline = Pipeline(core_settings(first))
    evaluator = Evaluator(first.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(parse_config(later).alerts, WINDOWS, T + 1, pipeline.ledger)
    now = T + 2 - BACK
    pipeline, evaluator = _restored(later, snapshot(pipeline.ledger, evaluator, T + 2), now)
    feed_spike(pipeline, "a.example", now + 400, 6, 4)
    assert evaluator.evaluate(pipeline.ledger, now + 400) == []
    assert evaluator.states["delays"]["a.example"].since == T - BACK
    feed_spike(pipeline, "a.example", now + 410, 0, 14)
    (resolved,) = evaluator.evaluate(pipeline.ledger, now + 410)
    assert (resolved.kind, resolved.value, resolved.notes) == (
        Transition.RESOLVED,
        0.25,
        (CHANGED,),
    )
    assert resolved.since == T - BACK


def test_a_save_time_more_than_a_day_ahead_moves_no_alert_time() -> None:
    """A save time two days ahead of the restart (a damaged value is as likely as a
    step that long: a host's clock kept in local time is at most 14 h off) moves
    nothing: moved by it, the forty-minute incident would read two days old and a
    pending ``for`` would end at once. Its start stays ahead of the clock, which the
    next evaluation takes as its time, as before; a day ahead still moves."""
    config = parse_config(REMINDED + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    feed_spike(pipeline, "a.example", T, 6, 4)
    (alert,) = evaluator.evaluate(pipeline.ledger, T)
    assert alert.kind is Transition.FIRING
    evaluator.due(T)
    saved = T + 2400
    blob = snapshot(pipeline.ledger, evaluator, saved)
    for ahead, since in ((2 * 86_400.0, T), (86_400.0, saved - 86_400.0 - 2400)):
        _, restored = _restored(REMINDED + rule(), blob, saved - ahead)
        assert restored.states["delays"]["a.example"].since == since


async def test_a_step_measured_during_a_save_moves_the_file_s_times_once(
    tmp_path: Path,
) -> None:
    """a.example fires at T; ten minutes on a save begins, and the wall clock steps an
    hour back after the save read its time, before the alerting's part of the file is
    taken. The restart on the new clock finds the file an hour ahead and moves its
    times back the hour: the alert fired ten minutes before the save, by the new clock
    an hour before it read. Before, the alerting's part read the clock, the step was
    measured there and moved the alert's start, but the file kept the save's time from
    before it: the restart moved the start back a second hour."""
    config = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, WINDOWS)
    wall, monotonic = [float(T)], [0.0]
    made: list[Alerting] = []

    def stepped(step: float) -> None:
        made[0].stepped(clock.peek(), step)
        pipeline.ledger.stepped(step, clock.peek())

    clock = AnchoredClock(lambda: wall[0], lambda: monotonic[0], on_step=stepped)
    metrics = Metrics(pipeline.ledger, [], clock.peek, evaluator=evaluator)
    made.append(Alerting(
        config, pipeline.ledger, evaluator, clock, notifications=metrics.notifications,
        evaluation_errors=metrics.evaluation_errors,
        faults=metrics.task_failures.labels("alerting"), console=io.StringIO(),
        wall=clock.peek,
    ))  # fmt: skip
    feed_spike(pipeline, "a.example", T, 6, 4)
    (alert,) = evaluator.evaluate(pipeline.ledger, T)
    assert alert.kind is Transition.FIRING
    wall[0], monotonic[0] = T + 600, 600.0

    def unsent() -> Undelivered:
        wall[0] -= BACK  # the step, between the save's time and the alerting's part
        return made[0].undelivered()

    path = tmp_path / "state"
    saver = StateSaver(str(path), pipeline.ledger, evaluator, clock, unsent)
    saver.load()
    await saver.save_last(5.0, after="signal")
    saver.release()
    now = T + 600 - BACK
    _, restored = _restored(SINKS + rule(), path.read_bytes(), now)
    assert restored.states["delays"]["a.example"].since == now - 600
