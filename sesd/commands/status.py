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
import math
import os
import re
import shutil
import sys
import time
from typing import TYPE_CHECKING, Final, NoReturn
from urllib.parse import urlsplit

import anyio
import msgspec

from sesd.commands.common import (
    EXIT_CONFIG,
    Commands,
    config_error,
    listen_refused,
    whole_number,
    with_config,
)
from sesd.commands.status_access import PASSWORD_VARIABLE, Access, Refused, access
from sesd.commands.status_fetch import (
    Answered,
    OtherVersion,
    Unreachable,
    base_url,
    fetch,
    shown,
)
from sesd.commands.status_table import rows, screenful, table
from sesd.core.text import json_escaped
from sesd.status.charts import duration, when
from sesd.status.document import MAX_ALERTS, Limits

if TYPE_CHECKING:
    # The config's modules load only for a config or $SESD_HTTP_LISTEN: they are a
    # third of a start that reads neither (an SRE's `sesd status --watch`).
    from sesd.config import Config

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

    config = load_config(config_path, resolve_secrets=False) if config_path else None
    http = config.http if config is not None else HttpConfig()
    if listen:
        try:
            http = HttpConfig(listen=listen, web_config=http.web_config)
        except ValueError as exc:
            raise ConfigError(f"SESD_HTTP_LISTEN: {listen_refused(exc)}") from None
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(http.host, http.host)  # noqa: S104
    if ":" in host:
        host = f"[{host}]"
    tls = config is not None and _has_tls(config)
    return f"{'https' if tls else 'http'}://{host}:{http.port}"


def _has_tls(config: Config) -> bool:
    """Whether the daemon serves TLS, as far as its web config (if readable) says."""
    from sesd.config import ConfigError

    if config.http.web_config is None:
        return False
    try:
        return config.http.web_config.read().tls_server_config is not None
    except ConfigError:
        return False  # not ours to read (the daemon's user's): plain HTTP is tried


#: A URL's scheme, as RFC 3986 spells one, and the ``://`` after it.
_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
#: http(s) with its ``://`` mistyped (``http:/``, ``http//``, ``https:``), not a host
#: named http and its port (``http:9585``).
_MISTYPED: Final = re.compile(r"(https?)(?::/*|/+)(?!\d+(?:/|$))", re.IGNORECASE)


def execute(args: argparse.Namespace) -> int:
    """0 once printed (or when Ctrl-C ends ``--watch``); 1 when the daemon cannot be
    reached; 2 for a config that cannot be read."""
    # An --url given empty (a variable unset) is no request for the default.
    url = args.url if args.url is not None else _configured_url(args.config)
    if url is None:
        return EXIT_CONFIG
    # The command line's own mistakes: no config is at fault. Spaces pasted around the
    # address are not its text (the request strips them).
    url = url.strip()
    if not url:
        return _usage("--url is empty: give it as http://HOST:PORT or https://HOST:PORT")
    scheme = _SCHEME.match(url)
    mistyped = _MISTYPED.match(url) if scheme is None else None
    if mistyped is not None:
        rest = shown(url[mistyped.end() :])  # a password in it left out, as a URL's
        meant = f"{mistyped.group(1).lower()}://{rest}"
        return _usage(
            f"--url {mistyped.group(0) + rest!r} has its scheme mistyped: give it as {meant}"
        )
    if scheme is None:
        bare = shown(url)
        return _usage(f"--url {bare!r} has no scheme: give it as http://{bare} or https://{bare}")
    if scheme.group(1).lower() not in ("http", "https"):
        return _usage(
            f"--url {shown(url)!r} is not an http(s) address: give it as "
            "http://HOST:PORT or https://HOST:PORT"
        )
    # A scheme is the same in any case (RFC 3986): HTTP:// is asked as http://.
    url = scheme.group(1).lower() + url[scheme.end(1) :]
    try:
        base_url(url)
    except ValueError as exc:  # a bracketed host that is no IP address, or unclosed
        return _usage(f"--url {shown(url)!r} is not a URL: {exc}")
    unaskable = _unaskable(url, given=args.url is not None)
    if unaskable:  # no request can be made: not a daemon that is down
        return _usage(unaskable)
    if args.user is not None and shown(url) != url:
        # aiohttp refuses a request with both (a ValueError, not a failed request).
        named = shown(base_url(url))
        return _usage(
            f"--user {args.user} and a user and password written into --url {named}: give one"
        )
    try:
        through = access(args.user, args.cacert, args.cert, args.key)
    except Refused as exc:
        return _usage(str(exc))
    return _started(args, url, through)


def _configured_url(config_path: str | None) -> str | None:
    """:func:`default_url`, or None once a config that cannot be read is said."""
    listen = os.environ.get("SESD_HTTP_LISTEN")
    if not config_path and not listen:
        return DEFAULT_URL
    from sesd.config import ConfigError

    try:
        return default_url(config_path, listen)
    except ConfigError as exc:
        config_error(exc)
        return None


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


def _unaskable(url: str, *, given: bool) -> str:
    """Why no request can be made to ``url`` (it names no host, a host no resolver can
    look up, or a port that is none: port 0 too, where nothing listens), else "". One
    not ``given`` (read from the config or $SESD_HTTP_LISTEN) can be wrong in its port 0
    and its host name alone."""
    parts = urlsplit(url)
    unnamed = _no_host_name(parts.hostname)
    if not given:
        where = "SESD_HTTP_LISTEN" if os.environ.get("SESD_HTTP_LISTEN") else "http.listen"
        if url.endswith(":0"):
            return (
                f"{where}: names port 0 (any free port): give the port sesd took as"
                " --url http://HOST:PORT"
            )
        return f"{where}: {unnamed}" if unnamed else ""
    said = f"--url {shown(url)!r} is not a URL"
    if unnamed:
        return f"{said}: {unnamed}"
    try:
        if parts.port == 0:
            raise ValueError
    except ValueError:
        # What follows the host (a bracketed one's colons are its own), never the
        # user and password before it.
        port = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
        return f"{said}: its port {port!r} is no number from 1 to 65535"
    return "" if parts.hostname else f"{said}: it names no host"


def _no_host_name(host: str | None) -> str:
    """Why ``host`` is no name a resolver can look up (an empty label: a dot typed twice;
    a label over 63 characters; a control, zero-width or bidirectional character), else
    "". Its lookup would end in a UnicodeError, or ask for a name no host has."""
    if not host or host.startswith("["):
        return ""
    try:
        host.encode("idna")  # what the lookup does (socket.getaddrinfo)
    except UnicodeError:
        pass
    else:
        if host.isprintable():
            return ""
    return (
        f"its host {host!r} is no host name (an empty label, one over 63 characters, "
        "or a character no host name has)"
    )


def _no_port(url: str) -> str:
    """What to add to the line of an address that could not be reached when it names no
    port: the scheme's was asked, not sesd's (9585), which the user may have meant."""
    parts = urlsplit(base_url(url))
    try:
        if parts.port is not None or not parts.hostname:
            return ""
    except ValueError:  # a port that is none: its line says so
        return ""
    asked = 443 if parts.scheme == "https" else 80
    from sesd.config import HttpConfig

    port = HttpConfig().port
    return (
        f" (the address names no port, so {asked} was asked: sesd listens on {port} "
        "unless its [http] listen says otherwise)"
    )


def _unnamed(args: argparse.Namespace) -> str:
    """What to add to the line of a daemon not reached at the default address, asked
    because nothing named another: `sesd status` typed bare beside a daemon whose
    config listens elsewhere said "Connection refused", as if that daemon were down."""
    if args.url is not None or args.config or os.environ.get("SESD_HTTP_LISTEN"):
        return ""
    return (
        f" (no --config, --url nor $SESD_HTTP_LISTEN named the daemon's address, so "
        f"{DEFAULT_URL} was asked: give the config the daemon runs with)"
    )


def _hints(exc: Unreachable, url: str, args: argparse.Namespace, *, ever: bool = False) -> str:
    """What to add to the line of a try that failed to reach a sesd: which port an
    address without one asked, and that the default address was asked (not once a
    sesd has answered there, ``ever``). None after a sesd's answer (a 401, another
    version's document): the address was right, and the hints would say it was not."""
    if isinstance(exc, Answered):
        return ""
    return _no_port(url) + ("" if ever else _unnamed(args))


def _usage(message: str) -> int:
    print(f"sesd: {message}", file=sys.stderr)
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
    return table(status, shown(base_url(url)))


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
            since = (
                f"last answered at {when(answered)}, {duration(time.time() - answered)} ago"
                if answered is not None
                else "no answer yet"
            )
            hint = _hints(exc, url, args, ever=answered is not None)
            line = f"sesd: {exc}{hint}; {since}, trying again every {args.every:g}s"
            if sys.stdout.isatty():  # the line under the drawing, not a pile of them
                shown = _screenful(drawn, under=line)
                print(f"{_CLEAR}{shown}", end="\n" if shown else "", flush=True)
            print(line, file=sys.stderr, flush=True)
        else:
            answered, drawn = time.time(), found
            print(f"{_CLEAR}{_screenful(drawn)}" if sys.stdout.isatty() else drawn, flush=True)
        await anyio.sleep(args.every)


def _screenful(drawn: str, under: str = "") -> str:
    """``drawn`` cut to the terminal's screen, with room for ``under`` below it and for
    the cursor's line: what scrolls off the top of a redraw is the alerts."""
    size = shutil.get_terminal_size()
    below = rows(under, size.columns) if under else 0
    return screenful(drawn, size.columns, size.lines - 1 - below)
