"""``sesd run``: the daemon."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import anyio
import msgspec

from sesd.commands.common import (
    EXIT_START,
    Commands,
    config_error,
    listen_address,
    listen_refused,
    listen_remedied,
    load_placed,
    start_error,
    start_failed,
    with_config,
)
from sesd.commands.read_bound import Unanswered, read_within
from sesd.config import ConfigError, HttpConfig
from sesd.io import hung
from sesd.io.logs import buffer_output, configure_logging, flush_logs, get_logger
from sesd.io.replica import own_command
from sesd.runtime import early

if TYPE_CHECKING:
    from sesd.config import Config, Placer
    from sesd.runtime.exit_room import ExitRoom

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """``run [--listen HOST:PORT]``."""
    run = with_config(commands, "run", "run the daemon")
    # The flag's own mistakes are the command line's (a usage error, before the config
    # is read); $SESD_HTTP_LISTEN is read in `execute`, a mistake there the config's.
    run.add_argument(
        "--listen",
        type=listen_address,
        help="HOST:PORT of /metrics, the probes and the status page, over [http] listen "
        "($SESD_HTTP_LISTEN)",
    )
    run.set_defaults(execute=execute)


def _read(args: argparse.Namespace) -> tuple[Config, Placer] | int:
    """The config as ``load_placed`` reads it, READ_BOUND (sesd.io.hung) at most; the
    exit code once said when it fails: past the bound too, a failed start, which a
    supervisor restarts (the share may answer again)."""
    from sesd.core.text import escaped

    given = str(args.config)  # as given (the read sets it again)
    reading = False  # a stop held from the imports ends sesd before the read
    try:
        with _stops_end_the_wait():
            reading = True
            return read_within(
                lambda: load_placed(args, daemon=True), given, hung.READ_BOUND, "sesd-start-read"
            )
    except _Stopped:
        # Nothing started yet, nothing to save: a stop then is a stop as sesd starts.
        flush_logs()
        waited = (
            f": reading {escaped(given, 500)} and the files it names had not returned (a "
            "file on a hung mount?)"
        )
        print(f"sesd: stopped as it started{waited if reading else ''}", file=sys.stderr)
        return 0
    except Unanswered as exc:
        from sesd.runtime.http import StartError

        return start_failed(StartError(str(exc)))
    except ConfigError as exc:
        return config_error(exc)


class _Stopped(Exception):
    """A stop signal while the start's read is waited for."""


def _stop(signum: int, frame: FrameType | None) -> NoReturn:
    raise _Stopped


@contextlib.contextmanager
def _stops_end_the_wait() -> Iterator[None]:
    """SIGTERM and SIGINT end the block (:class:`_Stopped`, raised in the main thread,
    where the wait is), one held already as it begins too, then go back to what held
    them (sesd.runtime.early, which holds them for the daemon's watch). Held, a stop
    (systemd's, a Ctrl-C) waited out the read's bound, and sesd then failed its start."""
    if threading.current_thread() is not threading.main_thread():
        yield  # no handler can be set here: the bound alone
        return
    before = {kind: signal.getsignal(kind) for kind in (signal.SIGTERM, signal.SIGINT)}
    # Not over an ignored signal (sesd run in another program that ignores it).
    before = {kind: was for kind, was in before.items() if was not in (signal.SIG_IGN, None)}
    for kind in before:
        signal.signal(kind, _stop)
    try:
        # One that came during the imports is held, for a watch not yet there: it ends
        # the start now, before the read. Looked at once this block's handlers are set,
        # so that one coming meanwhile is theirs, not held unseen.
        if early.stop_held():
            raise _Stopped
        yield
    finally:
        for kind, handler in before.items():
            signal.signal(kind, handler)


def _open_files(pollers: int) -> None:
    """As many open files as the host allows; a warning when that is still too few."""
    from sesd.runtime.descriptors import raise_open_files_limit, watch_descriptors

    limit = raise_open_files_limit()
    watch_descriptors()
    # About ten for sesd itself, one a poller's connection, and room for the sinks,
    # the AWS polls and the port's clients.
    if limit < 10 + pollers + 100:
        get_logger().warning(
            "sesd.limits.open_files_low",
            open_files_limit=limit,
            pollers=pollers,
            hint="raise LimitNOFILE= (systemd) or the container's nofile limit: sesd "
            "needs about ten, one a poller, and one a sink's or client's connection",
        )
    else:
        get_logger().info("sesd.limits.open_files", open_files_limit=limit)


def _exit_now(fault: BaseException | None = None) -> NoReturn:
    """Exit 1 at once: the last save's write is still in its thread, and the
    interpreter's exit would wait for it (for as long as the disk hangs). The ``fault``
    that ended sesd (logged as sesd.daemon.failed) is printed after the log lines, as
    the interpreter would."""
    from sesd.runtime.signals import FORCED_LOGS

    flush_logs(FORCED_LOGS)
    if fault is not None:
        traceback.print_exception(fault)
    sys.stderr.flush()
    os._exit(1)


class _ExitBound:
    """What is left is the exit: ``after`` a stop (its last save returned, or it gave
    the start up) or a fault (its last save returned), or a failed start (``why``).
    Tasks ended, connections closed, threads joined, it has what ``room`` leaves
    after the closes' plan (sesd.runtime.exit_room: one begin, one deadline), then
    sesd exits with the code the exit would have given (:meth:`code`).
    A thread that does not end would otherwise hold the exit until the supervisor's
    SIGKILL, which says nothing of why: a name lookup on a resolver that does not
    answer runs on in the event loop's executor after what awaited it was cancelled,
    and the loop's close waits for it.

    Bounded once, from the first call: a fault after it (a task's end or a close
    raising after the stop's last save) makes the exit a fault's, exit 1, in what is
    left of the same room, not the clean stop's 0, nor a room of its own."""

    def __init__(self, room: ExitRoom, failed: Callable[[], bool]) -> None:
        self._room = room
        self._failed = failed
        self._after = ""
        self._why: BaseException | None = None
        #: Started by the first call.
        self.timer: threading.Timer | None = None

    def __call__(self, after: str, why: BaseException | None) -> None:
        if self.timer is None or after == "fault":
            self._after, self._why = after, why
        if self.timer is None:
            # Then the log lines have FORCED_LOGS, and the supervisor a moment.
            self.timer = threading.Timer(self._room.stalled_left(), self._stalled)
            self.timer.daemon = True  # a normal exit does not wait for it
            self.timer.start()

    def code(self) -> int:
        """1 after a fault or a failed save, a failed start's 2 (1 for a bug), else 0:
        what ``execute`` returns, or Python's exit after a traceback."""
        if self._after == "failed_start":
            bug = self._why is None or start_error(self._why) is None
            return 1 if bug else EXIT_START
        return 1 if self._after == "fault" or self._failed() else 0

    def _stalled(self) -> None:
        from sesd.runtime.signals import FORCED_LOGS

        main = threading.main_thread()
        held = sorted(t.name for t in threading.enumerate() if not t.daemon and t is not main)
        get_logger().warning(
            "sesd.daemon.exit_stalled",
            after=self._after,
            waited_seconds=self._room.stalled,
            threads=held,
            hint="the exit waited on threads still running after the stop (a name lookup "
            "on a resolver that does not answer, a write on a hung disk): sesd exits "
            "without them; check the host's resolver and disks",
        )
        flush_logs(FORCED_LOGS)
        os._exit(self.code())


def execute(args: argparse.Namespace) -> int:
    """Run until stopped; 0 after a graceful stop (1 when its state file could not be
    saved last), 2 when the config or the start fails, 1 after a fault (its traceback
    printed), one after the stop's last save too: sesd did not end as asked."""
    from sesd.config.warned import said
    from sesd.runtime.aws_making import aws_files_fault
    from sesd.runtime.daemon import Daemon, StartError
    from sesd.runtime.warned import warnings_here

    loaded = _read(args)
    if isinstance(loaded, int):  # the config or its read failed, said: the exit code
        return loaded
    config, placer = loaded
    profile = aws_files_fault()
    if profile:
        return start_failed(StartError(profile))
    configure_logging(config.logging.level, config.logging.format, daemon=True)
    buffer_output()  # the console sink's alerts: a stalled reader must not stall sesd
    # Where the address in force is given, for the line of a start that cannot bind it.
    given = "--listen" if args.listen else "[http] listen"
    if args.listen is None:
        args.listen = os.environ.get("SESD_HTTP_LISTEN") or None
        given = "$SESD_HTTP_LISTEN" if args.listen else given
    if args.listen:
        try:
            http = HttpConfig(listen=args.listen, web_config=config.http.web_config)
        except ValueError as exc:
            # Named as it was given: a unit's environment is not a flag anyone typed.
            return config_error(f"SESD_HTTP_LISTEN: {listen_refused(exc)}")
        config = msgspec.structs.replace(config, http=http)
    for warning in said(warnings_here(config), placer.warning):
        get_logger().warning("sesd.config.warning", warning=warning)
    _open_files(sum(q.concurrency for q in config.queues))
    try:
        daemon = Daemon(
            config,
            config_path=os.path.abspath(args.config),
            listen=args.listen,
            program=own_command(sys.argv[0]),
        )
    except StartError as exc:
        return start_failed(exc)
    # Each part of the stop has its bound, the exit too: inside the shipped units' stop
    # timeout (sesd.config.sections.SHIPPED_STOP_TIMEOUT).
    daemon.on_exit = _ExitBound(daemon.exit_room, lambda: daemon.saver.failed)
    # A stop signal once the run has returned (the event loop's close waiting on a
    # thread) ends the exit at once, as one during its closes does.
    daemon.signals_outlast_run = True
    try:
        anyio.run(daemon.run)
    except BaseException as exc:
        if daemon.saver.unfinished:  # a fault ended sesd, and its last save did not finish
            _exit_now(exc)
        if not isinstance(exc, (StartError, BaseExceptionGroup)):
            raise
        return start_failed(listen_remedied(exc, f"give sesd another address with {given}"))
    if daemon.saver.unfinished:
        _exit_now()
    # The stop's save failed: the file holds an older state than sesd stopped with,
    # which a supervisor should show (systemd: the unit failed).
    return 1 if daemon.saver.failed else 0
