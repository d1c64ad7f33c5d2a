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
#: one, would make the line as long as the text it keeps out.
_CHAIN = 5
#: The most notes of one error told.
_NOTES = 5
#: The most errors of one exception group told, and how deep groups in groups are told.
_GROUP = 5
_DEPTH = 3
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
    return "\n".join(_chain(exc, set(), 0)).rstrip("\n")


def _chain(exc: BaseException, seen: set[int], depth: int) -> list[str]:
    """The lines of ``exc`` and of the errors it was raised from or while handling,
    oldest first; each error told once (``seen``: a loop of contexts ends)."""
    told: list[list[str]] = []
    error: BaseException | None = exc
    link = ""
    while error is not None and id(error) not in seen:
        if len(told) == _CHAIN:
            told.append([f"({_more(error, seen)} more errors of the chain left out)", link])
            break
        seen.add(id(error))
        told.append([*_one(error, seen, depth), link])
        if error.__cause__ is not None:
            error, link = error.__cause__, _CAUSED
        elif not error.__suppress_context__:
            error, link = error.__context__, _DURING
        else:
            error = None
    return [line for lines in reversed(told) for line in lines if line]


def _more(error: BaseException | None, seen: set[int]) -> int:
    """How many errors of a chain are left from ``error`` on (a loop counted once)."""
    count, ids = 0, set(seen)
    while error is not None and id(error) not in ids and count < 1000:
        ids.add(id(error))
        count += 1
        nxt = error.__cause__
        error = nxt if nxt is not None or error.__suppress_context__ else error.__context__
    return count


def _one(error: BaseException, seen: set[int], depth: int) -> list[str]:
    """One error: its frames, its line, its notes, and each error of it as a group."""
    lines: list[str] = []
    group = isinstance(error, BaseExceptionGroup)
    if error.__traceback__ is not None:
        lines.append(f"{'Exception Group ' if group else ''}Traceback (most recent call last):")
        lines.append(_frames(error).rstrip("\n"))
    lines.append(_said(error))
    lines.extend(_notes(error))
    if isinstance(error, BaseExceptionGroup):
        lines.extend(_members(error, seen, depth))
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


def _members(group: BaseExceptionGroup[BaseException], seen: set[int], depth: int) -> list[str]:
    """The errors of an exception group, each indented as Python tells them: the first
    few, the rest counted; groups nested too deep counted, not told."""
    members = group.exceptions
    if depth >= _DEPTH:
        return [f"  | ({len(members)} errors of a group nested deeper left out)"]
    lines: list[str] = []
    for n, member in enumerate(members[:_GROUP], 1):
        lines.append(f"  +---------------- {n} ----------------")
        told = "\n".join(_chain(member, seen, depth + 1))
        lines.extend(f"  | {line}" for line in told.split("\n"))
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
