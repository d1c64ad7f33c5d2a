"""What a poller's log says when a batch meets a fault of sesd's own and something else
ends it too: an exit or the poller's own cancellation under the delete of what the
batch judged, a ``CancelledError`` nobody asked for (a library's own) under that delete,
an exit asked for under the give-back made before the poller ends, a fault or an exit
under the give-back of a batch the poller's own cancellation reached. Each line says what
came of the batch and of the poller: no advice that the poller starts again when it
ends, no pointer to a line that is never logged, no exit dropped without a word.
moto's SQS, the real poller."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import sesd.io.sqs_answers as answers_module
import sesd.runtime.sqs_deletes as deletes_module
from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_beside import BESIDE
from sesd.runtime.sqs_ends import APPLIED, EXIT_NOT_RAISED, GIVE_BACK, MISJUDGED, MISJUDGED_ENDING
from tests import factory as f
from tests.conftest import aws_client, log_records, make_queue, said_in, send_bodies
from tests.test_sqs_batch_cancelled import _a_costly_batch
from tests.test_sqs_edges import poller
from tests.test_sqs_fault_after_batch import _Slip, _slips
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
    errors, not that the poller starts again with the third given back."""
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


async def test_a_stray_cancel_under_the_delete_after_a_fault_after_the_batch_is_a_fault(
    sqs: Any, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of sesd's own after a batch was handled, then a ``CancelledError`` nobody
    asked for (a library's own, not the poller's cancellation) under the delete made
    first: the batch's fault is raised, for the supervisor to start the poller again, and
    the ``CancelledError`` is counted and logged beside it as the fault it is. It was
    raised instead, and the batch's fault logged with the advice for a delete an exit or
    a cancellation cut off, pointing at a ``sesd.sqs.delete_cut_off`` never logged."""
    url, _ = await make_queue(sqs, visibility=30)
    await send_bodies(sqs, url, [f.raw(f.delivery(["u1@one.example"]))])
    p, _ = poller(sqs, url, settings="wait_time_seconds = 2")
    with anyio.fail_after(10):
        messages: list[Any] = []
        while not messages:
            messages = await p._receive() or []
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
    assert said_in(json_logs)["sesd.sqs.batch_failed"]["hint"] == MISJUDGED


async def test_an_exit_under_the_give_back_after_the_pollers_cancellation_is_logged(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of sesd's own judging the second of three messages; a program running sesd
    cancels the poller while the delete of the first waits; then an exit is asked for
    under the give-back of the third. The cancellation ends the poller, as whoever
    cancelled it waits for; the exit, which went nowhere and was said nowhere, is
    logged with its traceback."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _three_received(sqs, _DELIVERIES)
        monkeypatch.setattr(answers_module, "_entry", _raising(KeyboardInterrupt, "Id"))
        p._judge._invalid = _FailsOn(messages[1]["MessageId"])
        await _cancelled_under_a_stalled_delete(sqs, p, messages)
        assert _read_faults(p, json_logs) == [("poller", "RuntimeError")]
    said = said_in(json_logs)
    dropped = said["sesd.sqs.exit_not_raised"]
    assert (dropped["level"], dropped["hint"]) == ("error", EXIT_NOT_RAISED)
    assert dropped["exception"].splitlines()[-1].startswith("KeyboardInterrupt: under the call")
    assert said["sesd.task.failed"]["hint"] == MISJUDGED_ENDING


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
    assert "sesd.sqs.exit_not_raised" not in said_in(json_logs)


@pytest.mark.parametrize("kind", [ValueError, KeyboardInterrupt], ids=lambda k: k.__name__)
async def test_the_give_back_of_a_batch_cancelled_as_it_is_judged_leaves_it_cancelled(
    local_sqs: LocalSqs, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch, kind: Any
) -> None:
    """A program running sesd cancels the poller's task (``Task.cancel()``) at the turn a
    batch takes before its first message; the give-back of the batch then meets a bug of
    sesd's own (or an exit is asked for under it). The poller still ends in that
    cancellation, which the program waits for: the bug, raised in its place, had the
    poller's supervisor start again a poller asked to end. The bug is counted and logged
    with its traceback, the exit logged with its own."""
    async with aws_client("sqs", local_sqs) as sqs:
        _, p, messages = await _a_costly_batch(sqs)
        judging = anyio.Event()

        def received_at() -> float:
            judging.set()  # read just before the batch, which takes its turn at once
            return 0.0

        p._clock = received_at
        monkeypatch.setattr(deletes_module, "_ours", _under_a_release(kind))
        task = asyncio.get_running_loop().create_task(p._handle(messages))
        with anyio.fail_after(10):
            await judging.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        faults = _read_faults(p, json_logs)
    said = said_in(json_logs)
    if kind is ValueError:
        assert faults == [("poller", "ValueError")]
        assert said["sesd.task.failed"]["hint"] == GIVE_BACK
    else:
        assert faults == []
        assert said["sesd.sqs.exit_not_raised"]["hint"] == EXIT_NOT_RAISED
