"""What a poller's log says when a batch meets a fault of sesd's own and something else
ends it too: an exit or the poller's own cancellation under the delete of what the
batch judged, a ``CancelledError`` nobody asked for (a library's own) under that delete,
an exit asked for under the give-back made before the poller ends, a fault or an exit
under the give-back of a batch the poller's own cancellation reached. Each line says what
came of the batch and of the poller: no advice that the poller starts again when it
ends, no pointer to a line that is never logged; an exit is raised before a
cancellation, a cancellation before a fault. An exit that ends a task of the poller's
ends its event loop: those tests run one of their own. moto's SQS, the real poller."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import pytest

import sesd.io.sqs_answers as answers_module
import sesd.runtime.sqs_deletes as deletes_module
from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_beside import BESIDE
from sesd.runtime.sqs_ends import APPLIED, GIVE_BACK, MISJUDGED_ENDING, MISJUDGED_UNDELETED
from tests import factory as f
from tests.conftest import aws_client, log_records, make_queue, said_in, send_bodies
from tests.test_sqs_batch_cancelled import _a_costly_batch, _cancelled_before_its_first_message
from tests.test_sqs_cancel_after_release import _given_back
from tests.test_sqs_edges import poller
from tests.test_sqs_fault_after_batch import _one_received, _Slip, _slips
from tests.test_sqs_give_back_fault import _under_a_release
from tests.test_sqs_judge_fault import _DELIVERIES, _FailsOn, _three_received
from tests.test_sqs_receive_beside_delete import (
    _raising,
    _read_entry,
    _read_faults,
    _releases_read_by_the_sdk,
)
from tests.test_sqs_stop_delete_cancelled import _stalled


def _deletes_read_by_the_sdk(client: Any) -> None:
    """``client``'s delete answers read by the SDK, not by sesd: what is put in sesd's
    reading of an answer's entries is then under the give-back alone."""
    call = "DeleteMessageBatch"
    client.meta.events.unregister(f"before-parse.sqs.{call}", unique_id=f"sesd-read-{call}")


def _in_turn(*kinds: type[BaseException]) -> Callable[[Any, Any], Any]:
    """sesd's reading of an answer's entries, raising each of ``kinds`` in turn under the
    calls whose entries name ``Id`` (a delete's, then a release's), then reading as
    sesd does."""
    left = list(kinds)

    def read(entry: Any, members: Any) -> Any:
        if "Id" in entry and left:
            raise left.pop(0)(f"under the call whose entries name Id ({len(left)} more)")
        return _read_entry(entry, members)

    return read


def _hints(json_logs: io.StringIO, event: str) -> list[str]:
    """The hints of each ``event`` line, in the order they were logged."""
    return [r["hint"] for r in log_records(json_logs) if r["event"] == event]


def _ends_the_loop(run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``run`` in an event loop of its own, which a task's exit (``KeyboardInterrupt``)
    ends: asyncio raises it out of the loop, here caught, not out of pytest's run."""
    with pytest.raises(KeyboardInterrupt):
        anyio.run(run)


async def _cancelled_under_a_stalled_delete(sqs: Any, p: QueuePoller, messages: list[Any]) -> None:
    """The batch handled in a task of its own, which a program running sesd cancels
    (``Task.cancel()``, which no shield holds off) while the delete of what it judged
    waits on a stalled network: the task ends in that cancellation."""
    asked = _stalled(sqs, "delete_message_batch")
    task = asyncio.get_running_loop().create_task(p._handle(messages))
    with anyio.fail_after(10):
        await asked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("end", ["exit", "cancel"])
async def test_a_judging_fault_whose_delete_an_exit_ends_says_the_poller_ends(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    """A fault of sesd's own judging the second of three messages, then an exit asked for
    (or the poller's own cancellation) under the delete of the first: the poller ends in
    the exit (the cancellation), not started again, and its delete did not delete as any
    batch's does. The batch's line and the fault's say so, not the judging's advice
    ("deleted as any batch's", "the poller starts again"); the delete is said cut off,
    and the third message given back at once, as that advice says."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        p._judge._invalid = _FailsOn(messages[1]["MessageId"])
        if end == "exit":
            _releases_read_by_the_sdk(sqs)
            monkeypatch.setattr(answers_module, "_entry", _raising(KeyboardInterrupt, "Id"))
            with anyio.fail_after(10), pytest.raises(KeyboardInterrupt):
                await p._handle(messages)
        else:
            await _cancelled_under_a_stalled_delete(sqs, p, messages)
        assert _read_faults(p, json_logs) == [("poller", "RuntimeError")]
    said = said_in(json_logs)
    assert said["sesd.sqs.batch_failed"]["hint"] == MISJUDGED_ENDING
    assert said["sesd.task.failed"]["hint"] == MISJUDGED_ENDING
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1
    assert said["sesd.sqs.released"]["count"] == 1
    assert "starts again" not in MISJUDGED_ENDING
    assert "not started again" in MISJUDGED_ENDING


async def test_a_judging_fault_beside_an_exit_under_its_give_back_says_it_is_the_other(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of sesd's own judging the second of three messages; the first is deleted,
    then an exit is asked for under the give-back of the third. The exit ends the poller:
    the judging's fault, counted and logged by the poller, says it is the other of two
    errors, not that the poller starts again with the third given back. The batch's
    line, logged before the give-back was made, says what comes of one that raises."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        _deletes_read_by_the_sdk(sqs)
        monkeypatch.setattr(answers_module, "_entry", _raising(KeyboardInterrupt, "Id"))
        p._judge._invalid = _FailsOn(messages[1]["MessageId"])
        with anyio.fail_after(10), pytest.raises(KeyboardInterrupt):
            await p._handle(messages)
        assert _read_faults(p, json_logs) == [("poller", "RuntimeError")]
    said = said_in(json_logs)
    assert said["sesd.sqs.batch"]["deleted"] == 1
    assert said["sesd.task.failed"]["hint"] == GIVE_BACK
    hint = said["sesd.sqs.batch_failed"]["hint"]
    assert "the poller starts again, unless an exit or a cancellation under that" in hint


async def test_a_stray_cancel_under_the_delete_after_a_fault_after_the_batch_is_a_fault(
    sqs: Any, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of sesd's own after a batch was handled, then a ``CancelledError`` nobody
    asked for (a library's own, not the poller's cancellation) under the delete made
    first: the batch's fault is raised, for the supervisor to start the poller again, and
    the ``CancelledError`` is counted and logged beside it as the fault it is. It was
    raised instead, and the batch's fault logged with the advice for a delete an exit or
    a cancellation cut off, pointing at a ``sesd.sqs.delete_cut_off`` never logged."""
    p, messages = await _one_received(sqs)
    _releases_read_by_the_sdk(sqs)
    monkeypatch.setattr(answers_module, "_entry", _raising(asyncio.CancelledError, "Id"))
    p._after_batch = _slips
    with anyio.fail_after(10), pytest.raises(_Slip):
        await p._handle(messages)
    assert _read_faults(p, json_logs) == [("poller", "asyncio.exceptions.CancelledError")]
    assert _hints(json_logs, "sesd.task.failed") == [BESIDE]
    said = said_in(json_logs)
    assert "sesd.sqs.delete_cut_off" not in said
    assert APPLIED not in {r.get("hint") for r in log_records(json_logs)}


async def test_a_stray_cancel_under_the_delete_after_a_judging_fault_is_a_fault(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after the batch, so in its judging: the judging's fault is raised, with its
    advice (the poller starts again), and a ``CancelledError`` nobody asked for under the
    delete of what it judged is counted and logged beside it."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        _releases_read_by_the_sdk(sqs)
        monkeypatch.setattr(answers_module, "_entry", _raising(asyncio.CancelledError, "Id"))
        p._judge._invalid = _FailsOn(messages[1]["MessageId"])
        with anyio.fail_after(10), pytest.raises(RuntimeError, match="a fault judging"):
            await p._handle(messages)
        assert _read_faults(p, json_logs) == [("poller", "asyncio.exceptions.CancelledError")]
    assert _hints(json_logs, "sesd.task.failed") == [BESIDE]
    assert said_in(json_logs)["sesd.sqs.batch_failed"]["hint"] == MISJUDGED_UNDELETED


def test_an_exit_under_the_give_back_after_the_pollers_cancellation_is_raised(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of sesd's own judging the second of three messages; a program running sesd
    cancels the poller while the delete of the first waits; then an exit is asked for
    under the give-back of the third. The exit ends the poller, and asyncio raises it
    out of the event loop: it ends the program, whoever cancelled the poller included.
    Turned into that cancellation, a Ctrl-C could leave the process running. The
    cancellation is no fault to log; the judging's fault is, as one whose poller ends."""
    monkeypatch.setattr(answers_module, "_entry", _raising(KeyboardInterrupt, "Id"))
    ran: list[tuple[QueuePoller, asyncio.Task[Any]]] = []

    async def run() -> None:
        async with aws_client("sqs", local_sqs) as sqs:
            _, p, messages = await _three_received(sqs, _DELIVERIES)
            p._judge._invalid = _FailsOn(messages[1]["MessageId"])
            asked = _stalled(sqs, "delete_message_batch")
            task = asyncio.get_running_loop().create_task(p._handle(messages))
            ran.append((p, task))
            with anyio.fail_after(10):
                await asked.wait()
                task.cancel()
                await task

    _ends_the_loop(run)
    [(p, task)] = ran
    assert isinstance(task.exception(), KeyboardInterrupt)
    assert _read_faults(p, json_logs) == [("poller", "RuntimeError")]
    assert _hints(json_logs, "sesd.task.failed") == [MISJUDGED_ENDING]


async def test_an_exit_under_the_give_back_comes_before_a_stray_cancel_under_the_delete(
    sqs: Any, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``CancelledError`` nobody asked for under a batch's delete (a fault, which the
    poller was to raise, for its supervisor to start it again), then an exit asked for
    under the give-back of what the receive beside that delete brought: the exit is
    raised, not dropped behind the fault (the supervisor would start the poller again
    in a process asked to end), and the ``CancelledError`` counted and logged."""
    url, _ = await make_queue(sqs, visibility=300)
    await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.example"])) for i in (1, 2)])
    p, _ = poller(sqs, url, settings="wait_time_seconds = 2\nmax_messages = 1\n")
    with anyio.fail_after(10):
        messages: list[Any] = []
        while not messages:
            messages = await p._receive() or []
    monkeypatch.setattr(
        answers_module, "_entry", _in_turn(asyncio.CancelledError, KeyboardInterrupt)
    )
    with anyio.fail_after(10), pytest.raises(KeyboardInterrupt):
        await p._handle(messages, ask=True)
    assert _read_faults(p, json_logs) == [("poller", "asyncio.exceptions.CancelledError")]
    assert _hints(json_logs, "sesd.task.failed") == [GIVE_BACK]


async def test_the_give_back_of_a_batch_cancelled_as_it_is_judged_leaves_it_cancelled(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The give-back of a batch whose poller's task a program cancelled as the batch was
    judged meets a bug of sesd's own. The poller still ends in that cancellation, which
    the program waits for: the bug, raised in its place, had the poller's supervisor
    start again a poller asked to end. The bug is counted and logged with its
    traceback."""
    monkeypatch.setattr(deletes_module, "_ours", _under_a_release(ValueError))
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, task = await _cancelled_before_its_first_message(sqs)
        with anyio.fail_after(10), pytest.raises(asyncio.CancelledError):
            await task
        assert _read_faults(p, json_logs) == [("poller", "ValueError")]
    assert said_in(json_logs)["sesd.task.failed"]["hint"] == GIVE_BACK


def test_an_exit_under_the_give_back_of_a_batch_cancelled_as_it_is_judged_is_raised(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exit asked for under that give-back ends the poller, and asyncio raises it out
    of the event loop, not the cancellation: the exit ends the program, the program that
    cancelled the poller's task included. Nothing is logged as a fault."""
    monkeypatch.setattr(deletes_module, "_ours", _under_a_release(KeyboardInterrupt))
    ran: list[tuple[QueuePoller, asyncio.Task[Any]]] = []

    async def run() -> None:
        async with aws_client("sqs", local_sqs) as sqs:
            _, p, task = await _cancelled_before_its_first_message(sqs)
            ran.append((p, task))
            with anyio.fail_after(10):
                await task

    _ends_the_loop(run)
    [(p, task)] = ran
    assert isinstance(task.exception(), KeyboardInterrupt)
    assert _read_faults(p, json_logs) == []


async def test_a_fault_under_the_give_back_of_a_batch_cancelled_before_it_is_judged(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poller cancelled while its receive was in flight gives the batch back before
    it judges it; that give-back meets a bug of sesd's own. The poller still ends in its
    cancellation: the bug, raised in its place, had the poller's supervisor start again
    a poller asked to end. The bug is counted and logged with its traceback."""
    monkeypatch.setattr(deletes_module, "_ours", _under_a_release(ValueError))
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _a_costly_batch(sqs)
        with anyio.fail_after(10):
            await _given_back(p, messages)
        assert _read_faults(p, json_logs) == [("poller", "ValueError")]
    assert said_in(json_logs)["sesd.task.failed"]["hint"] == GIVE_BACK
