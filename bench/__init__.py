"""Benchmarks: run on purpose with ``make bench``, never as part of ``make test``.

``SESD_COMPILED=build/compiled`` (after ``make compiled``) measures the core
compiled with mypyc instead of the pure checkout (see tests/__init__.py).
"""

import tests  # noqa: F401 - first: it honours SESD_COMPILED before sesd is imported
