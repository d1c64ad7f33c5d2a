"""How far past the grace period an SQS call in flight may run: a receive not at all
(abandoned at its end), a delete or a release by the margin. The bound set when the
stop begins reaches the calls already in flight as it does those begun after."""

from __future__ import annotations

import asyncio
import gc
import io
import math
import weakref
from typing import Any

import anyio
import pytest

import sesd.runtime.sqs as sqs_module
from sesd.core.tallies import Outcome
from sesd.runtime.in_flight import Cut, InFlight
from sesd.runtime.sqs_beside import Calls, read_end
from tests import factory as f
from tests.conftest import log_records, queue_counts, send_bodies, sesd_logs
from tests.proxy import Proxy
from tests.test_sqs_edges import _received_through


async def test_a_stop_bounds_a_receive_in_flight_by_the_grace_period_itself() -> None:
    """A receive (no margin) and a delete (the margin) are in flight when a stop
    begins: the receive's scope ends at the grace period's end, the delete's the
    margin later, as for calls begun after the stop; a sooner bound moves both."""
    in_flight = InFlight(margin=2.0)
    # Sooner than the delete's own 15 s: the bound, not the limit, sets its end.
    end = anyio.current_time() + 5
    with in_flight.scope(margin=False) as receive, in_flight.scope(15) as delete:
        in_flight.end_by(end)
        assert receive.deadline == end
        assert delete.deadline == end + 2.0
        with in_flight.scope(margin=False) as later, in_flight.scope(15) as later_delete:
            assert later.deadline == end
            assert later_delete.deadline == end + 2.0
            in_flight.end_by(end - 1)
            assert (later.deadline, later_delete.deadline) == (end - 1, end + 1.0)


async def test_a_forced_exit_that_came_before_the_stops_bound_stays_cut() -> None:
    """A second signal cuts the calls off before the stop sets its grace period's
    bound (both signals handled before the consumers woke): the bound does not lift
    the cut, and a delete begun after it is cut off at once, not run after the exit's
    save took its snapshot."""
    in_flight = InFlight(margin=2.0)
    with in_flight.scope(margin=False) as receive:
        in_flight.cut()
        in_flight.end_by(anyio.current_time() + 30)
        assert receive.deadline == -math.inf
        with in_flight.scope(15) as delete:
            assert delete.deadline == -math.inf


async def _a_receive_in_flight(in_flight: InFlight) -> None:
    """Return once a receive is in flight (a delete's bound has a margin and a limit)."""
    while (0.0, math.inf) not in in_flight._scopes.values():
        await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize("after_delete", [False, True], ids=["alone", "after_a_delete"])
async def test_a_receive_waiting_when_the_stop_begins_is_abandoned_at_the_grace_periods_end(
    local_sqs: Any, sqs: Any, after_delete: bool
) -> None:
    """The network stalls with a receive in flight, and a stop begins with 0.2 s of
    grace left: the receive is abandoned then, not the deletes' margin (3 s here)
    later, as the module promises. So too for a receive made, as the poller's loop
    makes it, beside the batch's delete: the delete answered, its bound does not hold
    the receive past the grace period."""
    in_flight = InFlight(margin=3.0)
    async with Proxy(local_sqs.port) as proxy:
        poller, _, messages, _, stack = await _received_through(proxy, sqs, in_flight)
        async with stack, anyio.create_task_group() as tg:
            done = anyio.Event()
            got: list[object] = []
            deleted = anyio.Event()
            delete = poller._deletes.delete

            async def answered(handled: list[Any], progress: Any = None) -> int:
                count = await delete(handled, progress)
                deleted.set()
                return count

            poller._deletes.delete = answered  # type: ignore[method-assign,assignment]
            if not after_delete:
                deleted.set()

            async def receive() -> None:
                if after_delete:
                    got.append(await poller._handle(messages, ask=True))
                else:
                    got.append(await poller._receive())
                done.set()

            tg.start_soon(receive)
            with anyio.fail_after(5):
                await _a_receive_in_flight(in_flight)
                await deleted.wait()
            proxy.stall()
            began = anyio.current_time()
            in_flight.end_by(began + 0.2)
            with anyio.fail_after(5):
                await done.wait()
            took = anyio.current_time() - began
            proxy.restore()
    assert got == [None]
    assert took < 2.0, f"the receive ran {took:.1f}s, past the grace period's 0.2s"


async def test_a_receive_in_a_deletes_bound_outlives_the_deletes_limit(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """The poller's loop receives again in the bound of the batch's delete: the
    delete's own limit (0.3 s here) ends the delete alone. The next receive, a long
    poll of 1 s on the queue the delete emptied, runs its whole poll and answers
    empty; it is not abandoned when the delete's limit comes."""
    monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 0.3)
    async with Proxy(local_sqs.port) as proxy:
        poller, _, messages, url, stack = await _received_through(proxy, sqs, InFlight())
        async with stack:
            began = anyio.current_time()
            with anyio.fail_after(5):
                assert await poller._handle(messages, ask=True) == []
            took = anyio.current_time() - began
        assert await queue_counts(sqs, url) == (0, 0)
    assert took >= 0.9, f"a long poll of 1 s answered after {took:.2f}s"
    events = [r["event"] for r in log_records(json_logs)]
    assert "sesd.sqs.receive_abandoned" not in events


async def test_a_receive_in_a_deletes_bound_that_a_cancellation_waits_for_gives_back_its_batch(
    local_sqs: Any, sqs: Any
) -> None:
    """The pollers are cancelled (a reload removed their queue) while the receive made
    in the bound of the batch's delete waits in its long poll: the receive is not cut
    off, and the two messages it brings are released at once (visible again), neither
    handled nor deleted; the batch before it was deleted."""
    logs = sesd_logs("info")
    in_flight = InFlight()
    async with Proxy(local_sqs.port) as proxy:
        poller, pipeline, messages, url, stack = await _received_through(proxy, sqs, in_flight)
        async with stack, anyio.create_task_group() as tg:
            cancelled = anyio.CancelScope()
            done = anyio.Event()

            async def handle() -> None:
                with cancelled:
                    # As the poller's loop does: the batch, then what came after it.
                    brought = await poller._handle(messages, ask=True)
                    assert isinstance(brought, list)
                    assert len(brought) == 2
                    await poller._handle(brought, ask=True)
                done.set()

            tg.start_soon(handle)
            with anyio.fail_after(5):
                await _a_receive_in_flight(in_flight)
                cancelled.cancel()
                later = [f.raw(f.delivery([f"v{i}@two.example"])) for i in range(2)]
                await send_bodies(sqs, url, later)
                await done.wait()
        assert cancelled.cancelled_caught
        assert await queue_counts(sqs, url) == (2, 0)
    records = log_records(logs)
    assert [r["count"] for r in records if r["event"] == "sesd.sqs.released"] == [2]
    # The batch before, handled; not the two the cancelled receive brought.
    assert pipeline.ledger.tallies.messages == {("q", Outcome.PROCESSED): 3}


async def test_a_delete_cut_off_by_its_own_limit_in_a_stall_is_a_counted_failure(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """The network stalls, no stop under way, while a batch's delete is out: its own
    limit cuts it off. That is a failed delete like one the SDK gave up on: counted in
    ``sesd_sqs_errors_total{operation="delete"}`` (during a stall every delete ends so,
    and the series said none failed), and the run of undeleted batches is told when a
    delete works again."""
    monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 0.3)
    async with Proxy(local_sqs.port) as proxy:
        poller, pipeline, messages, url, stack = await _received_through(proxy, sqs, InFlight())
        async with stack:
            proxy.stall()
            with anyio.fail_after(5):
                # The delete alone: a receive beside it would wait in the stall for the
                # SDK's read timeout.
                assert await poller._handle(messages) is sqs_module.NOT_ASKED
            proxy.restore()
            errors = poller._metrics.registry.get_sample_value(
                "sesd_sqs_errors_total",
                {"queue": "q", "account": "default", "region": "us-east-1", "operation": "delete"},
            )
            assert errors == 1
            assert await queue_counts(sqs, url) == (0, 3)  # counted, not deleted
            monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 15.0)
            with anyio.fail_after(5):
                assert await poller._deletes.delete(messages) == 3
    assert pipeline.ledger.tallies.messages[("q", "processed")] == 3
    records = log_records(json_logs)
    (cut,) = [r for r in records if r["event"] == "sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut["level"]) == (3, "warning")
    (recovered,) = [r for r in records if r["event"] == "sesd.sqs.deletes_recovered"]
    assert recovered["after_batches"] == 1
    assert not [r for r in records if r["event"] == "sesd.sqs.receive_abandoned"]


async def _held(in_flight: InFlight, limit: float, cut: list[float], kind: str = "scope") -> None:
    """A call that never answers, in a scope of its own ``limit`` (``kind`` "task": in
    an asyncio task of its own, bounded so, as the delete beside a receive is): when it
    was cut off (the scope is shielded, the task out of every scope's reach: a test's
    own timeout would not reach it; given up after 1.5 s, it fails here)."""
    began = anyio.current_time()
    if kind == "task":
        bound = _in_a_task(in_flight, limit, 1.5)
        assert bound.task is not None
        await asyncio.wait((bound.task,))
        in_flight.unbound(bound)
        assert bound.caught, "not cut off at its limit"
        assert bound.task.cancelled()
    else:
        with in_flight.scope(limit) as scope, anyio.move_on_after(1.5):
            await anyio.sleep_forever()
        assert scope.cancelled_caught, "not cut off at its limit"
    cut.append(anyio.current_time() - began)


def _in_a_task(in_flight: InFlight, limit: float, answer_after: float = 5.0) -> Cut:
    """A call answered after ``answer_after`` seconds, in an asyncio task of its own
    bounded by ``in_flight`` (``limit`` seconds), as the poller makes its delete. Code
    under it takes the first cancellation for its own and waits on (a library's
    cleanup, say): the bound must cut it off all the same."""

    async def call() -> None:
        try:
            await asyncio.sleep(answer_after)
        except asyncio.CancelledError:
            await asyncio.sleep(answer_after)

    bound = in_flight.bound(limit)
    bound.task = asyncio.get_running_loop().create_task(call())
    return bound


_KINDS = ["scope", "task"]


@pytest.mark.parametrize("kind", _KINDS)
async def test_each_delete_is_cut_off_at_its_own_limit_whatever_came_before(kind: str) -> None:
    """Deletes' limits end at the moment each one's own ends, whichever deletes came
    before: one begun while the cut of an earlier one (answered meanwhile) is pending
    runs its whole limit, not to the earlier one's end; one with a shorter limit than a
    call still in flight is cut off at its own, not held to the longer one's. So for a
    delete in a task of its own (beside a receive) as for one in a scope."""
    in_flight = InFlight()
    with in_flight.scope(0.05):
        pass  # answered at once: its cut is pending
    later: list[float] = []
    await _held(in_flight, 0.2, later, kind)
    assert later[0] >= 0.2
    short: list[float] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_held, in_flight, 1.0, [], kind)
        await anyio.lowlevel.checkpoint()  # the long one in flight
        await _held(in_flight, 0.1, short, kind)
        in_flight.cut()  # the long one ends (shielded: the group's cancel would not reach it)
    assert 0.1 <= short[0] < 1.0


async def test_a_call_in_a_task_of_its_own_is_bounded_as_one_in_a_scope() -> None:
    """A call in an asyncio task of its own (the delete beside a receive), out of every
    cancel scope's reach, is cut off by cancelling its task as a call in a scope is:
    the margin (0.1 s) past the grace period's end (0.1 s), whether the stop began
    before the call or during it; at once at a forced exit, even before the task began
    (a cut off delete, not a fault). A cancellation that came otherwise is no cut."""
    in_flight = InFlight(margin=0.1)
    before = _in_a_task(in_flight, 15.0)
    await asyncio.sleep(0)  # the task has begun
    began = anyio.current_time()
    in_flight.end_by(began + 0.1)
    during = _in_a_task(in_flight, 15.0)
    # A delete whose own limit ends with the grace period: the timer cutting it off
    # then leaves the others the margin.
    short = _in_a_task(in_flight, 0.1)
    took: dict[str, float] = {}
    with anyio.fail_after(2):
        for name, bound in (("short", short), ("before", before), ("during", during)):
            assert bound.task is not None
            await asyncio.wait((bound.task,))
            took[name] = anyio.current_time() - began
    assert (before.caught, during.caught, short.caught) == (True, True, True)
    assert took["short"] >= 0.1, took
    assert 0.2 <= took["before"] < 1.0, took
    assert 0.2 <= took["during"] < 1.0, took
    elsewhere = _in_a_task(InFlight(), 15.0)
    assert elsewhere.task is not None
    elsewhere.task.cancel()
    await asyncio.wait((elsewhere.task,))
    assert not elsewhere.caught
    at_once = _in_a_task(in_flight, 15.0)
    in_flight.cut()
    assert at_once.caught
    assert at_once.task is not None
    await asyncio.wait((at_once.task,))
    calls = Calls()
    read_end(at_once.task, calls, at_once)
    assert calls.fault is None
    read_end(elsewhere.task, calls, elsewhere)
    assert isinstance(calls.fault, asyncio.CancelledError)


@pytest.mark.parametrize("kind", _KINDS)
async def test_an_answer_that_comes_as_the_bound_ends_is_read_not_cut_off(kind: str) -> None:
    """A delete's answer comes in the very turn of the event loop its bound ends in (the
    bytes read, not yet the call's code): the call reads it, and a delete SQS made is
    not said cut off; what the call waits for after it (a second try) is cut off at the
    next turn. So for a delete in a task of its own (beside a receive) as for one in a
    scope."""
    in_flight = InFlight()
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    again: asyncio.Future[str] = loop.create_future()  # never answered
    read: list[str] = []

    async def call() -> None:
        read.append(await answer)
        read.append(await again)

    def answered_as_cut() -> None:
        answer.set_result("deleted")
        in_flight.cut()

    with anyio.fail_after(2):
        if kind == "task":
            bound = in_flight.bound(15.0)
            task = bound.task = loop.create_task(call())
            await asyncio.sleep(0)  # the task waits for its answer
            answered_as_cut()
            await asyncio.wait((task,))
            in_flight.unbound(bound)
            assert bound.caught
            assert task.cancelled()
        else:
            with in_flight.scope(15.0) as scope:
                loop.call_soon(answered_as_cut)
                await call()
            assert scope.cancelled_caught
    assert read == ["deleted"]


async def test_a_call_in_a_task_of_its_own_fed_at_every_turn_is_still_cut_off() -> None:
    """A call in a task of its own reads a stream that has more for it at every turn of
    the event loop (an endpoint that sends faster than sesd reads): its bound ends as
    one piece has come, which it reads, and it is cut off at the next turn, not let run
    for as long as the stream lasts."""
    in_flight = InFlight()
    loop = asyncio.get_running_loop()
    waits: list[asyncio.Future[None]] = []

    async def call() -> None:
        while True:  # each piece read, the next waited for
            waits.append(loop.create_future())
            await waits[-1]

    def feed() -> None:
        """The next piece, come at each turn before the bound's next look."""
        if not waits[-1].done():
            waits[-1].set_result(None)
        if len(waits) < 1000:  # the stream's end
            loop.call_soon(feed)

    def fed_as_cut() -> None:
        waits[-1].set_result(None)
        loop.call_soon(feed)
        in_flight.cut()

    bound = in_flight.bound(15.0)
    task = bound.task = loop.create_task(call())
    with anyio.fail_after(2):
        await asyncio.sleep(0)  # the task waits for its first piece
        fed_as_cut()
        await asyncio.wait((task,))
    in_flight.unbound(bound)
    assert task.cancelled()
    assert len(waits) == 2, f"cut off after {len(waits)} pieces"


async def test_a_receives_bound_lifted_leaves_its_scope_shielded_and_unbounded() -> None:
    """The receive made beside a delete answered first: the poller waits for the delete
    in the receive's scope, its bound lifted. A stop's bound, even a forced exit's cut,
    no longer cuts that scope (the delete has its own bound), and a scope the bound cut
    off already is not lifted."""
    in_flight = InFlight()
    with in_flight.scope(margin=False) as receiving:
        assert in_flight.lift(receiving)
        in_flight.end_by(anyio.current_time() - 1)
        in_flight.cut()
        await anyio.lowlevel.checkpoint()
        assert not receiving.cancel_called
        assert receiving.deadline == math.inf
    # A receive begun after the stop, in its bound: lifted, that bound is gone too.
    later = InFlight()
    later.end_by(anyio.current_time() + 60)
    with later.scope(margin=False) as begun_after:
        assert later.lift(begun_after)
        assert begun_after.deadline == math.inf
    with in_flight.scope(margin=False) as cut_off:
        assert not in_flight.lift(cut_off)
        await anyio.lowlevel.checkpoint()
    assert cut_off.cancelled_caught


def test_a_delete_is_cut_off_at_its_limit_in_a_later_event_loop() -> None:
    """The calls of one InFlight in two event loops, one after the other (a daemon's
    run ended, another begun): a cut pending when the first loop ended never comes, and
    a delete in the second is still cut off at its own limit."""
    in_flight = InFlight()

    async def answered() -> None:
        with in_flight.scope(0.05):
            pass

    anyio.run(answered)
    cut: list[float] = []

    anyio.run(_held, in_flight, 0.1, cut)
    assert cut[0] >= 0.1


async def test_a_call_cut_off_in_a_task_of_its_own_is_let_go_once_it_ended() -> None:
    """A delete beside a receive cut off at its limit, its bound ended: nothing of it
    is kept (a poller in a stall cuts one off every batch), nor is it cancelled again
    at each turn of the event loop once it has ended."""
    in_flight = InFlight()
    bound = _in_a_task(in_flight, 0.05, 0.2)
    task = bound.task
    assert task is not None
    await asyncio.wait((task,))
    in_flight.unbound(bound)
    assert bound.caught
    gone = weakref.ref(task)
    del task, bound
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    assert gone() is None
