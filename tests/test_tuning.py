"""``sesd replay --report``, ``--rule`` and ``--set``: each rule's firing intervals
on a replayed stream, against hand-computed ones, and thresholds tried without
editing the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sesd.cli import main
from tests import factory as f

RULE = (
    '[providers]\nenabled = false\n[alerts]\nevaluate_every = "10s"\n'
    '[[alerts.rules]]\nname = "delays"\nmetric = "delayed_recipients"\nwindow = "5m"\n'
    "above = 2\nmin_events = 0\n"
)


def _spikes(path: Path) -> None:
    """Two spikes of delays on a.example (at T0 and T0+1200: 3 delays, then 5), one
    on b.example (T0+600: 4), deliveries around them until T0+1800."""
    events: list[dict[str, object]] = []
    for t in range(0, 1801, 60):
        events.append(f.delivery([f"ok{t}@a.example"], at=f.T0 + t))
        if t == 0:
            events += [f.delay([f"d{i}@a.example"], at=f.T0) for i in range(3)]
        if t == 600:
            events += [f.delay([f"e{i}@b.example"], at=f.T0 + 600) for i in range(4)]
        if t == 1200:
            events += [f.delay([f"g{i}@a.example"], at=f.T0 + 1200) for i in range(5)]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_the_report_gives_each_rules_firing_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hand-computed: `delayed_recipients > 2` over 5m, evaluated every 10 s. a.example
    fires at T0 (3 delays) and resolves when they leave the 5m window (T0+300: its
    ring moves in 10 s buckets), again at T0+1200 until T0+1500; b.example fires at
    T0+600 until T0+900. Three firings of 300 s each: 900 s firing over the 1800 s
    replayed, half of it."""
    config = tmp_path / "sesd.toml"
    config.write_text(RULE)
    events = tmp_path / "events.jsonl"
    _spikes(events)
    assert main(["replay", "--config", str(config), "--json", "--report", str(events)]) == 0
    (found,) = json.loads(capsys.readouterr().out)["report"]
    assert found == {
        "rule": "delays",
        "fired": 3,
        "firing_seconds": 900.0,
        "longest_seconds": 300.0,
        "labels": {"a.example": 2, "b.example": 1},
        "share": 0.5,
    }
    assert main(["replay", "--config", str(config), "--report", str(events)]) == 0
    table = capsys.readouterr().out
    row = [line.split() for line in table.splitlines() if line.startswith("delays ")]
    assert row == [
        ["delays", "3", "15m00s", "5m00s", "50.0%", "a.example", "(2),", "b.example", "(1)"]
    ]


def test_set_tries_another_threshold_and_rule_keeps_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--set delays.above=3` leaves the spike of 3 out (only 4 and 5 fire); `--set
    delays.for=5m` fires only on a breach that lasts 5 minutes (none here); `--rule`
    keeps that rule only; a wrong setting is one line, exit 2."""
    config = tmp_path / "sesd.toml"
    config.write_text(
        RULE
        + '[[alerts.rules]]\nname = "other"\nmetric = "bounce_ratio"\nwindow = "5m"\nabove = 0.5\n'
    )
    events = tmp_path / "events.jsonl"
    _spikes(events)
    base = ["replay", "--config", str(config), "--json", "--report", "--rule", "delays"]
    assert main([*base, "--set", "delays.above=3", str(events)]) == 0
    (found,) = json.loads(capsys.readouterr().out)["report"]
    assert (found["fired"], found["labels"]) == (2, {"a.example": 1, "b.example": 1})
    assert main([*base, "--set", "delays.for=5m", str(events)]) == 0
    (found,) = json.loads(capsys.readouterr().out)["report"]
    assert found["fired"] == 0
    assert main([*base, "--set", "delays.window=1h", str(events)]) == 2
    assert "'window' is not one of" in capsys.readouterr().err
    assert main([*base, "--set", "nope.above=1", str(events)]) == 2
    assert "no rule named 'nope'" in capsys.readouterr().err
