"""Ingestion while the sinks are in trouble (RELIABILITY.md, scenario 5c).

sesd drains an endless storm of events (bench/fake_sqs.py with COUNT 0, in
its own process, which also plays Slack and PagerDuty) while every one of 200
domains has a firing delay alert that repeats every second: a Slack message
and 200 PagerDuty events a second to deliver. Phases of equal length
alternate healthy sinks with sinks in trouble:

* ``429/500``: Slack answers 429 with Retry-After: 1, PagerDuty 500;
* ``hang``: both accept the connection and never answer.

Each phase reports messages ingested per second (wall) and CPU per message
of the sesd process; a trouble phase is compared with the mean of the healthy
phases on either side. Target: within 10% of healthy. ``--seconds 60`` gives
the 60 s Slack-429 run (default 15 s a phase).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import aiohttp
import anyio

from bench.end_to_end import QUEUE, endpoint
from sesd.config import parse_config
from sesd.io.logs import configure_logging
from sesd.runtime.daemon import Daemon

PHASES = (
    ("healthy", {"slack": "ok", "pagerduty": "ok"}),
    ("429/500", {"slack": "429", "pagerduty": "500"}),
    ("healthy", {"slack": "ok", "pagerduty": "ok"}),
    ("hang", {"slack": "hang", "pagerduty": "hang"}),
    ("healthy", {"slack": "ok", "pagerduty": "ok"}),
)


@dataclass(frozen=True)
class Phase:
    name: str
    rate: float  # messages per second, wall
    cpu_us: float  # CPU per message
    sink_requests: dict[str, int]


def _config(url: str) -> str:
    return (
        f'[aws]\nendpoint_url = "{url}"\n'
        f'[[queues]]\nurl = "{url}{QUEUE}"\nname = "bench"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "2s"\n'
        '[alerts]\nevaluate_every = "1s"\nrepeat_interval = "1s"\ngroup_wait = "0s"\n'
        '[alerts.slack]\nwebhook_url = "env:SESD_BENCH_SLACK_URL"\ntimeout = "10s"\n'
        f'[alerts.pagerduty]\nrouting_key = "bench-routing-key"\nevents_url = "{url}/pagerduty"\n'
        '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.1\nmin_events = 5\nsinks = ["slack", "pagerduty"]\n'
    )


async def _run(url: str, seconds: float) -> tuple[list[Phase], dict[str, float]]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "x")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "x")
    os.environ["SESD_BENCH_SLACK_URL"] = f"{url}/slack"
    daemon = Daemon(parse_config(_config(url)))

    def processed() -> int:
        return daemon.ledger.tallies.messages.get(("bench", "processed"), 0)

    phases = []
    async with anyio.create_task_group() as tg, aiohttp.ClientSession() as http:
        await tg.start(daemon.run)
        # Warm-up: every domain's alert fires.
        await daemon.changes.wait_for(lambda: len(list(daemon.alerting.evaluator.firing())) >= 200)
        for name, modes in PHASES:
            async with http.post(f"{url}/control", json=modes) as response:
                before = await response.json()
            n0, c0, t0 = processed(), time.process_time(), time.monotonic()
            await anyio.sleep(seconds)  # a benchmark phase, not a test wait
            n1, c1, t1 = processed(), time.process_time(), time.monotonic()
            async with http.get(f"{url}/control") as response:
                after = await response.json()
            phases.append(
                Phase(
                    name,
                    (n1 - n0) / (t1 - t0),
                    (c1 - c0) / max(1, n1 - n0) * 1e6,
                    {k: after[k] - before[k] for k in after},
                )
            )
        outcomes = {
            f"{s.labels['sink']}/{s.labels['outcome']}": s.value
            for metric in daemon.alerting.notifications.collect()
            for s in metric.samples
            if s.name.endswith("_total")
        }
        outcomes |= {
            f"{name}/backlog at the end": len(outbox)
            for name, outbox in daemon.alerting.outboxes.items()
        }
        daemon.stop()
    return phases, outcomes


def main(argv: list[str] | None = None) -> None:
    """Run the phases and print the figures."""
    args = sys.argv if argv is None else argv
    seconds = float(args[args.index("--seconds") + 1]) if "--seconds" in args else 15.0
    configure_logging("error", "json")
    process, url = endpoint(0)
    try:
        phases, outcomes = anyio.run(_run, url, seconds)
    finally:
        process.terminate()
        process.wait()
    print(f"ingestion with 200 firing alerts repeating every second, {seconds:g} s a phase")
    for p in phases:
        requests = ", ".join(f"{k} {v}" for k, v in p.sink_requests.items())
        print(
            f"  {p.name:<8} {p.rate:8,.0f} messages/s  {p.cpu_us:6.1f} us CPU/message  "
            f"(sink requests: {requests})"
        )
    for i, p in enumerate(phases):
        if p.name == "healthy":
            continue
        healthy = (phases[i - 1].rate + phases[i + 1].rate) / 2
        print(
            f"  {p.name}: {p.rate / healthy:.2f}x the healthy throughput around it (target >= 0.90)"
        )
    print("  notifications: " + ", ".join(f"{k} {v:g}" for k, v in sorted(outcomes.items())))
