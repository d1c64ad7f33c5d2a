"""The daemon end to end: CPU per message while draining an SQS endpoint.

A minimal fast endpoint (bench/fake_sqs.py, in its own process so its CPU is
not counted) serves SNS-wrapped SES events, 88% deliveries, 6% delays (with
diagnostics), 3% bounces and 3% Send events. Baselines in the same run: the
loop a user writes with the SDK's defaults (``create_client("sqs")``, receive
10, delete them in a batch), and the same loop with the client settings sesd
uses. Then sesd, as configured by default (providers with their MX lookups,
causes, the reputation estimate) with one rule, drains the same number: from
a cold start, where most events come before their domain's MX answer (lookups
are paced at 20 a second; the drain takes seconds), and again with every
domain's provider looked up before the drain, as in production once each was.
All are timed with this process's CPU clock. Goals: sesd at most 1.0x the SDK
default loop, at most 1.10x the tuned one.

The cold drain's lookups are paced by the clock, not by its messages: how many fall
inside it follows its wall time, which the machine's neighbours stretch. The bench
prints how many did and the CPU they took (bench/cold_lookups.py), and the cold
drain's ratio without them: its events' cost, whatever the drain's wall time.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from bench.cold_lookups import LookerClock, Lookups
from bench.fake_sqs import DOMAINS
from sesd.commands.demo.localsqs import free_port
from sesd.config import parse_config
from sesd.io.logs import configure_logging
from sesd.runtime.aws import sqs_config
from sesd.runtime.daemon import Daemon

MESSAGES = 20_000
QUEUE = "/123456789012/bench"


def endpoint(
    count: int = MESSAGES, *, mix: str = "production"
) -> tuple[subprocess.Popen[bytes], str]:
    """bench/fake_sqs.py in its own process serving ``count`` messages of a mix
    (``deliveries``, ``mixed``, ``production``); its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_sqs", str(port), str(count), mix],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()  # "ready"
    return process, f"http://127.0.0.1:{port}"


#: The CPU clock every run is measured on (bench.cpu_split reads user and system time
#: apart through it).
cpu_clock: Callable[[], float] = time.process_time

#: The client settings sesd's SQS clients use, for the tuned loop.
TUNED = sqs_config(connections=5)


async def bare(endpoint: str, config: AioConfig | None = None, count: int = MESSAGES) -> float:
    """CPU of a bare aiobotocore loop draining ``count`` messages from ``endpoint``: the
    SDK's default client, or one made with ``config``."""
    async with get_session().create_client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    ) as sqs:
        url = endpoint + QUEUE
        start, received = cpu_clock(), 0
        while received < count:
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages: list[Any] = response.get("Messages", [])
            received += len(messages)
            entries: Any = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ]
            await sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        return cpu_clock() - start


def dns_server() -> tuple[subprocess.Popen[bytes], str]:
    """bench/fake_dns.py in its own process; its ``HOST:PORT``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_dns", str(port)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.readline()  # "ready"
    return process, f"127.0.0.1:{port}"


async def sesd(
    endpoint: str,
    extra: str = "",
    count: int = MESSAGES,
    warm: Sequence[str] = (),
    lookups: list[tuple[float, Lookups]] | None = None,
) -> float:
    """CPU of the daemon draining ``count`` messages from ``endpoint``, with ``extra``
    config text; the providers of the ``warm`` domains looked up first. Given
    ``lookups``, the drain's CPU and its MX lookups (bench/cold_lookups.py) are added
    to it."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "x")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "x")
    config = parse_config(daemon_text(endpoint, extra))
    # Alerts go to a buffer: a terminal's speed is not sesd's.
    daemon = Daemon(config, console=io.StringIO())
    if warm and daemon.resolver is not None:
        # Every domain's provider known before the drain, as in production once each
        # was looked up (a lookup is per domain and day, not per message).
        await daemon.resolver.prefetch(warm, time.time())
    clock = None if lookups is None or daemon.resolver is None else LookerClock(daemon.resolver)
    async with anyio.create_task_group() as tg:
        # Measured from "started", as the bare loop is measured once its client exists:
        # pollers begin only after it, so every message is inside the measurement.
        await tg.start(daemon.run)
        start = cpu_clock()
        if clock is not None:
            clock.start()
        await drained(endpoint, count)
        cpu = cpu_clock() - start
        if clock is not None and lookups is not None:
            lookups.append((cpu, clock.read()))
        daemon.stop()
    processed = daemon.ledger.tallies.messages.get(("bench", "processed"), 0)
    assert processed >= count, f"{count} deleted, {processed} processed"
    return cpu


async def drained(endpoint: str, count: int) -> None:
    """Return once ``endpoint`` (bench/fake_sqs.py) has had ``count`` messages deleted:
    one request, answered then. Waiting on the daemon's changes instead woke this task
    on every batch (a task step and a fresh event, about 46,000 instructions a batch),
    work counted as the daemon's that the daemon does not do; a delete comes after its
    message was handled, so every message counted is done by then."""
    forever = aiohttp.ClientTimeout(total=None)  # valgrind's drains take minutes
    async with (
        aiohttp.ClientSession(timeout=forever) as http,
        http.get(f"{endpoint}/drained", params={"count": str(count)}) as answer,
    ):
        answer.raise_for_status()


ROUNDS = 3


def best_of(
    variants: dict[str, Callable[[str], float]], *, mix: str = "production"
) -> dict[str, float]:
    """Each variant's least CPU over ROUNDS rounds, each run against a fresh endpoint
    and the variants interleaved (so a noisy minute hits them alike)."""
    results: dict[str, float] = {}
    for _ in range(ROUNDS):
        for name, run in variants.items():
            process, url = endpoint(mix=mix)
            try:
                cpu = run(url)
            finally:
                process.terminate()
                process.wait()
            results[name] = min(cpu, results.get(name, cpu))
    return results


_RULE = (
    '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "15m"\n'
    "above = 0.05\n"
)


def daemon_text(endpoint: str, extra: str = "") -> str:
    """The daemon's whole config against ``endpoint``, with ``extra`` config text."""
    return (
        f'[aws]\nendpoint_url = "{endpoint}"\n'
        f'[[queues]]\nurl = "{endpoint}{QUEUE}"\nname = "bench"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "2s"\n'
        # The fake endpoint is SQS only: no account polls (SES, CloudWatch) here.
        "[account_health]\nenabled = false\n" + extra
    )


def daemon_config(nameserver: str, alerts: str = "") -> str:
    """What the benchmarks add to the daemon's queue config: MX lookups at
    ``nameserver`` (bench/fake_dns.py), one rule, and ``alerts`` (lines of the
    ``[alerts]`` table)."""
    return f'[providers]\nnameservers = ["{nameserver}"]\n[alerts]\n{alerts}' + _RULE


def main() -> None:
    """Run the benchmark: each side against a fresh endpoint, interleaved, best of
    three (a run on this kind of machine varies by ~10% with its neighbours)."""
    configure_logging("warning", "json")
    dns, nameserver = dns_server()  # recipient domains' MX, for their providers
    extra = daemon_config(nameserver)
    cold: list[tuple[float, Lookups]] = []  # each cold drain's CPU and its lookups
    try:
        results = best_of(
            {
                "SDK default loop": lambda url: anyio.run(bare, url),
                "tuned loop": lambda url: anyio.run(bare, url, TUNED),
                "sesd daemon": lambda url: anyio.run(sesd, url, extra, MESSAGES, (), cold),
                # Every domain's provider looked up before the drain (module docstring).
                "sesd, providers known": lambda url: anyio.run(sesd, url, extra, MESSAGES, DOMAINS),
            }
        )
    finally:
        dns.terminate()
        dns.wait()
    default, tuned, ours = (
        results["SDK default loop"],
        results["tuned loop"],
        results["sesd daemon"],
    )
    print(f"draining {MESSAGES:,} messages, CPU of the consumer process (best of {ROUNDS})")
    for name, cpu in results.items():
        print(
            f"  {name:<22} {cpu / MESSAGES * 1e6:7.1f} us CPU per message  "
            f"({MESSAGES / cpu:8,.0f} messages/s per core)"
        )
    print(f"  sesd / SDK default loop {ours / default:.2f}x (goal 1.0x)")
    print(f"  sesd / tuned loop       {ours / tuned:.2f}x (goal 1.10x)")
    warm = results["sesd, providers known"]
    print(
        f"  providers known: {warm / default:.2f}x the default loop, {warm / tuned:.2f}x the tuned"
    )
    print(cold_start(tuned, cold))


def cold_start(tuned: float, drains: list[tuple[float, Lookups]]) -> str:
    """What of the cold drain's CPU (the least of ``drains``, the figure printed) its MX
    lookups took: their number follows the drain's wall time, not its messages
    (bench/cold_lookups.py)."""
    if not drains:
        return "  cold start: no MX lookups (no resolver)"
    cpu, lookups = min(drains, key=lambda drain: drain[0])
    each = f"{lookups.cpu / lookups.answered * 1e6:,.0f} us" if lookups.answered else "-"
    return (
        f"  cold start: {lookups.answered} MX lookups inside its drain ({lookups.wall:.1f} s "
        f"of wall time, at most 20 a second), {each} of CPU each, "
        f"{lookups.cpu / MESSAGES * 1e6:.1f} us a message; without them "
        f"{(cpu - lookups.cpu) / tuned:.2f}x the tuned loop"
    )
