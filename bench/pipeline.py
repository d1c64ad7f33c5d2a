"""In-process pipeline throughput against a decode-only floor, in the same run.

150,000 SNS-wrapped SES events (90% deliveries, 7% delays, 3% bounces) over
500 domains with a Zipf-like spread. The floor parses each body and its
``Message`` with msgspec (the fastest JSON decoder here) and splits out the
recipient domains; sesd runs decode -> duplicate check -> domain -> windows
-> counters, as configured in production: providers on with every domain's
MX already resolved (a domain's first lookup happens once, off the event
path), causes, the reputation estimate, and one rule on the 15m window (its
breakdowns kept). Prints events per second for both, their ratio, and the
µs an event.
"""

from __future__ import annotations

import random
import time

import msgspec

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f

EVENTS = 150_000
DOMAINS = 500


def _bodies() -> list[bytes]:
    rng = random.Random(1)
    domains = [f"d{i}.example" for i in range(DOMAINS)]
    out = []
    for i in range(EVENTS):
        domain = domains[min(int(rng.paretovariate(1.2)) - 1, DOMAINS - 1)]
        t = f.T0 + i * 0.02
        roll = rng.random()
        if roll < 0.9:
            event = f.delivery([f"u{i}@{domain}"], at=t, processing_ms=rng.randint(200, 5000))
        elif roll < 0.97:
            event = f.delay([f"u{i}@{domain}"], at=t, expires=t + 3600)
        else:
            event = f.bounce([f"u{i}@{domain}"], at=t)
        out.append(f.sns(event).encode())
    return out


def _floor(bodies: list[bytes]) -> int:
    decode, n = msgspec.json.decode, 0
    for body in bodies:
        event = decode(decode(body)["Message"])
        kind = event["eventType"]
        if kind == "Delivery":
            recipients = event["delivery"]["recipients"]
        elif kind == "DeliveryDelay":
            recipients = [r["emailAddress"] for r in event["deliveryDelay"]["delayedRecipients"]]
        else:
            recipients = [r["emailAddress"] for r in event["bounce"]["bouncedRecipients"]]
        for address in recipients:
            n += len(address.rpartition("@")[2])
    return n


_RULE = (
    '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "15m"\n'
    "above = 0.05\n"
)
#: Each domain's provider, as the MX lookups would have found it.
_PROVIDERS = ("google", "microsoft", "yahoo", "apple", "other")


def pipeline() -> Pipeline:
    """A pipeline configured as in production, its domains' providers known."""
    built = Pipeline(core_settings(parse_config(_RULE)))
    cache = built.ledger.providers
    assert cache is not None
    for i in range(DOMAINS):
        cache.remember(f"d{i}.example", _PROVIDERS[i % len(_PROVIDERS)], f.T0 + 86_400)
    return built


def _sesd(bodies: list[bytes]) -> Pipeline:
    pipeline_ = pipeline()
    for i, body in enumerate(bodies):
        pipeline_.feed(body, "bench", f.T0 + i * 0.02)
    return pipeline_


def main() -> None:
    """Run the benchmark: best of three for each side, interleaved."""
    bodies = _bodies()
    floor, sesd = [], []
    for _ in range(3):
        start = time.perf_counter()
        _floor(bodies)
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        _sesd(bodies)
        sesd.append(time.perf_counter() - start)
    best_floor, best_sesd = min(floor), min(sesd)
    print(f"pipeline over {EVENTS:,} SNS-wrapped events, {DOMAINS} domains (best of 3)")
    print(f"  floor (decode + domains) {EVENTS / best_floor:>10,.0f} events/s")
    print(f"  sesd pipeline            {EVENTS / best_sesd:>10,.0f} events/s")
    print(f"  ratio {best_sesd / best_floor:.2f}x the floor (for information)")
    print(
        f"  sesd {best_sesd / EVENTS * 1e6:.1f} µs an event (goal 10), "
        f"floor {best_floor / EVENTS * 1e6:.1f} µs"
    )
