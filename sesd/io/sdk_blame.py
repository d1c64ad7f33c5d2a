"""Whose fault an error raised by an AWS SDK call is: the answer's (the service's, a
proxy's, the network's: a failed call, counted and retried), or sesd's own code under
the call (a hook of sesd's reading the answer, sesd.io.sqs_answers and
sesd.account.flags; a role's credentials refreshed, sesd.runtime.aws): a bug, for the
caller to raise on to its task's supervisor, which counts it and logs its traceback.
Taken as the call's, a bug would be retried for ever as the service's trouble, without
a traceback, the queue or the account said failing. Every caller of the SDK asks here
(the SQS pollers, the role's refresh, the SES and CloudWatch polls): one judgement,
below the layers that call.

Told by the frames the error passed: those of sesd's that made the call (the try around
it, and its callers), then the SDK's, and under those any of sesd's own. Only the SDK's
failures are a call's, and what sesd's hooks raise to refuse an answer that is not the
service's (:class:`UnreadableAnswer` for SQS's; sesd.account.failures.UnreadableAnswer,
no error a bug raises, for SES's)."""

from __future__ import annotations

from collections.abc import Iterator

from sesd.io.sqs_answers import UnreadableAnswer

__all__ = ["answer_too_deep", "sesds_own", "timestamp_unread"]

#: The modules of the last frame a RecursionError of the SDK's JSON loader passes
#: (json's scanner is C, called from the decoder; the scanner in Python without it).
_LOADER = frozenset({"json.decoder", "json.scanner"})
#: What a bug raises, and what the SDK's parser raises on an answer of the wrong shape
#: (sesd.runtime.sqs_calls.SQS_ERRORS, sesd.account.failures.UNREAD: a whole number past
#: a float's range overflows): from sesd's own code under a call, a bug.
_BUGS = (AttributeError, KeyError, TypeError, ValueError, OverflowError)


def _under_the_call(exc: BaseException) -> Iterator[str]:
    """The modules of the frames ``exc`` passed under the SDK call: past the frames of
    sesd's that made it (from the one that caught it), the SDK's first."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("sesd."):
        tb = tb.tb_next
    while tb is not None:
        yield tb.tb_frame.f_globals.get("__name__", "")
        tb = tb.tb_next


def sesds_own(exc: BaseException) -> bool:
    """Whether ``exc``, one of the errors an SDK call may raise, is a bug of sesd's own
    code under the call (the module's docstring): raised by a frame of sesd's under the
    SDK's, and not :class:`UnreadableAnswer` (an answer refused by sesd's hook)."""
    if not isinstance(exc, _BUGS) or isinstance(exc, UnreadableAnswer):
        return False
    return any(name.startswith("sesd.") for name in _under_the_call(exc))


def answer_too_deep(exc: RecursionError) -> UnreadableAnswer | None:
    """The failure of an SQS call (a receive, a delete, a release, a check) whose answer
    the SDK's JSON loader raised ``exc`` on, nested deeper than it goes: an error's (a 5xx
    nested so), a release's or a check's (a receive's and a delete's of 200 are refused
    before the SDK loads them, sesd.io.sqs_answers); an SES or CloudWatch poll's, any
    (sesd.account.failures.unread). None where the loader did not raise
    it, or sesd's own code is on its way there: a fault of sesd's (the module's
    docstring)."""
    last = ""
    for last in _under_the_call(exc):
        if last.startswith("sesd."):
            return None
    return UnreadableAnswer("nested too deeply") if last in _LOADER else None


def timestamp_unread(exc: BaseException) -> bool:
    """Whether ``exc`` is the RuntimeError botocore's timestamp parser gives up with on
    a figure past any date (``1e300`` seconds: an answer's, not sesd's); any other
    RuntimeError is sesd's."""
    last = exc.__traceback__
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    frame = None if last is None else last.tb_frame
    return (
        isinstance(exc, RuntimeError)
        and frame is not None
        and frame.f_globals.get("__name__") == "botocore.utils"
        and frame.f_code.co_name == "parse_timestamp"
    )
