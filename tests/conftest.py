"""Shared fixtures: a real local SQS server (moto's server mode) on loopback."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import cache, partial
from pathlib import Path
from typing import Any, Protocol, TextIO

import anyio
import botocore.loaders
import botocore.session
import pytest
import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.retries.standard import ExponentialBackoff

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, read_secrets
from sesd.io import logs
from sesd.io.logs import configure_logging, unbuffer_output
from sesd.runtime.daemon import Daemon
from tests import bytecode, deaths
from tests.dns_server import hermetic


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


#: The root logger's handler the last ``configure_logging`` of ``_quiet_logs`` made,
#: and what that configuration left (``_logging_now``).
_configured: list[tuple[logging.Handler, tuple[object, ...]]] = []


def _logging_now(handler: logging.Handler) -> tuple[object, ...]:
    """Everything ``configure_logging`` sets that a test could have changed since, but
    the root logger's handlers and level (set again each test: pytest adds its own
    handlers for each phase of a test, which configuring takes out): the stream,
    ``handler``'s own settings, structlog's configuration, the daemon's log writer,
    the SDK loggers' filters."""
    config = structlog.get_config()
    stream = getattr(handler, "stream", None)
    return (
        sys.stderr,
        stream,
        getattr(stream, "broken", None),
        handler.formatter,
        handler.level,
        tuple(handler.filters),
        tuple(config["processors"]),
        config["logger_factory"],
        config["wrapper_class"],
        config["context_class"],
        config["cache_logger_on_first_use"],
        logs._writer[0],
        *(tuple(logging.getLogger(name).filters) for name in logs._REFRESH_LOGGERS),
    )


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    """Logs as JSON to stderr, as in production (captured by pytest). Configured again
    only when something changed what the last configuration set (a daemon's run, a
    test's own configuration, pytest's capture swapping stderr); else what a test may
    change anyway is set again (the level, the root logger's one handler) and the SDK
    lines' quiet periods forgotten. A configuration costs about a tenth of a
    millisecond under coverage, each test."""
    if _configured and _configured[0][1] == _logging_now(_configured[0][0]):
        root = logging.getLogger()
        root.handlers = [_configured[0][0]]
        if root.level != logs.STDLIB_LEVEL:  # setLevel clears every logger's cache
            root.setLevel(logs.STDLIB_LEVEL)
        logs.set_level("debug")
        for name in logs._REFRESH_LOGGERS:
            for found in logging.getLogger(name).filters:
                if isinstance(found, logs._RefreshFailures):
                    found._seen.clear()
        return
    configure_logging("debug", "json")
    (handler,) = logging.getLogger().handlers
    _configured[:] = [(handler, _logging_now(handler))]


#: What systemd gives a unit's processes that sesd reads (the runtime directory a
#: reload's outcome is told in, the credentials, the notify socket, the watchdog).
UNIT_VARIABLES = (
    "RUNTIME_DIRECTORY",
    "CREDENTIALS_DIRECTORY",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)


def sesd_logs(level: str = "debug") -> io.StringIO:
    """sesd's log lines from now on, at ``level`` and above, as JSON: the lines a user's
    log shipper reads, libraries' included. structlog's ``capture_logs`` sees sesd's
    events before its processors: an error's traceback not yet told (cleaned) as
    ``exception``, a value JSON has no form for not yet its repr, a level's lines not
    yet left out, and no library's line at all. A test of what the log says (a secret
    or an address it must not hold) reads these. Read them with :func:`said_in` or
    :func:`log_records`. Configured for this test alone, and only for loggers bound
    after it: ``_quiet_logs`` configures the next test again."""
    stream = io.StringIO()
    configure_logging(level, "json", stream=stream)
    return stream


@pytest.fixture
def json_logs() -> io.StringIO:
    """sesd's log lines at every level from the test's start (:func:`sesd_logs`)."""
    return sesd_logs()


def log_records(json_logs: io.StringIO) -> list[dict[str, Any]]:
    """The log's lines, parsed, in the order they were written."""
    return [json.loads(line) for line in json_logs.getvalue().splitlines()]


def said_in(json_logs: io.StringIO) -> dict[str, dict[str, Any]]:
    """The log's lines by event name (the last of each)."""
    return {r["event"]: r for r in log_records(json_logs)}


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


@pytest.fixture(scope="session", autouse=True)
def _one_sdk_loader() -> Iterator[None]:
    """Every SDK session the test process makes (a daemon's, a command's, a test's own)
    reads the SDK's data files (service models, endpoints) through one loader, as the
    clients of one session do: a session of its own re-read and parsed them, about
    0.1 s of CPU a test that runs a daemon in-process. The files are the SDK's own,
    read-only and the same for every session; what sesd makes of them is made afresh."""
    made: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in made:
            made[search_path_string] = create(search_path_string)
        return made[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared)
        yield


@pytest.fixture(scope="session")
def local_sqs() -> Iterator[LocalSqs]:
    """moto's SQS server on a free loopback port, for the whole session."""
    with LocalSqs() as server:
        yield server


class Endpoint(Protocol):
    """A local server an SDK client can be pointed at."""

    url: str


@cache
def _session() -> AioSession:
    """One SDK session for the test's own clients: a session reads the SDK's service
    models and endpoint data once, about 60 ms a client when each had a session of its
    own. It holds no connection (each client has its own), so tests stay apart."""
    return get_session()


def aws_client(service: str, local: Endpoint, config: AioConfig | None = None) -> Any:
    """An aiobotocore client of ``service`` on a local moto server, or a stand-in for
    one (its ``url``), as a context manager; ``config``: the client's settings."""
    return _session().create_client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url=local.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere the SDK looks: environment, files, a container's or
    an instance's metadata (so it raises before any call, with no AWS error code)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def short_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short-polled queue (``wait_time_seconds = 0``) asked again 50 ms after an empty
    answer, not a second: for modules whose daemons are not there for the long poll. A
    stop waits for the receive in flight (sesd/runtime/sqs.py), most of a 1 s long poll
    (0.9 s a stop, measured), where a short poll has already answered. What the queue
    answers, and when sesd counts it as read, are the same; the long poll keeps tests
    of its own (test_sqs_integration, test_sqs_edges, test_shutdown)."""
    monkeypatch.setattr("sesd.runtime.sqs.SHORT_POLL_PAUSE", 0.05)


@pytest.fixture
def quick_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's pause before each retry a hundredth of what it drew (a random 0-1 s,
    then 0-2 s and 0-4 s: up to 70 ms in all, not 7 s), for tests that count retries or
    read what they end in, not how long they waited. The same calls are made, as many
    times and in the same order, each still after a pause; the reliability tests keep
    the SDK's own, which is what they ride out."""
    drawn = ExponentialBackoff.delay_amount
    monkeypatch.setattr(
        ExponentialBackoff, "delay_amount", lambda self, context: drawn(self, context) / 100
    )


@pytest.fixture
async def sqs(local_sqs: LocalSqs) -> AsyncIterator[Any]:
    """An aiobotocore SQS client on the local server."""
    async with aws_client("sqs", local_sqs) as client:
        yield client


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


async def make_queue(
    sqs: Any, *, dlq: bool = True, max_receive: int = 2, visibility: int = 30
) -> tuple[str, str | None]:
    """A fresh queue (and dead-letter queue); returns their URLs."""
    name = f"q-{uuid.uuid4().hex[:10]}"
    attributes = {"VisibilityTimeout": str(visibility)}
    dlq_url = None
    if dlq:
        dlq_url = (await sqs.create_queue(QueueName=f"{name}-dlq"))["QueueUrl"]
        arn = (await sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive)}
        )
    url = (await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
    return url, dlq_url


async def send_bodies(sqs: Any, url: str, bodies: list[str]) -> None:
    """Enqueue bodies, ten per batch."""
    for i in range(0, len(bodies), 10):
        entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        response = await sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]


async def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attrs = (
        await sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )
