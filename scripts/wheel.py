"""Build sesd's wheel into ``dist/`` from the checkout it is run in (``make wheel``).

- ``build/`` goes first: setuptools packs whatever ``build/lib`` holds, so a module
  deleted or moved since an earlier build in the same tree would ship again (a
  rollback's wheel then fails to import).
- The commit is recorded in the wheel (``sesd/io/REVISION``): an installed wheel has
  no checkout to read it from, and every build of a release has the same version.
- No build isolation: the build backend is the venv's setuptools and wheel, pinned
  and hashed in ``requirements/dev.txt``, not what the index serves that day.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def main(root: Path) -> int:
    for name in ("build", "dist"):
        shutil.rmtree(root / name, ignore_errors=True)
    # A fixed command, no input from outside (git from PATH, as make finds it).
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    recorded = root / "sesd" / "io" / "REVISION"
    if head.returncode == 0:
        recorded.write_text(head.stdout.strip() + "\n", encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    try:
        built = subprocess.run([*pip, "--wheel-dir", "dist", "."], cwd=root, check=False)  # noqa: S603
        return built.returncode
    finally:
        recorded.unlink(missing_ok=True)
        shutil.rmtree(root / "build", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(Path.cwd()))
