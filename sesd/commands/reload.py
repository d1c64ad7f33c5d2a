"""``sesd reload PID``: what the systemd unit's ``ExecReload=`` runs after checking the
file: SIGHUP to the daemon, then wait for its outcome, so that ``systemctl reload``
fails when sesd refuses the file (a secret it cannot read, a rule on a window only a
restart makes: what ``check-config --no-secrets``, which checks the file alone, lets
through), instead of reporting success while the old config runs on. The outcome comes
through the unit's runtime directory (sesd.runtime.reload_report)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from sesd.commands.common import EXIT_CONFIG, Commands, command, whole_number
from sesd.runtime.reload_report import read_report, report_path

__all__ = ["add_parser"]

#: Within the unit's TimeoutStartSec (90 s), which bounds a reload too: a read of the
#: config file is given up at 30 s, and a SIGHUP while sesd starts waits for the start.
TIMEOUT = 80
#: How often the outcome is looked for, in seconds.
_LOOK_EVERY = 0.05
#: Where a refusal's reason is, as the status page says it.
_WHY = "its log line sesd.config.reload_failed says why (journalctl -u sesd)"


def add_parser(commands: Commands) -> None:
    """``reload PID [--timeout SECONDS]``."""
    reload = command(
        commands,
        "reload",
        "send sesd SIGHUP and wait until it has taken the config file or refused it "
        "(the systemd unit's ExecReload; exit 2 when refused)",
    )
    reload.add_argument(
        "pid", type=whole_number(1, 2**31 - 1), help="the daemon's process id ($MAINPID)"
    )
    reload.add_argument(
        "--timeout",
        type=whole_number(1, 3600),
        default=TIMEOUT,
        help="seconds to wait for the outcome (default: %(default)s)",
    )
    reload.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """0 when the file is in force, 2 when sesd refused it, 1 when no outcome came."""
    path = report_path(os.environ)
    if path is None:
        return _said(
            "$RUNTIME_DIRECTORY is not set: systemd sets it for the unit's own processes "
            "(RuntimeDirectory=sesd), where sesd tells each reload's outcome; elsewhere send "
            f"the signal (kill -HUP {args.pid}) and read the log",
            EXIT_CONFIG,
        )
    before = read_report(path)
    try:
        os.kill(args.pid, signal.SIGHUP)
    except OSError as exc:
        return _said(f"cannot signal process {args.pid}: {exc.strerror or exc}", 1)
    if before is None or before.pid != args.pid:
        # A sesd started before its unit had a runtime directory, an older one, or one
        # that could not write there since it started (/run full): the signal is all it
        # takes, as before. The directory tells these apart no better than the file
        # does: systemd makes it for the reload command as for the daemon.
        return _said(
            f"SIGHUP sent; process {args.pid} tells no reload's outcome in {path.parent} "
            "(started before the unit had RuntimeDirectory=, or an older sesd: a restart "
            "mends it; or it cannot write there: sesd.config.reload_report_failed in its "
            "log): its log says whether the file is in force (sesd.config.reloaded, or "
            "sesd.config.reload_failed)",
            0,
        )
    deadline = time.monotonic() + args.timeout
    while True:
        now = read_report(path)
        # A reload begun after the look above read the file as it is now.
        if now is not None and now.pid == args.pid and now.ended > before.begun:
            break
        if not _alive(args.pid):
            return _said(f"process {args.pid} ended before the reload did", 1)
        if time.monotonic() > deadline:
            return _said(
                f"no outcome from process {args.pid} within {args.timeout} s (a reload "
                "sent while sesd starts waits for the start; sesd.config.reload_report_failed "
                "in its log: it could not write the outcome): its log will say",
                1,
            )
        time.sleep(_LOOK_EVERY)
    if now.ok:
        return 0
    return _said(f"sesd refused the config file and runs on the config it had: {_WHY}", 2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, another user's
        return True
    return True


def _said(text: str, code: int) -> int:
    print(f"sesd reload: {text}", file=sys.stderr)
    return code
