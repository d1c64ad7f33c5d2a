"""Instructions per message end to end, counted rather than timed.

bench/end_to_end.py's three consumers (the SDK-default loop, the loop tuned as
sesd tunes its client, and the sesd daemon as configured by default with one
rule) each drain the production mix in a process of their own under valgrind's
cachegrind, counting instructions only (``--cache-sim=no``), at two message
counts: the difference over the difference in messages leaves out start-up and
imports. A count moves less with the machine's neighbours than CPU time, which
moves 10-15% from run to run here: the loops' counts stay within 0.5%, the
daemon's within 0.1% in two runs (within about 5% while its MX lookups fell
inside the drain, whose pace follows timing). It leaves
out what costs time without instructions (cache misses, the kernel's side of
the sockets), so it complements ``bench end_to_end`` and does not replace it.

The daemon looks up its domains' providers before it drains (as in
production once each domain was looked up: a lookup is per domain and day):
counted in the drain, the ~150 lookups that valgrind's pace leaves for the
second one would add 45,000-85,000 instructions a message that production does
not pay per message. A cold start is counted in two parts that do not follow
valgrind's pace: the daemon draining with its lookups held back (the pace set
so low that only the first starts), so every event comes before its domain's
answer, as most do in ``bench end_to_end``'s cold drain; and an MX lookup
alone, through the resolver as the daemon runs it, 50 and then 250 domains (at
20 lookups a second, a drain at N messages a second of wall time adds a lookup's
count times 20 / N a message: N is not the drain's CPU pace, its wall time is two
or three times its CPU time on a machine shared with other work). Rule
evaluation runs on a timer (every 5 s by default); valgrind runs about 50 times
slower, so it would run 50 times as often per message as it does at full speed.
Here it runs every 15 minutes (the rule's window, the longest the config's check
allows), longer than any drain: its cost is per second, not per message, and a
drain at full speed sees one or two.

``python -m bench instructions`` (valgrind must be installed); a consumer alone:
``python -m bench.instructions SIDE URL COUNT NAMESERVER`` (the lookups: ``SIDE``
``MX lookup``, ``URL`` unused, ``COUNT`` domains).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio

from bench.end_to_end import TUNED, bare, daemon_config, dns_server, endpoint, sesd
from bench.fake_sqs import DOMAINS
from sesd.core.provider_cache import ProviderCache
from sesd.io.logs import configure_logging
from sesd.providers.resolver import ProviderResolver

#: The two drains per consumer; their difference is what is counted.
COUNTS = (2_000, 6_000)
SIDES = ("SDK default loop", "tuned loop", "sesd daemon", "sesd daemon, cold start")
#: The lookups counted alone, twice: how many domains each time.
LOOKUPS = (50, 250)
LOOKUP = "MX lookup"
#: The daemon's ``[alerts]`` lines: evaluation as rare as the rule allows (module docstring).
ALERTS = 'evaluate_every = "15m"\n'
#: The cold start's ``[providers]`` pace: one lookup in 1,000 s, so only the first starts
#: within a drain (module docstring).
HELD_BACK = "rate = 0.001\n"


def _drain(side: str, url: str, count: int, nameserver: str) -> None:
    """One consumer draining ``count`` messages (run under valgrind)."""
    configure_logging("warning", "json")
    if side == SIDES[0]:
        anyio.run(bare, url, None, count)
    elif side == SIDES[1]:
        anyio.run(bare, url, TUNED, count)
    elif side == SIDES[2]:
        extra = daemon_config(nameserver, ALERTS)
        anyio.run(sesd, url, extra, count, DOMAINS)
    elif side == SIDES[3]:
        anyio.run(sesd, url, cold_config(nameserver), count)
    else:
        anyio.run(lookups, count, nameserver)


def cold_config(nameserver: str) -> str:
    """The cold start's daemon config: ``daemon_config``'s, its lookups held back."""
    return daemon_config(nameserver, ALERTS).replace("[providers]\n", "[providers]\n" + HELD_BACK)


class _Answers(ProviderCache):
    """The provider cache, telling when ``expected`` lookups have been answered (with
    nobody woken at each, as in the daemon)."""

    def __init__(self, expected: int) -> None:
        super().__init__(100_000)
        self.expected = expected
        self.all_answered = anyio.Event()

    def answered(self, domain: str, provider: str, until: float, outcome: str) -> None:
        super().answered(domain, provider, until, outcome)
        if sum(self.outcomes.values()) >= self.expected:
            self.all_answered.set()


async def lookups(count: int, nameserver: str) -> None:
    """``count`` domains wanted and looked up, as the daemon's DNS task looks them up
    (at up to 1,000 a second: under valgrind, no time spent waiting for a start)."""
    cache = _Answers(count)
    resolver = ProviderResolver(cache, nameservers=[nameserver], rate=1000.0, clock=time.time)
    for domain in DOMAINS[:count]:
        cache.provider(domain, time.time())
    async with anyio.create_task_group() as tg:
        tg.start_soon(resolver.run)
        await cache.all_answered.wait()
        tg.cancel_scope.cancel()


def counted(module: str, *args: str) -> int:
    """The instructions ``python -m MODULE ARGS...`` executes under valgrind, in all."""
    return instructions_of([sys.executable, "-m", module, *args], f"{module} {args}")


def instructions_of(
    command: list[str], what: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> int:
    """The instructions ``command`` executes under valgrind, in all (run in ``cwd``,
    with ``env`` added to this process's environment); ``what`` names it if it fails."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            *command,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        # The same hashes in every run: dicts and sets probe alike.
        env={**os.environ, **(env or {}), "PYTHONHASHSEED": "0"},
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode or found is None:
        raise RuntimeError(f"{what} under valgrind failed: {done.stderr[-1500:]}")
    return int(found.group(1).replace(",", ""))


def per_unit(count_at: Callable[[int], int], sizes: tuple[int, int]) -> float:
    """Instructions per unit of work: counted at two sizes (``count_at(size)``), the
    difference over the difference in size, which leaves start-up out."""
    low, high = count_at(sizes[0]), count_at(sizes[1])
    return (high - low) / (sizes[1] - sizes[0])


def _instructions(side: str, count: int, nameserver: str) -> int:
    """The instructions a process draining ``count`` messages executes, in all."""
    process, url = endpoint(count, mix="production")
    try:
        return counted("bench.instructions", side, url, str(count), nameserver)
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    """Count each consumer at both drains, and a lookup; print instructions per message
    and ratios."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)")
        return
    dns, nameserver = dns_server()
    try:
        per_message = {}
        for side in SIDES:
            per_message[side] = per_unit(
                partial(_instructions, side, nameserver=nameserver), COUNTS
            )
        lookup = per_unit(
            lambda n: counted("bench.instructions", LOOKUP, "", str(n), nameserver), LOOKUPS
        )
    finally:
        dns.terminate()
        dns.wait()
    print(
        f"instructions per message, draining {COUNTS[1]:,} less {COUNTS[0]:,} messages "
        "(valgrind cachegrind)"
    )
    for side, n in per_message.items():
        print(f"  {side:<23} {n:12,.0f}")
    ours = per_message[SIDES[2]]
    print(f"  sesd / SDK default loop {ours / per_message[SIDES[0]]:.3f}x (goal 1.0x)")
    print(f"  sesd / tuned loop       {ours / per_message[SIDES[1]]:.3f}x (goal 1.10x)")
    cold = per_message[SIDES[3]]
    print(f"  cold start / tuned loop {cold / per_message[SIDES[1]]:.3f}x, before its lookups")
    # Lookups are paced by the clock: what they add a message follows the drain's wall
    # time, which its neighbours stretch (bench end_to_end prints how many fell inside
    # its cold drain). 5,000 messages a second is a 4 s drain of bench end_to_end's.
    print(
        f"  an MX lookup {lookup:,.0f} ({LOOKUPS[1]} less {LOOKUPS[0]} domains); at 20 a "
        f"second, a drain at 5,000 messages a second of wall time adds "
        f"{lookup * 20 / 5_000:,.0f} a message to the cold start's"
    )


if __name__ == "__main__":
    _drain(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
