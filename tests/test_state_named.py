"""The firing alerts a restart can resolve nowhere are named in the log for a person to
close by hand, by rule: each rule's labels from every part of the file that names
them, merged, and as many as a log line names of a rule, the others counted, however
many parts named them (a hand-edited file, as a later build's may hold any number)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Status
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_refused import NAMED_FIRING, NAMED_RULES, rules_in_line
from tests import factory as f
from tests.test_state_removed import RULE


def _file() -> dict[str, Any]:
    config = parse_config(RULE)
    evaluator = Evaluator(config.alerts, ["5m"])
    blob = snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0)
    data: dict[str, Any] = msgspec.msgpack.decode(blob)
    return data


def _firing(labels: list[str]) -> dict[str, list[Any]]:
    return {label: [Status.FIRING.value, f.T0, f.T0, 1.0, None, True] for label in labels}


def _restored(data: dict[str, Any]) -> dict[str, Any]:
    config = parse_config(RULE)
    after = Evaluator(config.alerts, ["5m"])
    found: dict[str, Any] = restore(
        msgspec.msgpack.encode(data), Pipeline(core_settings(config)).ledger, after, f.T0 + 1
    )
    return found


def test_a_rule_s_alerts_named_by_its_states_and_its_resolves_owed_are_all_named() -> None:
    """Rule ``gone`` is neither configured nor described in the file: its alert on
    a.example fires, and a resolve owed under it on b.example is kept apart, under a
    description that no longer reads as a rule. Both labels are named under ``gone``:
    the states' names did not take the place of the resolves'."""
    data = _file()
    data["alerts"]["gone"] = _firing(["a.example"])
    data["retired"] = [[{"name": "gone", "metric": "no_such"}, _firing(["b.example"]), ""]]
    restored = _restored(data)
    assert restored["unknown_rules"] == {"gone": ["a.example", "b.example"]}


def test_a_rule_s_alerts_named_are_cut_at_a_log_line_s_share() -> None:
    """Rule ``gone``'s states fire on 40 labels, and 40 more are owed resolves under it
    that cannot be sent: a log line names NAMED_FIRING of them, and counts the others."""
    data = _file()
    data["alerts"]["gone"] = _firing([f"a{i:02}.example" for i in range(40)])
    owed = _firing([f"b{i:02}.example" for i in range(40)])
    data["retired"] = [[{"name": "gone", "metric": "no_such"}, owed, ""]]
    line = rules_in_line(_restored(data)["unknown_rules"].items())
    (named,) = line["rules"].values()
    assert len(named) == len(set(named)) == NAMED_FIRING
    assert line["labels_not_named"] == 80 - NAMED_FIRING


def test_the_alerts_dropped_of_a_rule_s_resolves_owed_are_cut_at_a_log_line_s_share() -> None:
    """Rule ``r``'s resolves owed are kept apart in two entries (made for two reasons),
    each on 40 labels no event makes (a hand's edit): all dropped, and a log line
    names NAMED_FIRING of them, not 80, and counts the others."""
    data = _file()
    saved = data["rules"]["r"]
    data["retired"] = [
        [saved, _firing([f"Bad\x07{why}{i:02}" for i in range(40)]), why]
        for why in ("the rule was removed from the config", "the group was removed")
    ]
    line = rules_in_line(_restored(data)["dropped"].items())
    (named,) = line["rules"].values()
    assert len(named) == len(set(named)) == NAMED_FIRING
    assert line["labels_not_named"] == 80 - NAMED_FIRING


def test_the_rules_named_are_cut_at_a_log_line_s_share_and_the_rest_counted(
    tmp_path: Path,
) -> None:
    """A damaged or hand-edited file names 3,000 rules neither it nor the config
    describes, each firing on one label: the start's line names NAMED_RULES of them,
    each with its labels, and counts the others, rather than growing with the file."""
    data = _file()
    for i in range(3000):
        data["alerts"][f"gone{i:04}"] = _firing(["a.example"])
    path = tmp_path / "state.bin"
    path.write_bytes(msgspec.msgpack.encode(data))
    config = parse_config(RULE)
    saver = StateSaver(
        str(path), Pipeline(core_settings(config)).ledger, Evaluator(config.alerts, ["5m"]),
        lambda: f.T0 + 1,
    )  # fmt: skip
    with capture_logs() as logs:
        saver.load()
    saver.release()
    (line,) = [line for line in logs if line["event"] == "sesd.state.rules_unknown"]
    assert len(line["rules"]) == NAMED_RULES
    assert all(labels == ["a.example"] for labels in line["rules"].values())
    assert line["rules_not_named"] == 3000 - NAMED_RULES


def test_a_saved_rule_under_another_rule_s_name_does_not_read() -> None:
    """The file's description of rule ``r`` names rule ``s`` (a hand's edit): ``r``'s
    states are bounded by ``r``, as configured, not by what ``s`` holds. Its alert on
    a label no event makes is dropped and named, as any other; read as ``s``'s, no
    bound looked at ``r``'s states, and the label was restored. The description is
    counted as an entry that did not read."""
    data = _file()
    data["rules"]["r"]["name"] = "s"
    data["alerts"]["r"] = _firing(["a.example", "Bad\x07label"])
    restored = _restored(data)
    assert restored["alert_states_refused"] == 1
    assert restored["dropped"] == {"r": ["Bad\\u0007label"]}
    assert restored["entries_skipped"] == {"rules": 1}
    assert restored["unknown_rules"] == {}


def test_rules_that_are_no_map_read_as_configured() -> None:
    """The file's ``rules`` is a list, not a map (a hand's edit, a flipped byte in its
    type): its states are read under the rules as configured, and the entry counted
    as one that did not read; the file was refused whole (TypeError)."""
    data = _file()
    data["rules"] = [1, 2]
    data["alerts"]["r"] = _firing(["a.example", "Bad\x07label"])
    restored = _restored(data)
    assert restored["dropped"] == {"r": ["Bad\\u0007label"]}
    assert restored["entries_skipped"] == {"rules": 1}
