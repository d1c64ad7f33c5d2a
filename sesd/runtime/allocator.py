"""glibc's bound for blocks given a mapping of their own, fixed as sesd starts.

glibc gives each block of 128 KiB or more its own mapping and returns it to the
system when it is freed. By default it then raises that bound to the size of each
such block freed: once the duplicate filter drops its first generation (set tables
of 4-5 MB), the tables of later generations and of recent resolutions come from the
heap, and what is freed there among live blocks stays resident. A flood of a million
new domains grew the resident set by 47-61 MB that way, against 38 MB with the bound
fixed (BENCHMARKS row 4b). Fixing it, as ``mallopt(M_MMAP_THRESHOLD)`` or glibc's
``MALLOC_MMAP_THRESHOLD_`` does, also turns the raising off.

Done in the process, so that every way of running sesd gets it (a unit, an image, a
plain ``sesd run``), not only those whose environment sets it. Standard library only,
and before the command's imports: the daemon's big tables come after.
"""

from __future__ import annotations

import os
from typing import Final

__all__ = ["MMAP_THRESHOLD", "fix_mmap_threshold"]

#: glibc's own starting bound (128 KiB), kept instead of raised.
MMAP_THRESHOLD: Final = 131072
#: ``M_MMAP_THRESHOLD`` in glibc's <malloc.h>.
_M_MMAP_THRESHOLD: Final = -3
#: The variable glibc reads for the same bound as a process starts.
_VARIABLE: Final = "MALLOC_MMAP_THRESHOLD_"
#: The tunable that gives it too (``GLIBC_TUNABLES=name=value:...``).
_TUNABLE: Final = "glibc.malloc.mmap_threshold"


def fix_mmap_threshold() -> bool:
    """Fix the bound at :data:`MMAP_THRESHOLD`; True when it was set here. Left alone
    when the environment gives glibc a value of its own, in its variable or its
    tunables (the operator's choice wins), and under another C library (musl has no
    such bound)."""
    if _VARIABLE in os.environ:
        return False
    tunables = os.environ.get("GLIBC_TUNABLES", "").split(":")
    if any(tunable.partition("=")[0] == _TUNABLE for tunable in tunables):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        # Imported here: a Python built without ctypes (no libffi) still runs sesd.
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError, ImportError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
