"""Every module of the package stays small enough to hold in one's head: under
``LIMIT`` lines (``make lint`` runs this). A module that grows past it is split by
what its parts are for, not wrapped or excused."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 400
ROOT = Path(__file__).resolve().parent.parent / "sesd"


def too_long(root: Path = ROOT, limit: int = LIMIT) -> list[tuple[str, int]]:
    """(path, lines) of each module at or over ``limit`` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines >= limit:
            found.append((str(path.relative_to(root.parent)), lines))
    return found


def main(argv: list[str]) -> int:
    """0 when every module (of the package, or of the directory given) is under the
    limit; 1, naming the others, when not."""
    found = too_long(Path(argv[0]).resolve()) if argv else too_long()
    for path, lines in found:
        print(f"{path}: {lines} lines (limit {LIMIT - 1}): split it by what its parts do")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
