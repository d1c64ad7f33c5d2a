"""``sesd run`` as a real process: its JSON log lines read as they come, its HTTP port
learnt from its log, its metrics scraped. Tests wait on log events, never on time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from prometheus_client.parser import text_string_to_metric_families

from tests.dns_server import hermetic_text

__all__ = ["SesdProcess", "hearing_ctrl_c", "sesd_process"]


@contextmanager
def hearing_ctrl_c() -> Iterator[None]:
    """Processes started inside hear Ctrl-C (SIGINT), as from a terminal. A shell starts
    its background jobs with SIGINT ignored, and exec passes that on: a suite run in the
    background of a script would start commands that never hear a test's Ctrl-C. A
    handler (not an ignore) in this process becomes the default in a child."""
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, ignored)


class SesdProcess:
    """A running ``sesd run`` and everything it logged so far."""

    def __init__(self, process: Process) -> None:
        assert process.stderr is not None
        self.process = process
        self.records: list[dict[str, Any]] = []
        self._stream = BufferedByteReceiveStream(process.stderr)
        self.port: int | None = None

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Read log lines until one satisfies ``predicate``; returns it."""
        while True:
            try:
                line = await self._stream.receive_until(b"\n", 1 << 20)
            except anyio.EndOfStream:
                tail = self.records[-5:]
                raise AssertionError(f"sesd's log ended; last lines: {tail}") from None
            record: dict[str, Any] = json.loads(line)
            self.records.append(record)
            if record.get("event") == "sesd.http.listening":
                self.port = int(record["port"])
            if predicate(record):
                return record

    async def wait_for_event(self, event: str) -> dict[str, Any]:
        """Read log lines until one has ``event`` as its event name."""
        return await self.wait_for(lambda record: record.get("event") == event)

    async def logged(self, event: str) -> dict[str, Any]:
        """The first record with ``event``: one read already (a busy machine may log it
        before what a test waited for first), or the next one to come."""
        for record in self.records:
            if record.get("event") == event:
                return record
        return await self.wait_for_event(event)

    async def rest(self) -> list[str]:
        """The lines still to come, to the end of its log, as they are (JSON or not: a
        failed start's one line of why)."""
        lines: list[str] = []
        while True:
            try:
                lines.append((await self._stream.receive_until(b"\n", 1 << 20)).decode())
            except (anyio.EndOfStream, anyio.IncompleteRead):
                return lines

    async def wait_for_received(self, total: int) -> None:
        """Read log lines until the batches logged (debug level) add up to ``total``."""
        seen = sum(r.get("received", 0) for r in self.records if r.get("event") == "sesd.sqs.batch")
        while seen < total:
            record = await self.wait_for_event("sesd.sqs.batch")
            seen += record["received"]

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """One scrape: (sample name, sorted labels) -> value."""
        assert self.port is not None, "sesd has not logged sesd.http.listening yet"
        url = f"http://127.0.0.1:{self.port}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            text = await response.text()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


def config_file(directory: Path, text: str) -> Path:
    """Write a config file; logs are JSON at debug level, HTTP on a free port."""
    path = directory / "sesd.toml"
    path.write_text(
        hermetic_text(text)
        + '\n[http]\nlisten = "127.0.0.1:0"\n[logging]\nformat = "json"\nlevel = "debug"\n'
    )
    return path


@asynccontextmanager
async def sesd_process(
    config: Path,
    *,
    env: Mapping[str, str] | None = None,
    until: str = "sesd.daemon.started",
    stdout: int = subprocess.PIPE,
    command: Sequence[str] = (sys.executable, "-m", "sesd"),
) -> AsyncIterator[SesdProcess]:
    """``python -m sesd run`` with ``config``, once it logged ``until``; killed on the
    way out if still running. ``env`` adds to the environment (AWS test credentials
    are set); ``stdout``, a file descriptor, is its standard output (else a pipe);
    ``command``, what runs ``sesd`` (a script that changes something first, say)."""
    environ = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **(env or {}),
    }
    async with await anyio.open_process(
        [*command, "run", "--config", str(config)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=environ,
    ) as process:
        sesd = SesdProcess(process)
        try:
            with anyio.fail_after(30):
                await sesd.wait_for_event(until)
            yield sesd
        finally:
            if process.returncode is None:
                process.kill()
