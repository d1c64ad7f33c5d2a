"""A sink a rule names anew is paged for the alerts it fires: each told under the rule
it fired under (its value against that threshold), as its resolve to a sink the
rule dropped is, whether the sink was added by a reload or in the config while sesd
was down, and after a restart when a reload before the stop changed the thresholds
(the state file keeps the rule each alert fired under). Under the thresholds in
force, a page after the restart read "60% above 30%" for an alert the other sinks
were told fired above 20%."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_routing import RULE as ROUTED_RULE
from tests.test_routing import _alerting, _queued
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike


@pytest.mark.parametrize("added", ["by a reload", "while sesd was down"])
def test_a_sink_added_with_new_thresholds_is_paged_under_the_rule_it_fired_under(
    added: str,
) -> None:
    """a.example fires above 20% on the pager; the rule then also names the chat and
    fires above 30%. The chat is paged with the threshold the alert fired at (20%),
    under the severity in force."""
    first = parse_config(SINKS + rule())
    changed = 'sinks = ["pager", "chat"]\nseverity = "critical"\n'
    later = parse_config(SINKS + rule(extra=changed).replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    (fired,) = evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    if added == "by a reload":
        evaluator.configure(later.alerts, WINDOWS, T + 1, pipeline.ledger)
    else:
        blob = snapshot(pipeline.ledger, evaluator, T + 1, [], True)
        evaluator = Evaluator(later.alerts, WINDOWS)
        restore(blob, Pipeline(core_settings(later)).ledger, evaluator, T + 1)
    (page,) = evaluator.due(T + 1)
    assert (page.kind, page.sinks, page.severity) == (Transition.FIRING, ("chat",), "critical")
    assert [(a.threshold, a.severity) for a in page.alerts] == [(fired.threshold, "critical")]


async def test_a_sink_dropped_after_new_thresholds_is_told_those_it_was_paged_at() -> None:
    """PagerDuty and the console are paged for a.example above 20%; a reload moves the
    rule to 30%, a second drops PagerDuty, which takes nothing more before the stop.
    The resolve it is owed, then and after the restart, tells the 20% it was paged at."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
        'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
    )
    both = head + ROUTED_RULE + 'sinks = ["pagerduty", "console"]\n'
    later = parse_config(head + ROUTED_RULE.replace("0.2", "0.3") + 'sinks = ["console"]\n')
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, _ = _alerting(both)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        alerting.reconfigure(parse_config(both.replace("0.2", "0.3")))
        alerting.reconfigure(later)
        ((_, told),) = alerting.undelivered().retired
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )
    assert told.threshold == 0.2
    after = Evaluator(later.alerts, WINDOWS)
    restore(blob, Pipeline(core_settings(later)).ledger, after, T + 3)
    (resolve,) = after.due(T + 3)
    assert [(a.kind, a.threshold) for a in resolve.alerts] == [(Transition.RESOLVED, 0.2)]


async def test_a_resolve_queued_before_new_thresholds_tells_those_it_was_paged_at() -> None:
    """PagerDuty is paged for a.example above 20% and the alert ends, its resolve
    queued (PagerDuty down); a reload then moves the rule to 30% alone (its sinks,
    labels and severity as they were) before the stop. The resolve, saved and sent
    after the restart, tells the 20% it was paged at, as it was made, not 30%."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
        'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
    )
    first = head + ROUTED_RULE + 'sinks = ["pagerduty"]\n'
    later = parse_config(first.replace("0.2", "0.3"))
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(first)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        alerting.reconfigure(later)
        unsent = alerting.undelivered()
        ((_, told),) = unsent.retired
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )
    assert told.threshold == 0.2
    after = Evaluator(later.alerts, WINDOWS)
    restore(blob, Pipeline(core_settings(later)).ledger, after, T + 3)
    (resolve,) = after.due(T + 3)
    assert [(a.kind, a.threshold) for a in resolve.alerts] == [(Transition.RESOLVED, 0.2)]


async def test_reloads_retuning_a_rule_while_its_resolve_waits_keep_two_versions() -> None:
    """PagerDuty is paged above 20% and the alert ends, its resolve queued (PagerDuty
    down); reloads then retune the rule sixty times (a tuning job's, once a minute
    for an hour). Each kept a version: one per reload for as long as the resolve
    waited. Now a version no undelivered resolve reads as goes, but the last: the
    20% the resolve was made under stays, and the resolve, saved and restored,
    tells it."""
    head = (
        '[alerts]\ngroup_wait = "0s"\n[alerts.sinks.pagerduty]\ntype = "pagerduty"\n'
        'routing_key = "k"\nevents_url = "http://127.0.0.1:9/e"\n'
    )
    first = head + ROUTED_RULE + 'sinks = ["pagerduty"]\n'
    retuned = [first.replace("0.2", f"0.{300 + i}") for i in range(60)]
    async with aiohttp.ClientSession() as session:
        alerting, pipeline, now = _alerting(first)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 6, 4)
        alerting.evaluate()
        assert _queued(alerting, "pagerduty") == [("firing", ["a.example"])]  # taken
        now[0] = T + 1
        feed_spike(pipeline, "a.example", T + 1, 0, 400)
        assert [n.kind for n in alerting.evaluate()] == [Transition.RESOLVED]
        for text in retuned:
            alerting.reconfigure(parse_config(text))
        versions = alerting.evaluator.retired["delays"]
        unsent = alerting.undelivered()
        blob = snapshot(
            pipeline.ledger, alerting.evaluator, T + 2, unsent.again, True, unsent.retired
        )
    assert [rule.threshold for rule in versions] == [0.2, 0.358]
    later = parse_config(retuned[-1])
    after = Evaluator(later.alerts, WINDOWS)
    restore(blob, Pipeline(core_settings(later)).ledger, after, T + 3)
    (resolve,) = after.due(T + 3)
    assert [(a.kind, a.threshold) for a in resolve.alerts] == [(Transition.RESOLVED, 0.2)]


@pytest.mark.parametrize("change", ["drops the chat", "names the chat anew"])
def test_a_sink_moved_across_a_restart_after_new_thresholds_is_told_those_it_fired_at(
    change: str,
) -> None:
    """a.example fires above 20%; a reload moves the rule to 30% (it fires on, between
    the two), and sesd stops. The config is edited while sesd is down to drop the
    chat (or to name it anew): the restart is a reload across the stop, and the chat
    is told the 20% the alert fired at, as a reload without the stop tells it. The
    restart read the rule as saved (30%), the 20% lost with the process."""
    was = ["pager", "chat"] if change == "drops the chat" else ["pager"]
    now = ["pager"] if change == "drops the chat" else ["pager", "chat"]
    first = parse_config(SINKS + rule(extra=f"sinks = {was!r}\n".replace("'", '"')))
    retuned = parse_config(SINKS + rule(extra=f"sinks = {was!r}\n".replace("'", '"'))
                           .replace("0.2", "0.3"))  # fmt: skip
    edited = parse_config(SINKS + rule(extra=f"sinks = {now!r}\n".replace("'", '"'))
                          .replace("0.2", "0.3"))  # fmt: skip
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    (fired,) = evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(retuned.alerts, WINDOWS, T + 1, pipeline.ledger)
    assert evaluator.due(T + 1) == []
    blob = snapshot(pipeline.ledger, evaluator, T + 2, [], True)
    after = Evaluator(edited.alerts, WINDOWS)
    restore(blob, Pipeline(core_settings(edited)).ledger, after, T + 3)
    (told,) = after.due(T + 3)
    kind = Transition.RESOLVED if change == "drops the chat" else Transition.FIRING
    assert (told.kind, told.sinks) == (kind, ("chat",))
    assert [a.threshold for a in told.alerts] == [fired.threshold] == [0.2]


#: What decides an alert of :func:`rule`, as the state file keeps it.
_DECIDED = {
    "metric": "delay_ratio", "window": "5m", "cause": None, "include_suppressed": False,
    "above": 0.2, "below": None, "clear_below": None, "clear_above": None,
}  # fmt: skip


@pytest.mark.parametrize(
    "damaged",
    [
        "no map",
        {"delays": "no map"},
        {"delays": {"a.example": [1.0, {"above": 0.2}]}},  # keys left out
        {"delays": {"a.example": [1.0, {**_DECIDED, "metric": "no such metric"}]}},
        {"nameless": {"a.example": [1.0, {}]}},  # a rule the file does not describe
        # A rule the config would refuse: its text reached the sinks in the resolve's
        # "the rule was changed" note (an escape sequence to a console, 5,000
        # characters to a pager), and what it fired under.
        {"delays": {"a.example": [1.0, {**_DECIDED, "window": "5m\x1b[31m"}]}},
        {"delays": {"a.example": [1.0, {**_DECIDED, "window": "9" * 5000 + "m"}]}},
        {"delays": {"a.example": [1.0, {**_DECIDED, "window": "7m"}]}},  # never a window
        {"delays": {"a.example": [1.0, {**_DECIDED, "metric": "canary_missing"}]}},
    ],
)
def test_a_fired_entry_that_does_not_read_is_skipped_alone(damaged: object) -> None:
    """The rules alerts fired under (key ``fired``) damaged, by a hand or a flipped
    byte: each entry that does not read is skipped and counted, and the rest of the
    file restores (the alert still firing, as it would from a build that kept none)."""
    config = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(config.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, T + 1, [], True))
    data["fired"] = damaged
    after = Evaluator(config.alerts, WINDOWS)
    fresh = Pipeline(core_settings(config)).ledger
    restored = restore(msgspec.msgpack.encode(data), fresh, after, T + 2)
    assert restored["entries_skipped"] == {"fired": 1}
    assert list(after.firing()) == [("delays", "a.example")]


def test_the_alerts_of_a_storm_share_the_rule_they_fired_under_after_a_restart() -> None:
    """Two hundred alerts fire above 20%; a reload moves the rule to 30% (they fire on),
    and sesd stops. Before the stop the alerts share the rule they fired under, and a
    save reads its keys once. The restart read one rule for each alert's entry: each
    save after it read every alert's rule again (for 20,000 alerts, 422 ms of the
    event loop at each save, 9 ms before the stop), and each held a rule of its own."""
    first = parse_config(SINKS + rule())
    retuned = parse_config(SINKS + rule().replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.states["delays"] = {
        f"d{i:03}.example": AlertState(Status.FIRING, T - 1, T - 1, 0.5, None, True)
        for i in range(200)
    }
    evaluator.configure(retuned.alerts, WINDOWS, T, pipeline.ledger)
    blob = snapshot(pipeline.ledger, evaluator, T + 1, [], True)
    after = Evaluator(retuned.alerts, WINDOWS)
    restore(blob, Pipeline(core_settings(retuned)).ledger, after, T + 2)
    fired = after.rechecked.fired.values()
    assert len(fired) == 200
    assert {rule.threshold for rule, _ in fired} == {0.2}
    assert len({id(rule) for rule, _ in fired}) == 1


def test_a_fired_entry_under_a_window_the_file_was_saved_with_reads() -> None:
    """a.example fires under a rule on the 15m window; a reload moves the rule to the 5m
    window, and the config drops the 15m window while sesd is down. The entry's window
    is one the config had when the file was saved: it reads, and the resolve says the
    window the alert fired under."""
    first = parse_config(SINKS + rule().replace('window = "5m"', 'window = "15m"'))
    moved = parse_config(SINKS + rule())
    later = parse_config(SINKS + rule() + '[windows]\nsizes = ["5m", "1h"]\n')
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(moved.alerts, WINDOWS, T + 1, pipeline.ledger)
    blob = snapshot(pipeline.ledger, evaluator, T + 2, [], True)
    after = Evaluator(later.alerts, ["5m", "1h"])
    restored = restore(blob, Pipeline(core_settings(later)).ledger, after, T + 3)
    assert restored["entries_skipped"] == {}
    assert [rule.window for rule, _ in after.rechecked.fired.values()] == ["15m"]


@pytest.mark.parametrize("window", ["5m\x1b[31m", "9" * 5000 + "m", "7m"])
def test_a_saved_rule_of_a_window_no_config_had_reads_as_configured(window: str) -> None:
    """The file's description of the rule a.example fired under names a window no
    config had (a hand's edit, a flipped byte): it does not read, and is counted; the
    alert is read under the rule as configured, and its resolve says nothing of a
    change. Read, the window's text reached the sinks in the resolve's "the rule was
    changed in the config (window ... to 5m)" note."""
    config = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(config.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, T + 1, [], True))
    data["rules"]["delays"]["window"] = window
    after = Evaluator(config.alerts, WINDOWS)
    fresh = Pipeline(core_settings(config)).ledger
    restored = restore(msgspec.msgpack.encode(data), fresh, after, T + 2)
    assert restored["entries_skipped"] == {"rules": 1}
    after.evaluate(fresh, T + 4000)  # a window's length past the start, no data
    (resolve,) = after.due(T + 4000, flush=True)
    assert [(a.kind, a.notes) for a in resolve.alerts] == [(Transition.RESOLVED, ())]


def test_a_fired_entry_under_a_window_two_restarts_ago_still_reads() -> None:
    """As above, and sesd restarts once more with the config unchanged: the alert
    still fires under the 15m rule, saved by the first restart's run; the file's layout
    is the 5m and 1h windows now. The entry reads still: the window is one a config
    had, and it is this file's, written by sesd itself."""
    first = parse_config(SINKS + rule().replace('window = "5m"', 'window = "15m"'))
    moved = parse_config(SINKS + rule())
    later = parse_config(SINKS + rule() + '[windows]\nsizes = ["5m", "1h"]\n')
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(moved.alerts, WINDOWS, T + 1, pipeline.ledger)
    blob = snapshot(pipeline.ledger, evaluator, T + 2, [], True)
    once = Evaluator(later.alerts, ["5m", "1h"])
    ledger = Pipeline(core_settings(later)).ledger
    restore(blob, ledger, once, T + 3)
    blob = snapshot(ledger, once, T + 4, [], True)
    twice = Evaluator(later.alerts, ["5m", "1h"])
    restored = restore(blob, Pipeline(core_settings(later)).ledger, twice, T + 5)
    assert restored["entries_skipped"] == {}
    assert [rule.window for rule, _ in twice.rechecked.fired.values()] == ["15m"]


def test_a_window_the_file_says_alerts_fired_under_is_held_to_a_windows_shape() -> None:
    """The file's ``fired_windows`` (edited, damaged) names a window no config writes:
    an entry under it does not read, as without it."""
    config = parse_config(SINKS + rule())
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(config.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, T + 1, [], True))
    data["fired_windows"] = ["5m\x1b[31m", "9" * 5000 + "m"]
    data["fired"] = {"delays": {"a.example": [1.0, {**_DECIDED, "window": "5m\x1b[31m"}]}}
    after = Evaluator(config.alerts, WINDOWS)
    fresh = Pipeline(core_settings(config)).ledger
    restored = restore(msgspec.msgpack.encode(data), fresh, after, T + 2)
    assert restored["entries_skipped"] == {"fired": 1}
