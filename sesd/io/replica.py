"""This sesd among others: its name, which tells the on-call which replica sent a
message or answered a status request, and the command that runs it, as the mute line
of a page names it for the on-call to paste on its host."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import sys
from collections.abc import Callable
from typing import Final

__all__ = ["MOST_NAME", "name_of", "own_command", "replica_name"]

#: The most characters of a replica's name: a Linux host name has at most 64, a pod's
#: 63.
MOST_NAME: Final = 64


def replica_name() -> str:
    """This replica's name, as every message it sends and its status page give it: the
    host's (a pod's name in Kubernetes), :func:`name_of`. Several replicas on one queue
    each alert on their own share of the mail: the name tells their messages apart."""
    return name_of(socket.gethostname())


def name_of(host: str) -> str:
    """``host`` as a replica's name: letters, digits, ``.``, ``-`` and ``_`` (anything
    else becomes ``-``: a name goes into Slack's text, a PagerDuty field, headers of a
    page), at most MOST_NAME characters, ``sesd`` for none."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", host)[:MOST_NAME].strip("-.")
    return name or "sesd"


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
