"""A bug's traceback as a log line says it: what an engineer needs to fix the bug (each
frame's file, line and function; the error's module and class; the chain of causes;
each error of an exception group; the notes added to it), and none of a stranger's
text unescaped or whole (an error's text and its notes cleaned and cut), however the
errors are linked or however deep the stack."""

from __future__ import annotations

import io

import anyio
import pytest

from sesd.io.tracebacks import said_traceback

QUOTED = "to victim@one.example \x1b[2J" + "x" * 10_000


class OddError(Exception):
    """An error of sesd's own kind (not a builtin): said with its module."""


def _raised(make: object) -> BaseException:
    try:
        make()  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001 - the error under test
        return exc
    raise AssertionError("nothing raised")


def _quoting() -> None:
    raise OddError(QUOTED)


def _clean(said: str) -> None:
    assert "victim@" not in said
    assert "\x1b" not in said
    assert len(said) < 20_000


def test_an_error_of_a_module_s_own_class_is_named_with_its_module() -> None:
    """A class not a builtin is said as Python says it, module and all (two modules may
    have a ``ParseError``); its frames keep file, line and function."""
    said = said_traceback(_raised(_quoting))
    _clean(said)
    assert "tests.test_tracebacks.OddError: to " in said
    assert 'test_tracebacks.py", line' in said
    assert "in _quoting" in said


def test_notes_added_to_an_error_are_kept_cleaned() -> None:
    """``add_note`` adds what a library knew at the fault (the note may quote the same
    body): kept, as Python prints them, each cleaned and cut; a flood of them bounded."""

    def noted() -> None:
        exc = ValueError("bad")
        exc.add_note("while reading " + QUOTED)
        for n in range(1000):
            exc.add_note(f"note {n}")
        raise exc

    said = said_traceback(_raised(noted))
    _clean(said)
    assert "ValueError: bad\nwhile reading to " in said
    assert "note 0" in said
    assert "note 999" not in said


async def test_each_error_of_an_anyio_task_group_is_told() -> None:
    """A task group raises an exception group: what failed in each task (its frames, its
    text cleaned) is the bug, not the group's own frames."""

    async def task() -> None:
        _quoting()

    async def group() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(task)

    try:
        await group()
    except BaseException as exc:  # noqa: BLE001 - the group under test
        said = said_traceback(exc)
    _clean(said)
    assert "ExceptionGroup" in said
    assert "in _quoting" in said
    assert "OddError: to " in said


def test_a_huge_or_nested_exception_group_is_bounded() -> None:
    """Thousands of errors in a group, groups nested deeper than anyone reads: a few are
    told, the rest counted; the line stays short."""
    inner: Exception = ValueError(QUOTED)
    for _ in range(100):
        inner = ExceptionGroup("nested", [inner])
    wide = ExceptionGroup("wide", [ValueError(f"e{n} {QUOTED}") for n in range(5000)])
    for exc in (inner, wide):
        said = said_traceback(exc)
        _clean(said)
    assert "more exception" in said_traceback(wide)


def test_a_cause_hidden_with_from_none_stays_hidden_and_a_cycle_ends() -> None:
    """``raise ... from None`` hides the context, as Python's traceback does; errors
    whose contexts form a loop are told once each."""

    def hidden() -> None:
        try:
            raise KeyError("secret")
        except KeyError:
            raise ValueError("plain") from None

    said = said_traceback(_raised(hidden))
    assert "KeyError" not in said
    assert "ValueError: plain" in said
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    said = said_traceback(a)
    assert said.count("ValueError: a") == 1
    assert said.count("ValueError: b") == 1


def test_a_long_chain_says_what_it_left_out() -> None:
    """A chain of causes longer than those told: the line says how many were left out
    (else the root cause looks like the first told)."""
    exc: BaseException = ValueError("root")
    for n in range(20):
        nxt = ValueError(f"link {n}")
        nxt.__cause__ = exc
        exc = nxt
    said = said_traceback(exc)
    assert "(16 errors of the chain left out)" in said


def test_a_very_deep_stack_keeps_its_ends() -> None:
    """A recursion of alternating functions (Python folds only a line repeated in a
    row) hundreds of frames deep: the frames where it began and where it failed are
    kept, those between counted; the line stays short."""

    def ping(n: int) -> None:
        if n == 0:
            raise OddError(QUOTED)
        pong(n - 1)

    def pong(n: int) -> None:
        ping(n - 1)

    said = said_traceback(_raised(lambda: ping(600)))
    _clean(said)
    assert "in _raised" in said  # where it began
    assert "in ping" in said
    assert "in pong" in said
    assert "frames left out" in said
    assert len(said) < 12_000


@pytest.mark.parametrize("broken", ["str", "notes"])
def test_an_error_whose_text_cannot_be_had_is_still_told(broken: str) -> None:
    """An error whose ``__str__`` raises, or whose notes are no list of text: its class
    and frames are told all the same, as Python's traceback does."""

    class Odd(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    exc: BaseException = Odd() if broken == "str" else ValueError("v")
    if broken == "notes":
        exc.__notes__ = 42  # type: ignore[assignment]
    said = said_traceback(exc)
    assert ("Odd" if broken == "str" else "ValueError: v") in said


@pytest.mark.parametrize("how", ["true", "exception", "stdlib"])
def test_every_line_logged_with_its_exception_has_the_text_cleaned(
    how: str, json_logs: io.StringIO
) -> None:
    """A line logged with ``exc_info`` (a sink's failed post quoting the answer, a
    reload's bug, a library's line through the standard library) tells the traceback
    as :func:`said_traceback` does: frames kept, the error's text cleaned."""
    import json
    import logging

    from sesd.io.logs import get_logger

    try:
        _quoting()
    except OddError as exc:
        if how == "stdlib":
            logging.getLogger("some.library").error("failed", exc_info=True)
        else:
            get_logger().error("sesd.x.failed", exc_info=True if how == "true" else exc)
    (line,) = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    _clean(line["exception"])
    assert "victim@" not in json_logs.getvalue()
    assert "in _quoting" in line["exception"]
    assert "tests.test_tracebacks.OddError: to " in line["exception"]


def test_a_chain_a_thousand_long_keeps_its_root_cause_and_counts_the_rest() -> None:
    """A chain of causes 1,200 long (a retry loop that chains each failure to the last):
    the newest errors and the root cause, where the fault began, are told; the line says
    exactly how many errors between them were left out, and stays short."""
    exc: BaseException = OddError("root cause")
    for n in range(1200):
        nxt = ValueError(f"retry {n}")
        nxt.__cause__ = exc
        exc = nxt
    said = said_traceback(exc)
    assert said.startswith("tests.test_tracebacks.OddError: root cause")
    assert "(1196 errors of the chain left out)" in said
    assert said.endswith("ValueError: retry 1199")
    assert "retry 1196" in said
    assert "retry 1195" not in said
    assert len(said) < 2_000


def test_groups_within_groups_tell_a_bounded_number_of_errors() -> None:
    """Groups of five errors nested three deep, each error a chain of five (a task group
    whose tasks ran task groups): however they multiply, a bounded number of errors is
    told in all and the rest is said to be left out."""

    def one(depth: int) -> Exception:
        if depth == 0:
            return ValueError("leaf")
        return ExceptionGroup("tasks", [chain(depth - 1) for _ in range(5)])

    def chain(depth: int) -> Exception:
        exc = one(depth)
        for _ in range(4):
            nxt = one(depth)
            nxt.__context__ = exc
            exc = nxt
        return exc

    said = said_traceback(chain(3))
    assert said.count("ValueError: leaf") + said.count("ExceptionGroup: tasks") <= 100
    assert "errors left out" in said


def test_a_library_s_line_that_quotes_its_error_has_the_quote_cleaned(
    json_logs: io.StringIO,
) -> None:
    """asyncio's "Task exception was never retrieved" (a library's task that failed
    unawaited) writes the error's repr into its message, beside the traceback: the
    message is cleaned as the error's text is, or the address and the whole body go
    into the line all the same."""
    import asyncio
    import json

    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        exc = _raised(_quoting)
        future.set_exception(exc)
        loop.default_exception_handler(
            {"message": "Task exception was never retrieved", "exception": exc, "future": future}
        )
        future.exception()  # retrieved: no second line at its collection
    finally:
        loop.close()
    (line,) = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert line["event"].startswith("Task exception was never retrieved")
    assert "OddError" in line["event"]
    _clean(line["event"])
    assert len(line["event"]) <= 1000
    assert "victim@" not in json_logs.getvalue()
    assert "in _quoting" in line["exception"]
