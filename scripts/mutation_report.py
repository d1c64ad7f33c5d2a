"""The mutation score per module from mutmut's results (``make mutation``).

Reads ``mutants/**/*.py.meta`` (mutmut 3's record of each mutant's test exit code)
and prints, per module, mutants killed over mutants generated, then every
survivor (``mutmut show NAME`` prints its diff). Exit status 1 when a module is
under the goal (90%).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

GOAL = 0.90
#: mutmut's exit codes (mutmut.stats): a test failed, or pytest broke down.
KILLED = {1, 3}
TIMEOUT = {24, -24, 36, 152, 255}


def main() -> int:
    """Print the report; 1 if a module is under the goal."""
    root = Path("mutants")
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print("no results: run `make mutation` first", file=sys.stderr)
        return 2
    under = False
    survivors: list[str] = []
    print(f"{'module':<32} {'killed':>7} {'of':>5} {'score':>7}  not killed")
    for meta in metas:
        module = str(meta.relative_to(root))[: -len(".meta")]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        outcome = Counter(
            "killed" if c in KILLED or c in TIMEOUT else "survived" if c == 0 else "untested"
            for c in codes.values()
        )
        killed = outcome["killed"]
        score = killed / len(codes)
        under |= score < GOAL
        rest = ", ".join(f"{n} {k}" for k, n in sorted(outcome.items()) if k != "killed")
        print(f"{module:<32} {killed:>7} {len(codes):>5} {score:>7.1%}  {rest or '-'}")
        survivors += sorted(name for name, code in codes.items() if code not in KILLED | TIMEOUT)
    if survivors:
        print("\nnot killed (mutmut show NAME):")
        print("\n".join(f"  {name}" for name in survivors))
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main())
