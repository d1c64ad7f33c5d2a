"""glibc's bound for blocks mapped on their own: fixed by the commands that hold big
tables, so freed tables leave the resident set however sesd is run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sesd.runtime import allocator


def _glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        return False


pytestmark = pytest.mark.skipif(not _glibc(), reason="glibc's allocator only")

_RSS = """
import os
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
"""
#: Frees one 1 MiB block (glibc's default then raises its bound past 512 KiB), then
#: 64 blocks of 512 KiB, each followed by a block of 100 KB that stays (a generation's
#: tables dropped among live blocks); prints the MiB that left the resident set.
_FREED = """
first = b"x" * (1 << 20)
del first
kept, big = [], []
for _ in range(64):
    big.append(b"x" * (1 << 19))
    kept.append(b"y" * 100_000)
held = rss()
del big
print((held - rss()) / 2**20)
"""


def _freed(before: str, env: dict[str, str] | None = None) -> float:
    """MiB the big blocks' freeing gave back, in a fresh interpreter that ran ``before``
    first (with no bound of its own in the environment unless ``env`` gives one)."""
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    result = subprocess.run(
        [sys.executable, "-c", f"{_RSS}\n{before}\n{_FREED}"],
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(result.stdout.splitlines()[-1])


def test_freed_big_blocks_stay_resident_under_glibcs_default() -> None:
    """What the fix is for: by default the 32 MiB freed stay in the heap."""
    assert _freed("") < 8


def test_freed_big_blocks_go_back_once_the_bound_is_fixed() -> None:
    assert _freed("from sesd.runtime.allocator import fix_mmap_threshold as f\nassert f()") > 24


@pytest.mark.parametrize("command", ["replay", "run", "demo"])
def test_the_commands_holding_big_tables_fix_the_bound(command: str, tmp_path: Path) -> None:
    """`sesd replay`, `sesd run` and `sesd demo` fix it before anything else (here each
    stops at once on a usage error: the bound is fixed by then), with no setting in the
    unit, the image or the operator's environment."""
    before = (
        "from sesd.commands.main import main\n"
        f"try:\n    main([{command!r}, '--no-such-flag'])\nexcept SystemExit:\n    pass"
    )
    assert _freed(before) > 24


def test_another_command_leaves_the_bound_alone() -> None:
    before = "from sesd.commands.main import main\nmain(['cause', '5.7.1 blocked'])"
    assert _freed(before) < 8


def test_the_operators_own_bound_wins() -> None:
    """A value in the environment is glibc's from the start, and sesd does not change it:
    one larger than the blocks keeps them in the heap."""
    env = {"MALLOC_MMAP_THRESHOLD_": str(4 << 20)}
    fixed = "from sesd.runtime.allocator import fix_mmap_threshold as f\nassert not f()"
    assert _freed(fixed, env) < 8


def test_the_bound_is_glibcs_own_starting_one() -> None:
    """128 KiB: the blocks glibc maps on its own from the start stay so."""
    assert allocator.MMAP_THRESHOLD == 128 * 1024


def test_a_python_without_ctypes_leaves_the_bound_alone() -> None:
    """A build without libffi has no ctypes: sesd starts all the same, under glibc's
    default."""
    without = (
        "import sys\nsys.modules['ctypes'] = None\n"
        "from sesd.runtime.allocator import fix_mmap_threshold as f\nassert not f()"
    )
    assert _freed(without) < 8


def test_the_operators_own_bound_given_as_a_tunable_wins() -> None:
    """glibc's tunables are the other way to give it the bound (``MALLOC_MMAP_THRESHOLD_``
    is their older alias): the operator's value stands there too."""
    env = {"GLIBC_TUNABLES": f"glibc.malloc.check=0:glibc.malloc.mmap_threshold={4 << 20}"}
    fixed = "from sesd.runtime.allocator import fix_mmap_threshold as f\nassert not f()"
    assert _freed(fixed, env) < 8
