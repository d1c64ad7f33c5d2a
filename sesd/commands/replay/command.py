"""``sesd replay``: recorded events through the same pipeline, offline, in event time.

The input is read as a stream (sesd.commands.replay.archive: files,
directories, globs, stdin, gzip; newline-delimited JSON, Firehose's
concatenated objects, an array or an SQS dump), so memory does not depend on
its size. Events are applied in the order read, each at its own event time,
as the daemon applies them (sesd.commands.replay.engine); a terminal shows how far
the reading has come (sesd.commands.replay.progress).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, Final

import anyio
import msgspec

from sesd.commands.common import (
    Commands,
    config_error,
    load,
    no_secrets,
    secrets_told,
    with_config,
)
from sesd.commands.output import OutputFailed, put
from sesd.commands.read_bound import Unanswered, config_within, unread
from sesd.commands.replay.archive import bodies
from sesd.commands.replay.archive_s3 import S3Reader, is_s3
from sesd.commands.replay.engine import UTF16_ADVICE, Replay, Where
from sesd.commands.replay.inputs import Source, place, sources
from sesd.commands.replay.progress import lookups, progress_of
from sesd.commands.replay.text import named, render_text, stopped_line
from sesd.commands.replay.tuning import override, render_report, report
from sesd.config import Config, ConfigError
from sesd.config.warned import SHOWN
from sesd.io.logs import configure_logging
from sesd.runtime.aws_making import aws_files_fault
from sesd.runtime.state_bytes import StateError, providers_cache, read_state
from sesd.runtime.state_size import state_limit

__all__ = ["EXIT_SKIPPED", "add_parser", "run_replay"]

#: The exit status of a replay that skipped an input it could not read, or read nothing
#: but values that are not SES events.
EXIT_SKIPPED: Final = 3


def add_parser(commands: Commands) -> None:
    """``replay FILE... [--json] [--dns] [--report] [--rule NAME] [--set ...] [--quiet]``."""
    replay = with_config(commands, "replay", "feed recorded events through the pipeline offline")
    no_secrets(replay)
    replay.add_argument("--json", action="store_true", help="print one JSON document")
    replay.add_argument(
        "--dns",
        action="store_true",
        help="look up recipient domains' MX for their provider first (at [providers] rate); "
        "without it, providers come from consumer names and the state file's cache",
    )
    replay.add_argument(
        "--report",
        action="store_true",
        help="each rule: times fired, time firing (total, longest), where, share of the span",
    )
    replay.add_argument("--rule", metavar="NAME", help="replay this rule only")
    replay.add_argument(
        "--quiet", action="store_true", help="no progress on stderr (off a terminal: none)"
    )
    replay.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="RULE.KEY=VALUE",
        help="override a rule's above, below, clear_below, clear_above, min_events or for "
        "for this replay (repeatable)",
    )
    replay.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="files, directories or globs of events ('-': stdin)",
    )
    replay.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """The exit status: 0, 2 for a bad config or option, 3 when an input was skipped
    or UTF-16, or no value read was an SES event; 1 when the config's read has not
    returned within its bound (a config on a hung mount)."""
    try:
        config = config_within(lambda: _config(args), args.config, "sesd-replay-read")
    except Unanswered as exc:
        return unread("replay", exc)
    if isinstance(config, str):
        return config_error(config)
    configure_logging(config.logging.level, config.logging.format)
    return run_replay(
        config,
        args.files,
        as_json=args.json,
        dns=args.dns,
        with_report=args.report,
        rule=args.rule,
        settings=args.settings,
        quiet=args.quiet,
    )


def _config(args: argparse.Namespace) -> Config | str:
    """The config, or why not (as config_error says it): all that reads the config file
    and the files it names, on a share that may hang."""
    try:
        return load(args)
    except ConfigError as exc:
        # Any fault of a secret alone: replay never sends, so never needs one.
        why = "replay sends nothing to any sink"
        return secrets_told(exc, args, why, "replays", unused=True)


def run_replay(
    config: Config,
    paths: list[str],
    *,
    as_json: bool,
    dns: bool = False,
    with_report: bool = False,
    rule: str | None = None,
    settings: list[str] | None = None,
    quiet: bool = False,
) -> int:
    """The ``replay`` command; prints to standard output and returns the exit code.
    ``rule`` keeps that rule only; ``settings`` (``RULE.KEY=VALUE``) override rules for
    this replay; ``with_report`` adds each rule's report."""
    whole = config  # the daemon's, which saved the state file
    try:
        config = _rules_for(config, rule, settings or [])
    except ConfigError as exc:
        print(f"sesd: {exc}", file=sys.stderr)
        return 2
    profile = aws_files_fault() if any(map(is_s3, paths)) else ""
    if profile:  # the S3 client cannot be made: said before anything is read
        print(f"sesd: {profile}", file=sys.stderr)
        return 2
    replay = Replay(config)
    _known_providers(replay, whole)
    with contextlib.ExitStack() as stack:
        s3 = stack.enter_context(S3Reader(config)) if any(map(is_s3, paths)) else None
        found, problems = sources(paths, s3)
        interrupted = False
        if dns:
            if any(source.name == "-" for source in found):
                print("sesd: replay --dns reads its input twice: give files", file=sys.stderr)
                return 2
            interrupted = _prefetch(replay, found, s3, show=not quiet and sys.stderr.isatty())
        if not interrupted:
            with progress_of(found, show=not quiet and sys.stderr.isatty()) as progress:
                replay.evaluating = progress.evaluating
                try:
                    read = progress.count(bodies(found, progress.read, s3=s3))
                    replay.run(read, lambda n: _where(found, n))
                except KeyboardInterrupt:
                    # Ctrl-C: report what was replayed so far.
                    interrupted = True
    problems += [error for source in found for error in source.errors]
    _stops(replay, found)
    document = replay.document()
    partial = [stopped_line(stop) for stop in document["stopped"]]
    if interrupted:
        document["interrupted"] = True
    reports = []
    if with_report:
        start = replay.started if replay.started is not None else replay.now
        names = [r.name for r in config.alerts.rules]
        reports = report(names, replay.transitions, start, replay.now)
        document["report"] = [msgspec.structs.asdict(r) for r in reports]
    tallies = replay.ledger.tallies
    values = sum(tallies.messages.values()) + sum(tallies.notices.values())
    empty = [s.name for s in found] if not values else None
    try:
        if as_json:
            put(msgspec.json.encode(document).decode())
        else:
            put(render_text(document, config.alerts.rules))
            if with_report:
                put("\n" + render_report(reports))
    except (BrokenPipeError, OutputFailed):
        # Standard output gone or full: what standard error says of the inputs (a day
        # skipped) is still so, and said; the status says what became of the result.
        _said(document, problems, partial, empty)
        raise
    return _said(document, problems, partial, empty)


def _said(
    document: dict[str, Any], problems: list[str], partial: list[str], empty: list[str] | None
) -> int:
    """What went wrong, on stderr (``partial``: inputs read only in part; ``empty``: the
    inputs, when no value at all was read from them); the exit status."""
    # A problem leads with the input's name: the user's, but a key or a directory
    # listing may hold a terminal's escape sequences.
    for line in _first([f"replay skipped {named(problem)}" for problem in problems], "skipped {}"):
        print(f"sesd: {line}", file=sys.stderr)
    for line in _first(partial, "read {} only in part"):
        print(f"sesd: {line}", file=sys.stderr)
    if document.get("interrupted"):
        problems = [*problems, "the rest of the input: interrupted (Ctrl-C)"]
        print(f"sesd: replay skipped {problems[-1]}", file=sys.stderr)
    if late := document["late_events"]:
        # One event in the singular: a few samples replayed read "1 events ... they were".
        events, it_was, it = (
            ("event", "it was", "it") if late == 1 else ("events", "they were", "them")
        )
        print(
            f"sesd: replay counted {late} {events} in no window: {it_was} "
            "further behind the latest event read than the widest window (inputs out of "
            "time order, such as one region's archive after another's, or an event stamped "
            f"ahead); no rule saw {it}. Replay each archive on its own, or in time order.",
            file=sys.stderr,
        )
    if empty is not None and not problems and not partial:
        # An empty download or a pipe whose writer failed: the wrong input, not a quiet
        # month with no alert.
        names = ["standard input" if name == "-" else named(name) for name in empty]
        inputs = ", ".join(names[:SHOWN])
        if len(names) > SHOWN:  # a day of hourly files left empty: not a line of them all
            inputs += f" and {len(names) - SHOWN} more inputs"
        print(
            f"sesd: replay read no value: {inputs} held nothing but blank space "
            "(an empty file or pipe), so there was no event to replay",
            file=sys.stderr,
        )
        return EXIT_SKIPPED
    messages, utf16 = document["messages"], _utf16(document)
    refused, skipped = messages.get("invalid", 0), messages.get("skipped", 0)
    if not messages.get("processed") and (refused or skipped):
        # Every value read was refused, or no email event (an SNS subscription's
        # confirmation, another EventBridge source's records): the wrong input, not a
        # quiet month.
        counts = [f"{refused} not SES events (see the invalid counts)"] if refused else []
        counts += [f"{skipped} no email event (see the skipped counts)"] if skipped else []
        print(
            f"sesd: replay processed no event: of the values read, {' and '.join(counts)}"
            + ("" if utf16 is None else f"; {utf16 or 'the input'}: {UTF16_ADVICE}"),
            file=sys.stderr,
        )
        return EXIT_SKIPPED
    if utf16 is not None:  # among others: a day short, and no line said so
        print(
            f"sesd: replay could not read {utf16 or 'an input'}: {UTF16_ADVICE} (its values "
            "are counted invalid)",
            file=sys.stderr,
        )
    return EXIT_SKIPPED if problems or partial or utf16 is not None else 0


def _first(lines: list[str], what: str) -> list[str]:
    """The first :data:`SHOWN` of ``lines``, then what befell the others (``what``, its
    ``{}`` the count of inputs): a month of hourly objects in a form replay does not
    read is 720 lines, which bury what comes after them (as check-config says its
    warnings)."""
    if len(lines) <= SHOWN:
        return lines
    more = len(lines) - SHOWN
    inputs = f"{more} more input{'s' if more > 1 else ''}"
    return [*lines[:SHOWN], f"replay {what.format(inputs)}, not named here (the first {SHOWN} are)"]


def _utf16(document: dict[str, Any]) -> str | None:
    """The inputs in UTF-16 (PowerShell's `>`: the likeliest cause of nothing but
    invalid values), named ("" when unnamed); None when none is."""
    found = [v["input"] for v in document["invalid_values"] if UTF16_ADVICE in v["detail"]]
    names = dict.fromkeys("standard input" if n == "-" else named(n) for n in found if n)
    return ", ".join(names) if found else None


def _prefetch(replay: Replay, found: list[Source], s3: S3Reader | None, *, show: bool) -> bool:
    """``--dns``: a first pass for the domains, then their lookups (minutes each on a
    month; ``show``: on stderr). Whether a Ctrl-C stopped it: then nothing is replayed."""
    try:
        with progress_of(found, show, "domains") as first, lookups(show) as answered:
            anyio.run(replay.prefetch, first.count(bodies(found, first.read, s3=s3)), answered)
    except KeyboardInterrupt:
        return True
    finally:
        for source in found:
            source.errors.clear()  # reported once, from the replay itself
            source.stopped = None
            source.values = 0  # counted again as the replay reads
    return False


def _where(found: list[Source], read: int) -> Where:
    """Where the ``read``-th body was read, while it is the last read."""
    source, value = place(found, read)
    if source is None:
        return Where(value=value)
    return Where(source.name, value, source.at, source.gzipped)


def _stops(replay: Replay, found: list[Source]) -> None:
    """Each input whose reading stopped short, to the replay's document."""
    for source in found:
        stop = source.stopped
        if stop is not None:
            where = Where(source.name, source.values, stop.at, source.gzipped)
            replay.stopped(
                where,
                stop.compressed,
                stop.reason,
                stop.detail,
                stop.dropped,
                read_to_end=stop.read_to_end,
            )


def _known_providers(replay: Replay, config: Config) -> None:
    """The daemon's cached providers (its state file: ``config``'s), so a replay knows
    them without DNS. A file past the largest state ``config`` saves is not read, as
    ``sesd run`` reads none (a restore takes many times its size in memory); that, or
    one that cannot be read, is said on stderr and the replay goes on without it."""
    cache = replay.ledger.providers
    if cache is None or not config.state.path:
        return
    try:
        sinks = config.alerts.named_sinks()
        blob = read_state(config.state.path, state_limit(replay.ledger, config.alerts.rules, sinks))
        if blob is not None:
            cache.restore(providers_cache(blob))
    except StateError as exc:
        print(
            f"sesd: replay did not read the state file's cached providers: {exc}; "
            "providers come from consumer names (and --dns)",
            file=sys.stderr,
        )


def _rules_for(config: Config, rule: str | None, settings: list[str]) -> Config:
    """The config a replay runs: ``settings`` applied, and with ``rule`` that rule only."""
    config = override(config, settings)
    if rule is None:
        return config
    kept = [r for r in config.alerts.rules if r.name == rule]
    if not kept:
        known = ", ".join(r.name for r in config.alerts.rules) or "none"
        raise ConfigError(f"--rule {rule!r}: no such rule (rules: {known})")
    for setting in settings:
        # Checked by override: RULE.KEY=VALUE, of a rule the config has.
        named = setting.partition("=")[0].rpartition(".")[0]
        if named != rule:
            raise ConfigError(
                f"--set {setting!r}: rule {named!r} is not replayed (--rule {rule!r}): "
                "name it in --rule, or leave --rule out"
            )
    alerts = msgspec.structs.replace(config.alerts, rules=kept)
    return msgspec.structs.replace(config, alerts=alerts)
