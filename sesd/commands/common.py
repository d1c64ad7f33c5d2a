"""What every command shares: the help format, ``--config``, loading the config, and
a start that failed told in one line."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

__all__ = [
    "EXIT_CONFIG",
    "EXIT_START",
    "Commands",
    "Help",
    "Parser",
    "command",
    "config_error",
    "listen_address",
    "listen_refused",
    "listen_remedied",
    "load",
    "load_placed",
    "no_secrets",
    "one_line",
    "secrets_told",
    "start_error",
    "start_failed",
    "whole_number",
    "with_config",
]

#: A bad config, bad usage, or a start that failed.
EXIT_CONFIG = 2
EXIT_START = 2
#: The most of a config error said (a quoted value is the file's, of any length).
_SAID = 2000
#: What ``add_subparsers`` returns.
if TYPE_CHECKING:
    # The config's modules load with the commands that read one, not with every
    # command's parser: they are most of a start that reads none (`sesd cause`).
    from sesd.config import Config, ConfigError, Placer
    from sesd.runtime.http import StartError

    Commands: TypeAlias = argparse._SubParsersAction["Parser"]
else:
    Commands = argparse._SubParsersAction


class Help(argparse.HelpFormatter):
    """Help that shows each option's default, where it has a real one (a switch's
    False and a repeatable option's empty list are none; 0 is one)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        # By identity: ``0 == False`` (and ``0.0``), so a default of 0 is a real one.
        none = default is None or default is False or default is argparse.SUPPRESS
        real = not none and default != []
        if real and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


#: Where :class:`Parser` notes the first parser on the line that did not take a word,
#: those words, and how many words were left in all by it and the commands under it.
LEFT = "_left_by"


class Parser(argparse.ArgumentParser):
    """sesd's parser and its commands' (a command's parser is of its parent's class):
    one that does not take a word notes it, and itself, on what it parsed (``LEFT``),
    so that the usage error for it is said in that parser's words (``sesd cause: error``
    and its usage for a word of ``sesd cause``, ``sesd: error`` for ``sesd --bogus
    cause``); argparse hands every command's words up to the first parser, which
    would say them all as its own.

    Its errors are said in sesd's words where argparse's mislead: a switch given a value
    (``--json=x``) is one that takes none, where argparse says the value was ignored.

    Only argparse's public ``parse_known_args`` is overridden: its private parse takes
    other arguments from one Python to the next (3.12.8 and 3.13.1 added one), and an
    override of it ends every command with a TypeError there."""

    #: What a command adds to the usage error for a word it read as one of its options
    #: (``sesd cause``: how to give the word as a diagnostic's text instead).
    advice: str = ""
    #: A command's words as argparse is to read them (``sesd cause``: a word of a
    #: diagnostic marked as text), where argparse alone would read them otherwise.
    prepare: Callable[[list[str]], list[str]] | None = None

    def __init__(self, **kwargs: Any) -> None:
        # Its errors come to parse_known_args, which says each in this parser's words.
        super().__init__(**kwargs, exit_on_error=False)

    # (argparse's typing has overloads for a namespace of a class of one's own: sesd's
    # commands pass none.)
    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        words = list(sys.argv[1:] if args is None else args)
        if self.prepare is not None:
            words = self.prepare(words)
        try:
            parsed, left = super().parse_known_args(words, namespace)
        except argparse.ArgumentError as exc:
            self.error(self._said(exc, words))
        # A command's parser is called within its parent's parse: the words it and the
        # commands under it did not take (how many, noted) are the last its parent
        # returns, the parent's own before them, as on the line. The first parser with
        # words of its own is the one noted, and said.
        below: int = getattr(parsed, LEFT, (None, [], 0))[2]
        own = left[: len(left) - below]
        if own:
            setattr(parsed, LEFT, (self, own, len(left)))
        return parsed, left

    def _said(self, exc: argparse.ArgumentError, words: list[str]) -> str:
        """argparse's error, but for a switch given a value (``--json=x``, ``-h=x``,
        ``-hx``): argparse says "ignored explicit argument 'x'" when nothing was ignored
        and the command ended. Told as what it is, with the command's advice."""
        # argparse keeps a parser's actions in ``_actions`` alone: read, not overridden.
        switches = [
            action
            for action in self._actions
            if action.nargs == 0 and "/".join(action.option_strings) == exc.argument_name
        ]
        given = next((word for word in _options(words) if _gives(switches, word)), None)
        if given is None:
            return str(exc)
        advice = f" {self.advice}" if self.advice else ""
        return f"argument {exc.argument_name}: takes no value: {given}{advice}"


def _options(words: list[str]) -> list[str]:
    """The words before ``--``, the end of the options."""
    return words[: words.index("--")] if "--" in words else words


def _gives(switches: list[argparse.Action], word: str) -> bool:
    """Whether ``word`` gives one of ``switches`` a value: after '=' (its name, or the
    start of a long one's, as argparse takes it), or glued to a short one."""
    name, equals, _ = word.partition("=")
    for option in (option for action in switches for option in action.option_strings):
        if option.startswith("--"):
            if equals and len(name) > 2 and option.startswith(name):
                return True
        elif word.startswith(option) and len(word) > len(option):
            return True
    return False


def command(
    commands: Commands, name: str, help_text: str, description: str | None = None
) -> Parser:
    """A subcommand with its help: ``help_text`` is its line in ``sesd --help``, and
    ``description`` (when the command has more to say) heads its own ``--help``."""
    return commands.add_parser(
        name, help=help_text, description=description or help_text, formatter_class=Help
    )


def with_config(commands: Commands, name: str, help_text: str) -> Parser:
    """A subcommand that reads the config file (``--config``, else ``$SESD_CONFIG``)."""
    sub = command(commands, name, help_text)
    sub.add_argument(
        "--config",
        default=os.environ.get("SESD_CONFIG"),
        help="the TOML config file ($SESD_CONFIG when not given)",
    )
    return sub


def no_secrets(sub: argparse.ArgumentParser) -> None:
    """``--no-secrets``: check or replay without reading ``env:`` and ``file:`` secrets."""
    sub.add_argument(
        "--no-secrets",
        action="store_true",
        help="do not read the secrets (env:, file:): check everything else",
    )


def secrets_told(
    exc: ConfigError,
    args: argparse.Namespace,
    why: str,
    does: str,
    *,
    daemon: bool = False,
    unused: bool = False,
) -> str:
    """``exc`` (why the config did not load), and ``--no-secrets`` where only a secret
    kept it from loading (one unset on this host: a laptop, CI), in one wording for
    every command that takes it: ``why`` the command may go without them, what it
    ``does`` then. ``unused``: the command never uses them (replay), so any fault of a
    secret alone is told so, not only one not on this host."""
    from sesd.config import ConfigError

    if getattr(args, "no_secrets", False):
        return str(exc)
    try:
        config = load(args, secrets=False, daemon=daemon)
    except ConfigError:
        return str(exc)
    if not unused and not _not_here(config):
        # A secret read and refused (a routing key too short, a password that is no
        # bcrypt hash), or a reference that names nothing: that is the fault to fix
        # for a command that needs them.
        return str(exc)
    return f"{exc} ({why}: --no-secrets {does} without reading the secrets)"


def _not_here(config: Config) -> bool:
    """Whether a secret of ``config`` is not on this host: an ``env:`` variable not
    set or blank (CI gives a secret it does not hold to a job as ""), a ``file:`` (or
    the web config) this user cannot read."""
    # A reference naming nothing, or with a space around its name, is refused as such.
    named = [
        (kind, name)
        for _, secret in config.secrets()
        for kind, _, name in [secret.reference.partition(":")]
        if kind in ("env", "file") and name and name == name.strip()
    ]
    if any(kind == "env" and not os.environ.get(name, "").strip() for kind, name in named):
        return True
    paths = [Path(os.path.expandvars(name)) for kind, name in named if kind == "file"]
    if config.http.web_config is not None:
        paths.append(config.http.web_config.path)
    return any(not os.access(path, os.R_OK) for path in paths)


def load(args: argparse.Namespace, *, secrets: bool = True, daemon: bool = False) -> Config:
    """The config file a command names (``PATH`` or ``--config``); ConfigError when none
    is named or it is not valid (for a daemon, with ``daemon``)."""
    return load_placed(args, secrets=secrets, daemon=daemon)[0]


def load_placed(
    args: argparse.Namespace, *, secrets: bool = True, daemon: bool = False
) -> tuple[Config, Placer]:
    """:func:`load`, and what places the config's warnings on the file's lines."""
    from sesd.config import ConfigError
    from sesd.config import load_placed as load_placed_config

    given = getattr(args, "path", None)
    if (
        given
        and args.config
        and given != args.config
        and args.config != os.environ.get("SESD_CONFIG")
    ):
        raise ConfigError(f"two config files, {given} and --config {args.config}: give one")
    path = given or args.config
    if not path:
        # check-config takes the file as its argument too: the line says each way.
        ways = "give it as PATH, --config PATH" if hasattr(args, "path") else "pass --config PATH"
        raise ConfigError(f"no config file: {ways} or set SESD_CONFIG")
    args.config = path
    if path == "-" and not os.path.lexists(path):
        raise ConfigError(f"cannot read config file -: {os.strerror(errno.ENOENT)} ({_dash(args)})")
    secrets = secrets and not getattr(args, "no_secrets", False)
    return load_placed_config(path, resolve_secrets=secrets, daemon=daemon)


def _dash(args: argparse.Namespace) -> str:
    """What to write for ``-`` as the config file, as replay and cause take standard
    input: /dev/stdin names it, but not where it cannot serve."""
    if getattr(args, "command", None) == "run":
        # A pipe gives nothing the second time: every reload would find no config.
        return "sesd run reads its config again at each reload (SIGHUP): name its file"
    if "-" in getattr(args, "files", ()):
        return "standard input holds the events this replay reads: name the config's file"
    return "a config is read from a file: for standard input, name /dev/stdin"


def config_error(exc: ConfigError | str) -> int:
    """Say what is wrong with the config, in one line; the exit code."""
    # Imported here: `sesd cause` and the parsers need no logging library.
    from sesd.io.logs import flush_logs

    flush_logs()  # after the lines logged before it, as they happened
    print(f"sesd: config error: {one_line(str(exc))}", file=sys.stderr)
    return EXIT_CONFIG


def one_line(text: str) -> str:
    """A message that quotes the config file (a key, a value, a queue's name) as a
    terminal may show it: its control characters escaped, so it stays one line and
    sets nothing on the terminal."""
    from sesd.core.text import escaped

    return escaped(text, _SAID)


def start_error(exc: BaseException) -> StartError | None:
    """The :class:`StartError` that ``exc`` is (or holds alone, from a task group)."""
    from sesd.runtime.http import StartError

    found: BaseException = exc
    while isinstance(found, BaseExceptionGroup) and len(found.exceptions) == 1:
        found = found.exceptions[0]
    return found if isinstance(found, StartError) else None


def listen_remedied(exc: BaseException, remedy: str) -> BaseException:
    """``exc``, or, when it is (or holds alone) a start that could not listen (another
    program has the port), that line with ``remedy`` after it: how this command's user
    gives it another address (a flag, a variable, the config)."""
    from sesd.runtime.http import ListenError, StartError

    found = start_error(exc)
    if not isinstance(found, ListenError):
        return exc
    return StartError(f"{found}; {remedy}")


def start_failed(exc: BaseException) -> int:
    """A start that failed: one line naming why (from inside a task group too); anything
    else is a bug and keeps its traceback."""
    from sesd.io.logs import flush_logs

    flush_logs()  # the lines logged before it (or its traceback) come first
    found = start_error(exc)
    if found is None:
        raise exc
    print(f"sesd: cannot start: {found}", file=sys.stderr)
    return EXIT_START


def listen_address(text: str) -> str:
    """An argparse type: HOST:PORT as ``[http] listen`` takes it, else a usage error."""
    from sesd.config import HttpConfig

    try:
        HttpConfig(listen=text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(listen_refused(exc)) from None
    return text


def listen_refused(exc: ValueError) -> str:
    """Why ``[http] listen``'s check refused an address, said after the name it was
    given by (``SESD_HTTP_LISTEN: must be HOST:PORT, got 'x'``, ``argument --listen:
    ...``), as a config's key is: its own "listen" is not what was written."""
    return str(exc).removeprefix("listen ")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, else a usage error
    naming the range."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from {low} to {high}")
        return number

    return parse
