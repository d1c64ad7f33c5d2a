"""Uncached cause classification: µs a text over every corpus text, against another
cause table in the same process.

``python -m bench causes --table OLD.toml``: every text of
``tests/data/diagnostics*.jsonl`` is classified with the cache bypassed (each real
diagnostic carries its own IPs and ids, so in production most are seen once), by
this table and by the baseline table given (for example
``git show 06249b0:sesd/core/causes.toml > /tmp/old.toml``), the two taking turns,
best of 15. Prints µs a text, the entries each table has, and the ratio; and the
entries of this table whose pattern the regex engine cannot skip ahead in (no
literal prefix and no set of first characters: an alternative that begins with a
group, a class or ``\b`` costs the whole entry 2-10x).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import time
from importlib import resources
from pathlib import Path

from sesd.core.causes import judge, load_table

#: CPython's regex parser and compiler (private to ``re``, untyped).
_PARSER = importlib.import_module("re._parser")
_COMPILER = importlib.import_module("re._compiler")

DATA = Path(__file__).parent.parent / "tests" / "data"
ROUNDS = 15


def _texts() -> list[str]:
    return [
        json.loads(line)["text"]
        for path in sorted(DATA.glob("diagnostics*.jsonl"))
        for line in path.read_text("utf-8").splitlines()
    ]


def _no_skip_ahead(patterns: list[re.Pattern[str]]) -> list[str]:
    """The patterns with neither a literal prefix nor a first-character set (CPython's
    own analysis, private to ``re``: a benchmark may lean on it, a test may not)."""
    slow = []
    for pattern in patterns:
        parsed = _PARSER.parse(pattern.pattern)
        prefix = _COMPILER._get_literal_prefix(parsed, 0)[0]
        if not prefix and _COMPILER._get_charset_prefix(parsed, 0) is None:
            slow.append(pattern.pattern)
    return slow


def main(argv: list[str] | None = None) -> None:
    """Time both tables, taking turns, and print the figures."""
    args = sys.argv if argv is None else argv
    ours = load_table(resources.files("sesd.core").joinpath("causes.toml").read_text("utf-8"))
    if "--table" not in args:
        print("give the baseline: --table FILE (a causes.toml, e.g. an older one)")
        return
    other_name = args[args.index("--table") + 1]
    other = load_table(Path(other_name).read_text("utf-8"))
    texts = _texts()
    tables = {"this table": ours, other_name: other}
    best = dict.fromkeys(tables, float("inf"))
    for _ in range(ROUNDS):
        for name, table in tables.items():
            start = time.perf_counter()
            for text in texts:
                judge(table, "", "", text)
            best[name] = min(best[name], (time.perf_counter() - start) / len(texts) * 1e6)
    print(f"uncached classification of {len(texts):,} corpus texts, best of {ROUNDS}")
    for name, table in tables.items():
        print(f"  {name:<40} {len(table.entries):>4} entries  {best[name]:6.1f} µs a text")
    print(f"  ratio {best['this table'] / best[other_name]:.2f}x")
    slow = _no_skip_ahead([entry.match for entry in ours.entries if entry.match is not None])
    print(f"  this table's patterns the engine cannot skip ahead in: {len(slow)}")
    for pattern in slow:
        print(f"    {pattern[:100]}")
