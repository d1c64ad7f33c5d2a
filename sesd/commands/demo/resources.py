"""What ``sesd demo`` sets up before the daemon starts: the local queue (with its
dead-letter queue) and the canary's verified identity in moto, and the daemon's
config pointing at them, the local DNS server and the local tenant API."""

from __future__ import annotations

import json
from typing import Final

from aiobotocore.session import get_session

from sesd.config import Config, parse_config

__all__ = ["CANARY_FROM", "QUEUE", "create_resources", "demo_config"]

QUEUE: Final = "sesd-demo-events"
CANARY_FROM: Final = "canary@example.com"


async def create_resources(endpoint: str) -> str:
    """The queue and its dead-letter queue; the canary's verified identity."""
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=endpoint
    ) as sqs:
        dlq = await sqs.create_queue(QueueName=f"{QUEUE}-dlq")
        attrs = await sqs.get_queue_attributes(
            QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"]
        )
        policy = {"deadLetterTargetArn": attrs["Attributes"]["QueueArn"], "maxReceiveCount": "5"}
        queue = await sqs.create_queue(
            QueueName=QUEUE, Attributes={"RedrivePolicy": json.dumps(policy)}
        )
        queue_url = queue["QueueUrl"]
    async with get_session().create_client(
        "sesv2", region_name="us-east-1", endpoint_url=endpoint
    ) as ses:
        await ses.create_email_identity(EmailIdentity=CANARY_FROM)
    return str(queue_url)


def demo_config(
    endpoint: str, queue_url: str, listen: str, nameserver: str, tenants: str
) -> Config:
    """The daemon's config: the local queue, DNS and tenant API; the canary every few
    seconds; rules on domains, providers, tenants and the canary, to the console."""
    return parse_config(
        f"""
[aws]
region = "us-east-1"
endpoint_url = "{endpoint}"

[[queues]]
url = "{queue_url}"
name = "demo"
concurrency = 2
wait_time_seconds = 1

[http]
listen = "{listen}"

[windows]
sizes = ["1m", "5m", "15m"]

[providers]
nameservers = ["{nameserver}"]

# moto has no SESv2 GetAccount: the demo shows sesd's own reputation estimate.
[account_health]
enabled = false

[tenants]
enabled = true
endpoint_url = "{tenants}"
poll_every = "10s"

[shutdown]
grace_period = "5s"

[canary]
from = "{CANARY_FROM}"
configuration_set = "sesd-demo"
interval = "5s"
deadline = "20s"

[alerts]
evaluate_every = "1s"
group_wait = "2s"

[[alerts.rules]]
name = "canary-missing"
metric = "canary_missing"
window = "5m"
above = 0
severity = "critical"
sinks = ["console"]

[[alerts.rules]]
name = "delay-ratio-high"
metric = "delay_ratio"
window = "1m"
above = 0.10
clear_below = 0.05
min_events = 20
severity = "critical"
sinks = ["console"]

[[alerts.rules]]
name = "provider-delay-ratio-high"
metric = "delay_ratio"
window = "1m"
above = 0.10
clear_below = 0.05
min_events = 20
severity = "critical"
sinks = ["console"]
providers = ["*"]

[[alerts.rules]]
name = "tenant-paused"
metric = "tenant_sending_paused"
window = "1m"
above = 0
tenants = ["*"]
severity = "critical"
sinks = ["console"]
"""
    )
