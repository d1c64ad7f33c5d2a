"""The next receive is made while a batch's delete is in flight: one wait for the
network a batch, not two."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import math
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from aiohttp import web

import sesd.io.sqs_answers as answers_module
import sesd.runtime.sqs as sqs_module
from sesd.runtime.in_flight import Cut, InFlight
from sesd.runtime.sqs_beside import Calls, read_end
from tests import factory as f
from tests.test_sqs_receive_failures import OneMessage, _errors, _receiving


class HeldDelete(OneMessage):
    """Holds the delete's answer until a second receive has come (2 s at most), and
    records the calls in the order they came, and when the delete was answered."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []
        self._second_receive: anyio.Event | None = None

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if self._second_receive is None:
            self._second_receive = anyio.Event()
        call = request.headers["X-Amz-Target"].rpartition(".")[2]
        self.seen.append(call)
        if self.seen.count("ReceiveMessage") == 2:
            self._second_receive.set()
        if call == "DeleteMessageBatch":
            with anyio.move_on_after(2):  # a bound on the wait: the order then fails
                await self._second_receive.wait()
            self.seen.append("delete answered")
            return await super()._answer(request)
        body = f.raw(f.delivery(["a@one.example"]))  # an event: handled, then deleted
        answer = {"Messages": [{"MessageId": "m", "ReceiptHandle": "r", "Body": body}]}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


async def test_the_next_receive_is_made_while_the_batchs_delete_is_in_flight() -> None:
    async with HeldDelete() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        with anyio.fail_after(5):
            brought = await p._handle(messages, ask=True)
    assert isinstance(brought, list)
    assert len(brought) == 1
    # Both made before the delete was answered, in whichever order they reached SQS.
    assert sorted(sqs.seen[1:3]) == ["DeleteMessageBatch", "ReceiveMessage"]
    assert sqs.seen[3:] == ["delete answered"]


class SlowDelete(HeldDelete):
    """As :class:`HeldDelete`, and the delete answered a moment (0.2 s) after the
    receive beside it came: the receive's answer, sent at once, comes first."""

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.headers["X-Amz-Target"].endswith("DeleteMessageBatch"):
            await anyio.sleep(0.2)  # the slow server itself, not a wait for an event
        return await super()._answer(request)


async def test_a_delete_slower_than_the_receive_beside_it_is_waited_for(
    json_logs: io.StringIO,
) -> None:
    """The receive answers while the batch's delete is still out: the batch ends once
    the delete has answered too, counted as deleted (no cut-off, no failed delete),
    not left running when the poller reads on."""
    async with SlowDelete() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        with anyio.fail_after(5):
            brought = await p._handle(messages, ask=True)
        errors = _errors(p, "delete")
    assert isinstance(brought, list)
    assert len(brought) == 1
    assert sqs.seen[-1] == "delete answered"
    assert not errors
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (batch,) = [r for r in records if r["event"] == "sesd.sqs.batch"]
    assert (batch["received"], batch["deleted"]) == (1, 1)
    assert not [r for r in records if r["event"] == "sesd.sqs.delete_cut_off"]


class Releases(OneMessage):
    """As :class:`OneMessage`, each receive's message an event sesd handles, and a
    release answered as done; records each call and each release's visibility."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []
        self.released: list[int] = []

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        call = request.headers["X-Amz-Target"].rpartition(".")[2]
        self.seen.append(call)
        if call == "ReceiveMessage":
            body = f.raw(f.delivery(["a@one.example"]))
            answer = {"Messages": [{"MessageId": "m", "ReceiptHandle": "r", "Body": body}]}
            return web.json_response(answer, content_type="application/x-amz-json-1.0")
        if call == "ChangeMessageVisibilityBatch":
            asked = await request.json()
            self.released += [e["VisibilityTimeout"] for e in asked["Entries"]]
            done = {"Successful": [{"Id": e["Id"]} for e in asked["Entries"]]}
            return web.json_response(done, content_type="application/x-amz-json-1.0")
        return await super()._answer(request)


_read_entry = answers_module._entry


def _bug_in(entry_of: str) -> Callable[[Any, Any], Any]:
    """sesd's reading of an answer's entries, with a bug (a slip that raises KeyError)
    under the calls whose entries name ``entry_of`` (a delete's ``Id``, and a release's,
    unless :func:`_releases_read_by_the_sdk`; a receive's ``MessageId``)."""

    def read(entry: Any, members: Any) -> Any:
        if entry_of in entry:
            return entry["no such member"]
        return _read_entry(entry, members)

    return read


def _releases_read_by_the_sdk(client: Any) -> None:
    """``client``'s release answers read by the SDK, not by sesd: a bug put in sesd's
    reading (:func:`_bug_in`) is then under the delete alone."""
    call = "ChangeMessageVisibilityBatch"
    client.meta.events.unregister(f"before-parse.sqs.{call}", unique_id=f"sesd-read-{call}")


async def test_a_fault_under_the_delete_gives_back_what_the_receive_beside_it_brought(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug of sesd's own under the batch's delete is raised to the poller's supervisor
    (which starts it anew, empty-handed): the message the receive beside the delete
    brought is released at once, not hidden from every poller until its visibility
    timeout, as it was when no receive followed a delete that faulted."""
    async with Releases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        _releases_read_by_the_sdk(p._deletes._client)
        monkeypatch.setattr(answers_module, "_entry", _bug_in("Id"))
        with anyio.fail_after(5), pytest.raises(KeyError):
            await p._handle(messages, ask=True)
        assert sqs.seen.count("ReceiveMessage") == 2
        assert sqs.released == [0]


async def test_a_fault_under_the_receive_beside_the_delete_comes_once_the_batch_is_told(
    monkeypatch: pytest.MonkeyPatch,
    json_logs: io.StringIO,
) -> None:
    """A bug of sesd's own under the receive made beside the batch's delete is raised
    once the delete has answered and the batch's line says what it deleted, as when
    the receive followed the delete's answer."""
    async with Releases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        monkeypatch.setattr(answers_module, "_entry", _bug_in("MessageId"))
        with anyio.fail_after(5), pytest.raises(KeyError):
            await p._handle(messages, ask=True)
        assert not sqs.released
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (batch,) = [r for r in records if r["event"] == "sesd.sqs.batch"]
    assert (batch["received"], batch["deleted"]) == (1, 1)


class HeldReleases(Releases):
    """As :class:`Releases`, each delete held until ``answer_deletes`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.answer_deletes = anyio.Event()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.headers["X-Amz-Target"].endswith("DeleteMessageBatch"):
            with anyio.move_on_after(5):  # a bound on the wait: the test then fails
                await self.answer_deletes.wait()
        return await super()._answer(request)


#: What the receive beside the delete may raise that is no failure of SQS's: a bug of
#: sesd's own (a slip that raises KeyError), and what no code of sesd's catches (an exit
#: asked for, a generator closed under the call), which must reach whoever waits for it.
_RAISED = [KeyError, KeyboardInterrupt, SystemExit, GeneratorExit]


def _raising(kind: type[BaseException], entry_of: str) -> Callable[[Any, Any], Any]:
    """sesd's reading of an answer's entries, raising ``kind`` under the one call whose
    entries name ``entry_of`` (a delete's ``Id``, a receive's ``MessageId``)."""

    def read(entry: Any, members: Any) -> Any:
        if entry_of in entry:
            raise kind(f"under the call whose entries name {entry_of}")
        return _read_entry(entry, members)

    return read


@pytest.mark.parametrize("kind", _RAISED, ids=lambda kind: kind.__name__)
async def test_a_delete_cut_off_beside_a_receive_that_raised_is_counted_failed(
    kind: type[BaseException], monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """A forced exit cuts the batch's delete off while the receive beside it raises (a
    bug of sesd's own, or an exit asked for): the error is raised as itself once the
    delete has ended, and the delete is counted and said cut off first, as any delete
    cut off is, and the batch's line says what it deleted."""
    async with HeldReleases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        raising = _raising(kind, "MessageId")

        def cut_then_raise(entry: Any, members: Any) -> Any:
            p._in_flight.cut()  # the delete still held: cut off
            return raising(entry, members)

        monkeypatch.setattr(answers_module, "_entry", cut_then_raise)
        with anyio.fail_after(5), pytest.raises(kind):
            await p._handle(messages, ask=True)
        sqs.answer_deletes.set()
        errors = _errors(p, "delete")
    assert errors == 1
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert [r for r in records if r["event"] == "sesd.sqs.delete_cut_off"]
    (batch,) = [r for r in records if r["event"] == "sesd.sqs.batch"]
    assert (batch["received"], batch["deleted"]) == (1, 0)


async def _waiting_for_the_delete_alone(in_flight: InFlight) -> None:
    """Return once the receive made beside a batch's delete has answered and the
    poller waits for the delete alone (its bound the only one in flight)."""
    while in_flight._scopes or not in_flight._cuts:
        await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize("end", ["own limit", "stop", "forced exit"])
async def test_a_delete_that_outlasts_the_receive_beside_it_is_still_bounded(
    end: str, monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """The receive beside the batch's delete answers while the delete hangs (SQS stalls
    on it): the poller waits for the delete no longer than the delete's own bound, its
    own limit (0.3 s here), the margin (0.1 s) past a stop's grace period (0.1 s), or
    a forced exit at once. The delete is counted and said cut off, and what the receive
    brought is read on, not dropped."""
    monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 0.3 if end == "own limit" else 15.0)
    async with HeldReleases() as sqs, _receiving(sqs) as p:
        p._in_flight = in_flight = InFlight(margin=0.1)
        messages = await p._receive()
        assert messages is not None
        brought: list[object] = []
        async with anyio.create_task_group() as tg:

            async def handle() -> None:
                brought.append(await p._handle(messages, ask=True))

            began = anyio.current_time()
            tg.start_soon(handle)
            with anyio.fail_after(5):
                await _waiting_for_the_delete_alone(in_flight)
            if end == "stop":
                began = anyio.current_time()
                in_flight.end_by(began + 0.1)
            elif end == "forced exit":
                began = anyio.current_time()
                in_flight.cut()
        took = anyio.current_time() - began
        sqs.answer_deletes.set()
        errors = _errors(p, "delete")
    assert took < 1.5, f"the delete held the poller {took:.2f}s past its bound"
    assert errors == 1
    assert [len(b) for b in brought if isinstance(b, list)] == [1]
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (cut,) = [r for r in records if r["event"] == "sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut["level"]) == (1, "warning")
    (batch,) = [r for r in records if r["event"] == "sesd.sqs.batch"]
    assert (batch["received"], batch["deleted"]) == (1, 0)


@pytest.mark.parametrize("end", ["stop", "forced exit"])
@pytest.mark.parametrize("beside", [True, False], ids=["beside_a_receive", "alone"])
async def test_a_delete_answered_as_its_bound_ends_is_counted_deleted(
    beside: bool, end: str, json_logs: io.StringIO
) -> None:
    """SQS answers the batch's delete in the very turn of the event loop where a stop's
    bound ends (its grace period and margin over) or a forced exit cuts the calls off,
    before the delete's code has read the answer: the delete is counted deleted, as SQS
    made it, not said cut off (a warning that the message comes back after its
    visibility timeout, a failed delete counted), whether it was made beside a receive
    or alone."""
    async with Releases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        in_flight, loop = p._in_flight, asyncio.get_running_loop()
        delete = p._deletes._client.delete_message_batch

        def cut() -> None:
            if end == "stop":
                in_flight.end_by(loop.time() - 60)
            else:
                in_flight.cut()

        async def answered_as_cut(**kwargs: Any) -> Any:
            answer = await delete(**kwargs)  # SQS deleted the message
            if beside:  # the receive beside it answered first
                await _waiting_for_the_delete_alone(in_flight)
            read: asyncio.Future[Any] = loop.create_future()

            def arrives() -> None:
                read.set_result(answer)
                cut()  # the same turn: the delete has not read it yet

            loop.call_soon(arrives)
            return await read

        p._deletes._client.delete_message_batch = answered_as_cut  # type: ignore[method-assign]
        if not beside:  # a stop under way: no receive beside the delete
            p._stopping.set()
        with anyio.fail_after(5):
            brought = await p._handle(messages, ask=True)
        errors = _errors(p, "delete")
    assert sqs.seen.count("DeleteMessageBatch") == 1
    assert not errors
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert not [r for r in records if r["event"] == "sesd.sqs.delete_cut_off"]
    (batch,) = [r for r in records if r["event"] == "sesd.sqs.batch"]
    assert (batch["received"], batch["deleted"]) == (1, 1)
    if beside:
        assert isinstance(brought, list)
        assert len(brought) == 1
    else:
        assert brought is sqs_module.NOT_ASKED


def _read_faults(p: Any, logs: io.StringIO) -> list[tuple[str, str]]:
    """The faults the poller ``p`` logged itself (``sesd.task.failed``): each one's task
    and error's name, as many as its task counted failed."""
    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    said = [
        (r["task"], r["exception"].splitlines()[-1].partition(":")[0])
        for r in records
        if r["event"] == "sesd.task.failed"
    ]
    counted = p._metrics.registry.get_sample_value("sesd_task_failures_total", {"task": "poller"})
    assert counted == len(said), (counted, said)
    return said


@pytest.mark.parametrize(
    "kind", [ValueError, *_RAISED[1:], asyncio.CancelledError], ids=lambda kind: kind.__name__
)
async def test_a_fault_under_the_delete_beside_a_receive_that_raised_is_not_dropped(
    kind: type[BaseException], monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """sesd's own bug under the batch's delete (KeyError) and an error under the receive
    beside it: one is raised, the delete's when the receive's is a bug too (as when the
    receive followed the delete), the receive's when it is no bug but an exit asked for
    or a cancellation (it must reach whoever waits for it); the other is counted and
    logged with its traceback, as the poller's supervisor does a fault, not dropped
    unseen."""
    async with Releases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        under_delete, under_receive = _raising(KeyError, "Id"), _raising(kind, "MessageId")

        def read(entry: Any, members: Any) -> Any:
            return (under_delete if "Id" in entry else under_receive)(entry, members)

        monkeypatch.setattr(answers_module, "_entry", read)
        first, other = (KeyError, kind) if issubclass(kind, Exception) else (kind, KeyError)
        with anyio.fail_after(5), pytest.raises(first):
            await p._handle(messages, ask=True)
        said = _read_faults(p, json_logs)
    assert said == [("poller", other.__name__)]


class SlowReleases(Releases):
    """As :class:`Releases`, each delete answered 0.2 s after it came."""

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        answer = await super()._answer(request)
        if request.headers["X-Amz-Target"].endswith("DeleteMessageBatch"):
            await anyio.sleep(0.2)  # the slow server itself, not a wait for an event
            self.seen.append("delete answered")
        return answer


async def test_a_cancellation_nobody_asked_for_under_the_receive_waits_for_the_delete() -> None:
    """A CancelledError raised under the receive beside the delete (a library's future
    cancelled under the call: sesd.runtime.supervise counts it a fault) ends the batch
    only once its delete has answered: the delete is not left running past the poller
    that the supervisor starts anew."""
    async with SlowReleases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None

        async def cancelled(**_: Any) -> Any:
            raise asyncio.CancelledError

        p._receiver.receive_message = cancelled  # type: ignore[method-assign]
        with anyio.fail_after(5), pytest.raises(asyncio.CancelledError):
            await p._handle(messages, ask=True)
        assert sqs.seen[-1] == "delete answered"


class HeldBoth(Releases):
    """As :class:`Releases`, the second receive and the delete beside it held until
    ``go`` is set (``both`` says they have come); the receive then answered at once,
    the delete 0.2 s later."""

    def __init__(self) -> None:
        super().__init__()
        self.both = anyio.Event()
        self.go = anyio.Event()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        call = request.headers["X-Amz-Target"].rpartition(".")[2]
        if call in ("ReceiveMessage", "DeleteMessageBatch") and len(self.seen) >= 1:
            self.seen.append(call)
            if {"ReceiveMessage", "DeleteMessageBatch"} <= set(self.seen[1:]):
                self.both.set()
            with anyio.move_on_after(5):  # a bound on the wait: the test then fails
                await self.go.wait()
            if call == "DeleteMessageBatch":
                await anyio.sleep(0.2)  # the slow server itself, not a wait for an event
            self.seen.pop(self.seen.index(call))
        return await super()._answer(request)


async def test_a_poller_cancelled_with_both_calls_in_flight_gives_back_what_it_received() -> None:
    """A reload cancels a poller while its receive and the batch's delete beside it are
    both in flight: the receive is not cut off, the delete is waited for once the
    receive has answered, and what the receive brought is released at once (visibility
    0), not hidden until its visibility timeout."""
    async with HeldBoth() as sqs, _receiving(sqs) as p:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(p.run)
                await sqs.both.wait()
                tg.cancel_scope.cancel()
                sqs.go.set()
        assert sqs.released == [0]
        assert sqs.seen.count("DeleteMessageBatch") == 1


def _never_read(caplog: pytest.LogCaptureFixture) -> list[str]:
    """asyncio's errors of tasks whose end nobody read, once the tasks are collected."""
    gc.collect()
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


@pytest.mark.parametrize(
    "kind", [GeneratorExit, asyncio.CancelledError], ids=lambda kind: kind.__name__
)
async def test_what_else_the_delete_beside_a_receive_ends_in_is_raised(
    kind: type[BaseException], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch's delete, in a task of its own beside the receive, ends in what it does
    not keep as a fault (a GeneratorExit, a CancelledError nobody asked for): the poller
    reads it and raises it once the receive has answered, as when the delete was its
    own call, the message the receive brought given back; not counted a delete cut
    off, and not left to asyncio's "Task exception was never retrieved"."""
    async with Releases() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        monkeypatch.setattr(answers_module, "_entry", _raising(kind, "Id"))
        with anyio.fail_after(5), pytest.raises(kind):
            await p._handle(messages, ask=True)
        assert sqs.released == [0]
        assert not _errors(p, "delete")
    assert not _never_read(caplog)


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit], ids=lambda kind: kind.__name__)
def test_an_exit_under_the_delete_beside_a_receive_is_read(
    kind: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    """An exit asked for under the batch's delete (KeyboardInterrupt, SystemExit), in its
    task beside the receive: asyncio raises it out of the event loop at once, as when
    the delete was the poller's own call, and the poller reads the task's end as the
    loop closes; asyncio does not log it as never retrieved. (An event loop of its own:
    the exit ends the loop it is raised in.)"""

    async def handled() -> None:
        async with Releases() as sqs, _receiving(sqs) as p:
            messages = await p._receive()
            assert messages is not None
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(answers_module, "_entry", _raising(kind, "Id"))
                with anyio.fail_after(5):
                    await p._handle(messages, ask=True)

    with pytest.raises(kind):
        anyio.run(handled)
    assert not _never_read(caplog)


async def test_a_delete_still_running_when_the_poller_ended_is_read_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The poller ended while its delete's task still ran (the event loop closing): the
    task's end is read when it comes, not left to asyncio's "Task exception was never
    retrieved"."""

    async def delete() -> None:
        await anyio.lowlevel.checkpoint()
        raise GeneratorExit("under the delete")

    task = asyncio.get_running_loop().create_task(delete())
    read_end(task, Calls(), Cut(0.0, math.inf))
    await asyncio.wait((task,))
    await anyio.lowlevel.checkpoint()  # the callbacks of the task's end run
    del task
    assert not _never_read(caplog)
