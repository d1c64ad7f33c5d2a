"""``sesd cause``: the cause of a delay, and what to do, from its SMTP diagnostic."""

from __future__ import annotations

import argparse
import json
import sys

from sesd.commands.common import Commands, command
from sesd.core.causes import classify

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """``cause TEXT|- [--delay-type TYPE] [--json]``."""
    cause = command(
        commands, "cause", "the cause of a delay, and what to do, from its SMTP diagnostic"
    )
    cause.add_argument("text", help="the diagnostic text, or - for one a line on standard input")
    cause.add_argument("--delay-type", help="SES's delay type (InternalFailure, MailboxFull...)")
    cause.add_argument("--json", action="store_true", help="one JSON object a line")
    cause.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """One answer per input line, an empty one too (from the delay type, else unknown):
    ``paste diagnostics.txt <(sesd cause - < diagnostics.txt)`` keeps its lines aligned."""
    texts = (line.rstrip("\r\n") for line in sys.stdin) if args.text == "-" else [args.text]
    for text in texts:
        found = classify(args.delay_type, "", text)
        if args.json:
            answer = {
                "cause": found.cause,
                "also": found.also,
                "advice": found.advice,
                "status": found.status,
                "decided_by": found.decided_by,
            }
            print(json.dumps(answer))
        else:
            status = f" ({found.status})" if found.status else ""
            print(f"{found.label}{status}: {found.advice}")
    return 0
