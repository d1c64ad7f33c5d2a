"""The inputs ``sesd replay`` is given, listed before any is read: files, directories
(recursive, in name order; names starting with '.' left out), globs and
``s3://bucket/prefix`` (sesd.commands.replay.archive_s3: in key order), each file
once; what each named that is not readable, in a line; and, as they are read
(sesd.commands.replay.archive), how many values each gave and where it stopped
short."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from botocore.exceptions import BotoCoreError, ClientError

from sesd.commands.replay.archive_s3 import S3Reader, bucket_refused, is_s3

__all__ = ["Source", "Stop", "describe", "place", "sources"]


@dataclass(frozen=True, slots=True)
class Stop:
    """Where reading an input stopped short, and why (``reason``, a word; ``detail``):
    ``at``, the offset reached in its data (in the decompressed data of a gzipped
    input) or, for a document too large, where that document starts; ``compressed``,
    how many bytes of a gzipped input were read by then (None: not gzipped);
    ``dropped``, the bytes before ``at`` not a whole value (the line, array element or
    indented document the stop cut off: not replayed; None: not known);
    ``read_to_end``, every byte of the input was read first (a gzip check failed at
    its end)."""

    reason: str
    detail: str
    at: int
    compressed: int | None = None
    dropped: int | None = None
    read_to_end: bool = False


@dataclass(slots=True)
class Source:
    """One input: a path (``-`` for stdin), its size when known, what went wrong, how
    many values were read from it (so a value's place in the whole input can be named
    by its input and its place there), where the last one's value starts (its byte
    offset; in the decompressed data of a gzipped input), whether it was gzipped, and
    where reading it stopped short (None: it was read to its end, or not at all)."""

    name: str
    size: int | None = None
    errors: list[str] = field(default_factory=list)
    values: int = 0
    at: int = 0
    gzipped: bool = False
    stopped: Stop | None = None


def sources(paths: Iterable[str], s3: S3Reader | None = None) -> tuple[list[Source], list[str]]:
    """The inputs ``paths`` name (directories walked in name order, globs expanded,
    ``s3://`` prefixes listed in key order), and a line for each that names nothing
    readable. A file named twice (a recursive glob matches a directory and the files in
    it; two arguments overlap) is read once: twice would count its events twice."""
    found: list[Source] = []
    problems: list[str] = []
    seen: set[str] = set()

    def add(file: str) -> None:
        real = os.path.realpath(file)
        if real not in seen:
            seen.add(real)
            found.append(_source(file))

    for path in paths:
        if path == "-":
            found.append(Source("-"))
            continue
        if not is_s3(path):
            problems += _local(path, add)
            continue
        refused = bucket_refused(path)
        if refused is not None:
            problems.append(f"{path}: {refused}")
            continue
        if s3 is None:
            problems.append(f"{path}: S3 inputs need an S3 reader")
            continue
        try:
            listed = s3.objects(path)
        except (ClientError, BotoCoreError, OSError) as exc:
            problems.append(f"{path}: cannot list: {describe(exc)}")
            continue
        if not listed:
            problems.append(f"{path}: no objects under this prefix")
        found.extend(Source(name, size) for name, size in listed)
    return found, problems


def place(items: Iterable[Source], read: int) -> tuple[Source | None, int]:
    """The input the ``read``-th body of :func:`bodies` came from (counted from 1 over
    every input), and its place among that input's values (in a file of one event a
    line, its line once blank lines are left out). Asked while that body is the last
    read, the input's ``at`` is where its value starts."""
    for source in items:
        if read <= source.values:
            return source, read
        read -= source.values
    return None, read


def _local(path: str, add: Callable[[str], None]) -> list[str]:
    """Each file a local path or glob names, to ``add``; the problems found."""
    problems: list[str] = []
    # A file or directory of that name is what the path names, even with a glob's
    # characters in it (`events[prod].jsonl`: as a glob, `eventsp.jsonl`).
    pattern = glob.has_magic(path) and not os.path.lexists(path)
    matches = sorted(glob.glob(path, recursive=True)) if pattern else [path]
    if not matches:
        problems.append(f"{path}: no such file or directory")
    left_out = 0
    for match in matches:
        if os.path.isdir(match):
            _walk(match, add, problems, said_empty=not pattern)
        elif pattern and _special(match):
            left_out += 1  # as a walk leaves it out: matched, not named
        elif os.path.exists(match):
            add(match)
        else:
            problems.append(f"{match}: no such file or directory")
    if matches and left_out == len(matches):
        # Else the replay reads nothing and says its inputs, none, held blank space.
        problems.append(
            f"{path}: it matches only FIFOs, sockets or devices, which a glob leaves out"
        )
    return problems


def _walk(
    directory: str, add: Callable[[str], None], problems: list[str], *, said_empty: bool
) -> None:
    """Each file under ``directory`` to ``add``, the problems found to ``problems``;
    with ``said_empty``, a directory with no file is one of them."""
    walked = hidden = special = 0
    before = len(problems)
    # A directory this user may not list is named, not left out without a word.
    unlisted = partial(_unlisted, problems)
    # Links to directories are followed (an archive of links to each month's
    # disk); a directory reached again (a link to an ancestor) is not walked.
    walked_dirs: set[str] = set()
    for root, dirs, files in os.walk(directory, onerror=unlisted, followlinks=True):
        real = os.path.realpath(root)
        if real in walked_dirs:
            dirs.clear()
            continue
        walked_dirs.add(real)
        # Names starting with '.' are no archive's: .DS_Store, .gitkeep, an
        # editor's swap file, .git. Each would be invalid values. Named, one is read.
        shown = [name for name in files if not name.startswith(".")]
        hidden += len(files) - len(shown)
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in sorted(shown):
            # A FIFO (or a socket, a device) is no archive's either, and reading
            # one waits for a writer for ever: left out of a walk, read when named
            # (`sesd replay <(zcat ...)` names a pipe).
            path = os.path.join(root, name)
            if _special(path):
                special += 1
                continue
            walked += 1
            add(path)
    # Not "no files" of a walk that could not list a directory: they may be there.
    if not walked and said_empty and len(problems) == before:
        but = " but hidden ones (names starting with '.', which a walk leaves out)"
        if special:
            but = " but FIFOs, sockets or devices, which a walk leaves out"
        problems.append(
            f"{directory}: no files in this directory{but if hidden or special else ''}"
        )


def _special(path: str) -> bool:
    """Whether ``path`` is a FIFO, a socket or a device (through links); not when it
    cannot be told (its read says why)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _unlisted(problems: list[str], exc: OSError) -> None:
    problems.append(f"{exc.filename}: cannot read: {describe(exc)}")


def _source(path: str) -> Source:
    try:
        return Source(path, os.path.getsize(path))
    except OSError:
        return Source(path)


def describe(exc: BaseException) -> str:
    """What went wrong reading an input, in a few words (an S3 error's code, an OS
    error's text)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", type(exc).__name__))
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
