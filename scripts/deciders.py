"""How often each kind of answer of the cause table is right on text it was not
written from.

For each cause corpus file from the third on, the table as it was when that file
arrived (``causes.toml`` at the commit that added it, before any rule came from it)
classifies the file's lines; each answer is tallied under what decided it (a tier of
entries, SES's delay type, the status code's class, or nothing: ``unknown``), as
right (its cause among the line's accepted causes) or wrong (another cause).

``python scripts/deciders.py`` (in a git checkout: it reads old tables). The held-out
eighth file is left out: it is measured as a whole, once (TESTING.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sesd.core.causes import DECIDERS, judge, load_table  # noqa: E402

DATA = ROOT / "tests" / "data"
#: The commit that added each file, with the table it was first measured against.
ARRIVED = {3: "8f88e10", 4: "293ead2", 5: "fa44fae", 6: "727fa81", 7: "4e6c81c"}


def corpus_file(n: int) -> list[dict[str, Any]]:
    """The lines of the ``n``-th cause corpus file (the first has no number)."""
    name = "diagnostics.jsonl" if n == 1 else f"diagnostics_{n}.jsonl"
    return [json.loads(raw) for raw in (DATA / name).read_text("utf-8").splitlines()]


def arrival_table(commit: str) -> Any:
    """The cause table as it was at ``commit`` (read from git)."""
    git = shutil.which("git") or "git"
    shown = subprocess.run(  # noqa: S603 - git with fixed arguments
        [git, "-C", str(ROOT), "show", f"{commit}:sesd/core/causes.toml"],
        capture_output=True,
        text=True,
        check=True,
    )
    return load_table(shown.stdout)


def _tally() -> dict[str, Counter[str]]:
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for n, commit in ARRIVED.items():
        table = arrival_table(commit)
        for line in corpus_file(n):
            found = judge(table, "", line.get("status", ""), line["text"])
            counts = tally[found.decided_by]
            counts["answers"] += 1
            counts["right"] += found.cause in line["causes"]
            counts["wrong"] += found.cause not in line["causes"] and found.cause != "unknown"
    return tally


def _print(title: str, tally: dict[str, Counter[str]]) -> None:
    every = sum(counts["answers"] for counts in tally.values())
    print(f"{title}: {every} lines")
    print(f"  {'decided by':<12} {'answers':>8} {'share':>7} {'right':>7} {'wrong':>7}")
    for decider in DECIDERS:
        counts = tally.get(decider)
        if not counts:
            continue
        n = counts["answers"]
        print(
            f"  {decider:<12} {n:>8} {n / every:>7.1%} "
            f"{counts['right'] / n:>7.1%} {counts['wrong'] / n:>7.1%}"
        )


def main() -> None:
    _print("files 3-7, each with the table it arrived to", _tally())


if __name__ == "__main__":
    main()
