"""Replay throughput on one core: a gzipped archive of 1,000,000 events, against a
gzip + orjson decode-only floor measured in the same run.

The archive is newline-delimited SES events (90% deliveries, 7% delays with a
published diagnostic, 3% bounces) over 2,000 domains, one event every 50 ms of
event time (about 14 hours), gzipped, written to a temporary directory. The
floor opens it with gzip, splits lines and decodes each with orjson. sesd runs
``sesd replay``'s own path: the streaming reader, the pipeline, and the rules
of the example config evaluated every 5 s of event time. Both are timed with
this process's CPU clock.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import tempfile
import time
from pathlib import Path

import orjson

from sesd.commands.replay.archive import read_paths
from sesd.commands.replay.engine import Replay
from sesd.config import load_config
from tests import factory as f

EVENTS = 1_000_000
DOMAINS = 2_000
EXAMPLE = Path(__file__).parent.parent / "config" / "sesd.example.toml"


def _write(path: Path) -> None:
    rng = random.Random(5)
    reputation = (
        "smtp; 451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited "
        "due to IP reputation."
    )
    with gzip.open(path, "wt", compresslevel=6) as out:
        block = []
        for i in range(EVENTS):
            recipients = [f"u{i}@d{rng.randrange(DOMAINS)}.example"]
            t = f.T0 + i * 0.05
            roll = rng.random()
            if roll < 0.9:
                event = f.delivery(recipients, at=t, message_id=f"m{i}")
            elif roll < 0.97:
                event = f.delay(recipients, at=t, message_id=f"m{i}", diagnostic=reputation)
            else:
                event = f.bounce(recipients, at=t, message_id=f"m{i}")
            block.append(json.dumps(event))
            if len(block) == 10_000:
                out.write("\n".join(block) + "\n")
                block.clear()


def _floor(path: Path) -> int:
    n = 0
    with gzip.open(path, "rb") as handle:
        for line in handle:
            if orjson.loads(line):
                n += 1
    return n


def _sesd(path: Path) -> int:
    config = load_config(EXAMPLE, resolve_secrets=False)
    replay = Replay(config)
    replay.run(read_paths([str(path)]))
    return sum(replay.pipeline.ledger.tallies.messages.values())


def main() -> None:
    """Run the benchmark: the floor and sesd, each best of two, interleaved."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "events.jsonl.gz"
        _write(path)
        size = os.path.getsize(path)
        floor, ours = [], []
        for _ in range(2):
            start = time.process_time()
            assert _floor(path) == EVENTS
            floor.append(time.process_time() - start)
            start = time.process_time()
            assert _sesd(path) == EVENTS
            ours.append(time.process_time() - start)
    best_floor, best_ours = min(floor), min(ours)
    print(f"replay of {EVENTS:,} gzipped events ({size / 2**20:.0f} MiB), one core, best of 2")
    print(f"  floor (gzip + orjson)  {EVENTS / best_floor:>10,.0f} events/s")
    print(f"  sesd replay            {EVENTS / best_ours:>10,.0f} events/s")
    print(f"  ratio {best_ours / best_floor:.1f}x the floor's CPU per event")
