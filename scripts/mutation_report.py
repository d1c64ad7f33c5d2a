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


def _status(code: int | None) -> str:
    if code in KILLED or code in TIMEOUT:
        return "killed"
    if code is None:
        return "not run yet"
    return {0: "survived", 5: "no tests", 33: "no tests"}.get(code, f"exit {code}")


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
        outcome = Counter(_status(code) for code in codes.values())
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
