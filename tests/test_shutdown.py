"""Stopping: nothing lost, nothing left invisible, exit 0."""

from __future__ import annotations

import gc
import io
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from aiohttp import ClientSession
from anyio.streams.buffered import BufferedByteReceiveStream

from sesd.alerting.sink_map import sink_session
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.status_table import table
from sesd.config import Config, load_config, parse_config, read_secrets
from sesd.runtime.daemon import Daemon
from sesd.runtime.exit_room import TAIL, ExitRoom
from sesd.runtime.http import http_server
from sesd.status.document import Status
from tests import factory as f
from tests.conftest import log_records, make_queue, queue_counts, running, send_bodies, sesd_logs
from tests.dns_server import hermetic, hermetic_text
from tests.sesd_process import config_file, sesd_process
from tests.test_reload_calls_in_flight import _OLD, Standing, _config_at


async def _wait_for_log(stream: BufferedByteReceiveStream, event: str) -> list[dict[str, Any]]:
    """Read JSON log lines until one has ``event``; returns all lines read."""
    seen: list[dict[str, Any]] = []
    while True:
        try:
            line = await stream.receive_until(b"\n", 1 << 20)
        except anyio.EndOfStream:
            raise AssertionError(f"log ended before {event}: {seen}") from None
        record = json.loads(line)
        seen.append(record)
        if record.get("event") == event:
            return seen


async def _long_polling(daemon: Daemon, receives: int = 1) -> None:
    """Until ``receives`` receives are in flight at once: with no message waiting, a
    receive is all a poller has in flight. Not until a receive has answered: a queue's
    first long poll, on an empty queue, answers after its whole wait (5 s for nothing)."""
    with anyio.fail_after(20):
        while len(daemon.in_flight._scopes) < receives:
            await anyio.lowlevel.checkpoint()


@pytest.mark.timeout(90)
async def test_sigterm_under_load_loses_nothing(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """SIGTERM while `sesd run` drains 600 messages: it exits 0, every message is either
    processed and deleted or visible again at once, and none is left in flight."""
    url, _ = await make_queue(sqs, visibility=300)
    total = 600
    await send_bodies(sqs, url, [f.sns(f.delivery([f"u{i}@one.com"])) for i in range(total)])
    config = tmp_path / "sesd.toml"
    config.write_text(
        hermetic_text(
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nconcurrency = 3\nwait_time_seconds = 2\n'
            '[http]\nlisten = "127.0.0.1:0"\n[logging]\nformat = "json"\nlevel = "debug"\n'
            '[shutdown]\ngrace_period = "20s"\n'
        )
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    async with await anyio.open_process(
        [sys.executable, "-m", "sesd", "run", "--config", str(config)],
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        assert process.stderr is not None
        logs = BufferedByteReceiveStream(process.stderr)
        try:
            with anyio.fail_after(30):
                await _wait_for_log(logs, "sesd.daemon.started")
                await _wait_for_log(logs, "sesd.sqs.batch")  # busy: a batch is done
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                records = await _wait_for_log(logs, "sesd.daemon.stopped")
                code = await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
    assert code == 0
    stopped = records[-1]
    processed = stopped.get("processed", 0)
    visible, in_flight = await queue_counts(sqs, url)
    assert in_flight == 0
    assert visible + processed == total
    assert 0 < processed < total, "SIGTERM should land mid-drain"
    assert not [r for r in records if r.get("level") == "error"]


async def test_a_long_poll_in_flight_on_a_queue_a_reload_removes_is_released(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload removes a queue with no grace left: its long poll in flight is not cut
    off (the network is well: SQS would hide what it took until the visibility
    timeout); it returns, and the messages it brings are made visible again at once
    instead of hiding until their timeout."""
    logs = sesd_logs()
    url, _ = await make_queue(sqs, visibility=300)
    kept, _ = await make_queue(sqs)
    text = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{kept}"\nname = "kept"\nwait_time_seconds = 1\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "0s"\n'
    )
    path = tmp_path / "sesd.toml"
    path.write_text(text + f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 5\n')
    daemon: Daemon
    async with running(load_config(str(path)), config_path=path) as daemon:
        await _long_polling(daemon, 2)  # ``q``'s 5 s long poll, and ``kept``'s
        path.write_text(text)
        assert await daemon.reload()
        await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.com"])) for i in range(3)])
        # The kept queue's empty receives (one a second) say a change each time.
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "sesd.queue.stopped" in logs.getvalue())
    released = [
        line["count"]
        for line in log_records(logs)
        if line["event"] == "sesd.sqs.released" and line.get("queue") == "q"
    ]
    # The receive in flight did bring some (a long poll may wake on the first of the
    # three, or on all), given back at once...
    assert len(released) == 1
    assert 1 <= released[0] <= 3
    # (counted in no series of the removed queue: the reload dropped them)
    received = daemon.metrics.registry.get_sample_value(
        "sesd_sqs_messages_received_total",
        {"queue": "q", "account": "default", "region": "us-east-1"},
    )
    assert received is None
    assert daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 0
    # ...and they are visible again at once, with the others: none is left hidden.
    assert await queue_counts(sqs, url) == (3, 0)


async def test_a_stop_with_no_grace_left_abandons_its_long_poll_at_once(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """A stop with no grace left: the long poll in flight is abandoned then, as the
    grace period promises, not a moment later; nothing it might bring is counted."""
    logs = sesd_logs()
    url, _ = await make_queue(sqs, visibility=300)
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 5\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "0s"\n'
    )
    daemon: Daemon
    async with running(config) as daemon:
        await _long_polling(daemon)  # a 5 s long poll
        daemon.stop()
        await send_bodies(sqs, url, [f.raw(f.delivery([f"u{i}@one.com"])) for i in range(3)])
    assert "sesd.sqs.receive_abandoned" in [r["event"] for r in log_records(logs)]
    received = daemon.metrics.registry.get_sample_value(
        "sesd_sqs_messages_received_total",
        {"queue": "q", "account": "default", "region": "us-east-1"},
    )
    assert not received
    assert daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 0


async def _cancelled_once_read(config: Config, *, stop: bool = False) -> float:
    """Run a daemon on ``config`` in a task group of its own, and cancel that group once
    the daemon has read its queue (each AWS client makes its HTTP session at its first
    call), or, long-polled, once it has asked it (a second long poll would take its
    time again); return as the daemon ends, nothing left holding it, with the seconds
    it took to end. ``stop``: stopped (:meth:`Daemon.stop`) instead of cancelled."""
    daemon = Daemon(read_secrets(hermetic(config)), console=io.StringIO())
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(partial(daemon.run, handle_signals=False))
            if config.queues[0].wait_time_seconds:
                while not daemon.in_flight._scopes:  # a receive in flight
                    await anyio.lowlevel.checkpoint()
            else:
                await daemon.changes.wait_for(lambda: "q" in daemon.health.last_receive)
            ended_from = anyio.current_time()
            if stop:
                daemon.stop()
            else:
                tg.cancel_scope.cancel()
    assert daemon.ledger.tallies.messages == {}
    return anyio.current_time() - ended_from


# Not ended, a daemon is not cancelled either: the test's fail_after cannot end it.
@pytest.mark.timeout(20)
@pytest.mark.parametrize("wait", [0, 1], ids=["short_poll", "long_poll"])
async def test_a_cancelled_daemon_closes_its_http_sessions(
    local_sqs: LocalSqs, sqs: Any, short_polls: None, wait: int
) -> None:
    """A daemon's task cancelled, not stopped (a KeyboardInterrupt through anyio.run, a
    program's task group that runs it cancelled) once it has read its queue, or with a
    long poll of the empty queue in flight: it ends (as that receive answers), and its
    sinks' HTTP session and its AWS clients' are closed all the same. Each close was
    cancelled at its first await: what it left held its sockets until the collector
    found it, and then said "Unclosed client session". Long-polled, it never ended:
    from one shielded receive to the next, for as long as the queue stayed empty."""
    config = await _queue_config(local_sqs, sqs, wait)
    before = _sessions()
    await _cancelled_once_read(config)
    _none_left_open(before)


async def _queue_config(local_sqs: LocalSqs, sqs: Any, wait: int) -> Config:
    """A daemon's config reading a new queue, long-polled ``wait`` seconds."""
    url, _ = await make_queue(sqs)
    return parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = {wait}\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )


def _sessions() -> set[int]:
    """The aiohttp sessions alive now (their ids)."""
    return {id(found) for found in gc.get_objects() if isinstance(found, ClientSession)}


def _none_left_open(before: set[int]) -> None:
    """No aiohttp session made since ``before`` is left open: none the collector finds
    unclosed, none still held open."""
    gc.unfreeze()  # what the daemon froze once started (sesd.runtime.collector)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    # Those not collected yet (a callback of the event loop's still holds them).
    left = [s for s in gc.get_objects() if isinstance(s, ClientSession) and id(s) not in before]
    assert [session for session in left if not session.closed] == []


def _hung(opens: Callable[..., AbstractAsyncContextManager[Any]]) -> Callable[..., Any]:
    """``opens`` (what the start opens), whose close does not end until it is cut off;
    then it closes."""

    @asynccontextmanager
    async def hung(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with opens(*args, **kwargs) as opened:
            try:
                yield opened
            finally:
                await anyio.sleep_forever()

    return hung


@pytest.mark.parametrize("stop", [False, True], ids=["cancelled", "stopped"])
async def test_a_daemon_whose_closes_hang_still_closes_the_rest_and_ends(
    local_sqs: LocalSqs,
    sqs: Any,
    short_polls: None,
    monkeypatch: pytest.MonkeyPatch,
    stop: bool,
) -> None:
    """A daemon cancelled or stopped while the close of its sinks' session (closed
    first) and of its HTTP server (closed last) hang: each is cut off within its share
    of the closes' plan (here 0.6 s) and said so by name; the AWS clients, closed between
    them, are closed all the same, none left for the collector; and the daemon ends
    within the plan. Bounded only as a whole, the sinks' close held the room to its
    end and every AWS client was left open."""
    logs = sesd_logs()
    room = partial(ExitRoom, 0.6 + TAIL)  # the closes' plan: 0.6 s
    monkeypatch.setattr("sesd.runtime.daemon.ExitRoom", room)
    monkeypatch.setattr("sesd.runtime.daemon.http_server", _hung(http_server))
    monkeypatch.setattr("sesd.runtime.daemon.sink_session", _hung(sink_session))
    config = await _queue_config(local_sqs, sqs, 0)
    before = _sessions()
    took = await _cancelled_once_read(config, stop=stop)
    # Two closes cut off, each at its own full EXIT_ROOM, would take twice as long.
    assert took < 0.6 * 1.5
    _none_left_open(before)
    cut_off = [
        record["what"]
        for record in log_records(logs)
        if record["event"] == "sesd.daemon.close_cut_off"
    ]
    assert cut_off == ["sinks_session", "http_server"]


@pytest.mark.timeout(60)
async def test_a_second_signal_exits_at_once_with_130(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """SIGTERM starts the drain, which waits for a 20 s long poll in flight; a second
    SIGTERM ends sesd at once with exit code 130, the state saved first (the pages
    still owed and what the windows hold: no periodic save came yet). The first one's
    log line says the wait and the way out: at a terminal, a Ctrl-C on an idle queue
    was followed by up to 20 s of silence, `sesd.daemon.stopping` and nothing more."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 20\n'
        f'[shutdown]\ngrace_period = "30s"\n[state]\npath = "{state}"\n',
    )
    async with sesd_process(config) as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(10):
            stopping = await sesd.wait_for_event("sesd.daemon.stopping")
        started = time.monotonic()
        assert stopping.get("grace_seconds") == 30
        assert "(within 30s); a second signal exits now" in stopping.get("hint", "")
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(10):
            await sesd.wait_for_event("sesd.daemon.forced_exit")
            code = await sesd.process.wait()
    assert code == 130
    assert time.monotonic() - started < 10  # not the 20 s long poll, nor the grace
    assert state.stat().st_size > 0


@pytest.mark.timeout(60)
async def test_a_sigterm_while_sesd_starts_stops_it_once_it_can(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A SIGTERM while sesd loads its state file: not dropped (sesd is PID 1 in a
    container, and PID 1 ignores a signal it has no handler for) nor fatal; once the
    load returns, sesd stops (the start given up, or the stop begun if the start was
    done): exit 0."""
    url, _ = await make_queue(sqs)
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[state]\npath = "{tmp_path / "state.bin"}"\n',
    )
    # Starting, no signal watcher yet.
    async with sesd_process(config, until="sesd.state.none_yet") as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            await sesd.wait_for_event("sesd.daemon.stopped")
            code = await sesd.process.wait()
    assert code == 0
    # Held ("during": "start"), or taken by the watcher if start-up was that quick.
    signals = [r["signal"] for r in sesd.records if r["event"] == "sesd.daemon.signal"]
    assert signals == ["SIGTERM"]


async def test_a_stop_whose_last_save_failed_exits_1(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """The state file's path became a directory while sesd ran: the stop's save fails,
    the file on disk is not what sesd stopped with, and the exit status says so (a
    supervisor shows the stop failed); a stop that saved exits 0."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state.bin"
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[state]\npath = "{state}"\n',
    )
    for breaks, expected in ((False, 0), (True, 1)):
        if breaks:
            # Gone before the start: a start from a cleanly stopped file saves at once,
            # and that save could put the file back between an unlink and the mkdir.
            state.unlink()
        async with sesd_process(config) as sesd:
            if breaks:
                (state / "in-the-way").mkdir(parents=True)
            sesd.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                await sesd.wait_for_event("sesd.daemon.stopped")
                code = await sesd.process.wait()
        assert code == expected
        failed = [r for r in sesd.records if r.get("event") == "sesd.state.save_failed"]
        assert bool(failed) is breaks


@pytest.mark.timeout(90)
async def test_a_start_after_a_kill_says_the_last_run_did_not_stop_cleanly(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """SIGKILL after a periodic save: the next start warns that the last run did not
    stop cleanly, when its last save was and what is lost since; after a SIGTERM's
    stop (its save is the last), the start after says nothing of the kind, but saves at
    once, so a kill before its first period is told by the start after it too."""
    url, _ = await make_queue(sqs)
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        f'[state]\npath = "{tmp_path / "state.bin"}"\nsave_every = "1s"\n',
    )
    async with sesd_process(config) as sesd:
        with anyio.fail_after(20):
            await sesd.wait_for_event("sesd.state.saved")
        sesd.process.send_signal(signal.SIGKILL)
        assert await sesd.process.wait() == -signal.SIGKILL
    async with sesd_process(config) as sesd:
        (restored,) = [r for r in sesd.records if r["event"] == "sesd.state.restored"]
        (unclean,) = [r for r in sesd.records if r["event"] == "sesd.state.unclean_stop"]
        assert unclean["level"] == "warning"
        assert unclean["saved_at"].startswith(
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(restored["saved_at"]))
        )
        assert 0 <= unclean["saved_ago_seconds"] < 30
        assert "did not stop cleanly" in unclean["hint"]
        assert "will get no resolve from sesd" in unclean["hint"]
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await sesd.process.wait() == 0
    config.write_text(config.read_text().replace('save_every = "1s"', 'save_every = "1h"'))
    async with sesd_process(config) as sesd:
        assert [r for r in sesd.records if r["event"] == "sesd.state.restored"]
        assert [r for r in sesd.records if r["event"] == "sesd.state.unclean_stop"] == []
        with anyio.fail_after(20):
            await sesd.wait_for_event("sesd.state.saved")
        sesd.process.send_signal(signal.SIGKILL)
        assert await sesd.process.wait() == -signal.SIGKILL
    async with sesd_process(config) as sesd:
        assert [r for r in sesd.records if r["event"] == "sesd.state.unclean_stop"]


@pytest.mark.usefixtures("quick_sdk_retries")  # its subject is the drain, not the SDK's pauses
async def test_a_stopping_daemon_says_it_is_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop begins while ``q``'s receive waits (its check answered: ready): until the
    exit, /readyz answers 503 "stopping", ``STATUS=`` says draining and the status API
    and ``sesd status`` say not ready, stopping: a load balancer sends no more to a
    daemon going away, and nobody reads "ready" on it. All said ready through the
    drain, up to a minute after its last receive. ``sesd_queue_ready`` stays the
    queue's, 1: it is what SesdQueueUnread counts replicas by, and in a fleet's
    rolling update one replica draining after another would keep that critical
    alert pending through the whole rollout, a page for a routine stop."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    async with Standing() as sqs:
        sqs.answer.set()
        config = parse_config(_config_at(sqs, _OLD.format(url=sqs.url), grace="30s"))
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await sqs.receiving.wait()
                await daemon.changes.wait_for(lambda: daemon.health.ready(daemon.monotonic())[0])
            base = f"http://127.0.0.1:{daemon.http_port}"
            daemon.stop()
            async with ClientSession() as session:
                async with session.get(f"{base}/readyz") as answer:
                    readyz = (answer.status, await answer.text())
                async with session.get(f"{base}/api/v1/status") as answer:
                    doc = msgspec.json.decode(await answer.read(), type=Status)
            ready = daemon.metrics.registry.get_sample_value("sesd_queue_ready", {"queue": "q"})
            summary = daemon.health.summary(daemon.monotonic)
            sqs.receives.set()
    assert readyz == (503, "not ready: stopping (draining what was received)\n")
    assert ready == 1.0
    assert summary == "draining"
    assert (doc.sesd.ready, doc.sesd.stopping, doc.sesd.not_ready) == (False, True, [])
    assert "NOT READY (stopping)" in table(doc).splitlines()[0]
