"""``sesd``: run, status, check-config, reload, send-test-alert, silence, cause, replay, setup,
demo.

Each command is a module of its own (``add_parser`` and ``execute``). Exit codes:
0 success, 2 bad config or usage or a failed start (one line on standard
error, never a traceback), 130 for Ctrl-C (one line too; the process ends by the
signal, so that a shell script running it stops too), 141 for a reader of standard
output gone (quietly), 1 for a result standard output refused (a full disk); but a
change made (``silence add``, ``silence expire``) is 0 however its confirmation fared.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from sesd import __version__
from sesd.commands.output import EXIT_OUTPUT, OutputFailed, discard, flushed, guarded
from sesd.io.build import revision
from sesd.runtime import allocator, early

__all__ = ["COMMANDS", "main"]


#: Every command and the module that defines it, in the order ``sesd --help`` lists
#: them.
COMMANDS: dict[str, str] = {
    "run": "sesd.commands.run",
    "status": "sesd.commands.status",
    "check-config": "sesd.commands.check_config",
    "reload": "sesd.commands.reload",
    "send-test-alert": "sesd.commands.send_test_alert",
    "silence": "sesd.commands.silence",
    "cause": "sesd.commands.cause",
    "replay": "sesd.commands.replay.command",
    "setup": "sesd.commands.setup",
    "demo": "sesd.commands.demo",
}


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone: its module only is imported
    (``sesd cause`` needs none of the daemon's libraries; the whole set takes most of a
    start). Help and usage errors read the same either way."""
    # Imported here, not with this module: `sesd run` holds stop signals first
    # (sesd.runtime.early).
    from sesd.commands.common import Help, Parser

    parser = Parser(
        prog="sesd", description="Watch Amazon SES delivery in real time.", formatter_class=Help
    )
    built = f"sesd {__version__}" + (f" ({revision()})" if revision() else "")
    parser.add_argument("--version", action="version", version=built)
    if command in COMMANDS:
        chosen = [command]
    elif _asks_version(command):
        chosen = []  # argparse prints the version at the option, before any command
    else:
        commands = parser.add_subparsers(dest="command", required=True)
        for name in COMMANDS:
            importlib.import_module(COMMANDS[name]).add_parser(commands)
        return parser
    # One command's parser still names them all, as a usage error prints them.
    every = "{" + ",".join(COMMANDS) + "}"
    commands = parser.add_subparsers(dest="command", required=True, metavar=every)
    for name in chosen:
        importlib.import_module(COMMANDS[name]).add_parser(commands)
    return parser


def _asks_version(word: str | None) -> bool:
    """Whether ``word``, the first on the command line, is ``--version`` or a prefix of
    it argparse takes for it (``--v``; ``--`` alone ends the options)."""
    return word is not None and len(word) > 2 and "--version".startswith(word)


#: The commands that hold sesd's big tables (the duplicate filter, recent resolutions):
#: glibc's bound for their blocks is fixed before they start (sesd.runtime.allocator).
_LONG_RUNNING = frozenset({"run", "replay", "demo"})

#: The commands whose standard output goes through a writer of their own, which drops
#: what cannot be written and says so (sesd.io.logs.buffer_output): their status is
#: their stop's, not their output's.
_OWN_OUTPUT = frozenset({"run", "demo"})

#: The exit status when the reader of standard output went away, as a shell reports a
#: command ended by SIGPIPE (128 + 13).
EXIT_PIPE = 141
#: The exit status after Ctrl-C, as a shell reports a command ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sesd`` console script."""
    if argv is None and sys.argv[1:2] == ["run"]:
        early.hold()
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] and given[0] in _LONG_RUNNING:
        allocator.fix_mmap_threshold()
    try:
        # Inside: Ctrl-C comes as readily while the command's modules load (the AWS
        # SDK takes most of a second) as while it runs.
        parser = _parser(given[0] if given else None)
        if not given:
            # `sesd` alone, a first try: the commands and what each does, not argparse's
            # "the following arguments are required: command". A usage error's status.
            parser.print_help(sys.stderr)
            return 2
        args = _parsed(parser, given)
        # Python's warnings too become log lines (JSON in production), not bare text.
        logging.captureWarnings(True)
        if args.command in _OWN_OUTPUT:
            code: int = args.execute(args)
        else:
            with guarded():
                code = args.execute(args)
                flushed()  # a full disk is said here, not as a bare line at exit
    except BrokenPipeError:
        # The reader went away (`sesd status --json | head`): what it read is all it
        # wanted. No traceback; stdout pointed at nothing, so the flush at exit is quiet.
        discard()
        return EXIT_PIPE
    except OutputFailed as exc:
        # The result is lost: said, and no status of success for a script to trust.
        discard()
        print(f"sesd: {exc}", file=sys.stderr)
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        # Ctrl-C at a command that has no stop of its own (`run`, `status --watch`,
        # `replay` and `demo` have theirs): the user knows where it was; a traceback
        # would bury what the command printed before it.
        from sesd.io.logs import flush_logs

        flush_logs()  # after the lines logged before it, as they happened
        print("sesd: interrupted", file=sys.stderr)
        if argv is None:  # the program, not a caller in this process
            _end_by_sigint()
        return EXIT_INTERRUPTED
    return code


def _parsed(parser: argparse.ArgumentParser, given: list[str]) -> argparse.Namespace:
    """The command line parsed; the help and the version argparse prints at ``--help``
    and ``--version`` refused as a command's result is. argparse drops a write of them
    that fails without a word and exits 0 (a help in the file's buffer: a bare line and
    status 120 at exit). With standard output closed, argparse says them on standard
    error: left so."""
    if sys.stdout is None:
        return _parsed_all(parser, given)
    with guarded():
        try:
            return _parsed_all(parser, given)
        except SystemExit:
            flushed()  # a full disk is said here, not as a bare line at exit
            raise


def _parsed_all(parser: argparse.ArgumentParser, given: list[str]) -> argparse.Namespace:
    """``given`` parsed, as ``parse_args`` does; words a parser does not take are its
    usage error (the first such parser's on the line: ``sesd --bogus cause x`` is
    ``sesd``'s), that a command may word itself for its own (``unrecognized``, given
    its words and what was parsed: what ``sesd cause`` takes as a diagnostic's words
    and what not)."""
    from sesd.commands.common import LEFT

    args, left = parser.parse_known_args(given)
    if left:
        owner, words, _ = getattr(args, LEFT)
        said = getattr(args, "unrecognized", None) if owner is not parser else None
        owner.error(said(words, args) if said else f"unrecognized arguments: {' '.join(words)}")
    return args


def _end_by_sigint() -> None:
    """End the process by SIGINT, as Python does at an uncaught Ctrl-C (the shell's
    status is 130 either way). A shell running a script or a loop stops at Ctrl-C only
    when its child died of the signal: a child that exited 130 took the Ctrl-C as
    handled, and the script went on to its next command."""
    with contextlib.suppress(OSError):  # a reader gone: what it read is all it gets
        sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
