"""The SDK settings of sesd's AWS clients, by use: the queues' SQS clients (and that of
their receives alone), and the clients of the account and tenant polls (sesd.runtime.aws
makes them)."""

from __future__ import annotations

from aiobotocore.config import AioConfig

from sesd import __version__
from sesd.io.sqs_http import BoundedSession

__all__ = ["LONGEST_POLL", "poll_config", "sqs_config", "tenant_config"]

#: SQS's longest long poll (WaitTimeSeconds), in seconds.
LONGEST_POLL = 20


def sqs_config(connections: int, *, receive: bool = False) -> AioConfig:
    """The settings of the SQS clients the pollers share (``connections``: at most
    that many requests at once). ``receive``: the client of ReceiveMessage alone, which
    the SDK does not retry: SQS hands out a batch (and counts a receive of each
    message) when it answers, whether or not the answer arrives, so each retry of a
    receive whose answer was cut off or late took ten more messages a step nearer the
    dead-letter queue; the poller retries with its own backoff, and says so."""
    return AioConfig(
        connect_timeout=5,
        # A long poll holds the request open for WaitTimeSeconds (at most 20 s; a
        # queue a reload adds may poll longer than those at start).
        read_timeout=LONGEST_POLL + 10,
        max_pool_connections=connections,
        # ``max_attempts`` counts retries: up to four calls of a delete or a release
        # (each counted in sesd_sqs_retries_total; sesd_sqs_errors_total counts what
        # is left after them).
        retries={"mode": "standard", "total_max_attempts": 1}
        if receive
        else {"mode": "standard", "max_attempts": 3},
        # Two costs of every call that buy sesd nothing, a tenth of the SDK's CPU
        # per call (BENCHMARKS.md, "End to end"): without a fixed User-Agent the SDK
        # rebuilds and sanitises its dozen parts on every request; and validating
        # parameters re-checks what sesd built from typed code (the same few
        # calls, the same shapes). Signing, credential refresh and error parsing are
        # untouched.
        user_agent=f"sesd/{__version__}",
        parameter_validation=False,
        # An answer's body read up to SQS's bound, not whole whatever its size.
        http_session_cls=BoundedSession,
    )


def poll_config(attempts: int) -> AioConfig:
    """The settings of the clients of the account and tenant polls (SESv2,
    CloudWatch): short timeouts, ``attempts`` tries a call."""
    return AioConfig(
        connect_timeout=5,
        read_timeout=15,
        # ``total_max_attempts``: ``max_attempts`` would count retries, one call more.
        retries={"mode": "standard", "total_max_attempts": attempts},
    )


def tenant_config() -> AioConfig:
    """The settings of the tenant polls' SESv2 clients: one attempt a call. The tenant
    poller asks again itself, each try at its pace (sesd.account.tenants): the SDK
    asked a throttled call again up to 1 s after the refusal (2 s the next time),
    inside the pace, and so made a tight account limit tighter."""
    return poll_config(attempts=1)
