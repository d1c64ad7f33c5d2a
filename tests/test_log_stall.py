"""A log reader that stalls without closing the stream (journald or a container's log
driver blocked, `sesd run 2>&1 | less` left paused): the daemon goes on, its lines wait
in a bounded buffer, what does not fit is dropped and said, and the exit is not held.

Each test puts sesd's log on a real pipe whose reader does not read, full from the
start. Should a write block the event loop, a bound ends the wait and the test fails."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import anyio
import anyio.lowlevel
import pytest

from sesd.commands.demo.localsqs import free_port
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.io.log_stream import BUFFER_CHARS, Buffered, Lasting
from sesd.io.logs import configure_logging, dropped_lines, flush_logs, get_logger
from sesd.metrics.registry import Metrics
from tests.dns_server import hermetic_text

#: How long a test lets a stalled event loop go before it reads the pipe itself (so
#: that it fails rather than hangs): far longer than any of these steps takes.
BOUND = 30.0


def _full_pipe() -> tuple[int, int]:
    """A pipe (read end, write end) whose buffer is full: the next write blocks."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write, b"\n" * 4096)  # empty lines, which the reader skips
    os.set_blocking(write, True)
    return read, write


class _Reader:
    """The pipe's reader, once it starts reading: everything until the end of the pipe."""

    def __init__(self, fd: int) -> None:
        self.data = bytearray()
        self._fd = fd
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._started = threading.Lock()

    def start(self) -> bool:
        """Start reading (once); whether this call started it."""
        if not self._started.acquire(blocking=False):
            return False
        self._thread.start()
        return True

    def _read(self) -> None:
        while chunk := os.read(self._fd, 1 << 16):
            self.data += chunk

    def lines(self) -> list[str]:
        """Every line read up to the end of the pipe, but the empty ones."""
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the pipe did not end"
        return [line for line in self.data.decode().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        """Every log line read, up to the end of the pipe."""
        return [json.loads(line) for line in self.lines()]


def _number(record: dict[str, Any]) -> int:
    """The line's number, from sesd's own lines and from the standard library's."""
    return int(record["i"]) if "i" in record else int(record["event"].split()[1])


async def test_a_stalled_log_reader_holds_no_task_and_dropped_lines_are_said() -> None:
    """The daemon logs 6,000 lines of a kilobyte (one in ten through the standard
    library, as botocore does), more than the pipe and sesd's 4 MB buffer hold, while its
    reader reads nothing: every call returns, and another task goes on ticking between
    them. Then the reader reads: the lines come in the order logged, up to the last the
    buffer held, then one sesd.log.dropped line that counts every line left out (as the
    metric does), then what was logged after."""
    read, write = _full_pipe()
    stream: TextIO = os.fdopen(write, "w")
    configure_logging("info", "json", stream, daemon=True)
    reader = _Reader(read)
    flooded = threading.Event()

    def bound() -> None:
        if not flooded.wait(BOUND):
            reader.start()  # the loop stalled: unblock it, and the test fails below

    threading.Thread(target=bound, daemon=True).start()
    before = dropped_lines()
    lines, pad = 6000, "x" * 1000
    ticks = 0
    done = anyio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(tick)
        for i in range(lines):
            if i % 10 == 5:
                logging.getLogger("botocore.test").warning("line %d", i)
            else:
                get_logger().info("sesd.test.line", i=i, pad=pad)
            if i % 100 == 99:
                await anyio.lowlevel.checkpoint()
        done.set()
    flooded.set()
    assert reader.start(), "the event loop stalled on the log stream"
    assert ticks >= lines // 100
    dropped = dropped_lines() - before
    assert dropped > 0

    assert await anyio.to_thread.run_sync(flush_logs, BOUND)
    get_logger().info("sesd.test.after")
    configure_logging("info", "json", io.StringIO())  # writes what is held, then stops
    stream.close()
    records = reader.records()

    # Each record in its place: a line where its number comes, a count where lines
    # were left out.
    expected, said = 0, 0
    for record in records[:-1]:
        if record["event"] == "sesd.log.dropped":
            assert record["level"] == "warning"
            expected += record["dropped"]
            said += record["dropped"]
        else:
            assert _number(record) == expected
            expected += 1
    assert (expected, said) == (lines, dropped)
    assert records[-2]["event"] == "sesd.log.dropped"
    assert records[-1]["event"] == "sesd.test.after"
    # What the buffer held while nothing was read: all but the last count and line.
    held = sum(len(json.dumps(r)) + 1 for r in records[:-2])
    assert BUFFER_CHARS - 2 * len(pad) < held <= BUFFER_CHARS


@pytest.mark.timeout(90)
async def test_the_daemon_answers_while_its_log_reader_stalls_and_exits_all_the_same(
    tmp_path: Path,
) -> None:
    """`sesd run` with standard error on a pipe nobody reads, full from the start (as
    behind a blocked journald), and its queue's SQS unreachable, so it logs its failed
    receives: it still tells systemd it is ready and /healthz answers 200. SIGTERM stops it
    with exit 0 though its last lines cannot be written: it waits 2 s for them, no more."""
    notify = str(tmp_path / "notify")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    port = free_port()
    config = tmp_path / "sesd.toml"
    config.write_text(
        hermetic_text(
            f'[aws]\nendpoint_url = "{endpoint}"\n[[queues]]\nurl = "{endpoint}/1/q"\n'
            'name = "q"\n[logging]\nformat = "json"\nlevel = "debug"\n'
        )
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    env["NOTIFY_SOCKET"] = notify
    read, write = _full_pipe()
    command = [sys.executable, "-m", "sesd", "run", "--config", str(config)]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(notify)
        systemd.settimeout(BOUND)  # a daemon stalled on its log never says it is ready
        listen = ["--listen", f"127.0.0.1:{port}"]
        async with await anyio.open_process([*command, *listen], stderr=write, env=env) as sesd:
            os.close(write)
            try:
                ready = await anyio.to_thread.run_sync(systemd.recv, 4096)
                assert ready.startswith(b"READY=1")
                timeout = aiohttp.ClientTimeout(total=BOUND)
                async with (
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.get(f"http://127.0.0.1:{port}/healthz") as health,
                ):
                    assert health.status == 200
                sesd.send_signal(signal.SIGTERM)
                with anyio.fail_after(BOUND):
                    code = await sesd.wait()
            finally:
                if sesd.returncode is None:
                    sesd.kill()
                os.close(read)
    assert code == 0


def test_dropped_log_lines_are_counted_in_a_metric() -> None:
    """The lines a log buffer could not hold count in sesd_log_lines_dropped_total, read
    when Prometheus scrapes: two lines dropped, two more in the counter."""
    ledger = Pipeline(core_settings(parse_config(""))).ledger
    registry = Metrics(ledger, ["q"], lambda: 0.0).registry
    before = registry.get_sample_value("sesd_log_lines_dropped_total")
    assert before == dropped_lines()
    full = Buffered(Lasting(io.StringIO()), str, capacity=0)  # holds nothing
    full.write("one\n")
    full.write("two\n")
    assert registry.get_sample_value("sesd_log_lines_dropped_total") == before + 2
    assert full.stop(BOUND)
