"""Bytecode written once, before pytest-xdist starts its workers, for them and the
processes they start to read.

Where PYTHONDONTWRITEBYTECODE is set (as on the machines the suite runs on), nothing
writes bytecode: each worker rewrote and compiled every test module it collected
(pytest's assertion rewriting, in Python: 8 s of a worker's 11.5 s of CPU to collect
the suite, so 24 s of CPU under ``-n 3``), and each ``sesd`` the tests start as a
process compiled sesd's modules again (0.2 s of the 0.75 s a replay's start took).
pytest also rewrites the modules of the plugins installed with it (hypothesis',
anyio's, xdist's: about 120, 2 s of CPU) in each process, where nothing kept them.
The controller writes them here (only what is missing or out of date), where
pytest's workers and Python read them whatever that variable says: the same code,
read instead of made. It writes into ``__pycache__`` beside the sources, where
Python itself would (git ignores them; a plugin's are the virtualenv's), and pytest
checks each against its source's hash before it reads it.
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SESD = TESTS.parent / "sesd"


def rewritten(config: pytest.Config, module: Path) -> Path | None:
    """Writes ``module`` as pytest's assertion rewriting makes it, where pytest reads
    it, unless what is there is already that; the file, or None where pytest does not
    rewrite (``--assert=plain``)."""
    from _pytest.assertion.rewrite import (
        PYC_TAIL,
        _read_pyc,
        _rewrite_test,
        _write_pyc,
        assertstate_key,
        get_cache_dir,
        try_makedirs,
    )

    state = config.stash.get(assertstate_key, None)
    if state is None or state.mode != "rewrite":
        return None
    pyc = get_cache_dir(module) / (module.name[:-3] + PYC_TAIL)
    if _read_pyc(module, pyc) is None:
        if not try_makedirs(pyc.parent):
            return None  # read-only (an installed plugin's): rewritten where imported
        source_hash, code = _rewrite_test(module, config)
        _write_pyc(state, code, source_hash, pyc)
    return pyc


def plugins_rewritten(config: pytest.Config) -> list[Path]:
    """The modules outside the tests that this process imported through pytest's
    assertion rewriting: those of the plugins installed with pytest, which each worker
    imports and rewrites in its turn."""
    hook = config.pluginmanager.rewrite_hook
    found = []
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if getattr(module, "__loader__", None) is hook and source is not None:
            path = Path(source)
            if TESTS not in path.parents:
                found.append(path)
    return sorted(found)


def write_for_workers(config: pytest.Config) -> None:
    """In the controller of a run with xdist workers: the tests' modules and the
    plugins' as pytest rewrites them, the tests' other modules and sesd's as Python
    compiles them."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    compileall.compile_dir(SESD, quiet=1)
    for module in sorted(TESTS.glob("*.py")):
        if module.name.startswith("test_") or module.name == "conftest.py":
            rewritten(config, module)
        else:
            py_compile.compile(str(module), doraise=True)
    for module in plugins_rewritten(config):
        rewritten(config, module)
