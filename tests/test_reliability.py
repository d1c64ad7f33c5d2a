"""Reliability scenarios with counts (RELIABILITY.md). Short in `make test`; `make soak`
(SESD_SOAK=1) runs the long versions."""

from __future__ import annotations

import os
import random
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.config import parse_config
from sesd.demo.localsqs import LocalSqs
from sesd.tallies import Tallies
from tests import factory as f
from tests.conftest import make_queue, queue_counts, running, send_bodies

SOAK = os.environ.get("SESD_SOAK") == "1"


def _handled_at_least(tallies: Tallies, goal: int) -> bool:
    return sum(tallies.messages.values()) >= goal


@pytest.mark.timeout(600 if SOAK else 120)
async def test_stops_at_random_moments_lose_and_double_count_nothing(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """3,000 events in the soak (600 here: filling moto's queue is quadratic in its
    length); sesd is stopped gracefully at random moments (20 in the soak, 5 here) and
    restarted from its state file. After every stop no message is left in flight; in
    the end every event was processed exactly once (counters summed over the runs) and
    the restored windows hold all 3,000."""
    total, stops = (3000, 20) if SOAK else (600, 5)
    url, _ = await make_queue(sqs, visibility=300)
    bodies = [
        f.sns(f.delivery([f"u{i}@d{i % 10}.example"], at=f.T0 + i * 0.01)) for i in range(total)
    ]
    await send_bodies(sqs, url, bodies)
    state = tmp_path / "state.bin"
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nconcurrency = 2\nwait_time_seconds = 1\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        f'[state]\npath = "{state}"\n'
    )
    rng = random.Random(6)
    processed = duplicates = 0

    def clock() -> float:
        return f.T0 + 60  # every run sees the events inside its windows

    for stop in range(stops + 1):
        remaining = total - processed
        goal = remaining if stop == stops else min(remaining, rng.randint(1, 400))
        async with running(config, clock=clock) as daemon:
            tallies = daemon.pipeline.tallies
            with anyio.fail_after(60):
                await daemon.changes.wait_for(partial(_handled_at_least, tallies, goal))
        # The daemon returned: stopped within its grace period, nothing left hidden.
        processed += tallies.messages.get(("q", "processed"), 0)
        duplicates += tallies.messages.get(("q", "duplicate"), 0)
        visible, in_flight = await queue_counts(sqs, url)
        print(
            f"stop {stop}: goal {goal} processed {processed} dup {duplicates} "
            f"visible {visible} in flight {in_flight}"
        )
        assert in_flight == 0, f"stop {stop}: {in_flight} messages left in flight"
        assert visible + processed == total
    assert processed == total
    async with running(config, clock=clock) as daemon:
        windows = daemon.pipeline.windows
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
    errors_to_hold = 24 if SOAK else 8  # receive errors before SQS comes back
    async with Proxy(upstream) as proxy:
        config = parse_config(
            f'[aws]\nendpoint_url = "{proxy.url}"\n'
            f'[[queues]]\nurl = "{url.replace(local_sqs.url, proxy.url)}"\nname = "q"\n'
            "concurrency = 2\nwait_time_seconds = 1\n"
            '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        )
        async with running(config) as daemon, aiohttp.ClientSession() as http:
            daemon.health.ready_within = 1.5  # a minute in production
            readyz = f"http://127.0.0.1:{daemon.http_port}/readyz"
            tallies = daemon.pipeline.tallies

            def errors() -> float:
                return (
                    daemon.metrics.registry.get_sample_value(
                        "sesd_sqs_errors_total", {"queue": "q", "operation": "receive"}
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
                await daemon.changes.wait_for(lambda: not ready() and errors() >= errors_to_hold)
            async with http.get(readyz) as response:
                assert response.status == 503
            elapsed = time.monotonic() - started
            rate = (proxy.attempts - attempts) / elapsed
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
