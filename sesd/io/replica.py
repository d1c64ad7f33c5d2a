"""This sesd among others: the command that runs it, as the mute line of a page
names it for the on-call to paste on its host."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable

__all__ = ["own_command"]


def own_command(
    argv0: str,
    *,
    which: Callable[[str], str | None] = shutil.which,
    executable: str = sys.executable,
) -> str:
    """The command that runs this same sesd on its host, quoted for a shell: ``sesd``
    where that name on the daemon's PATH is this program, else the program's own path.
    A unit's ``/opt/sesd/bin/sesd`` is on no PATH of the unit's, a login shell's or
    sudo's, and a ``sesd`` found there may be another install (another version, with
    another config's silences file in mind). ``argv0`` is the program as started: the
    console script (``sesd``), or with ``python -m sesd`` the script beside that Python
    (one install), else that Python with ``-m sesd``."""
    if os.path.basename(argv0) == "sesd":
        program = os.path.abspath(argv0)
    else:
        program = os.path.join(os.path.dirname(executable), "sesd")
    if not os.path.isfile(program):
        return f"{shlex.quote(executable)} -m sesd"
    found = which("sesd")
    if found is not None and os.path.realpath(found) == os.path.realpath(program):
        return "sesd"
    return shlex.quote(program)
