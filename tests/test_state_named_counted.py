"""The start's lines naming alerts left open for a person to close by hand
(``sesd.state.rules_unknown``) count every label of a rule named that they leave out
(``labels_not_named``), not only those past the line's 16 KiB: a rule of 80 alerts
left open read as one of 50."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state_refused import NAMED_FIRING
from tests import factory as f
from tests.test_state_named import _file, _firing
from tests.test_state_refused_names import _later_file
from tests.test_state_removed import RULE


def _lines(tmp_path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``sesd.state.rules_unknown`` lines of a start from ``data``."""
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
    return [dict(line) for line in logs if line["event"] == "sesd.state.rules_unknown"]


def test_an_unknown_rule_s_alerts_past_a_line_s_share_are_counted(tmp_path: Path) -> None:
    """Rule ``gone``, neither configured nor described, fires on 40 labels and is owed
    40 resolves that cannot be sent: 50 named, the 30 others counted."""
    data = _file()
    data["alerts"]["gone"] = _firing([f"a{i:02}.example" for i in range(40)])
    owed = _firing([f"b{i:02}.example" for i in range(40)])
    data["retired"] = [[{"name": "gone", "metric": "no_such"}, owed, ""]]
    (line,) = _lines(tmp_path, data)
    assert len(line["rules"]["gone"]) == NAMED_FIRING
    assert line["labels_not_named"] == 80 - NAMED_FIRING


def test_the_alerts_dropped_past_a_line_s_share_are_counted(tmp_path: Path) -> None:
    """Rule ``r``'s 80 firing alerts are on labels no event makes (a hand's edit): all
    dropped, 50 named, the 30 others counted."""
    data = _file()
    data["alerts"]["r"] = _firing([f"Bad\x07{i:02}" for i in range(80)])
    (line,) = _lines(tmp_path, data)
    assert len(line["rules"]["r"]) == NAMED_FIRING
    assert line["labels_not_named"] == 80 - NAMED_FIRING


def test_a_refused_file_s_firing_alerts_are_named_by_rule_and_the_rest_counted(
    tmp_path: Path,
) -> None:
    """A later sesd's file (a rollback after an upgrade) is refused whole: three rules
    fire on 40 labels each, and no resolve will come for any. Each rule is named with
    its labels. The start named the first 50 alerts of the file, of whichever rules
    they were, and counted nothing past them: 70 incidents left open unsaid."""
    data = msgspec.msgpack.decode(_later_file([]))
    data["alerts"] = {f"r{r}": _firing([f"d{i:02}.example" for i in range(40)]) for r in range(3)}
    (line,) = _lines(tmp_path, data)
    assert {name: len(labels) for name, labels in line["rules"].items()} == {
        "r0": 40, "r1": 40, "r2": 40,
    }  # fmt: skip
    assert not line.keys() & {"labels_not_named", "rules_not_named"}


def test_a_refused_file_s_alerts_past_a_line_s_share_are_counted(tmp_path: Path) -> None:
    """A refused file's rule fires on 80 labels: 50 named, the 30 others counted."""
    data = msgspec.msgpack.decode(_later_file([]))
    data["alerts"] = {"r": _firing([f"d{i:02}.example" for i in range(80)])}
    (line,) = _lines(tmp_path, data)
    assert len(line["rules"]["r"]) == NAMED_FIRING
    assert line["labels_not_named"] == 80 - NAMED_FIRING


def test_a_removed_rule_s_resolves_owed_past_a_line_s_share_are_counted(
    tmp_path: Path,
) -> None:
    """Rule ``gone``, whose description no longer reads, is owed 80 resolves that
    cannot be sent, and fires on nothing: 50 named, the 30 others counted."""
    data = _file()
    owed = _firing([f"b{i:02}.example" for i in range(80)])
    data["retired"] = [[{"name": "gone", "metric": "no_such"}, owed, ""]]
    (line,) = _lines(tmp_path, data)
    assert len(line["rules"]["gone"]) == NAMED_FIRING
    assert line["labels_not_named"] == 80 - NAMED_FIRING
