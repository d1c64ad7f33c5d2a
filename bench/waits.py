"""What a wait for the network costs the code that runs after it, on this machine.

The same small piece of plain Python (no sesd code, no data beyond a few integers) is
timed on the thread's CPU clock: in a tight loop; right after a 1 ms sleep (the CPU
idles, as it does while a poller waits for SQS's answer); right after a 1 ms busy wait
(the CPU kept running). On a machine whose idle CPU is handed to other work (a
virtual machine that halts its CPU at once, its host running another guest there),
code after a sleep runs slower: caches and branch history are gone to what ran
meanwhile. sesd's pipeline runs between two such waits, and pays it on every batch
(``python -m bench stages``: the pipeline inside the daemon against the same bodies
in a tight loop), as the SDK's code does in the loops it is measured against.

``python -m bench waits``.
"""

from __future__ import annotations

import time

#: Runs of each kind: the piece takes microseconds; the median of many is its cost.
ROUNDS = 2_000


def _piece() -> int:
    total = 0
    for i in range(300):
        total += i * 3 % 7
    return total


def _median(before: str) -> float:
    """µs of thread CPU time for one piece, median of :data:`ROUNDS`, after ``before``."""
    taken = []
    for _ in range(ROUNDS):
        if before == "sleep":
            time.sleep(0.001)
        elif before == "busy":
            until = time.perf_counter() + 0.001
            while time.perf_counter() < until:
                pass
        start = time.thread_time()
        _piece()
        taken.append(time.thread_time() - start)
    return sorted(taken)[len(taken) // 2] * 1e6


def main() -> None:
    """Print the piece's cost in a tight loop, after a sleep and after a busy wait."""
    print(f"a 300-step loop of plain Python, thread CPU time, {ROUNDS:,} runs each")
    print(f"  {'tight loop':<18} median {_median('nothing'):6.2f} µs")
    tight = _median("nothing")
    for before, label in (("busy", "after 1 ms busy"), ("sleep", "after 1 ms asleep")):
        median = _median(before)
        print(f"  {label:<18} median {median:6.2f} µs ({median / tight:.2f}x)")


if __name__ == "__main__":
    main()
