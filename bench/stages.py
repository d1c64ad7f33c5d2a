"""What each stage of the pipeline costs where it runs: knocked out one at a time; the
whole pipeline inside the daemon against the same bodies in a tight loop; and the
daemon without it.

Stages: bench/pipeline.py's events and pipeline, each variant in a process of its
own with one stage replaced by a no-op (the pipeline then does less than it must:
the difference from the whole is what the stage costs in place, cache misses
included, which a microbenchmark of the stage alone leaves out). The variants
take turns, best of ``ROUNDS`` each.

In the daemon: bench/end_to_end.py's production mix drained by the daemon with
every domain's provider known, ``Pipeline.feed`` timed around each call; then the
same bodies, at the same clock, fed to a fresh pipeline in a tight loop. Between
two SDK calls the pipeline's code and data have left the caches. Last, the daemon's
drain with ``Pipeline.feed`` replaced by a counter, beside the tuned loop and the
whole daemon: what the daemon spends besides its pipeline.

``python -m bench stages``.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio

ROUNDS = 3


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    return None


#: Variant -> what it knocks out, and the (module, attribute, stand-in) replacing it.
VARIANTS: dict[str, tuple[str, list[tuple[str, str, Callable[..., Any]]]]] = {
    "whole pipeline": ("nothing", []),
    "duplicate check": (
        "the event key and the duplicate filter",
        [
            ("sesd.core.pipeline", "event_key", lambda _event: 0),
            ("sesd.core.dedup", "DuplicateFilter.seen", lambda _self, _key, _now: False),
        ],
    ),
    "reputation estimate": (
        "the pipeline's call of it",
        [("sesd.core.reputation_senders", "Senders.observe", _nothing)],
    ),
    "pending resolution": (
        "a delivered or bounced recipient ending its delay",
        [
            ("sesd.core.deliveries", "end_delay", _nothing),
            ("sesd.core.recipients", "end_delay", _nothing),
        ],
    ),
    "window writes of deliveries": (
        "DomainWindows.delivered",
        [("sesd.core.windows.domain", "DomainWindows.delivered", _nothing)],
    ),
    "problem notes": (
        "what a delay or bounce said, noted in the windows",
        [("sesd.core.recipients", "_note_recipient", _nothing)],
    ),
    "a delivery's recipients": (
        "all of a delivery's per-recipient work (the two stages above among it)",
        [("sesd.core.pipeline", "delivered", _nothing)],
    ),
}


def _knock_out(variant: str) -> None:
    """Replace the variant's stage by its stand-ins (in this process only)."""
    for module, path, stand_in in VARIANTS[variant][1]:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, name, stand_in)


@contextmanager
def _feed_replaced(stand_in: Callable[..., Any]) -> Iterator[None]:
    """``Pipeline.feed`` replaced by ``stand_in`` while the block runs."""
    from sesd.core.pipeline import Pipeline

    feed = Pipeline.feed
    setattr(Pipeline, "feed", stand_in)  # noqa: B010 - a stand-in mypy would refuse
    try:
        yield
    finally:
        setattr(Pipeline, "feed", feed)  # noqa: B010


def _variant(variant: str) -> float:
    """µs an event of bench/pipeline.py's feed with ``variant`` knocked out."""
    from bench.pipeline import _bodies, _sesd

    _knock_out(variant)
    bodies = _bodies()
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        _sesd(bodies)
        best = min(best, time.process_time() - start)
    return best / len(bodies) * 1e6


def _in_daemon() -> tuple[float, float]:
    """µs an event of ``Pipeline.feed`` inside the daemon's drain, and of the same bodies
    fed in a tight loop afterwards, to a pipeline with the same providers known."""
    from bench.end_to_end import _RULE, MESSAGES, daemon_config, dns_server, endpoint, sesd
    from bench.fake_sqs import DOMAINS
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from sesd.io.logs import configure_logging

    configure_logging("warning", "json")
    feed = Pipeline.feed
    spent = 0.0
    fed: list[tuple[Any, float, float | None]] = []
    daemons: list[Pipeline] = []  # the daemon's pipeline, for its providers' answers

    def timed(self: Pipeline, body: Any, queue: str, now: float, at: float | None = None) -> Any:
        # Wall time (the vDSO's clock, a few ns; the CPU clock is a system call): the
        # drain is one busy thread, and a feed never waits.
        nonlocal spent
        start = time.perf_counter()
        result = feed(self, body, queue, now, at)
        spent += time.perf_counter() - start
        fed.append((body, now, at))
        if not daemons:
            daemons.append(self)
        return result

    dns, nameserver = dns_server()
    process, url = endpoint()
    try:
        with _feed_replaced(timed):
            anyio.run(sesd, url, daemon_config(nameserver), MESSAGES, DOMAINS)
    finally:
        for child in (dns, process):
            child.terminate()
            child.wait()
    known = daemons[0].ledger.providers
    assert known is not None
    best = float("inf")
    for _ in range(ROUNDS):
        built = Pipeline(core_settings(parse_config(_RULE)))
        cache = built.ledger.providers
        assert cache is not None
        for domain, (provider, until) in known.cache.items():
            cache.remember(domain, provider, until)
        start = time.perf_counter()
        for body, now, at in fed:
            built.feed(body, "bench", now, at)
        best = min(best, time.perf_counter() - start)
    return spent / len(fed) * 1e6, best / len(fed) * 1e6


def _without_pipeline() -> dict[str, float]:
    """CPU per message of bench/end_to_end.py's tuned loop and warm daemon drain, and of
    the daemon with ``Pipeline.feed`` replaced by a counter (best of three each,
    interleaved): what the daemon spends besides its pipeline."""
    from bench.end_to_end import (
        MESSAGES,
        TUNED,
        bare,
        best_of,
        daemon_config,
        dns_server,
        sesd,
    )
    from bench.fake_sqs import DOMAINS
    from sesd.core.events import EVENT_TYPE_INDEX
    from sesd.core.pipeline import Pipeline, Result
    from sesd.core.tallies import Outcome
    from sesd.io.logs import configure_logging

    configure_logging("warning", "json")
    delivery = EVENT_TYPE_INDEX["delivery"]
    processed = Result(Outcome.PROCESSED, event_type="delivery")

    def counted(self: Pipeline, _body: Any, queue: str, _now: float, _at: Any = None) -> Result:
        self.ledger.tallies.queue_counts(queue)[delivery] += 1
        return processed

    def no_pipeline(url: str) -> float:
        with _feed_replaced(counted):
            return anyio.run(sesd, url, extra, MESSAGES, DOMAINS)

    dns, nameserver = dns_server()
    extra = daemon_config(nameserver)
    try:
        results = best_of(
            {
                "tuned loop": lambda url: anyio.run(bare, url, TUNED),
                "sesd, providers known": lambda url: anyio.run(sesd, url, extra, MESSAGES, DOMAINS),
                "the same, no pipeline": no_pipeline,
            }
        )
    finally:
        dns.terminate()
        dns.wait()
    return {name: cpu / MESSAGES * 1e6 for name, cpu in results.items()}


def main() -> None:
    """Run the three parts; each knock-out in a process of its own, taking turns."""
    results: dict[str, float] = {}
    for _ in range(ROUNDS):
        for variant in VARIANTS:
            done = subprocess.run(
                [sys.executable, "-m", "bench.stages", variant],
                capture_output=True,
                text=True,
                check=True,
            )
            cpu = float(done.stdout.split()[-1])
            results[variant] = min(cpu, results.get(variant, cpu))
    whole = results["whole pipeline"]
    print(f"pipeline stages knocked out, bench/pipeline.py's events (best of {ROUNDS})")
    for variant, cpu in results.items():
        what = VARIANTS[variant][0]
        cost = "" if variant == "whole pipeline" else f"  stage {whole - cpu:5.2f} µs"
        print(f"  {variant:<28} {cpu:6.2f} µs an event{cost}  ({what})")
    in_daemon, tight = _in_daemon()
    print("the pipeline inside the daemon's drain (production mix, providers known)")
    print(f"  inside the daemon {in_daemon:6.2f} µs an event")
    print(f"  the same bodies, tight loop {tight:6.2f} µs an event ({in_daemon / tight:.2f}x)")
    print(f"the daemon without its pipeline (CPU per message, best of {ROUNDS}, interleaved)")
    for name, cpu in _without_pipeline().items():
        print(f"  {name:<22} {cpu:7.1f} µs")


if __name__ == "__main__":
    print(_variant(sys.argv[1]))
