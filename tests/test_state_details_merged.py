"""A state file can hold two texts of one kind that clean to the same value (a build
that cleaned otherwise wrote it, or a hand edited it). After the restore, alert text
counts them as one value with both counts, as the live events were counted."""

from __future__ import annotations

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.text import clean
from sesd.core.windows.breakdown import DIAGNOSTIC
from sesd.runtime.state import restore, snapshot
from tests import factory as f
from tests.test_rules import CONFIG, feed_spike

NOW = f.T0 + 10
WINDOWS = ["5m", "15m", "1h"]


def test_two_saved_texts_that_clean_to_one_value_add_their_counts() -> None:
    """A spike's six delays saved with their diagnostic as two recipients' raw texts
    (one per address, three each): after the restore the top diagnostics show the
    cleaned text once with all six, not the last row's three."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    feed_spike(pipeline, "a.example", NOW, 6, 4)
    evaluator = Evaluator(config.alerts, WINDOWS)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, NOW))
    before = pipeline.ledger.windows["a.example"].breakdown(0, NOW)
    assert [n for _, n in before.diagnostics] == [6]
    split = 0
    for details in data["windows"]["a.example"]["details"]:
        for coarse in (details or {}).values():
            for row in [row for row in coarse if row[0] == DIAGNOSTIC]:
                n = row[2]
                row[1], row[2] = "smtp; 421 <ann@a.example> busy", n - n // 2
                coarse.append([DIAGNOSTIC, "smtp; 421 <bob@a.example> busy", n // 2])
                split += 1
    assert split
    fresh = Pipeline(core_settings(config))
    restore(msgspec.msgpack.encode(data), fresh.ledger, evaluator, NOW)
    after = fresh.ledger.windows["a.example"].breakdown(0, NOW)
    assert after.diagnostics == [(clean("smtp; 421 <ann@a.example> busy"), 6)]
    assert after.delay_types == before.delay_types
