"""What the ``sesd.state.resolves_not_kept`` warning tells a person who must close by
hand the incidents whose resolves the state file left out: every label it leaves
unnamed counted (a rule owed more than a line names), and the sinks those incidents
are open in (a removed rule's sinks may be gone from the config too)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.retiring import Retiring, Undelivered
from sesd.alerting.rules import Transition
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state_refused import NAMED_FIRING, NAMED_RULES
from sesd.runtime.state_size import retired_room
from tests.test_render import _alert
from tests.test_state_alert_bytes import CONFIG, SINKS, T

RESOLVE = _alert(Transition.RESOLVED, "")


async def _warned(tmp_path: Path, owed: list[tuple[list[str], int]]) -> dict[str, Any]:
    """The stop's warning when removed rule ``gone`` is owed, for each (sinks, n) of
    ``owed`` in turn, ``n`` resolves to those sinks (the room's worth first: the
    oldest, kept), each of its own label."""
    config = parse_config(CONFIG)
    (rule,) = config.alerts.rules
    ledger = Pipeline(core_settings(config)).ledger
    evaluator = Evaluator(config.alerts, [spec.name for spec in ledger.specs])
    room = retired_room(ledger.settings, len(config.alerts.named_sinks()))
    retired: list[Retiring] = []
    for sinks, count in [([SINKS[0]], room), *owed]:
        gone = msgspec.structs.replace(rule, name="gone", sinks=sinks)
        for _ in range(count):
            i = len(retired)
            alert = replace(RESOLVE, rule="gone", domain=f"{i:05}.example", since=T + i, at=T + i)
            retired.append((gone, alert))
    saver = StateSaver(
        str(tmp_path / "state.bin"), ledger, evaluator, lambda: T + len(retired) + 9,
        lambda: Undelivered([], retired, {}),
    )  # fmt: skip
    saver.load()
    with capture_logs() as logs:
        await saver.save_last(30)
    saver.release()
    return dict({e["event"]: e for e in logs}["sesd.state.resolves_not_kept"])


async def test_the_labels_past_what_a_line_names_of_a_rule_are_counted(tmp_path: Path) -> None:
    """``gone`` is owed ten more resolves past the room than a line names of a rule: 50
    labels are named and the ten others counted in ``labels_not_named``. The save cut
    each rule's labels at 50 before the line's bound counted what it left out, so
    nothing said ten more incidents were to be closed than the line named."""
    said = await _warned(tmp_path, [([SINKS[0]], NAMED_FIRING + 10)])
    assert said["count"] == NAMED_FIRING + 10
    assert len(said["rules"]["gone"]) == NAMED_FIRING
    assert said["labels_not_named"] == 10


async def test_the_sinks_the_resolves_left_out_are_owed_to_are_named(tmp_path: Path) -> None:
    """The room holds the resolves owed to the first sink; three owed to the second,
    newer, are left out: the warning names the second sink (not the first, whose
    incidents are all resolved), where the labels it names stay open."""
    said = await _warned(tmp_path, [([SINKS[1]], 3)])
    assert said["count"] == 3
    assert said["sinks"] == [SINKS[1]]
    assert "sinks_not_named" not in said


async def test_the_sinks_past_what_a_line_names_are_counted(tmp_path: Path) -> None:
    """Resolves left out are owed to 25 sinks (a removed rule's, gone from the config
    with it): 20 named, the five others counted in ``sinks_not_named``."""
    said = await _warned(tmp_path, [([f"old{i:02}"], 1) for i in range(25)])
    assert said["count"] == 25
    assert said["sinks"] == [f"old{i:02}" for i in range(NAMED_RULES)]
    assert said["sinks_not_named"] == 25 - NAMED_RULES


async def test_a_sink_a_saved_rule_names_twice_counts_once(tmp_path: Path) -> None:
    """A rule restored from a file saved while it named its sink twice (before a config
    refused that) is owed three resolves past the room: three incidents, each sent
    once to the sink it names (sesd.alerting.service queues one a sink), so three left
    out, not six; the resolves kept take a row of the room each, not two."""
    said = await _warned(tmp_path, [([SINKS[1], SINKS[1]], 3)])
    assert said["count"] == 3
    assert said["sinks"] == [SINKS[1]]
    room = said["room"]
    assert said["kept"] == room
