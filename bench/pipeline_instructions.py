"""Instructions an event of bench/pipeline.py's pipeline, counted, for one checkout or several.

Timing the pipeline moves by up to 15% for one build from one run to the next on
a shared machine, more than most changes to it. Here each checkout feeds the
first 7,000 and the first 23,000 of bench/pipeline.py's bodies (made alike in
both runs) to ``bench.pipeline.pipeline()``, each count in a process of its own
under valgrind's cachegrind, instructions only, with ``PYTHONHASHSEED=0`` (dicts
and sets probe alike in every run): the difference over 16,000 leaves out
start-up, imports and the bodies' making. One build's count repeats within a few
hundred instructions an event (objects are hashed by address).

Other checkouts (a ``git worktree`` of an older commit, with a ``.venv`` of its
own or a link to one) are counted beside this one, each with its own
``bench.pipeline`` and sesd, and compared with this checkout's figure. The
mode ``decode`` counts ``decode_body`` alone; ``deliveries`` feeds the
Deliveries alone, at the times they have among the others (what the events that
are not deliveries cost is the difference). ``receives`` feeds them as the daemon
does (sesd.runtime.sqs_judge): ten to a receive, one at a time, all at the
receive's time (its last event's), as ``now`` and as the time received, so each
event's lag and its receive's are counted too, which ``feed`` leaves out.

``python -m bench pipeline_instructions [--mode feed|decode|deliveries|receives] [CHECKOUT ...]``
(valgrind must be installed).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from bench.instructions import instructions_of, per_unit

#: The two runs of each checkout; their difference is what is counted.
SIZES = (7_000, 23_000)
MODES = ("feed", "decode", "deliveries", "receives")
#: This checkout: the one whose bench is running.
HERE = Path(__file__).resolve().parent.parent

#: Run in each checkout with ``python -c``: its own bench.pipeline's bodies and
#: pipeline. The loop runs at module level with the names the figures in
#: BENCHMARKS.md were counted with: each name it reads is a lookup in the module's
#: dict, and other names, probing that dict otherwise, moved the count by about 100
#: an event.
_FEED = r"""
import sys

import sesd
from bench import pipeline as bp
from tests import factory as f

n = int(sys.argv[1])
mode = sys.argv[2]
if not sesd.__file__.startswith(sys.argv[3]):
    sys.exit(f"sesd was imported from {sesd.__file__}, not from {sys.argv[3]}")
bp.EVENTS = 23000
bodies = bp._bodies()
if mode == "decode":
    from sesd.core.decode import decode_body

    for body in bodies[:n]:
        decode_body(body)
else:
    feed = bp.pipeline().feed
    if mode == "deliveries":
        kept = [b'\\"Delivery\\"' in body for body in bodies]
        for i in range(n):
            if kept[i]:
                feed(bodies[i], "bench", f.T0 + i * 0.02)
    elif mode == "feed":
        for i in range(n):
            feed(bodies[i], "bench", f.T0 + i * 0.02)
    else:
        for i in range(0, n, 10):
            received = f.T0 + (i + 9) * 0.02
            for body in bodies[i : i + 10]:
                feed(body, "bench", received, received)
"""


def parse(argv: list[str]) -> argparse.Namespace:
    """The mode and the checkouts: this one first, then those given, each resolved
    (a checkout's sesd must be imported from under that path)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench pipeline_instructions",
        description="Count the pipeline's instructions an event under valgrind.",
    )
    parser.add_argument("--mode", choices=MODES, default="feed")
    parser.add_argument(
        "checkouts", nargs="*", metavar="CHECKOUT", help="another checkout, with its .venv"
    )
    args = parser.parse_args(argv)
    args.checkouts = [HERE, *(Path(c).resolve() for c in args.checkouts)]
    for checkout in args.checkouts[1:]:
        if not (checkout / "bench" / "pipeline.py").is_file():
            parser.error(f"{checkout} has no bench/pipeline.py: give a checkout of sesd")
        if not _python(checkout).is_file():
            parser.error(f"{checkout} has no .venv/bin/python: make .venv/.dev there, or link one")
    return args


def _python(checkout: Path) -> Path:
    """The interpreter a checkout runs with: its own venv's (this one's: the running one)."""
    return Path(sys.executable) if checkout == HERE else checkout / ".venv" / "bin" / "python"


def _count(checkout: Path, mode: str, size: int) -> int:
    """The instructions a process feeding ``size`` bodies in ``checkout`` executes, in all."""
    command = [str(_python(checkout)), "-c", _FEED, str(size), mode, f"{checkout}/"]
    what = f"{checkout}: {mode} of {size:,} bodies"
    return instructions_of(command, what, cwd=checkout, env={"PYTHONPATH": str(checkout)})


def _commit(checkout: Path) -> str:
    """The commit a checkout is at, as a reader of the figures would look it up."""
    done = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short=8", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"({done.stdout.strip()})" if done.returncode == 0 else "(not a git checkout)"


def per_event(checkout: Path, mode: str) -> float:
    """Instructions an event for ``checkout``, its two runs side by side (two cores)."""
    with ThreadPoolExecutor(len(SIZES)) as pool:
        counts = dict(zip(SIZES, pool.map(partial(_count, checkout, mode), SIZES), strict=True))
    return per_unit(counts.__getitem__, SIZES)


def main(argv: list[str] | None = None) -> None:
    """Count each checkout in turn (``argv``: the options and checkouts; none, this
    checkout alone); print instructions an event and each one's ratio to this
    checkout's."""
    args = parse(argv or [])
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)")
        return
    print(
        f"pipeline instructions an event, mode {args.mode}: (I({SIZES[1]:,}) - "
        f"I({SIZES[0]:,})) / {SIZES[1] - SIZES[0]:,} of bench.pipeline's bodies "
        "(valgrind cachegrind, PYTHONHASHSEED=0)"
    )
    first = None
    for checkout in args.checkouts:
        figure = per_event(checkout, args.mode)
        first = first or figure
        name = f"{'this checkout' if checkout == HERE else checkout} {_commit(checkout)}"
        print(f"  {figure:10,.0f}  {figure / first:.4f}x this checkout's  {name}")
