"""``sesd silence add|list|expire``: silences from the command line.

The CLI only writes the silences file (:mod:`sesd.alerting.silences`); a
running daemon sees the change at its next evaluation.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import MAXYEAR, UTC, datetime

import msgspec

from sesd.alerting.silence_checks import (
    control_problem,
    domain_problem,
    rule_problem,
    severity_problem,
    silence_check,
)
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import TEXT_SHOWN, Silence, SilenceError, new_id, shown_id
from sesd.commands.common import Commands, command, config_error, load, with_config
from sesd.commands.output import confirmed
from sesd.commands.read_bound import Unanswered, config_within, unread
from sesd.commands.silence_dotless import dotless_note
from sesd.commands.silence_provider import provider_problem
from sesd.commands.silence_refused import refused_config
from sesd.config import Config, ConfigError, Duration
from sesd.core.text import escaped
from sesd.io.logs import configure_logging

__all__ = ["add_parser", "run_silence"]

EXIT_USAGE = 2
#: What each subcommand cannot do when its read of the config is given up.
_DOING = {"add": "add the silence", "list": "list the silences", "expire": "expire the silence"}


def add_parser(commands: Commands) -> None:
    """``silence add|list|expire``, each with ``--config``."""
    silence = command(commands, "silence", "mute alerts for a while")
    silence.set_defaults(execute=execute)
    # The metavar names the choices in a usage error too ("required: {add,list,expire}"),
    # where argparse would name the attribute the choice is kept in.
    subcommands = silence.add_subparsers(
        dest="silence_command", required=True, metavar="{add,list,expire}"
    )
    add = with_config(subcommands, "add", "mute matching alerts; prints the new silence's id")
    add.add_argument("--rule", help="rule name or glob")
    add.add_argument(
        "--domain",
        help="what the alert is about: a domain, group, provider, tenant or ACCOUNT/REGION, "
        "or a glob (e.g. 'yahoo.*')",
    )
    add.add_argument("--severity", help="severity or glob")
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="for_", metavar="DURATION", help="e.g. 4h, 30m, 1h30m")
    until.add_argument(
        "--until", metavar="TIME", help="ISO 8601 with a zone, e.g. 2026-12-01T08:00Z"
    )
    until.add_argument(
        "--until-resolved",
        action="store_true",
        help="until the matched alert resolves",
    )
    add.add_argument("--comment", required=True, help="why (shown in the list)")
    # "--for -5m" reads as a value, not an unknown option: told that a silence's length
    # is positive beats argparse's "expected one argument". (argparse takes only plain
    # negative numbers, -5, as values.)
    add._negative_number_matcher = re.compile(r"^-\d")
    listing = with_config(subcommands, "list", "the silences, with their state")
    listing.add_argument("--json", action="store_true", help="one JSON document")
    expire = with_config(subcommands, "expire", "end a silence now")
    expire.add_argument("id", help="the silence's id")


def _error(message: str) -> int:
    print(f"sesd: {message}", file=sys.stderr)
    return EXIT_USAGE


def _when(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--until {text!r}: give a date and time, e.g. 2027-01-15T08:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (add Z or an offset such as +02:00)")
    try:
        # 9999-12-31T23:59:59-12:00 is in year 10000 in UTC, which the list (and
        # the status page) could not write; 0001-01-01T00:30+01:00 in year 0.
        moment.astimezone(UTC)
    except OverflowError:
        edge = "after the year 9999" if moment.year == MAXYEAR else "before the year 1"
        raise ValueError(f"--until {text!r} is {edge} in UTC") from None
    return moment.timestamp()


def _iso(t: float | None) -> str:
    if t is None:
        return "when its alert resolves"  # an --until-resolved silence: "ends when ..."
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        # A file written by hand (or by a version that let it in): shown, not a crash.
        return f"{t:g} (a Unix time outside the years 1 to 9999)"


def execute(args: argparse.Namespace) -> int:
    """Silences need the file's paths, not its secrets (the sinks' keys may not be
    here): the config is read without them. A file a reload refused still gives them:
    the daemon runs on the config it last loaded, and an incident is when a silence
    matters most. A read that has not returned within its bound (a config on a hung
    mount) is given up, saying so, exit 1."""
    try:
        read = config_within(lambda: _read(args), args.config, "sesd-silence-read")
    except Unanswered as exc:
        return unread(_DOING[args.silence_command], exc)
    if isinstance(read, str):
        return config_error(read)
    config, missing = read
    configure_logging(config.logging.level, config.logging.format)
    return run_silence(config, args, labels_known="domains" not in missing)


def _read(args: argparse.Namespace) -> tuple[Config, set[str]] | str:
    """The config without its secrets, and the tables that could not be read (none but
    of a file a reload refused), or why the file gives silences nothing (as config_error
    says it): all that reads the config file, on a share that may hang."""
    try:
        return load(args, secrets=False), set()
    except ConfigError as exc:
        try:
            return refused_config(args, exc)
        except ConfigError:
            return str(exc)


def run_silence(config: Config, args: argparse.Namespace, *, labels_known: bool = True) -> int:
    """Run one ``sesd silence`` subcommand; 0 on success, 1 when an id is unknown.
    Without ``labels_known`` (the groups and accounts could not be read), a domain
    matcher is checked only for what no groups or accounts make right."""
    path = config.silences_path
    if path is None:
        return _error(
            "alerts.silences_path: not given, nor state.path beside which it is kept: "
            "silences need a file; set one"
        )
    if not os.path.isabs(path):
        # Relative to the daemon's working directory (systemd's, the container's), which
        # is not known here: written from the operator's, the silence would mute nothing.
        key = "alerts.silences_path" if config.alerts.silences_path else "state.path"
        named = config.alerts.silences_path or config.state.path
        return _error(
            f"{key}: {named!r} is relative: sesd run reads it from its own working "
            "directory, which this command cannot know; write it as an absolute path"
        )
    file = SilenceFile(path)
    now = time.time()
    try:
        if args.silence_command == "add":
            problem = _labels_problem(config, args, labels_known=labels_known)
            if problem:
                return _error(problem)
            added = _add(file, args, now, config)
            # Told once the silence is in: beside an error that refused it, a note on
            # what it mutes would read as if it were added.
            told = added == 0 and args.domain and labels_known
            if told and (note := dotless_note(config, args.domain)):
                print(f"sesd: note: {note}", file=sys.stderr)  # names in normal form
            return added
        if args.silence_command == "list":
            check = silence_check(config, labels_known=labels_known)
            return _list(file, check, as_json=args.json, now=now)
        ended = file.expire({args.id}, now)
    except SilenceError as exc:
        print(f"sesd: {exc}", file=sys.stderr)
        return 1
    if not ended:
        print(f"sesd: {_not_running(file, args.id)}", file=sys.stderr)
        return 1
    if why := confirmed(f"expired {args.id}"):
        print(f"sesd: silence {shown_id(args.id)} expired; this could not be written to "
              f"standard output ({why})", file=sys.stderr)  # fmt: skip
    return 0


def _labels_problem(config: Config, args: argparse.Namespace, *, labels_known: bool = True) -> str:
    """What is wrong with ``--domain`` (sesd.alerting.silence_checks: it would mute
    nothing; without ``labels_known``, only what no groups or accounts make right), or
    with a mailbox provider's name in it: which alerts it means, said by ``--rule``
    (sesd.commands.silence_provider)."""
    if not args.domain:
        return ""
    if labels_known:
        problem = domain_problem(config, args.domain, "--")
    else:
        problem = control_problem(args.domain, "--")
    if not problem:
        problem = provider_problem(config, args.domain, args.rule, groups_known=labels_known)
    return problem


def _add(file: SilenceFile, args: argparse.Namespace, now: float, config: Config) -> int:
    if not (args.rule or args.domain or args.severity):
        return _error("give at least one matcher: --rule, --domain or --severity")
    if args.rule and (problem := rule_problem(config, args.rule, "--")):
        return _error(problem)
    if not args.comment.strip():
        return _error("--comment must say why")
    if args.severity and (problem := severity_problem(args.severity, "--")):
        return _error(problem)
    try:
        if args.for_:
            if args.for_.strip().startswith("-"):
                return _error(f"--for {args.for_!r}: a silence lasts a positive time, e.g. 4h")
            ends: float | None = now + Duration(args.for_).seconds
        elif args.until:
            ends = _when(args.until)
        else:
            ends = None
    except ValueError as exc:
        return _error(f"--for: {exc}" if args.for_ else str(exc))
    if ends is not None and ends <= now:
        return _error("the silence would end before it starts")
    silence = Silence(
        id=new_id(),
        comment=args.comment.strip(),
        starts_at=now,
        ends_at=ends,
        rule=args.rule,
        domain=args.domain,  # matched in any case: a tenant's name is as SES has it
        severity=args.severity,
        until_resolved=args.until_resolved,
        created_by=_user(),
    )
    return _added(file, silence, now)


def _added(file: SilenceFile, silence: Silence, now: float) -> int:
    """Write ``silence`` to the file and print its id; 0 once it is written."""
    same: list[Silence] = []

    def change(silences: list[Silence]) -> list[Silence]:
        # Read under the file's lock, as the silence is added.
        same.extend(s for s in silences if _matchers(s) == _matchers(silence)
                    and s.state(now) != "expired")  # fmt: skip
        return [*silences, silence]

    file.update(change, now)
    # The silence is made: the status says so whether or not its id can be printed (a
    # status of failure would have a script, or an operator, add a second one).
    if why := confirmed(silence.id):
        print(f"sesd: silence {silence.id} added; its id could not be written to standard "
              f"output ({why})", file=sys.stderr)  # fmt: skip
    if same:
        # The same command again (a retry of one whose status said it failed): both
        # kept, as the user may mean to extend it, but not in silence.
        print(f"sesd: silence {shown_id(same[0].id)} already mutes these alerts (ends "
              f"{_iso(same[0].ends_at)}): if this was a retry, `sesd silence expire "
              f"{silence.id}`", file=sys.stderr)  # fmt: skip
    return 0


def _matchers(silence: Silence) -> tuple[str | None, str | None, str | None]:
    """What a silence mutes: its matchers as written."""
    return silence.rule, silence.domain, silence.severity


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _list(file: SilenceFile, check: Callable[[Silence], str], *, as_json: bool, now: float) -> int:
    """The silences, each with its state: ``ignored`` for one the daemon leaves out
    (it would mute nothing, or every alert). An entry that is no silence is not listed;
    why each is ignored or left out is told on stderr."""
    silences: list[tuple[Silence, str]] = []
    for entry in file.entries():
        problem = entry.problem(check)
        if problem:
            named = escaped(entry.id, TEXT_SHOWN) if entry.id is not None else "no id"
            done = "ignored" if entry.silence is not None else "left out"
            print(f"sesd: {file.path}: silence {entry.number} ({named}) {done}: {problem}",
                  file=sys.stderr)  # fmt: skip
        if entry.silence is not None:
            silences.append((entry.silence, "ignored" if problem else entry.silence.state(now)))
    if as_json:
        rows = [msgspec.to_builtins(s) | {"state": state} for s, state in silences]
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    if not silences:
        print("no silences")
        return 0
    # What the file holds is anyone's text (another operator's, a hand edit, a paste
    # from a chat): its control characters are escaped, so none clears or retitles the
    # terminal, nor splits a silence over two lines.
    for s, state in silences:
        matchers = " ".join(
            f"{name}={escaped(value, TEXT_SHOWN)}"
            for name, value in (("rule", s.rule), ("domain", s.domain), ("severity", s.severity))
            if value is not None
        )
        ends = _iso(s.ends_at)
        comment = escaped(s.comment, TEXT_SHOWN)
        print(f"{escaped(s.id, TEXT_SHOWN)}  {state:8}  {matchers}  ends {ends}  # {comment}")
    return 0


def _not_running(file: SilenceFile, silence_id: str) -> str:
    """Why ``silence_id`` could not be expired: it ended already (when), or no silence in
    the file has it (a typo, or one long gone from the file)."""
    try:
        found = [s for s in file.read() if s.id == silence_id]
    except SilenceError:
        found = []
    if found and found[0].ends_at is not None:
        ended = _iso(found[0].ends_at)
        return f"silence {silence_id!r} already ended at {ended}: nothing to expire"
    return f"no running silence has id {silence_id!r} (`sesd silence list` shows the ids)"
