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
from collections.abc import Sequence

from sesd import __version__
from sesd.io.build import revision
from sesd.runtime import early

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    # Imported here, not with this module: `sesd run` holds stop signals first
    # (sesd.runtime.early), and importing every command takes most of a start.
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
    from sesd.commands.common import Help
    from sesd.commands.replay import command as replay

    parser = argparse.ArgumentParser(
        prog="sesd", description="Watch Amazon SES delivery in real time.", formatter_class=Help
    )
    built = f"sesd {__version__}" + (f" ({revision()})" if revision() else "")
    parser.add_argument("--version", action="version", version=built)
    commands = parser.add_subparsers(dest="command", required=True)
    # Every command, in the order ``sesd --help`` lists them.
    for module in (run, status, check_config, send_test_alert, silence, cause, replay, setup,
                   demo):  # fmt: skip
        module.add_parser(commands)
    return parser


#: The exit status when the reader of standard output went away, as a shell reports a
#: command ended by SIGPIPE (128 + 13).
EXIT_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sesd`` console script."""
    if argv is None and sys.argv[1:2] == ["run"]:
        early.hold()
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
