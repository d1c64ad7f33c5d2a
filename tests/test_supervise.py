"""A fault nobody foresaw in one background task: that task starts again and the rest of
sesd runs on; a fault that ends sesd still leaves the state file saved."""

from __future__ import annotations

import asyncio
import io
import json
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from sesd.config import parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime import supervise
from sesd.runtime.daemon import Daemon
from sesd.runtime.http import StartError
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.state_bytes import read_state
from sesd.runtime.supervise import kept_running, run_once
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.test_routing import RULE, T, _alerting
from tests.test_rules import feed_spike


def _text(local_sqs: Any, url: str, extra: str = "") -> str:
    """A daemon's config: the queue at ``url`` on the local SQS, and ``extra``."""
    return (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n' + extra
    )


def _failures() -> Counter:
    return Counter("failures", "test", ["task"], registry=CollectorRegistry())


async def test_a_failed_task_is_counted_logged_and_run_again_until_it_returns(
    json_logs: io.StringIO,
) -> None:
    """Two faults, then the task ends by itself: counted twice under its name, logged
    twice with the traceback and a hint, and run three times in all. The fault's text
    may quote a stranger's (an SDK error quoting an answer): its address hidden, its
    escapes escaped, cut short, the frames kept."""
    runs = 0
    quoted = "victim@one.example \x1b[2J" + "x" * 10_000

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"fault {runs} for {quoted}")

    failures = _failures()
    with anyio.fail_after(5):
        await kept_running("flaky", flaky, failures, restart_after=0.0)
    assert runs == 3
    assert failures.labels("flaky")._value.get() == 2
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    failed = [r for r in records if r["event"] == "sesd.task.failed"]
    assert [r["task"] for r in failed] == ["flaky", "flaky"]
    assert "RuntimeError: fault 1" in failed[0]["exception"]
    assert "in flaky" in failed[0]["exception"]
    said = json_logs.getvalue()
    assert "victim@" not in said
    assert "\x1b" not in failed[0]["exception"]
    assert len(said) < 5_000
    assert "report it" in failed[0]["hint"]


async def test_a_stop_is_not_a_fault() -> None:
    """Cancelling a kept task (sesd stopping) ends it at once, uncounted."""
    failures = _failures()
    with anyio.move_on_after(0.05):
        await kept_running("sleeper", anyio.sleep_forever, failures, restart_after=0.0)
    assert failures.labels("sleeper")._value.get() == 0


async def test_a_task_done_once_is_counted_and_logged_not_run_again(json_logs: io.StringIO) -> None:
    """A task done once (a queue's check) that raises, or has a future cancelled under
    it, is counted and logged as a kept task is (the error's text cleaned), and
    returns, run once; a stop's cancellation is no fault."""
    runs = 0
    address = "victim@one.example"

    async def check() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RecursionError(f"an answer nested too deep: {address}")
        future = asyncio.get_running_loop().create_future()
        future.cancel()
        await future

    failures = _failures()
    with anyio.fail_after(5):
        await run_once("check", check, failures, queue="q")
        await run_once("check", check, failures, queue="q")
    with anyio.move_on_after(0.05):
        await run_once("check", anyio.sleep_forever, failures)
    assert runs == 2
    assert failures.labels("check")._value.get() == 2
    failed = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert [(r["task"], r["queue"]) for r in failed] == [("check", "q")] * 2
    assert "RecursionError" in failed[0]["exception"]
    assert "victim@" not in json_logs.getvalue()
    assert "not started again" in failed[0]["hint"]


async def test_the_daemon_consumes_on_while_a_task_of_it_fails(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Housekeeping raising (a bug) is counted as a failed task; the queue is consumed
    as before."""

    def broken(self: Pipeline, now: float) -> list[str]:
        raise RuntimeError("housekeeping bug")

    monkeypatch.setattr(Pipeline, "housekeep", broken)
    url, _ = await make_queue(sqs)
    config = parse_config(_text(local_sqs, url))
    async with running(config) as daemon:
        await send_bodies(sqs, url, [f.raw(f.delivery(["a@one.example"]))])
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: sum(daemon.ledger.tallies.messages.values()) > 0)
        failed = daemon.metrics.registry.get_sample_value(
            "sesd_task_failures_total", {"task": "janitor"}
        )
    assert failed == 1
    assert sum(daemon.ledger.tallies.messages.values()) == 1


async def test_a_fault_in_the_canary_is_a_failed_task_not_the_end_of_sesd(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The canary raising (a bug, an answer nobody foresaw) is counted as its task's
    failure; sesd runs on and consumes as before."""
    from sesd.canary.sender import CanarySender

    raised = anyio.Event()

    async def broken(self: CanarySender, stopped: anyio.Event) -> None:
        raised.set()
        raise RuntimeError("canary bug")

    monkeypatch.setattr(CanarySender, "run", broken)
    url, _ = await make_queue(sqs)
    canary = '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "sesd"\nqueue = "q"\n'
    config = parse_config(_text(local_sqs, url, canary))
    async with running(config) as daemon:
        with anyio.fail_after(20):
            await raised.wait()
            await send_bodies(sqs, url, [f.raw(f.delivery(["a@one.example"]))])
            await daemon.changes.wait_for(lambda: sum(daemon.ledger.tallies.messages.values()) > 0)
        failed = daemon.metrics.registry.get_sample_value(
            "sesd_task_failures_total", {"task": "canary"}
        )
    assert failed == 1


async def test_an_evaluation_that_raises_is_counted_and_the_next_one_runs(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in one evaluation (a rule, an answer nobody foresaw) is counted in
    sesd_evaluation_errors_total and logged; the evaluations go on at their pace."""
    from sesd.alerting.evaluator import Evaluator

    real, calls = Evaluator.evaluate, []
    again = anyio.Event()

    def flaky(self: Evaluator, ledger: Any, now: float) -> Any:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("evaluation bug")
        again.set()
        return real(self, ledger, now)

    monkeypatch.setattr(Evaluator, "evaluate", flaky)
    url, _ = await make_queue(sqs)
    config = parse_config(_text(local_sqs, url, '[alerts]\nevaluate_every = "100ms"\n'))
    async with running(config) as daemon:
        with anyio.fail_after(20):
            await again.wait()
        errors = daemon.metrics.registry.get_sample_value("sesd_evaluation_errors_total")
    assert errors == 1


async def test_a_reload_that_raises_is_a_failed_reload_not_the_end_of_sesd(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug while applying a reload (not a config error): logged, counted as a failed
    reload (SesdReloadFailed), and sesd runs on with the config it had."""
    from sesd.config import load_config
    from sesd.runtime import reload as reload_module

    def broken(old: Any, new: Any) -> Any:
        raise RuntimeError("reload bug")

    monkeypatch.setattr(reload_module, "merge", broken)
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(_text(local_sqs, url))
    async with running(load_config(path), config_path=path) as daemon:
        before = daemon.config
        await daemon._reloader.on_signal()
        registry = daemon.metrics.registry
        assert registry.get_sample_value("sesd_config_last_reload_successful") == 0
        assert daemon.config is before
        await send_bodies(sqs, url, [f.raw(f.delivery(["a@one.example"]))])
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: sum(daemon.ledger.tallies.messages.values()) > 0)


async def test_a_fault_that_ends_the_daemon_still_saves_the_state(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The consumers fail in a way nothing handles: sesd ends with the error, after
    saving what its windows hold (the restart that follows loses nothing), the file
    still its own while it saves: another sesd taking it then is refused (let go
    before the save, another could restore the older file, and have it overwritten)."""
    from sesd.runtime.saver import StateSaver as Saver
    from sesd.runtime.state_lock import hold, let_go

    taken_while_saving: list[bool] = []
    save_last = Saver.save_last

    async def save_last_watched(self: Saver, within: float, after: str = "stop") -> None:
        if after == "fault":
            try:
                let_go(hold(str(state)))
            except StartError:
                taken_while_saving.append(False)
            else:
                taken_while_saving.append(True)
        await save_last(self, within, after)

    monkeypatch.setattr(Saver, "save_last", save_last_watched)
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, [f.raw(f.delivery(["a@one.example"]))])
    state = tmp_path / "state.bin"
    config = parse_config(_text(local_sqs, url, f'[state]\npath = "{state}"\n'))
    original = Daemon.consume

    async def consume_then_fail(self: Daemon) -> float:
        async def stop_once_counted() -> None:
            await self.changes.wait_for(lambda: sum(self.ledger.tallies.messages.values()) > 0)
            self.stop()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_once_counted)
            await original(self)
        raise RuntimeError("consumers bug")

    monkeypatch.setattr(Daemon, "consume", consume_then_fail)
    with pytest.raises(BaseExceptionGroup) as raised, anyio.fail_after(30):
        async with running(config):
            await anyio.sleep_forever()  # until the fault ends the daemon
    assert raised.group_contains(RuntimeError, match="consumers bug")
    blob = read_state(str(state))
    assert blob is not None
    assert b"one.example" in blob
    assert taken_while_saving == [False]


async def test_a_cancellation_nobody_asked_for_is_a_fault(json_logs: io.StringIO) -> None:
    """A library's future cancelled under the task that awaited it raises
    ``CancelledError`` there though no stop was asked: counted and run again like any
    fault, not the task's silent end."""
    runs = 0

    async def cancelled_under() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            await future

    failures = _failures()
    with anyio.fail_after(5):
        await kept_running("cancelled", cancelled_under, failures, restart_after=0.0)
    assert runs == 2
    assert failures.labels("cancelled")._value.get() == 1
    failed = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert [r["task"] for r in failed if r["event"] == "sesd.task.failed"] == ["cancelled"]


async def test_a_cancellation_nobody_asked_for_in_a_receive_restarts_that_poller(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future cancelled under a queue's receive (the HTTP client's) raises
    ``CancelledError`` in its poller though no stop was asked: counted as a fault of
    the poller, logged with its queue, and the poller starts again and reads what is
    sent next. Let pass, the queue's task group took it for a cancel and the queue was
    read no more, said in one line at info level."""
    monkeypatch.setattr(supervise, "RESTART_AFTER", 0.0)
    receive = QueuePoller._receive
    planted = [True]

    async def cancelled_under(self: QueuePoller) -> Any:
        if planted:
            planted.pop()
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            await future
        return await receive(self)

    monkeypatch.setattr(QueuePoller, "_receive", cancelled_under)
    url, _ = await make_queue(sqs)
    config = parse_config(_text(local_sqs, url))
    with capture_logs() as logs:
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: not planted)
            await send_bodies(sqs, url, [f.raw(f.delivery(["a@one.example"]))])
            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: sum(daemon.ledger.tallies.messages.values()) > 0
                )
            failed = daemon.metrics.registry.get_sample_value(
                "sesd_task_failures_total", {"task": "poller"}
            )
    assert failed == 1
    faults = [(e["task"], e["queue"]) for e in logs if e["event"] == "sesd.task.failed"]
    assert faults == [("poller", "q")]


async def test_a_stop_while_a_poller_waits_to_restart_ends_it_at_once() -> None:
    """A stop that lands while a failed task waits out its pause before starting again
    ends the wait: a stopping queue does not hold the stop for the pause."""
    until = anyio.Event()
    runs = 0

    async def fails() -> None:
        nonlocal runs
        runs += 1
        until.set()
        raise RuntimeError("fault")

    with anyio.fail_after(5):
        await kept_running("poller", fails, _failures(), restart_after=3600.0, until=until)
    assert runs == 1


@pytest.mark.parametrize(("draw", "pause"), [(0.0, 80.0), (0.5, 100.0), (1.0, 120.0)])
async def test_tasks_that_fail_together_restart_apart(
    draw: float, pause: float, json_logs: io.StringIO
) -> None:
    """Every poller of a queue meets the same fault at once: each waits the pause give or
    take a fifth, drawn apart, so they do not all start again, and fail, in step. (The
    stop ends the wait: nothing waits here.)"""
    until = anyio.Event()

    async def fails() -> None:
        until.set()
        raise RuntimeError("fault")

    with anyio.fail_after(5):
        await kept_running(
            "poller", fails, _failures(), restart_after=100.0, until=until, rand=lambda: draw
        )
    (failed,) = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert failed["restart_in_seconds"] == pytest.approx(pause)


async def test_a_stop_while_a_task_restarts_after_a_fault_is_a_stop() -> None:
    """A stop that lands while the task awaits inside its run, after an earlier fault,
    still ends it: only the fault is counted. The stop comes once the second run
    awaits, not after a time: a loaded machine can stall the process for longer than
    the restart takes, and a stop that came first was a stop before the restart."""
    runs = 0
    awaiting = anyio.Event()

    async def fails_then_waits() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("fault")
        awaiting.set()
        await anyio.sleep_forever()

    failures = _failures()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                partial(kept_running, "waiter", fails_then_waits, failures, restart_after=0.0)
            )
            await awaiting.wait()
            tg.cancel_scope.cancel()
    assert runs == 2
    assert failures.labels("waiter")._value.get() == 1


async def test_a_fault_after_a_page_is_delivered_leaves_alerting_running() -> None:
    """Saving the state after a delivered page raises (a bug): counted as a failure of
    the alerting task and logged; the evaluations and the console's outbox run on and
    deliver the next page. Raised, it ended alerting (every sink's outbox with it)."""
    alerting, pipeline, _ = _alerting('[alerts]\ngroup_wait = "0s"\n' + RULE)
    planted = [RuntimeError("a bug after the delivery")]

    def save_soon() -> None:
        if planted:
            raise planted.pop()

    alerting.on_notified = save_soon
    with capture_logs() as logs, anyio.fail_after(10):
        async with aiohttp.ClientSession() as session, anyio.create_task_group() as tg:
            alerting.open(session)
            outbox = alerting.outboxes["console"]
            tg.start_soon(alerting.run)
            for domain in ("a.example", "b.example"):
                feed_spike(pipeline, domain, T, 6, 4)
                alerting.evaluate()
                await outbox.wait_empty()
            tg.cancel_scope.cancel()
    sent = alerting.notifications.labels("console", "sent")._value.get()
    assert sent == 2
    assert alerting.faults._value.get() == 1
    assert [e["rule"] for e in logs if e["event"] == "sesd.notify.followup_failed"] == ["delays"]
