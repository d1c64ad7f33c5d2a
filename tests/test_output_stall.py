"""A reader of standard output that stalls without closing it (`sesd run | less` left
paused, a blocked log driver taking both streams): the console sink's alerts and `sesd
demo`'s summaries wait in a bounded buffer, as the log lines do (tests/test_log_stall.py),
and sesd goes on: it polls, answers /healthz, alerts through its other sinks and stops
on SIGTERM. What the buffer cannot hold is dropped: a console alert dropped is the
console sink's failed notification, and a line says where output was left out.

Each process test puts sesd's standard output on a real pipe whose reader does not
read, full from the start. Should a write block the event loop, a bound ends the wait
and the test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from structlog.testing import capture_logs

from sesd.alerting.sinks import ConsoleSink
from sesd.commands.demo.localsqs import LocalSqs, free_port
from sesd.io.logs import (
    buffer_output,
    dropped_lines,
    flush_logs,
    print_line,
    unbuffer_output,
)
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import Receiver
from tests.sesd_process import SesdProcess, config_file, sesd_process
from tests.test_log_stall import BOUND, _full_pipe, _Reader
from tests.test_sinks import Sleeps, delivering, notification, outcomes

#: The stop's grace period in the configs here: a stop must end well within it.
GRACE = 10.0


async def _healthz(port: int) -> int:
    timeout = aiohttp.ClientTimeout(total=BOUND)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as health,
    ):
        return health.status


async def _stops_within_grace(sesd: SesdProcess) -> int:
    """SIGTERM, then the exit status, which must come well within the grace period."""
    started = time.monotonic()
    sesd.process.send_signal(signal.SIGTERM)
    with anyio.fail_after(BOUND):
        await sesd.wait_for_event("sesd.daemon.stopped")
        code = await sesd.process.wait()
    assert time.monotonic() - started < GRACE
    return code


@pytest.mark.timeout(120)
async def test_sesd_run_alerts_elsewhere_and_stops_while_its_stdout_reader_stalls(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """`sesd run` with a rule posting to the console and to Slack, standard output on a
    pipe nobody reads, full from the start. A delay spike fires the rule: Slack gets the
    alert, /healthz answers 200, the console's copy counts as sent (it waits in sesd's
    buffer), and SIGTERM stops sesd with exit 0 within its grace period, though what it
    holds for standard output can never be written."""
    url, _ = await make_queue(sqs)
    read, write = _full_pipe()
    try:
        async with Receiver("slack") as slack:
            config = config_file(
                tmp_path,
                f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
                f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
                f'[shutdown]\ngrace_period = "{GRACE:g}s"\n'
                '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
                f'[alerts.slack]\nwebhook_url = "{slack.url}"\n'
                '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
                'above = 0.5\nmin_events = 1\nsinks = ["console", "slack"]\n',
            )
            async with sesd_process(config, stdout=write) as sesd:
                os.close(write)
                write = -1
                now = time.time()
                await send_bodies(sqs, url, [f.raw(f.delay(["d@a.example"], at=now))])
                with anyio.fail_after(BOUND):
                    await slack.wait_for(1)
                    await sesd.wait_for(
                        lambda r: (
                            r.get("event") == "sesd.notify.sent" and r.get("sink") == "console"
                        )
                    )
                assert await _healthz(sesd.port or 0) == 200
                metrics = await sesd.metrics()
                sent = ("sesd_notifications_total", (("outcome", "sent"), ("sink", "console")))
                assert metrics[sent] == 1
                assert await _stops_within_grace(sesd) == 0
    finally:
        if write >= 0:
            os.close(write)
        os.close(read)


@pytest.mark.timeout(120)
async def test_sesd_demo_answers_and_stops_while_its_stdout_reader_stalls() -> None:
    """`sesd demo` (which prints its page's address, a summary every 0.2 s and the
    alerts of its spike) with standard output on a pipe nobody reads, full from the
    start: it serves /healthz, raises its spike's alert, and a SIGTERM stops it with exit
    0 within a few seconds."""
    port = free_port()
    read, write = _full_pipe()
    command = [sys.executable, "-m", "sesd", "demo", "--listen", f"127.0.0.1:{port}"]
    command += ["--every", "0.2", "--spike-after", "1", "--rate", "80", "--pause-after", "2"]
    try:
        async with await anyio.open_process(
            command, stdout=write, stderr=subprocess.PIPE
        ) as process:
            os.close(write)
            write = -1
            demo = SesdProcess(process)
            try:
                with anyio.fail_after(BOUND):
                    await demo.wait_for_event("sesd.daemon.started")
                assert await _healthz(port) == 200
                with anyio.fail_after(BOUND):
                    await demo.wait_for(
                        lambda r: (
                            r.get("event") == "sesd.notify.sent" and r.get("sink") == "console"
                        )
                    )
                assert await _stops_within_grace(demo) == 0
            finally:
                if process.returncode is None:
                    process.kill()
    finally:
        if write >= 0:
            os.close(write)
        os.close(read)


async def test_a_console_alert_the_buffer_cannot_hold_is_a_failed_notification() -> None:
    """Standard output's buffer full behind a reader that does not read: the console
    sink's next alert is dropped, counted as its failed notification (as any sink's lost
    one, which SesdNotificationsFailing watches) and logged as sesd.notify.failed; the
    log's sesd_log_lines_dropped_total does not count it. Once the reader reads, the
    lines come in order, then one line saying how many were left out, then what was
    printed after."""
    read, write = _full_pipe()
    stream = os.fdopen(write, "w")
    buffer_output(stream)
    reader = _Reader(read)
    log_dropped = dropped_lines()
    try:
        held = 0
        while print_line(f"summary {held} " + "x" * 1000):
            held += 1
            assert held < 10_000, "the buffer never filled"
        with capture_logs() as logs:
            async with delivering(ConsoleSink(), Sleeps()) as (box, counter):
                box.put(notification())
                with anyio.fail_after(BOUND):
                    await box.wait_empty()
        assert outcomes(counter, "console")["failed"] == 1
        assert [r["event"] for r in logs if r["log_level"] == "error"] == ["sesd.notify.failed"]
        assert dropped_lines() == log_dropped
        reader.start()
        assert await anyio.to_thread.run_sync(flush_logs, BOUND)
        assert print_line("after")
    finally:
        reader.start()
        unbuffer_output()  # writes what it holds, the reader reading
        stream.close()
    lines = reader.lines()
    assert [line.split()[1] for line in lines[:held]] == [str(i) for i in range(held)]
    assert lines[held:] == [
        "sesd: 2 messages left out here: standard output's reader took none while sesd's "
        "buffer filled",
        "after",
    ]


async def test_a_console_alert_after_stdouts_reader_closed_is_a_failed_notification() -> None:
    """Standard output is a real pipe whose reader has closed it (`sesd run | head`
    after head exited) while sesd wrote nothing since. The console sink's next alert
    cannot be written (EPIPE): it is the sink's failed notification, logged as
    sesd.notify.failed, from the first one on, not counted as sent because it fitted
    in the buffer; so is the one after it."""
    read, write = os.pipe()
    stream = os.fdopen(write, "w")
    buffer_output(stream)
    try:
        assert print_line("read before the reader went")
        assert await anyio.to_thread.run_sync(flush_logs, BOUND)
        os.close(read)
        read = -1
        with capture_logs() as logs:
            async with delivering(ConsoleSink(), Sleeps()) as (box, counter):
                box.put(notification())
                with anyio.fail_after(BOUND):
                    await box.wait_empty()
                first = outcomes(counter, "console")
                assert (first["failed"], first["sent"]) == (1, 0)
                box.put(notification())
                with anyio.fail_after(BOUND):
                    await box.wait_empty()
        assert outcomes(counter, "console")["failed"] == 2
        assert outcomes(counter, "console")["sent"] == 0
        failed = [r["event"] for r in logs if r["log_level"] == "error"]
        assert failed == ["sesd.notify.failed"] * 2
    finally:
        unbuffer_output()
        with contextlib.suppress(BrokenPipeError):  # what it holds cannot be flushed
            stream.close()
        if read >= 0:
            os.close(read)
