"""``sesd reload PID``: what the systemd unit's ``ExecReload=`` runs after checking the
file: SIGHUP to the daemon, then wait for its outcome, so that ``systemctl reload``
fails when sesd refuses the file (a secret it cannot read, a rule on a window only a
restart makes: what ``check-config --no-secrets``, which checks the file alone, lets
through), instead of reporting success while the old config runs on; and fails too,
with a status of its own, when sesd takes the file but leaves what only a restart
changes (``[aws]``, the listen address) as it was, which the operator would otherwise
believe changed. The outcome comes through the unit's runtime directory
(sesd.runtime.reload_report)."""

from __future__ import annotations

import argparse
import errno
import os
import select
import signal
import sys
import time
from contextlib import closing
from pathlib import Path

from sesd.commands.common import EXIT_CONFIG, Commands, command, whole_number
from sesd.core.text import escaped
from sesd.runtime.reload_report import Report, ReportError, read_report, report_path
from sesd.status.document import RESTART_KEY_CHARS

__all__ = ["EXIT_RESTART", "EXIT_UNCHANGED", "add_parser"]

#: Nothing changed: sesd refused the config file and runs on the one it had, or no
#: signal was sent (outside the unit, a process that cannot be signalled; argparse's
#: usage error is 2 as well). A script may act on a 2 knowing the config in force is
#: as it was; the line says why. A 1 is a signal sent whose outcome is not known, or a
#: reload that faulted part way (a bug): some of the file in force, not all, or all of
#: it with what the reload did after its switch left undone, until a restart.
EXIT_UNCHANGED = EXIT_CONFIG
#: sesd took the config file but for what only a restart changes.
EXIT_RESTART = 3
#: Within the unit's TimeoutStartSec (90 s), which bounds a reload too, so that the
#: command says why before systemd ends it. A reload reads the config file and the
#: files it names (given up at 30 s); makes the clients of the queues it adds (the
#: SDK's model files read from disk and, for the default account while no credentials
#: were found, the SDK's credential chain: instance metadata and a container's
#: endpoint within the SDK's timeouts, a credential_process as long as it runs);
#: looks at and reads the silences file (5 s a step, after those of an evaluation's
#: read under way); then reads the certificate and key again for the port (given up
#: at 30 s). Once its config is switched in, it writes the silences file (5 s a step,
#: refused at once where a step hung) and closes the clients it no longer needs (all
#: within 5 s). A share that stops answering holds it for one 30 s bound (5 s more if
#: the silences file is on it too), within this; every bound at once adds up past it,
#: as does a reload asked for behind a reload or a refresh under way (it waits for
#: that one too). Past this, its outcome is said to be untold (exit 1), and the log
#: tells it.
TIMEOUT = 80
#: How often the outcome is looked for, in seconds.
_LOOK_EVERY = 0.05
#: Where a refusal's reason is, as the status page says it.
_WHY = "its log line sesd.config.reload_failed says why (journalctl -u sesd)"
#: What its log says of a reload, for a command that cannot tell the outcome.
_LOGGED = (
    "sesd.config.reloaded, or sesd.config.reload_failed; sesd.config.reload_ignored "
    "names what waits for a restart"
)


def add_parser(commands: Commands) -> None:
    """``reload PID [--timeout SECONDS]``."""
    reload = command(
        commands,
        "reload",
        # Its line in `sesd --help` is one among the others; the exit codes are for
        # its own --help, which a script's author reads.
        "send sesd SIGHUP and wait until it has taken the config file or refused it",
        "send sesd SIGHUP and wait until it has taken the config file or refused it "
        "(the systemd unit's ExecReload; exit 0 when in force, or sent to a sesd that "
        "tells no outcome, the line saying so; 3 when in force but for settings only a "
        "restart changes; 2 when nothing changed: refused, or not sent (a usage error, no "
        "$RUNTIME_DIRECTORY, a process it cannot signal); 1 when sent but its outcome "
        "cannot be told, or a reload faulted part way (restart sesd))",
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
    """0 when the file is in force (or the signal sent to a sesd that tells no outcome),
    3 when it is but for what only a restart changes, 2 when nothing changed (sesd
    refused it, or no signal was sent), 1 when no outcome came (or none that is this
    reload's), or a reload faulted part way: sesd runs neither config whole, or the new
    one whole with what followed its switch undone."""
    path = report_path(os.environ)
    if path is None:
        return _said(
            "$RUNTIME_DIRECTORY is not set: systemd sets it for the unit's own processes "
            "(RuntimeDirectory=sesd), where sesd tells each reload's outcome; elsewhere send "
            f"the signal (kill -HUP {args.pid}) and read the log ({_LOGGED})",
            EXIT_UNCHANGED,
        )
    with closing(_Process(args.pid)) as process:
        return _reload(args, path, process)


def _reload(args: argparse.Namespace, path: Path, process: _Process) -> int:
    """Signal ``process`` and wait for the outcome its report at ``path`` tells."""
    try:
        before: Report | ReportError | None = read_report(path)
    except ReportError as exc:
        before = exc
    try:
        process.hang_up()
    except OSError as exc:
        return _said(
            f"cannot signal process {args.pid}: {exc.strerror or exc}; nothing was sent",
            EXIT_UNCHANGED,
        )
    if isinstance(before, ReportError):
        # Which reload is this one's cannot be told without the count the file held.
        # sesd writes the file anew as the reload begins: the next one's is told.
        return _said(
            f"SIGHUP sent; its outcome cannot be told: {before}; its log says whether the "
            f"file is in force ({_LOGGED})",
            1,
        )
    if before is None or before.pid != args.pid:
        # A sesd started before its unit had a runtime directory, an older one, or one
        # that could not write there since it started (/run full): the signal is all it
        # takes, as before. The directory tells these apart no better than the file
        # does: systemd makes it for the reload command as for the daemon.
        return _said(
            f"SIGHUP sent; process {args.pid} tells no reload's outcome in {path.parent} "
            "(started before the unit had RuntimeDirectory=, or an older sesd: a restart "
            "mends it; or it cannot write there: sesd.config.reload_report_failed in its "
            f"log): its log says whether the file is in force ({_LOGGED})",
            0,
        )
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            now = read_report(path)
        except ReportError as exc:  # sesd replaces its file whole: another program's
            return _said(
                f"the outcome cannot be told: {exc}; its log says whether the file is in "
                f"force ({_LOGGED})",
                1,
            )
        # A reload that ended since the look above, numbered past what the file told.
        if now is not None and now.pid == args.pid and now.ended > before.begun:
            break
        if not process.alive():
            return _said(f"process {args.pid} ended before the reload did", 1)
        if time.monotonic() > deadline:
            return _said(
                f"no outcome from process {args.pid} within {args.timeout} s (its reload "
                "still under way, or sesd.config.reload_report_failed in its log: it could "
                "not write the outcome): its log will say",
                1,
            )
        time.sleep(_LOOK_EVERY)
    return _outcome(args.pid, now, before)


def _outcome(pid: int, now: Report, before: Report) -> int:
    """What the reload that ended since the command looked (``before``) tells."""
    # It read the file as it is now when the file told it begun after the look; one whose
    # begin could not be written may have read it before (and the reload asked for may
    # have been taken into it, or follow it: the file cannot say which).
    if now.read_after <= before.begun:
        return _said(
            f"process {pid} could not write as its last reload began "
            "(sesd.config.reload_report_failed in its log): that reload may have read the "
            "config file before this command looked, and its outcome is not told as this "
            f"one's; reload again, or read its log ({_LOGGED})",
            1,
        )
    if now.part_way and now.new_whole:
        return _said(
            "a reload faulted once its config was in force whole (a bug in sesd, not in "
            "the file): sesd runs that config, but what the reload left undone waits for a "
            "restart, and reloads are refused; restart sesd, and report the traceback of "
            "its log line sesd.config.reload_failed (journalctl -u sesd)",
            1,
        )
    if now.part_way:
        return _said(
            "a reload faulted part way (a bug in sesd, not in the file): sesd runs neither "
            "the config it had nor the file whole, and refuses reloads; restart sesd, which "
            "applies the file whole, and report the traceback of its log line "
            "sesd.config.reload_failed (journalctl -u sesd)",
            1,
        )
    if not now.ok:
        return _said(
            f"sesd refused the config file and runs on the config it had: {_WHY}",
            EXIT_UNCHANGED,
        )
    if now.restart_count:
        keys = ", ".join(escaped(key, RESTART_KEY_CHARS) for key in now.restart)
        more = now.restart_count - len(now.restart)
        if more > 0:
            keys += f" and {more} more"
        return _said(
            "the config file is in force except what only a restart changes, which runs "
            f"on as it was: {keys} (sesd.config.reload_ignored in its log); restart sesd "
            "to apply it",
            EXIT_RESTART,
        )
    return 0


class _Process:
    """The daemon signalled, followed through a handle on the process itself (a pidfd)
    where Linux gives one. By its number alone (``kill(pid, 0)``), a daemon that had
    ended but not yet been reaped by its parent (a zombie) still answered, and once
    reaped its number, given to a new process, answered for it: either way the command
    waited out its whole timeout for an outcome that could not come."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._handle: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            # Not Linux, a kernel before 5.3, a container's filter that refuses it, or no
            # such process (the signal says so): followed by its number alone.
            self._handle = None

    def hang_up(self) -> None:
        """Send SIGHUP; OSError where it cannot be sent. One that has ended, if not yet
        reaped, would take the signal and never answer it: no such process."""
        if self._handle is None:
            os.kill(self.pid, signal.SIGHUP)
        elif not self.alive():
            raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))
        else:
            signal.pidfd_send_signal(self._handle, signal.SIGHUP)

    def alive(self) -> bool:
        """Whether the process has not ended (its handle becomes readable as it ends)."""
        if self._handle is None:
            return _alive(self.pid)
        poll = select.poll()
        poll.register(self._handle, select.POLLIN)
        return not poll.poll(0)

    def close(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None


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
