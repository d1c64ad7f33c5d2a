"""The bytecode the controller writes before xdist's workers start is what pytest reads
in their place: a test module as pytest's assertion rewriting makes it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from _pytest.assertion.rewrite import _read_pyc

from tests import bytecode


def test_a_test_module_written_for_the_workers_is_read_rewritten(
    pytestconfig: pytest.Config, tmp_path: Path
) -> None:
    """pytest's reader takes the file written (its format and source hash), and its
    asserts say what they compared, as rewritten ones do (a plain assert says
    nothing); written again only when the module changed."""
    module = tmp_path / "test_sample.py"
    module.write_text("def test_it():\n    seen = 1\n    assert seen == 2\n")
    pyc = bytecode.rewritten(pytestconfig, module)
    assert pyc is not None
    code = _read_pyc(module, pyc)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    with pytest.raises(AssertionError, match=r"assert 1 == 2"):
        namespace["test_it"]()
    written = pyc.stat().st_mtime_ns
    assert bytecode.rewritten(pytestconfig, module) == pyc
    assert pyc.stat().st_mtime_ns == written
    module.write_text("def test_it():\n    assert True\n")
    bytecode.rewritten(pytestconfig, module)
    assert _read_pyc(module, pyc) is not None


def test_the_plugins_pytest_rewrites_are_written_for_the_workers_too(
    pytestconfig: pytest.Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The modules of the plugins installed with pytest (hypothesis', anyio's), which
    pytest rewrites in each process that imports them, are among those written, the
    tests' own not twice; where a module's cache cannot be made (an installed plugin
    on a read-only disk) nothing is written and the workers rewrite it as before."""
    import anyio
    import hypothesis

    found = bytecode.plugins_rewritten(pytestconfig)
    assert Path(hypothesis.__file__) in found
    assert Path(anyio.__file__) in found
    assert not [module for module in found if bytecode.TESTS in module.parents]
    module = tmp_path / "plugin.py"
    module.write_text("def check():\n    assert True\n")
    monkeypatch.setattr(sys, "pycache_prefix", None)  # the cache beside the module
    (tmp_path / "__pycache__").write_text("a file where the cache would be")
    assert bytecode.rewritten(pytestconfig, module) is None
