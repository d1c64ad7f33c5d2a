"""``sesd replay --report``, ``--rule`` and ``--set``: each rule's firing intervals
on a replayed stream, against hand-computed ones, and thresholds tried without
editing the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sesd.commands.main import main
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
    keeps that rule only; a wrong setting is one line, exit 2, and so is a setting of
    a rule `--rule` leaves out."""
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
    # A setting of a rule --rule leaves out changes nothing replayed: the report, of
    # the other rule alone, read as if it had been tried.
    assert main([*base, "--set", "other.above=0.9", str(events)]) == 2
    assert capsys.readouterr().err == (
        "sesd: --set 'other.above=0.9': rule 'other' is not replayed (--rule 'delays'): "
        "name it in --rule, or leave --rule out\n"
    )


def test_report_unions_overlapping_alerts_and_counts_what_still_fires() -> None:
    """a fires 0-100 and 300-end, b 50-150 (overlapping a): a rule fires 250 s of the
    400 s span (0-150 and 300-400), 300 s of alert time in all; a resolve without its
    firing counts nothing; labels by count, then name."""
    from sesd.commands.replay.tuning import report

    transitions = [
        ("r", "a", "firing", 0.0),
        ("r", "b", "firing", 50.0),
        ("r", "a", "resolved", 100.0),
        ("r", "b", "resolved", 150.0),
        ("r", "c", "resolved", 160.0),
        ("other", "a", "firing", 10.0),
        ("r", "a", "firing", 300.0),
    ]
    (found,) = report(["r"], transitions, 0.0, 400.0)
    assert (found.fired, found.firing_seconds, found.longest_seconds) == (3, 300.0, 100.0)
    assert found.share == 250.0 / 400.0
    assert list(found.labels.items()) == [("a", 2), ("b", 1)]
    (empty,) = report(["r"], [], 5.0, 5.0)
    assert (empty.fired, empty.share, empty.labels) == (0, 0.0, {})


def test_the_report_table_and_its_durations() -> None:
    from sesd.commands.replay.tuning import RuleReport, render_report

    labels = {f"d{i}.example": 7 - i for i in range(7)}
    table = render_report(
        [
            RuleReport("long-one", 9, 3 * 3600 + 125.0, 3725.0, labels, 0.25),
            RuleReport("quiet", 0, 0.0, 0.0, {}, 0.0),
            RuleReport("short", 1, 42.0, 42.0, {"a.example": 1}, 0.5),
        ]
    )
    assert table.splitlines() == [
        "rule                         fired    firing   longest  share  on",
        "long-one                         9     3h02m     1h02m  25.0%  d0.example (7), "
        "d1.example (6), d2.example (5), d3.example (4), d4.example (3), and 2 more",
        "quiet                            0        0s        0s   0.0%  -",
        "short                            1       42s       42s  50.0%  a.example (1)",
    ]
    # A config with no rule (the wrong file, a copy without its rules): a header over
    # nothing read as a month in which no rule fired.
    assert render_report([]).splitlines()[1:] == [
        "(no rule: the config has no [[alerts.rules]], so none fired)"
    ]


def _rule(text: str = "") -> str:
    return (
        '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        "above = 0.1\nclear_below = 0.05\nmin_events = 10\n" + text
    )


def test_set_overrides_each_key_and_is_checked_as_the_file_is() -> None:
    from sesd.commands.replay.tuning import override
    from sesd.config import parse_config

    config = parse_config(_rule() + '[[alerts.rules]]\nname = "s"\nmetric = "delay_ratio"\n'
                          'window = "5m"\nabove = 0.3\n')  # fmt: skip
    changed = override(config, ["r.above=0.2", "r.clear_below=0.15", "r.min_events=50", "r.for=2m"])
    rule, other = changed.alerts.rules
    assert (rule.above, rule.clear_below, rule.min_events, rule.for_.seconds) == (
        0.2,
        0.15,
        50,
        120.0,
    )
    assert other == config.alerts.rules[1]  # untouched, and in its place
    below = override(config, ["r.below=0.9"]).alerts.rules[0]
    assert (below.above, below.below, below.clear_below, below.rising) == (None, 0.9, None, False)
    assert override(config, []) == config


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("r.above", "write RULE.KEY=VALUE"),
        ("above=0.2", "write RULE.KEY=VALUE"),
        (".above=0.2", "write RULE.KEY=VALUE"),
        ("nope.above=0.2", "no rule named 'nope'"),
        ("r.window=1h", "'window' is not one of above, below"),
        ("r.above=high", "'r.above=high': above: 'high' is not a number"),
        # A percentage, as people say a threshold, told how the file writes it.
        ("r.above=5%", "'r.above=5%': above: '5%' is not a number (a fraction: 0.05 is 5%)"),
        ("r.clear_below=3 %", "clear_below: '3 %' is not a number (a fraction: 0.05 is 5%)"),
        ("r.min_events=1.5", "'r.min_events=1.5': min_events: '1.5' is not a whole number"),
        ("r.min_events=many", "'r.min_events=many': min_events: 'many' is not a number"),
        ("r.clear_below=0.5", "clear_below: 0.5 is above `above` (0.1)"),
        ("r.for=soon", "for: invalid duration 'soon'"),
        # The key, then why, as each other key refused is said (and as the file's is).
        ("r.min_events=-1", "'r.min_events=-1': min_events: must not be negative"),
        ("r.for=-5m", "for: invalid duration '-5m' (use e.g. '10s', '5m', '1h30m')"),
    ],
)
def test_a_wrong_setting_is_named(setting: str, error: str) -> None:
    from sesd.commands.replay.tuning import override
    from sesd.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as raised:
        override(parse_config(_rule()), [setting])
    assert str(raised.value).startswith(f"--set {setting!r}: ")
    assert error in str(raised.value)
    assert "$." not in str(raised.value)  # the key as the setting names it


def test_a_percentage_for_a_count_is_not_told_it_is_a_fraction() -> None:
    """``--set r.min_events=5%``: a count, not a threshold, so the hint a threshold's
    percentage gets (0.05 is 5%) would be wrong advice; the error is the number's alone."""
    from sesd.commands.replay.tuning import override
    from sesd.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as raised:
        override(parse_config(_rule()), ["r.min_events=5%"])
    assert str(raised.value) == "--set 'r.min_events=5%': min_events: '5%' is not a number"


def test_time_covered_by_overlapping_nested_and_touching_intervals() -> None:
    from sesd.commands.replay.tuning import _union

    assert _union([(0.0, 100.0), (20.0, 50.0), (100.0, 150.0), (200.0, 300.0)]) == 250.0
    assert _union([]) == 0.0


def test_setting_the_other_side_switches_the_rule() -> None:
    """A `below` rule given `above` fires above from then on: its below and clear_above
    go."""
    from sesd.commands.replay.tuning import override
    from sesd.config import parse_config

    config = parse_config(
        '[[alerts.rules]]\nname = "r"\nmetric = "delivery_ratio"\nwindow = "5m"\n'
        "below = 0.9\nclear_above = 0.95\n"
    )
    (rule,) = override(config, ["r.above=0.2"]).alerts.rules
    assert (rule.above, rule.below, rule.clear_above, rule.rising) == (0.2, None, None, True)
