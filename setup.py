"""The build, with an optional compiled core.

``SESD_COMPILE=1`` compiles the pure per-event core with mypyc (it needs mypy
and a C compiler at build time, so it is built without isolation; see
``make compiled``). Without it the package is pure Python, as usual. The
compiled modules behave the same; they run the hot path about 1.5x faster
(BENCHMARKS.md).
"""

import os

from setuptools import setup

#: The modules every event goes through: typed, mypy-strict, no I/O.
COMPILED_CORE = [
    "sesd/decode.py",
    "sesd/dedup.py",
    "sesd/domains.py",
    "sesd/pending.py",
    "sesd/pipeline.py",
    "sesd/sketch.py",
    "sesd/tallies.py",
    "sesd/timestamps.py",
    "sesd/windows.py",
    "sesd/canary/tracker.py",
]

ext_modules = []
if os.environ.get("SESD_COMPILE") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(COMPILED_CORE, opt_level="3")

setup(ext_modules=ext_modules)
