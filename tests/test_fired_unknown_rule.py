"""The thresholds a firing alert fired under (key ``fired``) of a rule neither the
state file nor the config describes: its alerts are named for a person to close by
hand (``unknown_rules``), and the entry goes with them; counted as skipped too, one
damaged description read as two damaged entries, and a whole storm's alerts as as
many more."""

from __future__ import annotations

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import restore, snapshot
from tests.test_rule_changes import SINKS, WINDOWS, T, rule
from tests.test_rules import feed_spike


def test_the_fired_entry_of_an_unknown_rule_is_not_counted_as_skipped() -> None:
    """a.example fires above 20%; a reload moves the rule to 30% (it fires on), and sesd
    stops. The file's description of the rule is damaged and the config no longer
    has it: the alert is named as left open, and the one entry skipped is the rule's
    description."""
    first = parse_config(SINKS + rule())
    retuned = parse_config(SINKS + rule().replace("0.2", "0.3"))
    pipeline = Pipeline(core_settings(first))
    feed_spike(pipeline, "a.example", T, 6, 4)
    evaluator = Evaluator(first.alerts, WINDOWS)
    evaluator.evaluate(pipeline.ledger, T)
    evaluator.due(T)
    evaluator.configure(retuned.alerts, WINDOWS, T + 1, pipeline.ledger)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, T + 2, [], True))
    assert list(data["fired"]) == ["delays"]
    data["rules"]["delays"] = "damaged"
    other = parse_config(SINKS + rule(name="other"))
    after = Evaluator(other.alerts, WINDOWS)
    restored = restore(msgspec.msgpack.encode(data), Pipeline(core_settings(other)).ledger,
                       after, T + 3)  # fmt: skip
    assert restored["unknown_rules"] == {"delays": ["a.example"]}
    assert restored["entries_skipped"] == {"rules": 1}
