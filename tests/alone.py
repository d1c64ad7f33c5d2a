"""Memory measured in an interpreter of its own. tracemalloc counts what every thread
of the process allocates: in a test worker, a thread an earlier test left behind (a
server's, a handler waiting out a stopped daemon's long poll, a stuck read) can
allocate while a test measures, and a bound with a megabyte to spare once failed for
it. In a fresh interpreter the code measured is the only thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measured_alone(measure: Callable[..., float], *args: str) -> float:
    """What ``measure`` (a test module's function) returns given ``args``, run in a
    fresh interpreter. An assertion of its own that fails there fails here, with its
    traceback."""
    code = (
        f"import sys; from {measure.__module__} import {measure.__name__} as m;"
        " print(m(*sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout)
