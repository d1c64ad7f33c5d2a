"""A state file sesd refuses (a later sesd's, a damaged one) loads nothing, so nothing
resolves the alerts it had firing: the start names them for a person to resolve by
hand, as far as the file can be read. A part of the file this build does not read
(a later build's shape of the resolves it keeps owed) must not hide the firing
alerts the rest of the file names."""

from __future__ import annotations

import msgspec
import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import StateError
from sesd.runtime.state_refused import NAMED_FIRING, firing_in, rules_in_line
from tests import factory as f
from tests.test_state_removed import RULE


def _later_file(retired: object) -> bytes:
    """A later sesd's file: hotmail.com's alert firing, and ``retired`` as it wrote it."""
    config = parse_config(RULE)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.bounce(["a@hotmail.com", "b@hotmail.com"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m"])
    evaluator.evaluate(pipeline.ledger, f.T0)
    evaluator.due(f.T0)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 1))
    data["version"] += 1
    data["retired"] = retired
    blob = msgspec.msgpack.encode(data)
    with pytest.raises(StateError, match="later sesd"):
        restore(blob, Pipeline(core_settings(config)).ledger, Evaluator(config.alerts, ["5m"]), 0)
    return blob


@pytest.mark.parametrize(
    "retired",
    [
        {"r": [{"sinks": ["console"]}]},  # a map, where this build writes a list
        [{"rule": {"name": "r"}, "states": {}}],  # entries of another shape
        [[{"name": "r"}, {"gmail.com": "resolved"}, ""]],  # a state of another shape
    ],
)
def test_a_later_shape_of_the_owed_resolves_still_names_the_firing_alerts(
    retired: object,
) -> None:
    assert firing_in(_later_file(retired)) == {"r": ["hotmail.com"]}


def test_an_owed_resolve_read_beside_one_it_cannot_read_is_named() -> None:
    """Of two resolves kept owed, one unreadable: the other is named, with the firing
    alert."""
    readable = [{"name": "r"}, {"gmail.com": ["firing", 0.0, 0.0, None, 0.0, True]}, ""]
    found = firing_in(_later_file([7, readable]))
    assert found == {"r": ["hotmail.com", "gmail.com"]}


@pytest.mark.parametrize("damaged", [7, [], {"status": "firing"}])
def test_a_damaged_alert_state_hides_no_other_label_of_its_rule(damaged: object) -> None:
    """A file refused for one damaged alert state (a flipped byte) still names its rule's
    other firing alerts, the one listed after the damage among them: read as one, a
    rule's states were all left unnamed by the first that did not read."""
    firing = ["firing", 0.0, 0.0, None, None, True]
    blob = _later_file([])
    data = msgspec.msgpack.decode(blob)
    data["version"] -= 1  # this build's: refused for the damage alone
    (rule,) = data["alerts"]
    data["alerts"][rule] = {"gmail.com": damaged, "hotmail.com": firing, "yahoo.com": firing}
    blob = msgspec.msgpack.encode(data)
    config = parse_config(RULE)
    with pytest.raises(StateError, match="damaged"):
        restore(blob, Pipeline(core_settings(config)).ledger, Evaluator(config.alerts, ["5m"]), 0)
    assert firing_in(blob) == {rule: ["hotmail.com", "yahoo.com"]}


def test_damaged_alert_states_hide_none_of_the_owed_resolves() -> None:
    """A file whose alert states do not read at all (a list where a map is written)
    still names the alerts whose resolve it keeps owed."""
    readable = [{"name": "r"}, {"gmail.com": ["firing", 0.0, 0.0, None, 0.0, True]}, ""]
    data = msgspec.msgpack.decode(_later_file([readable]))
    data["alerts"] = [7]
    assert firing_in(msgspec.msgpack.encode(data)) == {"r": ["gmail.com"]}


def test_a_log_line_names_at_most_its_share_of_the_firing_alerts() -> None:
    """Of a file's many firing alerts, every one is found and the line names the first
    NAMED_FIRING, no more and no fewer, counting the others; a pending state takes no
    share."""
    firing = ["firing", 0.0, 0.0, None, None, True]
    data = msgspec.msgpack.decode(_later_file([]))
    labels = {f"d{n}.example": firing for n in range(NAMED_FIRING + 5)}
    data["alerts"] = {"r": {"pending.example": ["pending", 0.0, 0.0, None, None, True], **labels}}
    found = firing_in(msgspec.msgpack.encode(data))
    assert found == {"r": list(labels)}
    line = rules_in_line(found.items())
    assert line["rules"] == {"r": list(labels)[:NAMED_FIRING]}
    assert line["labels_not_named"] == 5
