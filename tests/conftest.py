"""What every test starts from (each test's environment, logging, caches and the
collector as a new process has them) and the daemon run in a test's own task group.
The local AWS side's fixtures and helpers are in tests/local_aws.py, the log's in
tests/log_lines.py: imported here, so every test has the fixtures, and a test may
import the helpers from here or from there."""

from __future__ import annotations

import gc
import io
import os
import shutil
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TextIO

import anyio
import hypothesis
import pytest

from sesd.config import Config, read_secrets
from sesd.io.logs import unbuffer_output
from sesd.runtime.daemon import Daemon
from tests import bytecode, deaths
from tests.dns_server import hermetic
from tests.local_aws import (
    _one_sdk_loader,
    aws_client,
    local_sqs,
    make_queue,
    no_aws_credentials,
    queue_counts,
    quick_sdk_retries,
    send_bodies,
    short_polls,
    sqs,
)
from tests.log_lines import _quiet_logs, json_logs, log_records, said_in, sesd_logs

# An example is judged by what it returns, never by how long it took: on a loaded
# machine (CI's two cores running four workers) one example of a pure function can take
# a few hundred milliseconds, and Hypothesis's default deadline would fail it.
hypothesis.settings.register_profile("sesd", deadline=None)
hypothesis.settings.load_profile("sesd")

#: The fixtures (pytest finds them here) and helpers tests import from here.
__all__ = [
    "UNIT_VARIABLES",
    "_one_sdk_loader",
    "_quiet_logs",
    "aws_client",
    "json_logs",
    "local_sqs",
    "log_records",
    "make_queue",
    "no_aws_credentials",
    "queue_counts",
    "quick_sdk_retries",
    "require_tool",
    "running",
    "said_in",
    "send_bodies",
    "sesd_logs",
    "short_polls",
    "sqs",
]


def require_tool(name: str) -> str:
    """The path of a tool (this venv's bin first, then PATH); skips without it, except in CI
    (SESD_REQUIRE_TOOLS=1), where a missing tool fails the test."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:
        if os.environ.get("SESD_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{name} is required in CI (SESD_REQUIRE_TOOLS=1) but is missing")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A worker killed by a signal that prints nothing, or by ``os._exit``, prints its
    threads' stacks first (tests/deaths.py): xdist says only that it crashed. Before
    workers start, the bytecode they would each make is written once
    (tests/bytecode.py). What an earlier session in this process left is let go first
    (``_earlier_sessions_forgotten``)."""
    _earlier_sessions_forgotten()
    deaths.install()
    bytecode.write_for_workers(config)


def _earlier_sessions_forgotten() -> None:
    """Free what an earlier pytest session in this process left, before this session
    watches for errors raised in finalizers (tryfirst: before pytest's own configure).

    mutmut runs the tests in its own process (the mapping run, the clean run, then a
    run where every mutated function raises), freezes the heap (``gc.freeze``) and
    forks each mutant's run from it. That forced failure's traceback stays in
    ``sys.last_traceback``, holding a daemon torn down mid-test (its sink session
    never closed). Each forked run let it go at its first test (pytest clears
    ``sys.last_*``) and ``_unfrozen`` put it back in the collector's walks, so its
    session's "Unclosed client session" ResourceWarning went off in that run, which
    ``filterwarnings = error`` failed at its end: every mutant read as killed. Freed
    here, unwarned, it is nothing of this session's; what this session leaves open
    still fails it."""
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    gc.unfreeze()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()


@pytest.fixture(autouse=True)
def _silent_deaths_told() -> Iterator[None]:
    """What a test's daemon or loop left as a signal's default is told again."""
    yield
    deaths.rearm()


#: What systemd gives a unit's processes that sesd reads (the runtime directory a
#: reload's outcome is told in, the credentials, the notify socket, the watchdog).
UNIT_VARIABLES = (
    "RUNTIME_DIRECTORY",
    "CREDENTIALS_DIRECTORY",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)


@pytest.fixture(autouse=True)
def _outside_a_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs as if no service unit ran the suite: run by one (a CI runner's, a
    timer's), a daemon a test runs in-process, or a process it starts, wrote its
    reloads' outcome in that unit's runtime directory, read its credentials and told
    its manager it was ready. A test that means them sets them itself."""
    for name in UNIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """What a daemon froze (sesd.runtime.collector) is let back into the collector's
    walks after each test: a test's daemon does not live on, and its cycles must be
    freed, not kept for the rest of the session."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _output_unbuffered() -> Iterator[None]:
    """A daemon run in-process (``sesd run``, ``sesd demo``) buffers what it prints for
    the rest of its process: after its test, printing is at once again, as a new
    process starts, not through a buffer writing to a stdout pytest has swapped."""
    yield
    unbuffer_output()


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """Each test classifies, cleans and interns afresh: an answer cached by an earlier
    test (or by the run mutation testing forks from) would hide what the code does now."""
    from sesd.core.causes import _classify
    from sesd.core.text import _clean_cached
    from sesd.core.windows import breakdown

    _classify.cache_clear()
    _clean_cached.cache_clear()
    breakdown._KEYS.clear()  # interned breakdown keys: shared objects, not answers
    breakdown._COUNTED.clear()  # a text's key, found once: an answer
    breakdown._NOTED.clear()  # what a recipient's texts made, found once: an answer


@asynccontextmanager
async def running(
    config: Config,
    *,
    clock: Callable[[], float] = time.time,
    console: TextIO | None = None,
    signals: bool = False,
    config_path: Path | None = None,
) -> AsyncIterator[Daemon]:
    """The daemon in the test's own task group (never across a fixture's yield);
    stopped gracefully when the block ends. With ``signals`` it handles SIGTERM and
    SIGINT sent to this process, as ``sesd run`` does; with ``config_path``, its
    reloads read that file."""
    # A test's clock stands for both: its time moves when the test moves it.
    monotonic = time.monotonic if clock is time.time else clock
    # Its secrets read, as `sesd run` loads the file.
    daemon = Daemon(
        read_secrets(hermetic(config)),
        clock=clock,
        monotonic=monotonic,
        console=console or io.StringIO(),
        config_path=str(config_path) if config_path else None,
    )
    failed: Exception | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(partial(daemon.run, handle_signals=signals))
        try:
            yield daemon
        except Exception as exc:  # noqa: BLE001 - raised below, as it is
            # A failed test's daemon stops as any other does, not cancelled: cancelled,
            # it left HTTP sessions open, and a later test on the same worker failed on
            # the warning their collection gave.
            failed = exc
        finally:
            daemon.stop()
    if failed is not None:
        raise failed
