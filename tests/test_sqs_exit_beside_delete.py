"""An exit asked for (KeyboardInterrupt, SystemExit) under a batch's delete, made beside
the next receive: asyncio raises it out of the event loop at once, and the loop's close
then cancels the poller. What the receive brought is given back, not hidden until its
visibility timeout; a receive still waiting does not hold the exit. moto's SQS, in a
process of its own: the loop's close would end a stand-in served in the same loop."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.in_flight import InFlight
from tests import factory as f
from tests.conftest import aws_client, make_queue, queue_counts, said_in, send_bodies
from tests.test_sqs_edges import poller


def _an_exit_under_the_delete(
    local_sqs: LocalSqs, kind: type[BaseException], *, brought: bool, how: str = "answers"
) -> tuple[str, float, float | None]:
    """A poller handles one message and deletes it beside the next receive; the delete
    raises ``kind`` once the receive has answered (``brought``: with the queue's second
    message) or, the queue then empty, once it has been asked (a 20 s long poll). The
    receive (``how``) ``answers``, or answers in the turn of the event loop where a
    stop's bound on it ends (``answers_as_its_bound_ends``: the delete has the margin
    more), or ``raises`` a fault of sesd's own at once, or ``exits``: raises ``kind`` at
    once (an exit asked for as the receive was made). The exit out of the event loop is
    the delete's, which ended it: the loop's close runs to its end, no other exit raised
    out of it. The queue's URL, how long the run took, and the faults the poller
    counted."""
    url = ""
    faults: float | None = None

    async def run() -> None:
        nonlocal url, faults
        async with aws_client("sqs", local_sqs) as sqs:
            url, _ = await make_queue(sqs, visibility=300)
            bodies = [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(2 if brought else 1)]
            await send_bodies(sqs, url, bodies)
            p, _ = poller(sqs, url, settings="wait_time_seconds = 20\nmax_messages = 1\n")
            messages = await p._receive()
            assert messages is not None
            assert len(messages) == 1
            asked, answered = anyio.Event(), anyio.Event()
            receive = sqs.receive_message

            async def receive_beside(**kwargs: Any) -> Any:
                asked.set()
                if how == "raises":
                    raise RuntimeError("a fault under the receive")
                if how == "exits":
                    raise kind("under the receive")
                answer = await receive(**kwargs)
                if how == "answers_as_its_bound_ends":
                    answer = await _read_as_the_bound_ends(p._in_flight, answer)
                answered.set()
                return answer

            async def delete_then_exit(**_: Any) -> Any:
                await (answered if brought else asked).wait()
                raise kind("under the delete")

            sqs.receive_message = receive_beside
            sqs.delete_message_batch = delete_then_exit
            try:
                with anyio.fail_after(10):
                    await p._handle(messages, ask=True)
            finally:
                faults = p._metrics.registry.get_sample_value(
                    "sesd_task_failures_total", {"task": "poller"}
                )

    began = time.monotonic()
    with pytest.raises(kind, match=r"^under the delete$"):
        anyio.run(run)
    return url, time.monotonic() - began, faults


async def _read_as_the_bound_ends(in_flight: InFlight, answer: Any) -> Any:
    """``answer``, come in the very turn of the event loop where the grace period of a
    stop ends: the receive's bound ends, not yet the delete's (the margin past it)."""
    loop = asyncio.get_running_loop()
    read: asyncio.Future[Any] = loop.create_future()

    def arrives() -> None:
        read.set_result(answer)
        in_flight.end_by(loop.time())

    loop.call_soon(arrives)
    return await read


async def _counts(local_sqs: LocalSqs, url: str) -> tuple[int, int]:
    """The queue's (visible, hidden) messages, read once the poller's run has ended."""
    async with aws_client("sqs", local_sqs) as sqs:
        return await queue_counts(sqs, url)


async def _handled_as_another_task_exits(
    handle: Callable[[], Coroutine[Any, Any, object]],
    when: Callable[[], Awaitable[object]],
    kind: type[BaseException],
) -> None:
    """``handle()`` run while another task raises the exit ``kind`` once ``when()`` has
    returned: an exit elsewhere, whose end closes the event loop under the poller."""

    async def exit_elsewhere() -> None:
        await when()
        raise kind("elsewhere")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(handle)
            await asyncio.get_running_loop().create_task(exit_elsewhere())


def _told_cut_off(said: dict[str, dict[str, Any]]) -> None:
    """The batch's one message received, none deleted, and its delete said cut off."""
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1
    assert (said["sesd.sqs.batch"]["received"], said["sesd.sqs.batch"]["deleted"]) == (1, 0)


_EXITS = [KeyboardInterrupt, SystemExit]


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_what_the_receive_beside_an_exiting_delete_brought_is_given_back(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """The receive beside the batch's delete has brought a message when an exit comes
    under the delete: as the event loop closes, that message is released at once
    (visibility 0), not left hidden from every reader for the queue's visibility timeout
    (300 s here). The delete, its end not known, is counted and said cut off: the
    message it was to delete stays hidden until then, counted once already."""
    url, _, _ = _an_exit_under_the_delete(local_sqs, kind, brought=True)
    assert anyio.run(_counts, local_sqs, url) == (1, 1)
    said = said_in(json_logs)
    assert said["sesd.sqs.released"]["count"] == 1
    _told_cut_off(said)


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_a_receive_still_waiting_beside_an_exiting_delete_does_not_hold_the_exit(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """The receive beside the batch's delete is still waiting (a 20 s long poll on an
    empty queue) when an exit comes under the delete: the event loop's close cuts it
    off, as it does every call in flight, rather than wait out the long poll. It had
    brought nothing to give back; the delete is counted and said cut off."""
    url, took, _ = _an_exit_under_the_delete(local_sqs, kind, brought=False)
    assert took < 10, f"the exit waited {took:.1f}s"
    assert anyio.run(_counts, local_sqs, url) == (0, 1)
    said = said_in(json_logs)
    assert "sesd.sqs.released" not in said
    assert said["sesd.sqs.delete_cut_off"]["count"] == 1


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_what_a_receive_answered_as_its_bound_ended_brought_is_given_back_at_an_exit(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """The receive beside the batch's delete answers, with a message, in the very turn
    the stop's grace period ends, and an exit then comes under the delete, which the
    margin past the grace period still let run: as the event loop closes, the message
    is made visible again at once, as when the receive answered sooner, not hidden for
    the queue's visibility timeout (300 s here); the delete is said cut off and the
    batch told."""
    url, _, _ = _an_exit_under_the_delete(
        local_sqs, kind, brought=True, how="answers_as_its_bound_ends"
    )
    assert anyio.run(_counts, local_sqs, url) == (1, 1)
    said = said_in(json_logs)
    assert said["sesd.sqs.released"]["count"] == 1
    _told_cut_off(said)


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_a_fault_under_the_receive_is_told_when_an_exit_ends_the_wait_for_the_delete(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """The receive beside the batch's delete raises a fault of sesd's own, and an exit
    comes under the delete while the poller waits for it: the event loop's close
    cancels that wait. The fault is counted and logged with its traceback, not dropped
    unseen, and the batch is told (its delete said cut off, its line), as when the
    delete ended by itself."""
    url, _, faults = _an_exit_under_the_delete(local_sqs, kind, brought=False, how="raises")
    assert anyio.run(_counts, local_sqs, url) == (0, 1)
    assert faults == 1
    said = said_in(json_logs)
    failed = said["sesd.task.failed"]
    assert (failed["task"], failed["exception"].splitlines()[-1]) == (
        "poller",
        "RuntimeError: a fault under the receive",
    )
    _told_cut_off(said)


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_an_exit_under_the_receive_is_no_fault_when_the_wait_for_the_delete_ends_too(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """An exit is asked for as the receive beside the batch's delete is made (kept, to be
    raised once the batch is told), and another comes under the delete: the event
    loop's close cancels the poller's wait for it. Neither exit, nor that cancellation,
    is a fault of sesd's: nothing counted in ``sesd_task_failures_total`` or logged as
    one (``sesd.task.failed`` would ask to report a bug); the batch is told. The
    receive's exit is not raised again out of the loop's close: it would cut the close
    short, every other task's cancellation left unfinished."""
    url, _, faults = _an_exit_under_the_delete(local_sqs, kind, brought=False, how="exits")
    assert anyio.run(_counts, local_sqs, url) == (0, 1)
    said = said_in(json_logs)
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")
    assert faults == 0
    _told_cut_off(said)


@pytest.mark.parametrize("kind", _EXITS, ids=lambda kind: kind.__name__)
def test_an_exit_elsewhere_during_a_receive_beside_a_delete_is_no_fault_of_the_poller(
    local_sqs: LocalSqs, kind: type[BaseException], json_logs: io.StringIO
) -> None:
    """An exit comes in another task while a batch's delete and the receive beside it both
    wait for SQS: the event loop's close cancels the poller and the delete together.
    Those cancellations are the exit's, no fault of sesd's: nothing counted in
    ``sesd_task_failures_total`` or logged as one (``sesd.task.failed``). The delete is
    said cut off, as any delete the loop's close cuts off, and the batch told."""
    faults: float | None = None

    async def run() -> None:
        nonlocal faults
        async with aws_client("sqs", local_sqs) as sqs:
            url, _ = await make_queue(sqs, visibility=300)
            await send_bodies(sqs, url, [f.raw(f.delivery(["u0@one.example"]))])
            p, _ = poller(sqs, url, settings="wait_time_seconds = 20\nmax_messages = 1\n")
            messages = await p._receive()
            assert messages is not None
            asked, deleting = anyio.Event(), anyio.Event()
            receive = sqs.receive_message

            async def receive_beside(**kwargs: Any) -> Any:
                asked.set()
                return await receive(**kwargs)  # a 20 s long poll of an empty queue

            async def delete_waits(**_: Any) -> Any:
                deleting.set()
                await anyio.sleep_forever()

            async def receive_and_delete_asked() -> None:
                await asked.wait()
                await deleting.wait()

            sqs.receive_message = receive_beside
            sqs.delete_message_batch = delete_waits
            try:
                await _handled_as_another_task_exits(
                    partial(p._handle, messages, ask=True), receive_and_delete_asked, kind
                )
            finally:
                faults = p._metrics.registry.get_sample_value(
                    "sesd_task_failures_total", {"task": "poller"}
                )

    with pytest.raises(kind):
        anyio.run(run)
    said = said_in(json_logs)
    assert "sesd.task.failed" not in said, said.get("sesd.task.failed", {}).get("exception")
    assert faults == 0
    _told_cut_off(said)
