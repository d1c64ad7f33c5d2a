"""How far a second careful reading agrees with the cause corpora's labels, and how the
cause table compares with both.

``tests/data/second_reading.jsonl`` holds two blind readings of 204 corpus lines:
all 60 of the held-out eighth file and 24 drawn at random from each of the second
to seventh files. Each reader saw only the line's status and text, shuffled, with
the cause vocabulary and a one-line definition of each cause (TESTING.md), never the
corpus's labels, its sources or notes, nor the table. Each named one to three causes
a careful on-call engineer would accept, the first being the one to act on.

A row's figure is how often its first cause is among the column's accepted causes,
the measure the corpus tests apply to the table. The two readers had the same brief
and agree with each other almost always: together they are one second opinion, not
two.

``python scripts/label_agreement.py``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sesd.core.causes import classify  # noqa: E402

DATA = ROOT / "tests" / "data"
HELD_OUT = "diagnostics_8.jsonl"


def _lines() -> list[dict[str, Any]]:
    """The second reading's lines, each with its corpus line's status, text and causes."""
    corpus: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(DATA.glob("diagnostics*.jsonl")):
        for raw in path.read_text("utf-8").splitlines():
            line = json.loads(raw)
            corpus[(path.name, line["id"])] = line
    read = []
    for raw in (DATA / "second_reading.jsonl").read_text("utf-8").splitlines():
        reading = json.loads(raw)
        read.append({**reading, **corpus[(reading["file"], reading["id"])]})
    return read


def _readers(line: dict[str, Any]) -> dict[str, list[str]]:
    table = classify(None, line.get("status", ""), line["text"])
    return {
        "corpus": line["causes"],
        "reader a": line["reader_a"],
        "reader b": line["reader_b"],
        "table": [table.cause],
    }


def main() -> None:
    lines = _lines()
    groups = {
        "development files (2nd-7th)": [x for x in lines if x["file"] != HELD_OUT],
        "held-out eighth file": [x for x in lines if x["file"] == HELD_OUT],
        "all": lines,
    }
    columns = ("corpus", "reader a", "reader b")
    for name, group in groups.items():
        read = [_readers(line) for line in group]
        print(f"{name}, {len(group)} lines: the row's first cause among the column's causes")
        print(" " * 10 + "".join(f"{column:>10}" for column in columns))
        for row in (*columns, "table"):
            cells = []
            for column in columns:
                if row == column:
                    cells.append(f"{'-':>10}")
                    continue
                agree = sum(r[row][0] in r[column] for r in read)
                cells.append(f"{agree / len(read):>10.1%}")
            print(f"{row:>10}" + "".join(cells))
        print()


if __name__ == "__main__":
    main()
