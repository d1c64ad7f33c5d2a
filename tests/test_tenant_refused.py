"""A resource ARN an event names that the tenants' map does not keep (longer than
any SES writes, or not 7-bit ASCII: an event's ``sourceArn`` is written by whoever
can send to the queue) is counted, and told once in the log, so that an operator
sees why that resource's deliveries count under ``unknown``. The local SESv2 tenants
endpoint for the poll whose round tells it, its answers parsed by botocore."""

from __future__ import annotations

import anyio
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_map import MAX_RESOURCE_ARN
from sesd.metrics.tenants import TenantCollector
from tests import factory as f
from tests.test_tenant_passes import ACCOUNT, REGION, Clock, tenant_poller

REFUSED = "sesd_tenant_map_refused_total"


def _bounce(source_arn: str) -> str:
    """A bounce SES tagged with acme, sent from ``source_arn``."""
    event = f.bounce(["a@x.example"])
    event["mail"]["sourceArn"] = source_arn
    event["mail"]["tags"] = {"ses:tenant-name": ["acme"]}
    return f.raw(event)


async def test_a_resource_arn_the_map_refuses_is_counted_and_told_once() -> None:
    """Two bounces SES tagged with acme, sent from an identity whose ARN is one
    character past the map's bound, and one from an ARN of the longest length kept.
    The map keeps the last alone (its deliveries count under acme); the others were
    dropped without a word: nothing counted them, nothing was logged, and their
    deliveries read as unknown with nothing to say why. Now they are counted in
    ``sesd_tenant_map_refused_total`` and the next tenant round logs
    ``sesd.tenants.resource_refused`` once, with the count; the round after logs
    nothing more."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    ledger = pipeline.ledger
    registry = CollectorRegistry()
    registry.register(
        TenantCollector(ledger.tenant_status, 100, ledger.accounts, ledger.tenant_map)
    )
    head = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/"
    longest = head + "x" * (MAX_RESOURCE_ARN - len(head))
    assert registry.get_sample_value(REFUSED) == 0
    for arn in (longest + "y", longest + "z", longest):
        pipeline.feed(_bounce(arn), "q", f.T0)
    assert list(ledger.tenant_map.arns) == [longest]
    assert registry.get_sample_value(REFUSED) == 2
    clock = Clock()
    async with (
        LocalTenants(ACCOUNT, REGION) as tenants,
        tenant_poller(tenants, pipeline, clock, recommendations=False) as poller,
    ):
        with capture_logs() as logs, anyio.fail_after(20):
            await poller.poll_once()
            pipeline.feed(_bounce(longest + "w"), "q", f.T0)
            clock.advance(300)
            await poller.poll_once()
    told = [line for line in logs if line["event"] == "sesd.tenants.resource_refused"]
    assert [(line["log_level"], line["refused"]) for line in told] == [("warning", 2)]
    assert str(MAX_RESOURCE_ARN) in told[0]["hint"]
    assert registry.get_sample_value(REFUSED) == 3


async def test_a_resource_arn_the_walk_refuses_is_counted_each_walk() -> None:
    """ListTenantResources names acme's configuration set and an identity whose ARN
    is longer than the map keeps (an endpoint's answer: SES's API model gives ARNs no
    bound). The walk passed the identity over without a word, where the same ARN in
    an event is counted; now each walk that reads it counts it in
    ``sesd_tenant_map_refused_total`` as it ends, and the round tells it once."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    ledger = pipeline.ledger
    registry = CollectorRegistry()
    registry.register(
        TenantCollector(ledger.tenant_status, 100, ledger.accounts, ledger.tenant_map)
    )
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        long = "x" * MAX_RESOURCE_ARN
        tenants.add("acme", ("EMAIL_IDENTITY", long), ("CONFIGURATION_SET", "set-acme"))
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with capture_logs() as logs, anyio.fail_after(20):
                await poller.poll_once()
                assert registry.get_sample_value(REFUSED) == 1
                clock.advance(300)
                await poller.poll_once()
    assert list(ledger.tenant_map.arns) == [
        f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/set-acme"
    ]
    assert registry.get_sample_value(REFUSED) == 2
    told = [line for line in logs if line["event"] == "sesd.tenants.resource_refused"]
    assert [line["refused"] for line in told] == [1]


async def test_a_refused_resource_of_two_tenants_counts_at_each() -> None:
    """acme and globex both list the same identity whose ARN the map does not keep: a
    walk counts it at each tenant's read (twice), and the metric's help says so (it
    read as once a resource, which an operator would count as two resources)."""
    pipeline = Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))
    ledger = pipeline.ledger
    collector = TenantCollector(ledger.tenant_status, 100, ledger.accounts, ledger.tenant_map)
    registry = CollectorRegistry()
    registry.register(collector)
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        for name in ("acme", "globex"):
            tenants.add(name, ("EMAIL_IDENTITY", "x" * MAX_RESOURCE_ARN))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    assert registry.get_sample_value(REFUSED) == 2
    (family,) = [m for m in collector.collect() if m.name == "sesd_tenant_map_refused"]
    assert "once for each tenant" in family.documentation
