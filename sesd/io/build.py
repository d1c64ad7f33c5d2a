"""Which build this is. Every build of a release says the same version; the commit it
was made from tells them apart, so a fleet of mixed builds, and a rollback checked
against CHANGELOG, can say which runs where."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

__all__ = ["revision"]

_COMMIT = re.compile(r"[0-9a-f]{7,40}")


@functools.cache
def revision() -> str:
    """The commit, shortened to 12 characters: ``$SESD_REVISION`` (the image sets it
    from its build argument), else the HEAD of the checkout sesd runs from (a
    development install), else the one ``make wheel`` recorded in the wheel, else
    ``""``."""
    given = os.environ.get("SESD_REVISION", "").strip().lower()
    if given:
        return given[:12] if _COMMIT.fullmatch(given) else ""
    here = Path(__file__).resolve()
    return _head(here.parents[2] / ".git") or _recorded(here.with_name("REVISION"))


def _recorded(path: Path) -> str:
    """The commit a wheel's build wrote beside this module ("" without one)."""
    try:
        commit = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return commit[:12] if _COMMIT.fullmatch(commit) else ""


def _head(git: Path) -> str:
    """The commit a checkout's HEAD names ("" when it cannot be read)."""
    try:
        if git.is_file():  # a worktree: "gitdir: PATH"
            git = Path(git.read_text(encoding="utf-8").split(":", 1)[1].strip())
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if head.startswith("ref: "):
            common = git
            if (git / "commondir").is_file():
                common = git / (git / "commondir").read_text(encoding="utf-8").strip()
            head = _ref(common, head[5:])
    except (OSError, IndexError, UnicodeDecodeError):
        return ""
    return head[:12] if _COMMIT.fullmatch(head) else ""


def _ref(git: Path, ref: str) -> str:
    loose = git / ref
    if loose.is_file():
        return loose.read_text(encoding="utf-8").strip()
    for line in (git / "packed-refs").read_text(encoding="utf-8").splitlines():
        if line.endswith(f" {ref}"):
            return line.split(" ", 1)[0]
    return ""
