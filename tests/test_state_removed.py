"""What a restart does with a firing alert on a group the config no longer has, whose
label is in no table of the file (a reload removed the group, and its resolve was not
sent by the stop): the alert resolves, and the resolve goes to its sinks; an incident
sesd opened is not left open because its subject went."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.retiring import undelivered
from sesd.alerting.rules import Status, Transition
from sesd.config import core_settings, parse_config, saved_rule
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import StateError, read_state, write_state
from tests import factory as f

GROUP = '[domains]\nidle_evict = "1h"\ngroups = { Consumer-MS = ["hotmail.com"] }\n'
RULE = (
    '[alerts]\ngroup_wait = "0s"\n'
    '[[alerts.rules]]\nname = "r"\nmetric = "bounce_ratio"\nwindow = "5m"\nabove = 0.2\n'
    'sinks = ["console"]\n'
)


def _round_trip(
    tmp_path: Path,
    pipeline: Pipeline,
    evaluator: Evaluator,
    at: float,
    unsent: list[tuple[str, str, Transition]],
) -> bytes:
    """The state saved at ``at`` into a real file, and read back."""
    path = str(tmp_path / "state.bin")
    assert write_state(path, snapshot(pipeline.ledger, evaluator, at, unsent))
    blob = read_state(path)
    assert blob is not None
    return blob


def test_a_removed_group_s_resolve_not_sent_by_the_stop_is_sent_after_it(tmp_path: Path) -> None:
    """An alert fires on group ``Consumer-MS``; a reload removes the group, whose label
    goes with it, and queues the resolve, which the sink has not taken when sesd stops
    (saved as not sent: the alert firing, in no table of the file). sesd restarts with
    the config without the group: the firing alert is restored, not dropped as a
    hand's label, and the first evaluation resolves it, its resolve queued for the
    rule's sinks."""
    config = parse_config(GROUP + RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    (fired,) = evaluator.evaluate(pipeline.ledger, f.T0)
    assert (fired.kind, fired.domain) == (Transition.FIRING, "Consumer-MS")
    assert [n.kind for n in evaluator.due(f.T0)] == [Transition.FIRING]

    without = parse_config(GROUP.replace('groups = { Consumer-MS = ["hotmail.com"] }\n', "") + RULE)
    pipeline.reconfigure(core_settings(without))
    (resolve,) = evaluator.configure(
        without.alerts, ["5m"], f.T0 + 1, pipeline.ledger, ["Consumer-MS"]
    )
    assert (resolve.kind, resolve.domain) == (Transition.RESOLVED, "Consumer-MS")
    assert not pipeline.ledger.domains.holds("Consumer-MS")
    unsent = [("r", "Consumer-MS", Transition.RESOLVED)]
    blob = _round_trip(tmp_path, pipeline, evaluator, f.T0 + 2, unsent)

    fresh = Pipeline(core_settings(without))
    after = Evaluator(without.alerts, ["5m"])
    restored = restore(blob, fresh.ledger, after, f.T0 + 3)
    assert restored["dropped"] == {}
    assert after.states["r"]["Consumer-MS"].status is Status.FIRING
    (resolved,) = after.evaluate(fresh.ledger, f.T0 + 4)
    assert (resolved.kind, resolved.domain) == (Transition.RESOLVED, "Consumer-MS")
    (notification,) = after.due(f.T0 + 4)
    assert notification.kind is Transition.RESOLVED
    assert [a.domain for a in notification.alerts] == ["Consumer-MS"]
    assert notification.sinks == ("console",)
    assert after.evaluate(fresh.ledger, f.T0 + 10) == []
    assert "Consumer-MS" not in after.states["r"]  # forgotten once inactive


def test_the_file_s_list_of_alerted_labels_takes_only_a_group_s_shape() -> None:
    """The file's ``alerted`` list vouches for a label as its domain table does: given by
    hand an empty label, one longer than a domain and one with a control character,
    each with a firing alert, none is restored (counted, named escaped), while a
    group-shaped one is."""
    config = parse_config(RULE)
    evaluator = Evaluator(config.alerts, ["5m"])
    data = msgspec.msgpack.decode(
        snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0 + 1, [])
    )
    labels = ["Old-Group", "", "G" * 254, "Bell\x07"]
    data["alerted"] = labels
    data["alerts"]["r"] = {
        label: [Status.FIRING.value, f.T0, f.T0, 1, None, True] for label in labels
    }
    after = Evaluator(config.alerts, ["5m"])
    blob = msgspec.msgpack.encode(data)
    restored = restore(blob, Pipeline(core_settings(config)).ledger, after, f.T0 + 2)
    assert list(after.states["r"]) == ["Old-Group"]
    assert restored["alert_states_refused"] == 3


def test_a_file_whose_groups_are_not_names_is_refused_as_damaged() -> None:
    """A state file whose ``groups`` list holds something other than names (a flipped
    byte, a hand's edit: a number beside a name, a list) is refused as a damaged file
    is, nothing of it loaded and sesd starting without it: not a start that fails,
    again at every restart, on a TypeError."""
    config = parse_config(GROUP + RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    blob = snapshot(pipeline.ledger, evaluator, f.T0 + 1, [])
    for groups in (["Old-Group", 7], [["Consumer-MS"]], [7]):
        data = msgspec.msgpack.decode(blob)
        data["groups"] = groups
        fresh = Pipeline(core_settings(config))
        after = Evaluator(config.alerts, ["5m"])
        with pytest.raises(StateError, match="damaged"):
            restore(msgspec.msgpack.encode(data), fresh.ledger, after, f.T0 + 2)
        assert not fresh.ledger.domains.holds("Consumer-MS")
        assert after.states == {"r": {}}


def test_a_restart_without_a_group_resolves_its_alert_at_once(tmp_path: Path) -> None:
    """An alert fires on group ``Consumer-MS`` and is sent; sesd stops, and starts with
    a config without the group: as a reload removing it would, the restart resolves the
    alert at once, saying why, not a window's length after the start (the group's
    windows would hold no new event: its domains count under their own labels)."""
    config = parse_config(GROUP + RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    assert [n.kind for n in evaluator.due(f.T0)] == [Transition.FIRING]
    blob = _round_trip(tmp_path, pipeline, evaluator, f.T0 + 1, [])

    without = parse_config(GROUP.replace('groups = { Consumer-MS = ["hotmail.com"] }\n', "") + RULE)
    fresh = Pipeline(core_settings(without))
    after = Evaluator(without.alerts, ["5m"])
    restored = restore(blob, fresh.ledger, after, f.T0 + 2)
    assert restored["owed"] == ["resolved r Consumer-MS"]
    (notification,) = after.due(f.T0 + 2)
    assert notification.kind is Transition.RESOLVED
    ((alert),) = notification.alerts
    assert (alert.domain, alert.notes) == (
        "Consumer-MS",
        ("the group was removed from the config",),
    )
    assert "Consumer-MS" not in after.states["r"]
    assert "Consumer-MS" not in fresh.ledger.windows
    assert after.evaluate(fresh.ledger, f.T0 + 3) == []


def test_a_removed_rule_s_resolve_not_sent_by_the_stop_is_sent_after_it(tmp_path: Path) -> None:
    """Rule ``r`` (labelled ``team = "mail"``) fires on hotmail.com and is sent; a
    reload removes the rule and queues its resolve, which a sink has not taken when sesd
    stops (a PagerDuty down, an Alertmanager member owed it). The file keeps the
    resolve owed apart, under the rule as it was, so the restart, whose config has no
    ``r``, resolves it as removed, under the labels it fired with, to the rule's sinks;
    and keeps the rule for the next stop while the resolve is not delivered."""
    labelled = RULE + 'labels = { team = "mail" }\n'
    config = parse_config(labelled)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    assert [n.kind for n in evaluator.due(f.T0)] == [Transition.FIRING]

    without = parse_config(labelled.replace('name = "r"', 'name = "s"').replace("0.2", "0.9"))
    (resolve,) = evaluator.configure(without.alerts, ["5m"], f.T0 + 1, pipeline.ledger)
    assert (resolve.kind, resolve.rule) == (Transition.RESOLVED, "r")
    unsent = undelivered([], evaluator, without.alerts.by_labels())  # as a stop finds it
    assert unsent.again == []
    path = str(tmp_path / "state.bin")
    saved = snapshot(pipeline.ledger, evaluator, f.T0 + 2, [], True, unsent.retired)
    assert write_state(path, saved)
    blob = read_state(path)
    assert blob is not None

    fresh = Pipeline(core_settings(without))
    after = Evaluator(without.alerts, ["5m"])
    restored = restore(blob, fresh.ledger, after, f.T0 + 3)
    assert restored["owed"] == ["resolved r hotmail.com"]
    assert restored["unknown_rules"] == {}
    (notification,) = after.due(f.T0 + 3)
    assert (notification.rule, notification.kind) == ("r", Transition.RESOLVED)
    assert notification.sinks == ("console",)
    ((alert),) = notification.alerts
    assert (alert.domain, alert.labels, alert.notes) == (
        "hotmail.com",
        {"team": "mail"},
        ("the rule was removed from the config",),
    )
    assert "r" not in after.states
    assert list(after.retired) == ["r"]


def test_a_retired_resolve_under_a_rule_sesd_cannot_read_names_its_alerts() -> None:
    """A file's resolve owed under a rule this sesd cannot read (a later build's
    metric): not sent, and its alerts named among those left open, by the rule's name,
    for a person to resolve by hand."""
    config = parse_config(RULE)
    evaluator = Evaluator(config.alerts, ["5m"])
    blob = snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0 + 1, [])
    data = msgspec.msgpack.decode(blob)
    later = {**data["rules"]["r"], "name": "later", "metric": "a_later_metric"}
    firing = [Status.FIRING.value, f.T0, f.T0, 0.5, f.T0, True]
    data["retired"] = [[later, {"b.example": firing, "a.example": firing}, "why"]]
    after, ledger = Evaluator(config.alerts, ["5m"]), Pipeline(core_settings(config)).ledger
    restored = restore(msgspec.msgpack.encode(data), ledger, after, f.T0 + 2)
    assert restored["unknown_rules"] == {"later": ["a.example", "b.example"]}
    assert after.due(f.T0 + 2, flush=True) == []


def test_a_resolve_owed_on_a_label_its_rule_cannot_hold_is_dropped_not_sent() -> None:
    """The file keeps resolves owed under a rule a reload removed; given by hand a label
    no event makes (a control character in it) beside a group-shaped one, the restart
    counts it refused and names it dropped, and sends no resolve of it: only the
    group's goes. Counted dropped yet kept, its resolve went to the sinks all the same,
    while the log told a person it was left for them to close."""
    config = parse_config(RULE)
    gone = parse_config(RULE.replace('name = "r"', 'name = "gone"')).alerts.rules[0]
    evaluator = Evaluator(config.alerts, ["5m"])
    data = msgspec.msgpack.decode(
        snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0 + 1, [])
    )
    labels = ["Old-Group", "Bell\x07"]
    data["alerted"] = ["Old-Group"]
    row = [Status.FIRING.value, f.T0, f.T0, 1, f.T0, True]
    data["retired"] = [[saved_rule(gone), dict.fromkeys(labels, row), "removed"]]
    after = Evaluator(config.alerts, ["5m"])
    ledger = Pipeline(core_settings(config)).ledger
    restored = restore(msgspec.msgpack.encode(data), ledger, after, f.T0 + 2)
    assert restored["alert_states_refused"] == 1
    assert restored["dropped"] == {"gone": ["Bell\\u0007"]}
    after.evaluate(ledger, f.T0 + 3)
    sent = [(n.kind, [a.domain for a in n.alerts]) for n in after.due(f.T0 + 3, flush=True)]
    assert sent == [(Transition.RESOLVED, ["Old-Group"])]
