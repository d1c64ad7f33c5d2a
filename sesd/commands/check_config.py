"""``sesd check-config``: validate the config and print it, secrets masked."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from sesd.commands.common import (
    Commands,
    config_error,
    load_placed,
    no_secrets,
    one_line,
    secrets_told,
    with_config,
)
from sesd.commands.output import OutputFailed, put
from sesd.commands.read_bound import EXIT_UNREAD, Unanswered, config_within, unread
from sesd.config import ConfigError
from sesd.config.warned import said

if TYPE_CHECKING:
    from sesd.config import Config, Placer

__all__ = ["EXIT_UNREAD", "add_parser"]


def add_parser(commands: Commands) -> None:
    """``check-config [PATH] [--no-secrets] [--quiet]``."""
    check = with_config(
        commands, "check-config", "validate the config and print it, secrets masked"
    )
    check.add_argument("path", nargs="?", metavar="PATH", help="the config file (or --config)")
    no_secrets(check)
    check.add_argument(
        "--quiet",
        action="store_true",
        help="print the config's errors and warnings only, not the config",
    )
    check.add_argument(
        "--digest",
        action="store_true",
        help="print the config's digest only (the one sesd_config_info names), not the config",
    )
    check.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """0 for a valid config (warnings on stderr), 2 for an invalid one, 1 when its read
    did not return within READ_BOUND (sesd.io.hung): nothing is known of
    the file then; a config printed to a standard output gone or full ends as
    sesd.commands.main says, after the warnings."""
    given = getattr(args, "path", None) or args.config
    try:
        checked = config_within(lambda: _checked(args), given, "sesd-check-read")
    except Unanswered as exc:
        # Under the unit's ExecReload, the one line in the journal that says why the
        # reload failed; else systemd's timeout ended the check without a reason.
        return unread("check the config", exc)
    if isinstance(checked, str):
        return config_error(checked)
    config, placer, warnings = checked
    # Quiet for a check run before each reload (systemd's ExecReload): the journal
    # gets what is wrong, not the whole config every time.
    unwritten: BrokenPipeError | OutputFailed | None = None
    try:
        if args.digest:
            put(config.digest())
        elif not args.quiet:
            put(json.dumps(config.to_display(), indent=2, sort_keys=True))
    except (BrokenPipeError, OutputFailed) as exc:
        # Standard output gone or full: the warnings, on standard error, are still
        # what the check found; said, then the status says what became of the result.
        unwritten = exc
    for warning in said(warnings, placer.warning):
        print(f"sesd: warning: {one_line(warning)}", file=sys.stderr)
    if unwritten is not None:
        raise unwritten
    return 0


def _checked(args: argparse.Namespace) -> tuple[Config, Placer, list[str]] | str:
    """The config, what places its warnings, and its warnings, or why it was refused:
    all that reads the config file, the files it names and the directories it writes
    to, any of which may be on a share that hangs."""
    try:
        config, placer = load_placed(args, daemon=True)
    except ConfigError as exc:
        # A check run where the sinks' secrets are not (a laptop, CI) checks the rest.
        why = "sesd run needs it where it runs"
        return secrets_told(exc, args, why, "checks everything else", daemon=True)
    warnings = config.warnings()
    # On the host that runs sesd (it has the secrets), what `sesd run` would refuse
    # at start; a warning, since systemd's StateDirectory= creates the directory then.
    if (config.state.path or config.alerts.silences_path) and not args.no_secrets:
        # Imported here, and only the paths' checks (not the daemon's HTTP stack nor
        # the evaluator): a config without a state file (or its secrets) needs none.
        from sesd.runtime.state_path import unsavable
        from sesd.runtime.warned import warnings_here

        warnings = warnings_here(config)  # as the start and a reload say them
        problem = unsavable(config.state.path) if config.state.path else None
        if problem is not None:
            # First: the start's refusal, never left among those not shown.
            warnings.insert(0, f"{problem} (sesd run would not start on this host)")
    return config, placer, warnings
