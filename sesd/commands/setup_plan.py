"""What ``sesd setup`` is asked to provision in one region, what it did there (or
would do), and how to undo what it did: the record sesd.commands.provision keeps and
sesd.commands.setup prints."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from sesd.config import region_of_url
from sesd.core.text import escaped

__all__ = ["Plan", "SetupOptions", "Taken", "aws_command"]


class Taken(Exception):
    """A name setup gives is another kind of thing of the user's, which setup leaves as
    it is: the region cannot be finished. The message says what was found; ``hint``
    what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def aws_command(argv: Sequence[str], region: str, endpoint_url: str | None = None) -> str:
    """The AWS CLI's command ``aws ARGV...`` in ``region`` (and at ``endpoint_url``), to
    paste into a shell: quoted (:func:`_quoted`), and its control characters (none in
    AWS's names and ARNs) escaped. The region is always named: the CLI's default one
    may hold another thing of the same name (setup's own, made there by another run)."""
    where = ("--region", region) + (("--endpoint-url", endpoint_url) if endpoint_url else ())
    return escaped(" ".join(_quoted(word) for word in ("aws", *argv, *where)), 1 << 20)


#: A word every shell reads as written, unquoted (as :func:`shlex.quote` finds it).
_BARE: Final = re.compile(r"[\w@%+=:,./-]+", re.ASCII)
#: What a single-quoted word's backslash and quote become: written outside the quotes,
#: escaped, where a POSIX shell and fish read them alike (inside, fish takes ``\\``
#: and ``\'`` as escapes, and a policy's ``\\`` lost a backslash).
_OUTSIDE: Final = {"\\": "'\\\\'", "'": "'\\''"}


def _quoted(word: str) -> str:
    """``word`` as a POSIX shell (sh, bash, zsh) and fish both read it: bare when
    nothing in it is special, else in single quotes, each backslash and single quote
    written outside them."""
    if _BARE.fullmatch(word):
        return word
    return "'" + "".join(_OUTSIDE.get(char, char) for char in word) + "'"


@dataclass(frozen=True, slots=True)
class SetupOptions:
    """What to provision, and where."""

    name: str = "sesd"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    raw_delivery: bool = True
    max_receive_count: int = 5
    dry_run: bool = False

    @property
    def topic(self) -> str:
        return f"{self.name}-events"

    @property
    def queue(self) -> str:
        return f"{self.name}-events"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}-events-dlq"

    @property
    def configuration_set(self) -> str:
        return self.name

    @property
    def event_destination(self) -> str:
        return f"{self.name}-sns"


@dataclass(slots=True)
class Plan:
    """What setup did (or would do): one (action, kind, name) per resource."""

    dry_run: bool
    region: str = "us-east-1"
    steps: list[tuple[str, str, str]] = field(default_factory=list)
    queue_url: str | None = None
    #: What setup found and leaves as it is, though SES's events may not arrive so.
    warnings: list[str] = field(default_factory=list)
    #: The AWS CLI's commands (less region and endpoint) that undo each change made,
    #: in the order they were made, each with the comment said before it (if any).
    undo: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    #: The change asked of AWS and not yet answered (as :meth:`record` takes it).
    pending: tuple[str, str, str, tuple[str, ...], str] | None = None
    #: Whether AWS may have acted on the pending change: an attempt of its call was
    #: answered other than by a refusal (4xx), or failed once its request was sent.
    heard: bool = False

    def asking(
        self, action: str, kind: str, name: str, undo: Sequence[str] = (), note: str = ""
    ) -> None:
        """Note a change about to be asked of AWS, before the call: a run stopped while
        AWS was asked (Ctrl-C, no answer) may have made it (:meth:`unsettled`). Its
        undo, when AWS's answer would name what was made (a topic's ARN, a queue's
        URL), is the one built of what that answer would be, or (``note``) a command
        that finds it."""
        self.pending = (action, kind, name, tuple(undo), note)
        self.heard = False

    def unsettled(self) -> None:
        """Record the change asked when the run stopped, unanswered, as one that may
        have been made (``may be created``), with its undo as :meth:`asking` took it."""
        if self.pending is not None:
            action, kind, name, undo, note = self.pending
            self.record(f"may be {action}", kind, name, undo, note)

    def record(
        self, action: str, kind: str, name: str, undo: Sequence[str] = (), note: str = ""
    ) -> None:
        """Note an action: ``found``, ``created``, ``updated`` (``would ...`` in a dry
        run), and ``undo``, the AWS CLI's command that undoes a change made (``note``,
        a comment that says what to do with its output, when it only finds it)."""
        self.pending = None
        if self.dry_run and action != "found":
            action = f"would be {action}"
        elif undo and action != "found":
            self.undo.append((tuple(undo), note))
        self.steps.append((action, kind, name))

    def undoing(self, endpoint_url: str | None = None) -> list[str]:
        """The commands that undo what this run changed in the region, the newest change
        first (a subscription before its topic), as :func:`aws_command` gives them, each
        after its comment (``# ...``: a line every shell skips), if any."""
        return [
            line
            for argv, note in reversed(self.undo)
            for line in ([f"# {note}"] if note else [])
            + [aws_command(argv, self.region, endpoint_url)]
        ]

    @property
    def changed(self) -> bool:
        """True when anything was (or would be) created or updated."""
        return any(action != "found" for action, _, _ in self.steps)

    def report(self) -> list[str]:
        """One line per step, in the order they were taken."""
        return [f"{action:<18} {kind:<28} {name}" for action, kind, name in self.steps]

    def render(self, *, named: str = "") -> str:
        """The report, then the [[queues]] block to paste into the config (with the
        region when the URL does not name it, as a local endpoint's does not; with
        ``named`` as its name, when queues of one name in several regions would
        otherwise share it)."""
        lines = [f"# {self.region}", *self.report()]
        url = self.queue_url or "(the queue URL, once created)"
        lines += ["", "# add to sesd.toml:", "[[queues]]", f'url = "{url}"']
        if named:
            lines.append(f'name = "{named}"')
        if self.queue_url is None or region_of_url(self.queue_url) != self.region:
            lines.append(f'region = "{self.region}"')
        lines.append("concurrency = 1")
        return "\n".join(lines)
