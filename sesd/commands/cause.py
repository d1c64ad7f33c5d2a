"""``sesd cause``: the cause of a delay, and what to do, from its SMTP diagnostic."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from functools import partial
from typing import TextIO

from sesd.commands.common import Commands, command
from sesd.commands.output import put
from sesd.core.cause_owners import owned
from sesd.core.causes import MAX_TEXT, classify
from sesd.core.domains import FULL_STOPS
from sesd.core.providers import LABELS as PROVIDER_LABELS
from sesd.core.providers import MX_LABEL
from sesd.core.tallies import DELAY_TYPES

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """``cause TEXT...|- [--delay-type TYPE] [--provider NAME] [--json]``."""
    cause = command(
        commands, "cause", "the cause of a delay, and what to do, from its SMTP diagnostic"
    )
    text = cause.add_argument(
        "text",
        nargs="+",
        type=_unmarked,
        help="the diagnostic text (its words, pasted unquoted, are joined by a space), "
        "or - for one a line on standard input",
    )
    cause.add_argument(
        "--delay-type",
        type=_delay_type,
        help="SES's delay type (InternalFailure, MailboxFull...; any case)",
    )
    cause.add_argument(
        "--provider",
        type=_provider,
        metavar="NAME",
        help="the mailbox provider the mail went to, as sesd names it (microsoft, google, "
        "mimecast...): a provider's own code's advice is then given as an alert on that "
        "mail gives it (left out: as for mail whose provider is not known)",
    )
    cause.add_argument("--json", action="store_true", help="one JSON object a line")
    # A diagnostic pasted unquoted may hold a word with a dash before it ("550 -5.1.1",
    # "-ERR"), which argparse takes for an unknown option, and "-host" for -h with "ost"
    # glued to it: such a word is text, marked so before argparse reads it (_marked).
    cause.prepare = _marked
    # A switch given a value ("-h=x", "--json=x") is said as one (sesd.commands.common),
    # with how to give the word as text.
    cause.advice = f"({_AS_TEXT})"
    # argparse says a text left out before the words it does not know: `sesd cause
    # --user-unknown` would be "the following arguments are required: text", with no
    # word of quoting. Those words are said first (_unrecognized), the text's absence
    # after them, as argparse words it.
    text.required = False
    cause.set_defaults(execute=partial(_execute, cause), unrecognized=partial(_unrecognized, cause))


def _execute(cause: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """:func:`execute`, once there is a text: none is argparse's usage error."""
    if args.text is None:
        cause.error("the following arguments are required: text")
    return execute(args)


def _unrecognized(
    cause: argparse.ArgumentParser, words: list[str], args: argparse.Namespace
) -> str:
    """The usage error for ``words`` read as options this command does not have: a
    mistyped one, or a word of the diagnostic with two dashes before it."""
    words = [_unmarked(word) for word in words]
    if args.text is None:
        # argparse leaves ``--`` among them when no text follows it (`sesd cause --`):
        # the end of the options, not a word to put ``--`` before. Alone, a text left
        # out, as when no word is given.
        words = [word for word in words if word != "--"]
        if not words:
            cause.error("the following arguments are required: text")
    return f"unrecognized arguments: {' '.join(words)} ({_AS_TEXT})"


#: How a word argparse takes for an option is given as a word of the diagnostic.
_AS_TEXT = (
    "if it is a word of the diagnostic, quote the whole text, or put -- before it: "
    "sesd cause -- TEXT"
)


#: Put before a word of the diagnostic that argparse would read as an option, for it to
#: read it as text: NUL, which no word of a command line holds.
_TEXT = "\0"


def _marked(words: list[str]) -> list[str]:
    """``words`` as argparse is to read them: one with one dash before it is text (no
    option of this command has one dash but -h; "-h=x" is said as the help given a
    value), marked as such; so are none after ``--``, which argparse reads as text."""
    marked: list[str] = []
    for at, word in enumerate(words):
        if word == "--":
            return marked + words[at:]
        one_dash = word[:1] == "-" and word[1:2] not in ("", "-")
        help_ = word == "-h" or word.startswith("-h=")
        marked.append(_TEXT + word if one_dash and not help_ else word)
    return marked


def _unmarked(word: str) -> str:
    """A word as it was given, its mark (:func:`_marked`) taken off."""
    return word.removeprefix(_TEXT)


def _provider(text: str) -> str:
    """A provider label (sesd's names are lower-case: ``Microsoft`` is microsoft); a
    domain or anything no label can be is refused, not taken for a provider whose mail
    no code is owned by."""
    text = _unmarked(text).lower()
    if not MX_LABEL.fullmatch(text):
        # A provider written as a domain is, a root dot after it (google.), or with
        # spaces around it: what to write, as a rule's providers are told. Only a name
        # sesd gives a provider: ``gmail.`` told to write gmail would be taken, and
        # advised as mail whose provider is not known.
        meant = text.strip().rstrip(FULL_STOPS)
        hint = f"write {meant!r}; " if meant in PROVIDER_LABELS else ""
        if hint and meant != text.strip():
            hint = f"a provider is a name, not a domain: write {meant!r}, with no dot after it; "
        raise argparse.ArgumentTypeError(
            f"{text!r} is no provider label ({hint}"
            "sesd names providers microsoft, google, yahoo...; a gateway mimecast..., or "
            "a [providers.mx] label)"
        )
    return text


#: SES's delay types, by their lower-cased name.
_DELAY_TYPES = {name.lower(): name for name in DELAY_TYPES}


def _delay_type(text: str) -> str:
    """SES's name of a delay type written in any case; anything else is refused (an
    unknown type would be silently ignored, and the answer wrong)."""
    text = _unmarked(text)  # "--delay-type -5": its value, not an option
    found = _DELAY_TYPES.get(text.lower())
    if found is None:
        known = ", ".join(sorted(DELAY_TYPES))
        raise argparse.ArgumentTypeError(f"{text!r} is not one of SES's delay types: {known}")
    return found


def execute(args: argparse.Namespace) -> int:
    """One answer per input line, an empty one too (from the delay type, else unknown):
    ``paste diagnostics.txt <(sesd cause - < diagnostics.txt)`` keeps its lines aligned;
    2 when there is no standard input to read (closed: ``<&-``). A diagnostic pasted
    without quotes comes as words: joined by a space, as the reply had them."""
    stdin = args.text == ["-"]
    if stdin and sys.stdin is None:
        print(
            "sesd: cause -: standard input is closed: give the diagnostic as an argument, "
            "or one a line on standard input",
            file=sys.stderr,
        )
        return 2
    if stdin and isinstance(sys.stdin, io.TextIOWrapper):
        # A receiver may write its reply in Latin-1: such a line gets its answer (what
        # does not decode read as U+FFFD), where a strict locale's decoding would end
        # the command with a traceback at it.
        sys.stdin.reconfigure(errors="replace")
    texts = _lines(sys.stdin) if stdin else [" ".join(args.text)]
    for text in texts:
        found = classify(args.delay_type, "", text)
        said = owned(found.advice, found.owner, args.provider)
        if args.json:
            answer = {
                "cause": found.cause,
                "also": found.also,
                "advice": said,
                "status": found.status,
                "decided_by": found.decided_by,
                "owner": found.owner,
            }
            put(json.dumps(answer))
        else:
            status = f" ({found.status})" if found.status else ""
            put(f"{found.label}{status}: {said}")
    return 0


def _lines(stream: TextIO) -> Iterator[str]:
    """Each line of ``stream`` as far as it is read (``MAX_TEXT`` characters, all that
    decides a cause): the rest of a longer line is read past, not kept, so a line of
    megabytes (a dump on one line, a binary file) costs what a short one does."""
    while line := stream.readline(MAX_TEXT):
        if not line.endswith("\n"):
            while (rest := stream.readline(MAX_TEXT)) and not rest.endswith("\n"):
                pass
        yield line.rstrip("\r\n")
