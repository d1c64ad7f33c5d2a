"""Where end_to_end's CPU goes: user time (the interpreter running Python) and system
time (the kernel: sockets, the event loop's polls, page faults) apart, per message.

The instruction counts (``bench instructions``) say sesd executes fewer instructions a
message than the SDK-default loop, while ``bench end_to_end`` times it above that loop.
Instructions leave the kernel out: if sesd's extra time were system time (more
polls, more timers, more sockets), the counts could not see it. This reads both apart
inside the same measured window as end_to_end (its ``cpu_clock``), for the SDK-default
loop, the tuned loop and sesd with providers known, best of three interleaved runs
(by their sum).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

import anyio

from bench import end_to_end
from bench.fake_sqs import DOMAINS
from sesd.io.logs import configure_logging

ROUNDS = 3


def _measured(run: Callable[[str], float], url: str) -> tuple[float, float]:
    """(user, system) seconds of ``run``'s measured window, read where it reads its CPU."""
    marks: list[resource.struct_rusage] = []

    def clock() -> float:
        marks.append(resource.getrusage(resource.RUSAGE_SELF))
        return time.process_time()

    end_to_end.cpu_clock = clock
    try:
        run(url)
    finally:
        end_to_end.cpu_clock = time.process_time
    first, last = marks[0], marks[-1]
    return last.ru_utime - first.ru_utime, last.ru_stime - first.ru_stime


def main() -> None:
    """Print user and system CPU a message for each side, best of three."""
    configure_logging("warning", "json")
    dns, nameserver = end_to_end.dns_server()
    extra = end_to_end.daemon_config(nameserver)
    messages = end_to_end.MESSAGES
    sides: dict[str, Callable[[str], float]] = {
        "SDK default loop": lambda url: anyio.run(end_to_end.bare, url),
        "tuned loop": lambda url: anyio.run(end_to_end.bare, url, end_to_end.TUNED),
        "sesd, providers known": lambda url: anyio.run(
            end_to_end.sesd, url, extra, messages, DOMAINS
        ),
    }
    best: dict[str, tuple[float, float]] = {}
    try:
        for _ in range(ROUNDS):
            for name, run in sides.items():
                process, url = end_to_end.endpoint(mix="production")
                try:
                    split = _measured(run, url)
                finally:
                    process.terminate()
                    process.wait()
                if name not in best or sum(split) < sum(best[name]):
                    best[name] = split
    finally:
        dns.terminate()
        dns.wait()
    print(f"draining {messages:,} messages, CPU a message (best of {ROUNDS} by user + system)")
    for name, (user, system) in best.items():
        print(
            f"  {name:<22} user {user / messages * 1e6:6.1f} us  "
            f"system {system / messages * 1e6:5.1f} us"
        )
    default, ours = best["SDK default loop"], best["sesd, providers known"]
    print(
        f"  sesd / SDK default loop: user {ours[0] / default[0]:.2f}x, "
        f"system {ours[1] / default[1]:.2f}x"
    )
