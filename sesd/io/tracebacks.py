"""A traceback fit for a log line whose error may quote a stranger's text (an SQS
message's body, an address): the frames as Python tells them (sesd's own code), each
error's own text cleaned as event text is (addresses hidden, control characters
escaped, cut short)."""

from __future__ import annotations

import traceback

from sesd.core.text import clean

__all__ = ["said_traceback"]

#: The most an error's text says (a traceback's frames are sesd's, not a stranger's).
ERROR_CHARS = 300
#: The most errors of a chain told (its causes and contexts): a loop of them, or a long
#: one, would make the line as long as the text it keeps out.
_CHAIN = 5
#: What joins an error to the one it caused, or to the one raised while it was handled.
_CAUSED = "\nThe above exception was the direct cause of the following exception:\n\n"
_DURING = "\nDuring handling of the above exception, another exception occurred:\n\n"


def said_traceback(exc: BaseException) -> str:
    """``exc``'s traceback as :func:`traceback.format_exception` tells it, its causes
    first, each error's text cleaned and cut at :data:`ERROR_CHARS`."""
    told: list[str] = []
    seen: set[int] = set()
    error: BaseException | None = exc
    link = ""
    while error is not None and id(error) not in seen and len(told) < _CHAIN:
        seen.add(id(error))
        frames = "".join(traceback.format_tb(error.__traceback__))
        told.append(f"Traceback (most recent call last):\n{frames}{_said(error)}\n{link}")
        if error.__cause__ is not None:
            error, link = error.__cause__, _CAUSED
        elif not error.__suppress_context__:
            error, link = error.__context__, _DURING
        else:
            error = None
    return "".join(reversed(told)).rstrip("\n")


def _said(error: BaseException) -> str:
    """An error's last line: its type, and its text cleaned (a ``__str__`` that raises
    is said so, as Python's own traceback does)."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a bug's error whose text cannot be had
        text = "<exception str() failed>"
    name = type(error).__qualname__
    return clean(f"{name}: {text}" if text else name, ERROR_CHARS)
