"""Two builds' in-process pipelines on the same events, alternating, in one run.

``python -m bench.ab CHECKOUT_A CHECKOUT_B [ROUNDS]`` (e.g. a ``git worktree`` of
an older commit, and this one): bench/pipeline.py's 150,000 events are written
once, then each checkout's sesd feeds them in a process of its own, the two
taking turns, best of ROUNDS (3) each. A build from before the package was split
into layers (``sesd.pipeline``) is driven too. Prints µs an event and B's ratio
to A's.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.pipeline import DOMAINS, _bodies

#: Run inside each checkout: builds its pipeline as in production (providers on,
#: every domain's provider known, one rule), feeds the events twice, prints the
#: best µs an event.
_FEED = r"""
import pickle, sys, time
from sesd.config import parse_config
rule = ('[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\n'
        'above = 0.05\n')
try:
    from sesd.config import core_settings
    from sesd.core.pipeline import Pipeline
    def make():
        pipeline = Pipeline(core_settings(parse_config(rule)))
        return pipeline, pipeline.ledger.providers.remember
except ImportError:  # before the core/runtime split
    from sesd.pipeline import Pipeline
    def make():
        pipeline = Pipeline(parse_config(rule))
        return pipeline, pipeline.resolver._remember
bodies, domains, t0 = pickle.load(open(sys.argv[1], "rb"))
best = float("inf")
for _ in range(2):
    pipeline, remember = make()
    for i in range(domains):
        remember(f"d{i}.example", ("google", "microsoft", "yahoo", "apple", "other")[i % 5],
                 t0 + 86400)
    start = time.process_time()
    for i, body in enumerate(bodies):
        pipeline.feed(body, "bench", t0 + i * 0.02)
    best = min(best, time.process_time() - start)
print(best / len(bodies) * 1e6)
"""


def _run(checkout: str, events: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _FEED, str(events)],
        cwd=checkout,
        env={"PYTHONPATH": checkout, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    """Alternate the two checkouts, best of ROUNDS each."""
    first, second = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 3
    from tests import factory as f

    with tempfile.TemporaryDirectory() as directory:
        events = Path(directory) / "events.pickle"
        events.write_bytes(pickle.dumps((_bodies(), DOMAINS, f.T0)))
        results: dict[str, list[float]] = {first: [], second: []}
        for _ in range(rounds):
            for checkout in (first, second):
                results[checkout].append(_run(checkout, events))
    for checkout, runs in results.items():
        each = ", ".join(f"{r:.2f}" for r in runs)
        print(f"  {checkout}: best {min(runs):.2f} µs an event ({each})")
    print(f"  B / A: {min(results[second]) / min(results[first]):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
