"""``sesd status``: what a running sesd sees now, in a terminal.

It reads the status page's JSON (``/api/v1/status``) from the daemon at
``--url`` (default: ``[http] listen`` of ``--config``, or ``$SESD_HTTP_LISTEN``
over it as ``sesd run`` takes it, else http://127.0.0.1:9585) and prints a
table: alerts first (firing, then pending), then the domains, providers and
tenants by delay ratio, the canary, the accounts and the silences. ``--json``
prints the document itself; ``--watch`` redraws it every few seconds until
Ctrl-C, through a daemon down or restarting. A daemon that cannot be reached is said
in one line, exit 1 (``--watch``: at each try, and it goes on). Behind
``[http] web_config``: ``--user`` with the password in ``SESD_STATUS_PASSWORD``
(never on the command line, where ``ps`` shows it), ``--cacert`` for a
certificate no system CA signed, ``--cert`` and ``--key`` for a port that requires
a client certificate; ``--config`` gives https when its web config
has TLS.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import select
import shutil
import sys
import time
from typing import TYPE_CHECKING, Final, NoReturn

import anyio
import msgspec

from sesd.commands.common import (
    Commands,
    config_error,
    listen_refused,
    one_line,
    whole_number,
    with_config,
)
from sesd.commands.config_alone import read_as, tables, warn_refused
from sesd.commands.status_access import PASSWORD_VARIABLE, Access, Refused, access
from sesd.commands.status_fetch import (
    Answered,
    OtherVersion,
    Unreachable,
    base_url,
    fetch,
)
from sesd.commands.status_table import rows, screenful, table
from sesd.commands.status_url import Unaskable, askable, no_port
from sesd.core.shown_urls import shown_bare
from sesd.core.text import json_escaped
from sesd.status.charts import duration, when
from sesd.status.document import MAX_ALERTS, Limits

if TYPE_CHECKING:
    # The config's modules load only for a config or $SESD_HTTP_LISTEN: they are a
    # third of a start that reads neither (an SRE's `sesd status --watch`).
    from sesd.config import HttpConfig

__all__ = ["DEFAULT_URL", "add_parser", "default_url"]

DEFAULT_URL: Final = "http://127.0.0.1:9585"
#: Exit status when the daemon cannot be reached, or answers with something else.
EXIT_UNREACHABLE: Final = 1
#: Exit status for options that cannot work (as for a config that cannot be read).
EXIT_USAGE: Final = 2
#: Clear the screen and go home (a terminal only).
_CLEAR: Final = "\x1b[H\x1b[2J"
#: The shortest ``--every``: faster redraws flicker, and load the daemon for nothing.
_FASTEST: Final = 0.2


def _redraw_seconds(text: str) -> float:
    """An argparse type: seconds between redraws, at least ``_FASTEST`` (0 or less would
    redraw without pause; nan or inf never)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= _FASTEST):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds, at least {_FASTEST}")
    return seconds


def add_parser(commands: Commands) -> None:
    """``status [--url URL | --config PATH] [--json] [--watch] [--every S] [--top N]
    [--alerts N]``."""
    status = with_config(commands, "status", "what a running sesd sees now: alerts, domains")
    status.add_argument(
        "--url",
        help="the daemon's address (default: [http] listen of --config, or "
        f"$SESD_HTTP_LISTEN over it, else {DEFAULT_URL})",
    )
    status.add_argument("--json", action="store_true", help="print the status document as JSON")
    status.add_argument("--watch", action="store_true", help="redraw until Ctrl-C")
    status.add_argument(
        "--every",
        type=_redraw_seconds,
        default=5.0,
        help=f"seconds between redraws (at least {_FASTEST})",
    )
    # The API lists at most 200 a table: more would be cut without a word.
    status.add_argument(
        "--top",
        type=whole_number(1, 200),
        default=10,
        help="domains, providers, tenants shown (1 to 200)",
    )
    # The API lists 50 alerts unless asked: an incident on many domains fires more.
    status.add_argument(
        "--alerts",
        type=whole_number(1, MAX_ALERTS),
        default=Limits().alerts,
        help=f"alerts (and silences, tenants) listed (1 to {MAX_ALERTS})",
    )
    status.add_argument("--user", help=f"basic auth user (password in ${PASSWORD_VARIABLE})")
    status.add_argument("--cacert", help="CA certificates (PEM) to trust for https")
    status.add_argument("--cert", help="a client certificate (PEM), for a port that requires one")
    status.add_argument("--key", help="the --cert's private key (PEM), unless in its file")
    status.set_defaults(execute=execute)


def default_url(config_path: str | None, listen: str | None = None) -> str:
    """The address of the daemon a config file describes (its ``[http] listen``, or
    ``listen``, $SESD_HTTP_LISTEN, over it as `sesd run` takes it; an address that
    listens everywhere is reached on loopback; https when its web config can be read
    and has TLS)."""
    if not config_path and not listen:
        return DEFAULT_URL
    from sesd.config import ConfigError, HttpConfig, load_config

    try:
        config = load_config(config_path, resolve_secrets=False) if config_path else None
    except ConfigError as exc:
        # A config a reload refused: the daemon runs on the one it last loaded, whose
        # [http] is most often this file's, and its status says the reload failed.
        found = tables(config_path, exc).get("http", {}) if config_path else {}
        http = read_as(found, HttpConfig, exc)
        # The address asked named as it is given: $SESD_HTTP_LISTEN is over the file's.
        given = "$SESD_HTTP_LISTEN" if listen else "its [http] listen"
        warn_refused(exc, f"asking the daemon at {given}")
    else:
        http = config.http if config is not None else HttpConfig()
    if listen:
        try:
            http = HttpConfig(listen=listen, web_config=http.web_config)
        except ValueError as exc:
            raise ConfigError(f"SESD_HTTP_LISTEN: {listen_refused(exc)}") from None
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(http.host, http.host)  # noqa: S104
    if ":" in host:
        host = f"[{host}]"
    tls = _has_tls(http)
    return f"{'https' if tls else 'http'}://{host}:{http.port}"


def _has_tls(http: HttpConfig) -> bool:
    """Whether the daemon serves TLS, as far as its web config (if readable) says."""
    from sesd.config import ConfigError

    if http.web_config is None:
        return False
    try:
        return http.web_config.read().tls_server_config is not None
    except ConfigError:
        return False  # not ours to read (the daemon's user's): plain HTTP is tried


def execute(args: argparse.Namespace) -> int:
    """0 once printed (or when Ctrl-C ends ``--watch``); 1 when the daemon cannot be
    reached, or the config's read has not returned within its bound (a config on a hung
    mount); 2 for a config that cannot be read."""
    # An --url given empty (a variable unset) is no request for the default.
    url = args.url if args.url is not None else _configured_url(args.config)
    if isinstance(url, int):
        return url
    try:
        url = askable(url, given=args.url is not None)
    except Unaskable as exc:  # the command line's (or config's) mistake: not a daemon down
        return _usage(str(exc))
    if args.user is not None and shown_bare(url) != url:
        # aiohttp refuses a request with both (a ValueError, not a failed request).
        named = shown_bare(base_url(url))
        return _usage(
            f"--user {args.user} and a user and password written into --url {named}: give one"
        )
    try:
        through = access(args.user, args.cacert, args.cert, args.key)
    except Refused as exc:
        return _usage(str(exc))
    return _started(args, url, through)


def _configured_url(config_path: str | None) -> str | int:
    """:func:`default_url`, read within its bound (the config and its web config may be
    on a share that hangs), or the exit status once why not is said."""
    listen = os.environ.get("SESD_HTTP_LISTEN")
    if not config_path and not listen:
        return DEFAULT_URL
    from sesd.commands.read_bound import Unanswered, config_within, unread
    from sesd.config import ConfigError

    try:
        return config_within(
            lambda: default_url(config_path, listen), config_path, "sesd-status-read"
        )
    except Unanswered as exc:
        return unread("ask the daemon", exc)
    except ConfigError as exc:
        return config_error(exc)


def _started(args: argparse.Namespace, url: str, through: Access) -> int:
    """The status drawn; Ctrl-C is the end of ``--watch``, status 0. Without it, Ctrl-C
    interrupts the command as any other (exit 0 would have a script's ``sesd status
    || ...`` take it for an answer)."""
    try:
        return anyio.run(_run, args, url, through)
    except KeyboardInterrupt:
        if not args.watch:
            raise
        return 0


def _unnamed(args: argparse.Namespace) -> str:
    """What to add to the line of a daemon not reached at the default address, asked
    because nothing named another: `sesd status` typed bare beside a daemon whose
    config listens elsewhere said "Connection refused", as if that daemon were down;
    and typed with none started, as a newcomer does, the line spoke only of a config."""
    if args.url is not None or args.config or os.environ.get("SESD_HTTP_LISTEN"):
        return ""
    return (
        f" (no --config, --url nor $SESD_HTTP_LISTEN named the daemon's address, so "
        f"{DEFAULT_URL} was asked: is sesd running? If it is, give the config it runs with)"
    )


def _from_config(args: argparse.Namespace) -> str:
    """What to add to the line of a daemon not reached at the address ``--config``'s
    ``[http] listen`` gives: the file's, not the running daemon's. A reload leaves the
    port where it was, so after an edit of that line and a reload, "Connection refused"
    there read as the daemon down while it ran on at the old address."""
    if args.url is not None or not args.config or os.environ.get("SESD_HTTP_LISTEN"):
        return ""
    return (
        f" (the address {one_line(args.config)}'s [http] listen gives: is sesd running? "
        "One started before that line changed listens where it did then, which a reload "
        "does not move: give that address as --url)"
    )


def _hints(exc: Unreachable, url: str, args: argparse.Namespace, *, ever: bool = False) -> str:
    """What to add to the line of a try that failed to reach a sesd: which port an
    address without one asked, and that the default address was asked. None after a
    sesd's answer, this one's (a 401, another version's document) or an earlier
    one's (``ever``, a watch through a restart): the address was right, and the hints
    would say it was not."""
    if ever or isinstance(exc, Answered):
        return ""
    return no_port(url) + _unnamed(args) + _from_config(args)


def _usage(message: str) -> int:
    # The message holds what was typed (--url as meant, --user): a line break in it
    # would split the line, an escape sequence act on the terminal.
    print(f"sesd: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


async def _run(args: argparse.Namespace, url: str, through: Access) -> int:
    """The status printed once (0, or 1 when there is none to be had), or watched."""
    if args.watch:
        await _watch(args, url, through)
    try:
        drawn = await _drawn(args, url, through)
    except Unreachable as exc:
        print(f"sesd: {exc}{_hints(exc, url, args)}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(drawn)
    return 0


async def _drawn(args: argparse.Namespace, url: str, through: Access) -> str:
    """The document as ``--json`` prints it (another version's too), else its table;
    :class:`Unreachable` when there is none."""
    try:
        body, status = await fetch(url, args.top, through, args.alerts)
    except OtherVersion as exc:
        if not args.json:
            raise
        body = exc.body
    if args.json:
        return json_escaped(msgspec.json.format(body, indent=2).decode())
    # The daemon's address, not the page or endpoint pasted with it.
    return table(status, shown_bare(base_url(url)))


async def _watch(args: argparse.Namespace, url: str, through: Access) -> NoReturn:
    """Redraw every ``--every`` seconds until Ctrl-C. A try that fails (a daemon not up
    yet, restarting, slow) ends nothing: it is said on standard error with when the
    daemon last answered, under the last drawing (kept: its header's time says how
    old it is), and the next try comes at the interval."""
    drawn = ""
    answered: float | None = None  # this machine's clock: "ago" is read against it
    while True:
        try:
            found = await _drawn(args, url, through)
        except Unreachable as exc:
            _end_if_unseen()
            since = (
                f"last answered at {when(answered)}, {duration(time.time() - answered)} ago"
                if answered is not None
                else "no answer yet"
            )
            hint = _hints(exc, url, args, ever=answered is not None)
            line = f"sesd: {exc}{hint}; {since}, trying again every {args.every:g}s"
            if sys.stdout.isatty():  # the line under the drawing, not a pile of them
                shown = _fitted(drawn, args.json, under=line)
                print(f"{_CLEAR}{shown}", end="\n" if shown else "", flush=True)
            print(line, file=sys.stderr, flush=True)
        else:
            _end_if_unseen()
            answered, drawn = time.time(), found
            tty = sys.stdout.isatty()
            print(f"{_CLEAR}{_fitted(drawn, args.json)}" if tty else drawn, flush=True)
        await anyio.sleep(args.every)


def _end_if_unseen() -> None:
    """End the watch as a write to a reader gone ends it, when nothing it draws can be
    seen: a try that fails writes nothing to standard output to find out (a watch
    piped to `head` would try on for ever, unseen), and with standard output closed
    (``>&-``) no write fails at all (Python drops what is printed to none)."""
    if _reader_gone():
        raise BrokenPipeError(errno.EPIPE, "standard output's reader is gone")


def _reader_gone() -> bool:
    """Whether standard output is a pipe (or socket, terminal) whose reader is gone:
    poll says so (POLLERR, POLLHUP) without a write; or there is none: closed when
    sesd started (Python's is None then), or since (POLLNVAL). Not of a file, nor of a
    stream with no descriptor (a test's capture)."""
    if sys.stdout is None or sys.stdout.closed:  # closed: as sesd.commands.output says it
        return True
    try:
        number = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(number, 0)  # no event asked for: an error or a hang-up comes anyway
    gone = select.POLLERR | select.POLLHUP | select.POLLNVAL
    return any(event & gone for _, event in poller.poll(0))


def _fitted(drawn: str, json: bool, under: str = "") -> str:
    """What a terminal is shown of ``drawn``: a table cut to the screen
    (:func:`_screenful`), a JSON document whole (cut, it is no JSON)."""
    return drawn if json else _screenful(drawn, under)


def _screenful(drawn: str, under: str = "") -> str:
    """``drawn`` cut to the terminal's screen, with room for ``under`` below it and for
    the cursor's line: what scrolls off the top of a redraw is the alerts."""
    size = shutil.get_terminal_size()
    below = rows(under, size.columns) if under else 0
    return screenful(drawn, size.columns, size.lines - 1 - below)
