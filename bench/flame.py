"""The daemon draining bench/end_to_end.py's workload once, for a sampling profiler.

Run under py-spy to see where sesd's CPU goes end to end (the SDK, the event
loop, the pipeline)::

    py-spy record --format speedscope -o flame.json -- python -m bench.flame
    py-spy record -o bench/flame/after.svg -- python -m bench.flame

BENCHMARKS.md links the flame graphs and lists their top frames.
"""

from __future__ import annotations

import anyio

from bench.end_to_end import MESSAGES, daemon_config, dns_server, endpoint, sesd
from sesd.io.logs import configure_logging


def main() -> None:
    """Drain the production mix once and print the CPU it took."""
    configure_logging("warning", "json")
    dns, nameserver = dns_server()
    process, url = endpoint()
    try:
        cpu = anyio.run(sesd, url, daemon_config(nameserver))
    finally:
        process.terminate()
        dns.terminate()
    print(f"sesd drained {MESSAGES:,} messages: {cpu / MESSAGES * 1e6:.1f} us CPU per message")


if __name__ == "__main__":
    main()
