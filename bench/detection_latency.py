"""Detection latency: spike enqueued -> alert received by a Slack-like receiver.

sesd runs with evaluate_every = 1s, for = 0s, group_wait = 0s against moto's
SQS; each trial enqueues a delay spike for a fresh domain and times until the
Slack receiver holds the alert. The baseline, measured in the same run, is a
bare aiobotocore long-poll loop timing until it has received the same number
of messages: the floor set by SQS itself. Prints p50, p95 and max of both,
and their ratio.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import anyio
from aiobotocore.session import get_session

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
from sesd.io.logs import configure_logging
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.receivers import Receiver

TRIALS = 20
SPIKE = 10  # messages per trial: 6 delays, 4 deliveries


def _spike(domain: str, t: float) -> list[str]:
    delays = [f.sns(f.delay([f"d{i}@{domain}"], at=t, expires=t + 3600)) for i in range(6)]
    return delays + [f.sns(f.delivery([f"ok{i}@{domain}"], at=t)) for i in range(4)]


async def _send(sqs: Any, url: str, bodies: list[str]) -> None:
    entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    await sqs.send_message_batch(QueueUrl=url, Entries=entries)


async def _baseline(sqs: Any, url: str) -> list[float]:
    """A bare receive loop: time from enqueued to all received."""
    out = []
    for trial in range(TRIALS):
        start = time.perf_counter()
        await _send(sqs, url, _spike(f"base{trial}.example", time.time()))
        got = 0
        while got < SPIKE:
            response = await sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20
            )
            messages = response.get("Messages", [])
            got += len(messages)
            if messages:
                await sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
        out.append(time.perf_counter() - start)
    return out


async def _sesd(local: LocalSqs, sqs: Any, url: str) -> list[float]:
    out = []
    async with Receiver("slack") as slack:
        os.environ["SESD_BENCH_SLACK_URL"] = slack.url
        config = parse_config(
            f'[aws]\nendpoint_url = "{local.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "bench"\nconcurrency = 2\n'
            '[http]\nlisten = "127.0.0.1:0"\n'
            '[alerts]\nevaluate_every = "1s"\ngroup_wait = "0s"\n'
            '[alerts.slack]\nwebhook_url = "env:SESD_BENCH_SLACK_URL"\n'
            '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nwindow = "5m"\n'
            'above = 0.2\nmin_events = 5\nfor = "0s"\nsinks = ["slack"]\n'
        )
        daemon = Daemon(config)
        async with anyio.create_task_group() as tg:
            await tg.start(daemon.run)
            for trial in range(TRIALS):
                start = time.perf_counter()
                await _send(sqs, url, _spike(f"spike{trial}.example", time.time()))
                await slack.wait_for(trial + 1)
                out.append(time.perf_counter() - start)
            daemon.stop()
    return out


def _figures(name: str, samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"  {name:<22} p50 {p50:6.3f}s  p95 {p95:6.3f}s  max {ordered[-1]:6.3f}s  n={len(ordered)}"
    )
    return p50, p95


async def _run() -> None:
    configure_logging("warning", "json")
    with LocalSqs() as local:
        async with get_session().create_client(
            "sqs", region_name="us-east-1", endpoint_url=local.url
        ) as sqs:
            base_url = (await sqs.create_queue(QueueName="bench-baseline"))["QueueUrl"]
            url = (await sqs.create_queue(QueueName="bench-sesd"))["QueueUrl"]
            baseline = await _baseline(sqs, base_url)
            latency = await _sesd(local, sqs, url)
    print(f"detection latency over {TRIALS} trials (evaluate_every=1s, for=0s, group_wait=0s)")
    _, base_p95 = _figures("baseline (bare receive)", baseline)
    _, p95 = _figures("sesd (spike -> Slack)", latency)
    print(
        f"  p95 {p95:.3f}s: {'within' if p95 <= 2.0 else 'OVER'} the 2 s target; "
        f"ratio to the SQS floor {p95 / base_p95:.1f}x"
    )


def main() -> None:
    """Run the benchmark."""
    anyio.run(_run)
