"""What ``sesd demo`` sets up before the daemon starts: the local queue (with its
dead-letter queue) and the canary's verified identity in moto, and the daemon's
config pointing at them, the local DNS server and the local tenant API, written to a
file beside the silences file it names."""

from __future__ import annotations

import json
import os
import socket
from typing import Final

from aiobotocore.session import get_session

from sesd.config import Config, HttpConfig, load_config, parse_config
from sesd.runtime.http import ListenError

__all__ = [
    "CANARY_FROM",
    "QUEUE",
    "create_resources",
    "demo_config",
    "keep_to_loopback",
    "reserve",
    "write_config",
]

QUEUE: Final = "sesd-demo-events"
CANARY_FROM: Final = "canary@example.com"


def keep_to_loopback() -> None:
    """Set this process's environment so the SDK reads none of the machine's AWS setup
    and no proxy carries the demo's calls: every endpoint the demo uses is its own, on
    127.0.0.1, and moto takes any keys.

    The SDK read AWS_PROFILE (a profile this machine lacks stopped the demo with a
    traceback), the config file's profiles (a credential process, an SSO login), and
    sent the local calls to an ``HTTP_PROXY``: off the machine, for servers only it
    can reach."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    # Both spellings: Python's proxy lookup prefers the lower-case one when both are set.
    for name in ("no_proxy", "NO_PROXY"):
        os.environ[name] = ",".join(filter(None, (os.environ.get(name), "127.0.0.1")))


def reserve(listen: str) -> HttpConfig:
    """``listen`` with its port fixed (a free one for 0), so that the page's address is
    printed before anything starts and before any log line; an address that cannot be
    listened on fails here, at once, as the daemon's start would after the local SQS
    had started. (Another program may take the port before the daemon listens: the
    daemon's start then fails the same way.)"""
    http = HttpConfig(listen=listen)
    family = socket.AF_INET6 if ":" in http.host else socket.AF_INET
    with socket.socket(family) as probe:
        # As the daemon's server binds: a port a closed connection left in TIME_WAIT
        # is free to it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((http.host, http.port))
        except OSError as exc:
            raise ListenError.of(listen, exc) from None
        port = probe.getsockname()[1]
    return HttpConfig(listen=f"{listen.rpartition(':')[0]}:{port}")


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


def write_config(
    directory: str, endpoint: str, queue_url: str, listen: str, nameserver: str, tenants: str
) -> tuple[str, Config]:
    """The daemon's config (:func:`demo_config`) written to ``directory``, with a
    silences file there, and read back as ``sesd run`` reads its file: its path and
    the config. With both, each alert the console prints has its mute line, a
    ``sesd silence add --config`` that names this file: a first user sees how an alert
    is muted, and can try it while the demo runs. Without them the alerts had none."""
    path = os.path.join(directory, "config.toml")
    silences = os.path.join(directory, "silences.json")
    with open(path, "w", encoding="utf-8") as file:
        file.write(_text(endpoint, queue_url, listen, nameserver, tenants, silences))
    return path, load_config(path, daemon=True)


def demo_config(
    endpoint: str, queue_url: str, listen: str, nameserver: str, tenants: str
) -> Config:
    """The daemon's config: the local queue, DNS and tenant API; the canary every few
    seconds; rules on domains, providers, tenants and the canary, to the console (no
    silences file: :func:`write_config` gives it one)."""
    return parse_config(_text(endpoint, queue_url, listen, nameserver, tenants, None))


def _text(
    endpoint: str,
    queue_url: str,
    listen: str,
    nameserver: str,
    tenants: str,
    silences: str | None,
) -> str:
    """:func:`demo_config`'s TOML, with ``silences`` its silences file if given."""
    # A JSON string is a TOML basic string: the temporary directory (from $TMPDIR) may
    # hold a quote or a backslash.
    quoted = json.dumps(silences, ensure_ascii=False)
    silences_key = "" if silences is None else f"silences_path = {quoted}"
    return f"""
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

# No group wait: an alert is printed at the tick it fires (the tenant's within a
# second of SES pausing it), as the status page shows it.
[alerts]
evaluate_every = "1s"
group_wait = "0s"
{silences_key}

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
