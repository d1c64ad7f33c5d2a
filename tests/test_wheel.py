"""``make wheel``: the wheel holds the commit it was built from, and nothing else."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
def test_a_wheel_names_its_commit_and_leaves_out_an_earlier_builds_modules(
    tmp_path: Path,
) -> None:
    """A tree that built another commit before still has ``build/lib``, with a module
    this commit no longer has: the wheel leaves it out (a rollback's wheel carrying a
    newer package beside its module failed to import). Installed, where no checkout
    is around it, the wheel names the commit it was built from."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    stale = clone / "build" / "lib" / "sesd" / "gone.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("raise ImportError('an earlier build')\n")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "wheel.py")], cwd=clone, check=True)
    (wheel,) = (clone / "dist").glob("sesd-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "sesd/gone.py" not in names
        assert archive.read("sesd/io/REVISION").decode().strip() == head
        installed = tmp_path / "site-packages"
        archive.extractall(installed)
    assert not (clone / "sesd" / "io" / "REVISION").exists()  # the checkout stays clean
    assert not (clone / "build").exists()
    version = subprocess.run(
        [sys.executable, "-m", "sesd", "--version"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.endswith(f"({head[:12]})")
