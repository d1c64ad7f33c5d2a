"""A traceback fit for a log line whose error may quote a stranger's text (an SQS
message's body, an address, an SDK error quoting an answer): what an engineer needs to
fix the bug as Python tells it (each frame's file, line and function, sesd's own code;
the error's module and class; its chain of causes; each error of an exception group, as
an anyio task group raises; the notes ``add_note`` added), each error's own text and
notes cleaned as event text is (addresses hidden, control characters escaped, cut
short), and every part bounded: a long chain, a wide or deep group, a deep stack."""

from __future__ import annotations

import traceback

from sesd.core.text import clean

__all__ = ["said_traceback"]

#: The most an error's text, or a note of it, says (a traceback's frames are sesd's,
#: not a stranger's).
ERROR_CHARS = 300
#: The most errors of a chain told (its causes and contexts): a loop of them, or a long
#: one, would make the line as long as the text it keeps out. The newest and the root.
_CHAIN = 5
#: The most notes of one error told.
_NOTES = 5
#: The most errors of one exception group told, and how deep groups in groups are told.
_GROUP = 5
_DEPTH = 3
#: The most errors told in all: groups in groups, each error a chain, multiply.
_ALL = 50
#: The frames kept at each end of a stack deeper than twice as many: where it began and
#: where it failed (a recursion's middle says nothing more, and would fill the line).
_FRAMES = 20
#: What joins an error to the one it caused, or to the one raised while it was handled.
_CAUSED = "\nThe above exception was the direct cause of the following exception:\n"
_DURING = "\nDuring handling of the above exception, another exception occurred:\n"
#: Modules whose errors Python names without their module.
_BARE = frozenset({"builtins", "__main__"})


def said_traceback(exc: BaseException) -> str:
    """``exc``'s traceback as :func:`traceback.format_exception` tells it, its causes
    first, each error's text and notes cleaned and cut at :data:`ERROR_CHARS`."""
    return "\n".join(_chain(exc, _Told(), 0)).rstrip("\n")


class _Told:
    """The errors met so far in one traceback (``seen``: each is told once, a loop of
    contexts ends) and how many were told (the bound :data:`_ALL`)."""

    __slots__ = ("count", "seen")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.count = 0


def _links(exc: BaseException, told: _Told) -> list[tuple[BaseException, str]]:
    """``exc`` and the errors it was raised from or while handling, newest first, each
    with what joins it to the one before it; walked whole (the errors are in memory
    already), each once."""
    links: list[tuple[BaseException, str]] = []
    error: BaseException | None = exc
    link = ""
    while error is not None and id(error) not in told.seen:
        told.seen.add(id(error))
        links.append((error, link))
        if error.__cause__ is not None:
            error, link = error.__cause__, _CAUSED
        elif not error.__suppress_context__:
            error, link = error.__context__, _DURING
        else:
            error = None
    return links


def _chain(exc: BaseException, told: _Told, depth: int) -> list[str]:
    """The lines of ``exc`` and of the errors it was raised from or while handling,
    oldest first: of a long chain the newest and its root cause, where the fault began
    (the rest counted). A chain is told whole or, once :data:`_ALL` errors are told
    (its own before its groups' errors), left out and counted."""
    links = _links(exc, told)
    if told.count >= _ALL:
        return [f"({len(links)} errors left out, with their groups': {_ALL} told in all)"]
    kept: list[tuple[BaseException, str] | None] = list(links)
    if len(links) > _CHAIN:
        kept = [*links[: _CHAIN - 1], None, links[-1]]
    told.count += len(kept) - (len(links) > _CHAIN)
    parts: list[list[str]] = []
    for n, item in enumerate(kept):
        if item is None:
            parts.append([f"({len(links) - _CHAIN} errors of the chain left out)", links[n][1]])
        else:
            parts.append([*_one(item[0], told, depth), item[1]])
    return [line for lines in reversed(parts) for line in lines if line]


def _one(error: BaseException, told: _Told, depth: int) -> list[str]:
    """One error: its frames, its line, its notes, and each error of it as a group."""
    lines: list[str] = []
    group = isinstance(error, BaseExceptionGroup)
    if error.__traceback__ is not None:
        lines.append(f"{'Exception Group ' if group else ''}Traceback (most recent call last):")
        lines.append(_frames(error).rstrip("\n"))
    lines.append(_said(error))
    lines.extend(_notes(error))
    if isinstance(error, BaseExceptionGroup):
        lines.extend(_members(error, told, depth))
    return lines


def _frames(error: BaseException) -> str:
    """The stack's frames, a deep one's middle left out (Python folds only a line that
    repeats in a row: a recursion through two functions is not)."""
    frames = traceback.extract_tb(error.__traceback__)
    if len(frames) <= 2 * _FRAMES:
        return "".join(frames.format())
    head = traceback.StackSummary.from_list(frames[:_FRAMES]).format()
    tail = traceback.StackSummary.from_list(frames[-_FRAMES:]).format()
    left = f"  ... {len(frames) - 2 * _FRAMES} frames left out ...\n"
    return "".join([*head, left, *tail])


def _members(group: BaseExceptionGroup[BaseException], told: _Told, depth: int) -> list[str]:
    """The errors of an exception group, each indented as Python tells them: the first
    few, the rest counted; groups nested too deep counted, not told."""
    members = group.exceptions
    if depth >= _DEPTH:
        return [f"  | ({len(members)} errors of a group nested deeper left out)"]
    lines: list[str] = []
    for n, member in enumerate(members[:_GROUP], 1):
        lines.append(f"  +---------------- {n} ----------------")
        said = "\n".join(_chain(member, told, depth + 1))
        lines.extend(f"  | {line}" for line in said.split("\n"))
    if len(members) > _GROUP:
        lines.append(f"  +---------------- ... ----------------\n  | and {len(members) - _GROUP} "
                     "more exceptions")  # fmt: skip
    lines.append("  +------------------------------------")
    return lines


def _said(error: BaseException) -> str:
    """An error's last line: its class (with its module, unless a builtin's, as Python
    says it), and its text cleaned (a ``__str__`` that raises is said so, as Python's
    own traceback does)."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a bug's error whose text cannot be had
        text = "<exception str() failed>"
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ not in _BARE:
        name = f"{kind.__module__}.{name}"
    return clean(f"{name}: {text}" if text else name, ERROR_CHARS)


def _notes(error: BaseException) -> list[str]:
    """The notes added to an error (``add_note``: they may quote what it read), each
    cleaned and cut, a few of them; what is not a list of texts is said so, as Python
    does."""
    notes = getattr(error, "__notes__", None)
    if notes is None:
        return []
    if not isinstance(notes, list | tuple):
        return ["<__notes__ is not a list of texts>"]
    said = [clean(n if isinstance(n, str) else "<a note that is not text>", ERROR_CHARS)
            for n in notes[:_NOTES]]  # fmt: skip
    if len(notes) > _NOTES:
        said.append(f"({len(notes) - _NOTES} more notes left out)")
    return said
