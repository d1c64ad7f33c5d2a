"""Messages a second one poller drains from an SQS some milliseconds away.

bench/fake_sqs.py serves the production mix through tests/proxy.py's proxy, which
holds what the daemon sends for ``LAG`` seconds before it forwards it (a link to SQS
of that round trip, give or take the endpoint's own time). The daemon, as
bench/end_to_end.py configures it (one poller), drains ``MESSAGES``; the rate is
measured from its second receive's start to its last receive's end, leaving the
daemon's start (its queue check, through the same proxy) out. README sizes
``concurrency`` by it.

``python -m bench poller_rate``.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from bench.end_to_end import daemon_config, dns_server, endpoint, sesd
from bench.fake_sqs import DOMAINS
from sesd.io.logs import configure_logging
from sesd.runtime.sqs import QueuePoller
from tests.proxy import Proxy

MESSAGES = 1_000
LAGS = (0.01, 0.02)


def _rate(lag: float, nameserver: str) -> float:
    """Messages a second the daemon's poller drained through a proxy of ``lag``."""
    receives: list[tuple[float, float, int]] = []  # start, end, messages brought
    ask = QueuePoller._ask

    async def timed(self: QueuePoller) -> Any:
        started = time.perf_counter()
        answer = await ask(self)
        brought = len(answer.get("Messages", [])) if isinstance(answer, dict) else 0
        receives.append((started, time.perf_counter(), brought))
        return answer

    process, url = endpoint(MESSAGES)

    async def drain() -> None:
        async with Proxy(int(url.rsplit(":", 1)[1])) as proxy:
            proxy.lag = lag
            await sesd(proxy.url, daemon_config(nameserver), MESSAGES, DOMAINS)

    QueuePoller._ask = timed  # type: ignore[method-assign]
    try:
        anyio.run(drain)
    finally:
        QueuePoller._ask = ask  # type: ignore[method-assign]
        process.terminate()
        process.wait()
    # From the second receive on: the first follows the daemon's start.
    first, last = receives[1][0], receives[-1][1]
    return sum(brought for _, _, brought in receives[1:]) / (last - first)


def main() -> None:
    """Print the rate at each lag."""
    configure_logging("error", "json")
    dns, nameserver = dns_server()
    try:
        print(f"one poller draining {MESSAGES:,} messages through a proxy that lags")
        for lag in LAGS:
            rate = _rate(lag, nameserver)
            print(f"  {lag * 1000:4.0f} ms a request: {rate:5.0f} messages a second")
    finally:
        dns.terminate()
        dns.wait()


if __name__ == "__main__":
    main()
