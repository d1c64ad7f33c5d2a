"""The top frames of a py-spy profile, as a table for BENCHMARKS.md.

``py-spy record --format raw -o stacks.txt -- python -m bench.flame`` writes one
line per distinct stack (frames separated by ``;``, then its sample count);
``python -m bench.frames stacks.txt [N]`` prints the N (15) frames with the most
samples under them (inclusive) and the share of samples each spends in itself.
A frame that recurses counts once per sample.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

#: py-spy's frame text: "function (path/to/module.py:line)"; the line is dropped so
#: that one function is one row.
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<path>[^():]+)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["path"]
    for marker in ("site-packages/", "/work/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['name']} ({path})"


def top_frames(lines: list[str], count: int) -> tuple[int, list[tuple[str, int, int]]]:
    """Total samples, and the ``count`` frames with most inclusive samples:
    (frame, inclusive, self)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, samples = line.rstrip().rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        n = int(samples)
        frames = [_short(f) for f in stack.split(";")]
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    return total, [(f, n, own[f]) for f, n in inclusive.most_common(count)]


def main(argv: list[str]) -> int:
    """Print the table for the profile named in ``argv``."""
    if not argv:
        print(__doc__)
        return 2
    count = int(argv[1]) if len(argv) > 1 else 15
    total, rows = top_frames(Path(argv[0]).read_text().splitlines(), count)
    print(f"{total:,} samples")
    print("| frame | samples | inclusive | self |")
    print("|---|---|---|---|")
    for frame, n, own in rows:
        print(f"| `{frame}` | {n:,} | {n / total:.1%} | {own / total:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
