"""What provider and cause attribution cost: end-to-end CPU per message, with and
without, beside the bare aiobotocore loop, in the same run.

The workload is mixed (bench/fake_sqs.py ``mixed``: 90% deliveries, 7% delays
with published diagnostics, 3% bounces, half of them soft) over 300 domains,
whose MX a DNS server in its own process gives (bench/fake_dns.py: Google,
Microsoft, Mimecast or their own). "Off" is the daemon with ``[providers]
enabled = false`` and the cause classifier knocked out (a constant); "on" is
the default, with the MX lookups of the 300 domains inside the measurement.
Target: on at most 1.10x off. The in-process pipeline is timed the same way,
for information, with every domain's provider already cached.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import anyio

from bench.end_to_end import MESSAGES, ROUNDS, bare, best_of, dns_server
from bench.end_to_end import sesd as drain
from sesd.config import core_settings, parse_config
from sesd.core.causes import Cause, classify
from sesd.core.pipeline import Pipeline
from sesd.io.logs import configure_logging
from tests import factory as f

EVENTS = 100_000


@contextmanager
def _no_causes() -> Iterator[None]:
    """The pipeline's classifier replaced by a constant answer, for the "off" runs."""
    constant = classify(None, "", "")

    def knocked_out(*_: object) -> Cause:
        return constant

    with mock.patch("sesd.pipeline.classify", new=knocked_out):
        yield


def _bodies() -> list[bytes]:
    rng = random.Random(3)
    out = []
    for i in range(EVENTS):
        recipients, t = [f"u{i}@d{rng.randrange(300)}.example"], f.T0 + i * 0.02
        roll = rng.random()
        if roll < 0.9:
            event = f.delivery(recipients, at=t)
        elif roll < 0.97:
            event = f.delay(
                recipients,
                at=t,
                delay_type="RecipientServerError",
                diagnostic=f"smtp; 451 4.7.650 The mail server [192.0.2.{i % 250}] has been "
                "temporarily rate limited due to IP reputation.",
            )
        else:
            event = f.bounce(recipients, at=t, kind="Transient")
        out.append(f.sns(event).encode())
    return out


def _pipeline(bodies: list[bytes], on: bool) -> float:
    pipeline = Pipeline(core_settings(parse_config("" if on else "[providers]\nenabled = false\n")))
    if pipeline.ledger.providers is not None:
        for i in range(300):
            pipeline.ledger.providers.remember(f"d{i}.example", "microsoft", f.T0 + 86400)
    start = time.process_time()
    for i, body in enumerate(bodies):
        pipeline.feed(body, "bench", f.T0 + i * 0.02)
    return time.process_time() - start


def main() -> None:
    """Run the benchmark: each variant against a fresh endpoint, interleaved, best of
    three."""
    configure_logging("warning", "json")
    bodies = _bodies()
    inproc: dict[str, float] = {}
    for _ in range(ROUNDS):
        with _no_causes():
            cpu = _pipeline(bodies, on=False)
        inproc["off"] = min(cpu, inproc.get("off", cpu))
        cpu = _pipeline(bodies, on=True)
        inproc["on"] = min(cpu, inproc.get("on", cpu))
    print(f"in-process pipeline, {EVENTS:,} mixed events over 300 domains (best of {ROUNDS})")
    for name, cpu in inproc.items():
        print(f"  attribution {name:<4} {cpu / EVENTS * 1e6:6.2f} us per event")
    print(f"  on / off {inproc['on'] / inproc['off']:.3f}x")

    dns, nameserver = dns_server()
    off_config = "[providers]\nenabled = false\n"
    on_config = f'[providers]\nnameservers = ["{nameserver}"]\n'

    def without_attribution(url: str) -> float:
        with _no_causes():
            return anyio.run(drain, url, off_config)

    try:
        results = best_of(
            {
                "bare aiobotocore loop": lambda url: anyio.run(bare, url),
                "sesd, attribution off": without_attribution,
                "sesd, attribution on": lambda url: anyio.run(drain, url, on_config),
            },
            mix="mixed",
        )
    finally:
        dns.terminate()
        dns.wait()
    print(f"draining {MESSAGES:,} mixed messages, CPU of the consumer (best of {ROUNDS})")
    for name, cpu in results.items():
        print(f"  {name:<24} {cpu / MESSAGES * 1e6:7.1f} us CPU per message")
    on, off = results["sesd, attribution on"], results["sesd, attribution off"]
    base = results["bare aiobotocore loop"]
    print(f"  on / off {on / off:.3f}x (target 1.10x)")
    print(f"  against the bare loop: off {off / base:.2f}x, on {on / base:.2f}x")
