"""The daemon's pollers, built from its config and state: each queue's (SQS), and,
as the config enables them, SES's polls of each (account, region)'s sending status
and reputation (``[account_health]``) and of its tenants (``[tenants]``), each
asking through the daemon's AWS clients with settings of its own."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from sesd.account.poller import AccountPoller
from sesd.account.tenants import TenantPoller
from sesd.config import Config, QueueConfig
from sesd.io.sdk_calls import trim_sqs
from sesd.runtime.aws_settings import poll_config, tenant_config
from sesd.runtime.sqs import QueuePoller
from sesd.runtime.sqs_calls import InvalidMemory

if TYPE_CHECKING:
    from sesd.runtime.parts import Parts

__all__ = ["account_poller", "queue_poller", "tenant_poller"]


def queue_poller(
    daemon: Parts, queue: QueueConfig, stop: anyio.Event, memory: InvalidMemory, index: int
) -> QueuePoller:
    """Poller ``index`` of ``queue``, until ``stop`` is set (a stop, or a reload that
    removed the queue): ``memory`` is what its queue's pollers share of the invalid
    messages seen, and every poller shares the daemon's SQS calls in flight."""
    account, region = daemon.ledger.where(queue.label)
    resolver = daemon.resolver
    client, receiver = daemon.sqs(queue), daemon.sqs(queue, "receive")
    for each in (client, receiver):
        # Without the SDK's per-call handlers that SQS's calls do not need
        # (sesd.io.sdk_calls): a client's pollers each ask, the first one does it.
        trim_sqs(each)
    return QueuePoller(
        client,
        queue,
        receiver=receiver,
        pipeline=daemon.pipeline,
        metrics=daemon.metrics,
        health=daemon.health,
        changes=daemon.changes,
        stopping=stop,
        delete_invalid=daemon.config.deletes_invalid(queue),
        clock=daemon.clock,
        monotonic=daemon.monotonic,
        invalid_memory=memory,
        in_flight=daemon.in_flight,
        region=region,
        account=account,
        rand=lambda: daemon.jitter(),
        poller=index,
        after_batch=resolver.poke if resolver is not None else None,
    )


def account_poller(daemon: Parts) -> AccountPoller | None:
    """SES's view of each (account, region), polled (with ``[account_health]`` enabled)."""
    config, ledger = daemon.config, daemon.ledger
    if not config.account_health.enabled:
        return None
    return AccountPoller(
        config.health_targets(),
        partial(_account_client, daemon),
        ledger.accounts,
        every=config.account_health.poll_every.seconds,
        cloudwatch=config.account_health.cloudwatch,
        clock=daemon.clock,
        during=partial(_round, daemon, "health"),
    )


def tenant_poller(daemon: Parts) -> TenantPoller | None:
    """SES's tenants of each (account, region), polled (with ``[tenants]`` enabled)."""
    config, ledger = daemon.config, daemon.ledger
    if not config.tenants.enabled:
        return None
    return TenantPoller(
        config.health_targets(), partial(_tenant_client, daemon), ledger.accounts,
        ledger.tenant_map, ledger.tenant_status,
        every=config.tenants.poll_every.seconds,
        recommendations=config.tenants.recommendations,
        clock=daemon.clock, pace=1 / config.tenants.calls_per_second,
        walks=ledger.tenant_walks, during=partial(_round, daemon, "tenants"),
    )  # fmt: skip


# The clients are asked for at each poll: the config a reload brought names the
# endpoints, and the AWS clients exist only while the daemon runs.


async def _account_client(daemon: Parts, service: str, target: tuple[str, str]) -> Any:
    """The SESv2 or CloudWatch client of an (account, region), for the health polls."""
    assert daemon.aws is not None
    health = daemon.config.account_health
    endpoint = health.ses_endpoint_url if service == "sesv2" else health.cloudwatch_endpoint_url
    config = poll_config(attempts=2)
    return await daemon.aws.client(
        service, target[0], target[1], config, endpoint, use="health",
        needed=partial(_watched, target),
    )  # fmt: skip


async def _tenant_client(daemon: Parts, service: str, target: tuple[str, str]) -> Any:
    """The SESv2 client of an (account, region), for the tenant polls."""
    assert daemon.aws is not None
    endpoint = daemon.config.tenants.endpoint_url
    config = tenant_config()
    return await daemon.aws.client(
        service, target[0], target[1], config, endpoint, use="tenants",
        needed=partial(_watched, target),
    )  # fmt: skip


def _watched(target: tuple[str, str], config: Config) -> bool:
    """Whether ``config`` polls ``target``: else a reload retires its clients."""
    return target in config.health_targets()


def _round(daemon: Parts, use: str) -> AbstractAsyncContextManager[None]:
    """A poll round holds its clients (``use``'s): a reload that removes a target
    meanwhile closes its clients once the round has ended, not under a call."""
    assert daemon.aws is not None
    return daemon.aws.holding_all(use)
