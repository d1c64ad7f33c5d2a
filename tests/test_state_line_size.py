"""The log lines that name alerts for a person to close by hand stay short enough for
journald to keep each whole: it keeps 48 KiB of a line by default (``LineMax=``) and
cuts or splits a longer one, which a person can then neither read nor grep whole.
The names such a line holds take at most NAMED_BYTES as the JSON log writes them
(every character not ASCII escaped); what the bound leaves out is counted, as the
rules past NAMED_RULES are. 20 rules of 50 labels of 200 characters made a line of
about 200 kB."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.retiring import Undelivered
from sesd.alerting.rules import Status, Transition
from sesd.config import core_settings, parse_config, saved_rule
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_refused import NAMED_BYTES, NAMED_FIRING, NAMED_RULES
from sesd.runtime.state_size import retired_room
from tests import factory as f
from tests.test_render import _alert
from tests.test_state_alert_bytes import CONFIG, SINKS, T, _longest
from tests.test_state_removed import RULE


def _counted(line: Mapping[str, Any]) -> None:
    """``line`` names rules and labels within NAMED_BYTES, of NAMED_RULES rules of
    NAMED_FIRING labels each, and counts what it leaves out: the rules not named, and
    the labels not named of those named."""
    assert len(json.dumps(line["rules"])) <= NAMED_BYTES
    assert line["rules"], "the bound names some"
    assert len(line["rules"]) + line["rules_not_named"] == NAMED_RULES
    named = sum(map(len, line["rules"].values()))
    assert named + line["labels_not_named"] == len(line["rules"]) * NAMED_FIRING


async def test_the_stop_s_resolves_not_kept_names_within_the_line_s_bound(
    tmp_path: Path,
) -> None:
    """20 removed rules of 64-character names are each owed 50 resolves of 253-character
    labels past what the file keeps: the stop's warning names what fits its bound, and
    counts the others."""
    config = parse_config(CONFIG)
    (rule,) = config.alerts.rules
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
    room = retired_room(ledger.settings, len(config.alerts.named_sinks()))
    resolve = _alert(Transition.RESOLVED, "")
    kept = msgspec.structs.replace(rule, name="kept", sinks=[SINKS[0]])
    retired = [
        (kept, replace(resolve, rule="kept", domain=f"{i}.example", since=T - 9, at=T - 9))
        for i in range(room)
    ]
    for r in range(NAMED_RULES):
        name = f"{r:02d}" + "g" * 62
        gone = msgspec.structs.replace(rule, name=name, sinks=[SINKS[0]])
        for i in range(NAMED_FIRING):
            label = _longest(r * NAMED_FIRING + i)
            retired.append((gone, replace(resolve, rule=name, domain=label, since=T, at=T)))
    saver = StateSaver(
        str(tmp_path / "state.bin"), ledger, evaluator, lambda: T + 9,
        lambda: Undelivered([], retired, {}),
    )  # fmt: skip
    saver.load()
    with capture_logs() as logs:
        await saver.save_last(30)
    saver.release()
    said = {line["event"]: line for line in logs}["sesd.state.resolves_not_kept"]
    assert said["count"] == NAMED_RULES * NAMED_FIRING
    _counted(said)


def _firing(labels: list[str]) -> dict[str, list[Any]]:
    return {label: [Status.FIRING.value, f.T0, f.T0, 1.0, None, True] for label in labels}


def _file() -> dict[str, Any]:
    config = parse_config(RULE)
    blob = snapshot(Pipeline(core_settings(config)).ledger, Evaluator(config.alerts, ["5m"]), f.T0)
    data: dict[str, Any] = msgspec.msgpack.decode(blob)
    return data


def test_the_start_s_rules_unknown_names_within_the_line_s_bound(tmp_path: Path) -> None:
    """A hand-edited file names 20 rules neither it nor the config describes, each
    firing on 50 labels of 300 characters: the start's line names what fits its bound,
    and counts the others."""
    data = _file()
    for r in range(NAMED_RULES):
        data["alerts"][f"gone{r:02d}"] = _firing([f"{i:03d}" + "x" * 297 for i in range(50)])
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
    _counted(line)


def test_the_start_s_owed_names_within_the_line_s_bound() -> None:
    """A removed rule's resolves are owed on 30 groups the file's table lists, each a
    name of 253 characters not ASCII (the JSON log writes each as six): the restored
    line names the alerts owed that fit its bound, and counts the others."""
    config = parse_config(RULE)
    gone = parse_config(RULE.replace('name = "r"', 'name = "gone"')).alerts.rules[0]
    data = _file()
    labels = [f"{i:02d}" + "\u7fa4" * 251 for i in range(30)]
    data["alerted"] = labels
    row = [Status.FIRING.value, f.T0, f.T0, 1, f.T0, True]
    data["retired"] = [[saved_rule(gone), dict.fromkeys(labels, row), "removed"]]
    ledger = Pipeline(core_settings(config)).ledger
    restored = restore(msgspec.msgpack.encode(data), ledger, Evaluator(config.alerts, ["5m"]),
                       f.T0 + 2)  # fmt: skip
    assert restored["owed"]
    assert len(json.dumps(restored["owed"])) <= NAMED_BYTES
    assert len(restored["owed"]) + restored["owed_not_named"] == len(labels)
