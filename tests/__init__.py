"""sesd's tests.

``SESD_COMPILED=DIR`` (``make test-compiled``) runs them against the core
compiled with mypyc into DIR: it goes first on ``sys.path``, before this
checkout, and must hold compiled modules.
"""

import os
import sys

if compiled := os.environ.get("SESD_COMPILED"):
    if "sesd" in sys.modules:
        raise RuntimeError("SESD_COMPILED set after sesd was imported")
    sys.path.insert(0, os.path.abspath(compiled))
    import sesd.pipeline

    if not sesd.pipeline.__file__ or not sesd.pipeline.__file__.endswith(".so"):
        raise RuntimeError(f"SESD_COMPILED={compiled} holds no compiled sesd.pipeline")
