"""``sesd``: run, status, check-config, send-test-alert, silence, cause, replay, setup, demo.

Each command is a module of its own (``add_parser`` and ``execute``). Exit codes:
0 success, 2 bad config or usage or a failed start (one line on standard
error, never a traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from sesd import __version__
from sesd.commands import (
    cause,
    check_config,
    demo,
    run,
    send_test_alert,
    setup,
    silence,
    status,
)
from sesd.commands.common import Commands, Help
from sesd.commands.replay import command as replay
from sesd.io.build import revision

__all__ = ["main"]

#: Every command, in the order ``sesd --help`` lists them.
_COMMANDS: tuple[Callable[[Commands], None], ...] = (
    run.add_parser,
    status.add_parser,
    check_config.add_parser,
    send_test_alert.add_parser,
    silence.add_parser,
    cause.add_parser,
    replay.add_parser,
    setup.add_parser,
    demo.add_parser,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sesd", description="Watch Amazon SES delivery in real time.", formatter_class=Help
    )
    built = f"sesd {__version__}" + (f" ({revision()})" if revision() else "")
    parser.add_argument("--version", action="version", version=built)
    commands = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(commands)
    return parser


#: The exit status when the reader of standard output went away, as a shell reports a
#: command ended by SIGPIPE (128 + 13).
EXIT_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sesd`` console script."""
    args = _parser().parse_args(argv)
    # Python's warnings too become log lines (JSON in production), not bare text.
    logging.captureWarnings(True)
    try:
        code: int = args.execute(args)
    except BrokenPipeError:
        # The reader went away (`sesd status --json | head`): what it read is all it
        # wanted. No traceback; stdout pointed at nothing, so the flush at exit is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
