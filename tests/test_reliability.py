"""Reliability scenarios with counts (RELIABILITY.md). Short in `make test`; `make soak`
(SESD_SOAK=1) runs the long versions."""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
from sesd.core.tallies import Tallies
from tests import factory as f
from tests.conftest import aws_client, make_queue, queue_counts, running, send_bodies

SOAK = os.environ.get("SESD_SOAK") == "1"
GRACE = 10


def _handled_at_least(tallies: Tallies, goal: int) -> bool:
    return sum(tallies.messages.values()) >= goal


@asynccontextmanager
async def _recorded_logs() -> AsyncIterator[list[dict[str, Any]]]:
    """Every log event from now on, with the monotonic time it was logged (loggers bound
    inside take this configuration: start the daemon inside)."""
    entries: list[dict[str, Any]] = []

    def record(_: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        entries.append({**event, "level": method, "at": time.monotonic()})
        raise structlog.DropEvent

    before = structlog.get_config()
    structlog.configure(processors=[record])
    try:
        yield entries
    finally:
        structlog.configure(**before)


def _failures(entries: list[dict[str, Any]], poller: int) -> list[dict[str, Any]]:
    return [e for e in entries if e["event"] == "sesd.sqs.receive_failed" and e["poller"] == poller]


def _backoff_grew(entries: list[dict[str, Any]], pollers: int) -> bool:
    """Whether each poller failed at least four receives in a row (each then waited)."""
    return all(len(_failures(entries, p)) >= 4 for p in range(pollers))


def _assert_backoff_grows(entries: list[dict[str, Any]], pollers: int) -> None:
    """With the jitter's draw pinned at 1, each poller's delays after failed receives
    double (0.4, 0.8, 1.6 s: 0.2 s x 2^n), and it did wait each before trying again; a
    flat retry, or a delay chosen and not waited, fails this."""
    for poller in range(pollers):
        failures = _failures(entries, poller)[:4]
        assert [f["consecutive"] for f in failures] == [1, 2, 3, 4]
        assert [f["retry_in_seconds"] for f in failures[:3]] == [0.4, 0.8, 1.6]
        for before, after in itertools.pairwise(failures):
            assert after["at"] - before["at"] >= before["retry_in_seconds"] * 0.95


@pytest.mark.timeout(600 if SOAK else 120)
async def test_stops_at_random_moments_lose_and_double_count_nothing(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """3,000 events in the soak, 600 here; sesd gets a real SIGTERM at random moments
    (20 in the soak, 5 here) and is restarted from its state file, until every event is
    in. Every stop ends within the grace period with no message left in flight; in the
    end every event was processed exactly once (counters summed over the runs) and the
    restored windows hold them all. The queue is topped up to at most 600 messages
    before each run: moto's receive and send scan the whole queue, 2.3 s a receive
    with 3,000 in it."""
    total, stops, most = (3000, 20, 250) if SOAK else (600, 5, 100)
    url, _ = await make_queue(sqs, visibility=300)
    bodies = [
        f.sns(f.delivery([f"u{i}@d{i % 10}.example"], at=f.T0 + i * 0.01)) for i in range(total)
    ]
    state = tmp_path / "state.bin"
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nconcurrency = 2\nwait_time_seconds = 1\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
        f'[shutdown]\ngrace_period = "{GRACE}s"\n[state]\npath = "{state}"\n'
    )
    rng = random.Random(6)
    sent = processed = duplicates = visible = stop = 0

    def clock() -> float:
        return f.T0 + 60  # every run sees the events inside its windows

    while processed < total:
        top_up = bodies[sent : sent + max(0, 600 - visible)]
        await send_bodies(sqs, url, top_up)
        sent, visible = sent + len(top_up), visible + len(top_up)
        goal = rng.randint(1, min(most, visible)) if stop < stops else visible
        async with running(config, clock=clock, signals=True) as daemon:
            tallies = daemon.ledger.tallies
            with anyio.fail_after(60):
                await daemon.changes.wait_for(partial(_handled_at_least, tallies, goal))
            os.kill(os.getpid(), signal.SIGTERM)
            signalled = anyio.current_time()
            with anyio.fail_after(5):
                await daemon.stopping.wait()
        took = anyio.current_time() - signalled
        assert took < GRACE, f"stop {stop}: took {took:.1f}s, grace period {GRACE}s"
        # The daemon returned: stopped within its grace period, nothing left hidden.
        processed += tallies.messages.get(("q", "processed"), 0)
        duplicates += tallies.messages.get(("q", "duplicate"), 0)
        visible, in_flight = await queue_counts(sqs, url)
        print(
            f"stop {stop}: goal {goal} processed {processed} dup {duplicates} "
            f"visible {visible} in flight {in_flight}"
        )
        assert in_flight == 0, f"stop {stop}: {in_flight} messages left in flight"
        assert visible + processed == sent
        stop += 1
    assert stop > stops, f"only {stop} stops"
    assert processed == total
    async with running(config, clock=clock) as daemon:
        windows = daemon.ledger.windows
        delivered = sum(w.figures(2, clock()).count("delivery") for w in windows.values())
    assert delivered == total


@pytest.mark.timeout(300 if SOAK else 120)
async def test_sqs_outage_is_ridden_out(local_sqs: LocalSqs, sqs: Any) -> None:
    """SQS goes away mid-stream (every connection cut, new ones refused) and comes back:
    sesd stays up, /readyz fails then recovers, the request rate during the outage is
    held down by the backoff, and every message is processed once after recovery."""
    import time

    import aiohttp

    from tests.proxy import Proxy

    url, _ = await make_queue(sqs, visibility=5)
    first = [f.sns(f.delivery([f"a{i}@one.example"])) for i in range(100)]
    later = [f.sns(f.delivery([f"b{i}@two.example"])) for i in range(100)]
    await send_bodies(sqs, url, first)
    upstream = int(local_sqs.url.rsplit(":", 1)[1])
    errors_to_hold = 8  # receive errors before SQS comes back; in the soak, 30 s too
    async with _recorded_logs() as logs, Proxy(upstream) as proxy:
        config = parse_config(
            f'[aws]\nendpoint_url = "{proxy.url}"\n'
            f'[[queues]]\nurl = "{url.replace(local_sqs.url, proxy.url)}"\nname = "q"\n'
            "concurrency = 2\nwait_time_seconds = 1\n"
            '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        )
        async with running(config) as daemon, aiohttp.ClientSession() as http:
            daemon.health.ready_within = 1.5  # a minute in production
            daemon.jitter = lambda: 1.0  # each backoff at its cap: its growth is exact
            readyz = f"http://127.0.0.1:{daemon.http_port}/readyz"
            tallies = daemon.ledger.tallies

            def errors() -> float:
                return (
                    daemon.metrics.registry.get_sample_value(
                        "sesd_sqs_errors_total",
                        {
                            "queue": "q",
                            "account": "default",
                            "region": "us-east-1",
                            "operation": "receive",
                        },
                    )
                    or 0.0
                )

            def ready() -> bool:
                return daemon.health.ready(daemon.monotonic())[0]

            with anyio.fail_after(30):
                await daemon.changes.wait_for(partial(_handled_at_least, tallies, 100))
            proxy.cut()
            await send_bodies(sqs, url, later)  # straight to SQS: it is the network that is out
            attempts, started = proxy.attempts, time.monotonic()
            with anyio.fail_after(90):
                await daemon.changes.wait_for(
                    lambda: (
                        not ready()
                        and errors() >= errors_to_hold
                        and _backoff_grew(logs, pollers=2)
                    )
                )
            async with http.get(readyz) as response:
                assert response.status == 503
            if SOAK:
                await anyio.sleep(max(0.0, 30 - (time.monotonic() - started)))  # the outage
            elapsed = time.monotonic() - started
            rate = (proxy.attempts - attempts) / elapsed
            _assert_backoff_grows(logs, pollers=2)
            proxy.restore()
            with anyio.fail_after(60):
                # Batches whose delete the outage cut come back after their visibility
                # timeout and count as duplicates: wait for every event, once.
                await daemon.changes.wait_for(
                    lambda: tallies.messages.get(("q", "processed"), 0) >= 200
                )
                await daemon.changes.wait_for(ready)
            async with http.get(readyz) as response:
                assert response.status == 200
        processed = tallies.messages.get(("q", "processed"), 0)
    # Nothing lost and nothing counted twice (redelivered batches count as duplicates).
    assert processed == 200
    assert await queue_counts(sqs, url) == (0, 0)
    # Two pollers retrying without backoff would open hundreds of connections a second.
    print(f"outage: {elapsed:.1f} s, {rate:.1f} connection attempts a second")
    assert rate < 10, f"{rate:.1f} connection attempts a second during the outage"


@pytest.mark.timeout(300 if SOAK else 120)
async def test_sqs_server_killed_and_restarted(local_sqs: LocalSqs) -> None:
    """The SQS server process is killed (SIGKILL) mid-stream and another is started on
    the same port later (30 s in the soak; here after a few failed receives): sesd
    stays up, /readyz fails then recovers, failed receives are held down by backoff,
    and every event, before the kill and after the restart, is processed once. A
    killed moto loses its queue, so the test makes it again, as SQS would still have
    it; what sesd had received before the kill was already processed and deleted."""
    import time

    import aiohttp

    from tests.moto_process import MotoProcess

    moto = MotoProcess()
    await anyio.to_thread.run_sync(moto.start)
    try:
        async with aws_client("sqs", moto) as sqs:
            url, _ = await make_queue(sqs, dlq=False, visibility=5)
            await send_bodies(
                sqs, url, [f.sns(f.delivery([f"a{i}@one.example"])) for i in range(100)]
            )
        config = parse_config(
            f'[aws]\nendpoint_url = "{moto.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nconcurrency = 2\nwait_time_seconds = 1\n'
            '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        )
        errors_to_hold = 12 if SOAK else 4
        async with (
            _recorded_logs() as logs,
            running(config) as daemon,
            aiohttp.ClientSession() as http,
        ):
            daemon.health.ready_within = 1.5  # a minute in production
            daemon.jitter = lambda: 1.0  # each backoff at its cap: its growth is exact
            readyz = f"http://127.0.0.1:{daemon.http_port}/readyz"
            tallies = daemon.ledger.tallies

            def errors() -> float:
                sample = daemon.metrics.registry.get_sample_value(
                    "sesd_sqs_errors_total",
                    {
                        "queue": "q",
                        "account": "default",
                        "region": "us-east-1",
                        "operation": "receive",
                    },
                )
                return sample or 0.0

            def ready() -> bool:
                return daemon.health.ready(daemon.monotonic())[0]

            with anyio.fail_after(30):
                # Every message in, not just 100 handled: moto sometimes hands one
                # message to both pollers, and a duplicate must not stand in for a
                # message that the kill would then take with the queue.
                await daemon.changes.wait_for(
                    lambda: tallies.messages.get(("q", "processed"), 0) >= 100
                )
            moto.kill()  # pollers are in their long polls: mid-stream
            killed, errors_before = time.monotonic(), errors()
            with anyio.fail_after(90):
                await daemon.changes.wait_for(
                    lambda: (
                        not ready()
                        and errors() >= errors_to_hold
                        and _backoff_grew(logs, pollers=2)
                    )
                )
            async with http.get(readyz) as response:
                assert response.status == 503
            if SOAK:
                await anyio.sleep(max(0.0, 30 - (time.monotonic() - killed)))  # the outage
            elapsed = time.monotonic() - killed
            rate = (errors() - errors_before) / elapsed
            _assert_backoff_grows(logs, pollers=2)
            await anyio.to_thread.run_sync(moto.start)
            restarted = time.monotonic()
            async with aws_client("sqs", moto) as sqs:
                assert (await make_queue_named(sqs, url))["QueueUrl"] == url
                later = [f.sns(f.delivery([f"b{i}@two.example"])) for i in range(100)]
                await send_bodies(sqs, url, later)
                with anyio.fail_after(60):
                    await daemon.changes.wait_for(
                        lambda: tallies.messages.get(("q", "processed"), 0) >= 200
                    )
                    await daemon.changes.wait_for(ready)
                recovered = time.monotonic() - restarted
                async with http.get(readyz) as response:
                    assert response.status == 200
        # Counted before deleted: the last batch's delete may still be on its way while
        # the daemon runs; once it has stopped, every message must be gone.
        async with aws_client("sqs", moto) as sqs:
            assert await queue_counts(sqs, url) == (0, 0)
        assert tallies.messages.get(("q", "processed"), 0) == 200
        assert tallies.messages.get(("q", "duplicate"), 0) == 0
        print(
            f"server down {elapsed:.1f} s, {rate:.2f} failed receives a second; "
            f"every event in {recovered:.1f} s after the restart"
        )
        assert rate < 5, f"{rate:.1f} failed receives a second while the server was down"
    finally:
        moto.kill()


async def make_queue_named(sqs: Any, url: str) -> dict[str, Any]:
    """The queue at ``url`` made again on a restarted server."""
    return dict(
        await sqs.create_queue(
            QueueName=url.rsplit("/", 1)[1], Attributes={"VisibilityTimeout": "5"}
        )
    )


@pytest.mark.timeout(120)
async def test_sinks_in_trouble_deliver_every_alert_once(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack hangs, then answers 429 three times; PagerDuty answers 500 three times. Once
    they recover, each has the firing alert and its resolve exactly once, in order."""
    from tests.receivers import Answer, Receiver
    from tests.test_alerting_e2e import ROUTING_KEY, Clock, alerting_config, spike

    clock = Clock(f.T0)
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        monkeypatch.setenv("SESD_TEST_PD_KEY", ROUTING_KEY)
        slack.script(Answer(hang=True), *[Answer(429, retry_after="1")] * 3)
        pd.script(*[Answer(500)] * 3)
        # A Slack that never answers is given up on after 0.5 s, then retried.
        config = alerting_config(local_sqs, url, slack, pd, slack_timeout="500ms")
        async with running(config, clock=clock):
            await send_bodies(sqs, url, spike(f.T0))
            with anyio.fail_after(60):
                await slack.wait_for(1)
                await pd.wait_for(1)
            clock.now = f.T0 + 360
            await send_bodies(
                sqs,
                url,
                [f.sns(f.delivery([f"n{i}@outlook.example"], at=clock.now)) for i in range(10)],
            )
            with anyio.fail_after(60):
                await slack.wait_for(2)
                await pd.wait_for(2)
    assert [m["text"].split(" ", 2)[1] for m in slack.accepted] == ["FIRING", "RESOLVED"]
    assert slack.answers[-6:].count(429) == 3
    assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve"]
    assert len({e["dedup_key"] for e in pd.accepted}) == 1
    assert pd.answers.count(500) == 3
