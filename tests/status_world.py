"""A delay spike on outlook.com, for the status page's tests: the events, and the state
the page reads built around a pipeline (pure tests) or fed to a running daemon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from sesd import __version__
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.silences import Silence, SilenceSet
from sesd.config import Config, QueueConfig, core_settings, parse_config
from sesd.core.decode import decode_body
from sesd.core.pipeline import Pipeline
from sesd.metrics.registry import Metrics
from sesd.runtime.daemon import Daemon
from sesd.runtime.health import Health
from sesd.status.sources import Sources
from tests import factory as f

#: The time pure tests read the state at.
NOW = f.T0 + 3600
#: The queue the pure tests' events come from (its pollers count on its SQS series).
QUEUE = QueueConfig(url="http://127.0.0.1:9/1/q", name="q")
#: Microsoft's published text for its reputation throttle.
MICROSOFT = (
    "smtp; 451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited "
    "due to IP reputation."
)
#: A rule on every domain and one on every provider, evaluated at once.
RULES = """
[[alerts.rules]]
name = "delay-ratio-high"
metric = "delay_ratio"
window = "5m"
above = 0.1
clear_below = 0.05
min_events = 10
severity = "critical"

[[alerts.rules]]
name = "provider-delay-ratio-high"
metric = "delay_ratio"
window = "5m"
above = 0.1
min_events = 10
providers = ["*"]
"""


def spike(at: float, *, diagnostic: str = MICROSOFT, delays: int = 15) -> list[dict[str, Any]]:
    """Events of the minute before ``at``: gmail.com delivers, outlook.com delivers ten
    and delays ``delays`` recipients (Microsoft throttling), yahoo.com delivers and
    delays one."""
    events = [f.delivery([f"user{i}@gmail.com"], at=at - 60 + i) for i in range(30)]
    events += [f.delivery([f"user{i}@outlook.com"], at=at - 50 + i) for i in range(10)]
    events += [
        f.delay(
            [f"late{i}@outlook.com"],
            at=at - 40 + i,
            delay_type="RecipientServerError",
            status="4.7.650",
            diagnostic=diagnostic,
            expires=at + 3600,
        )
        for i in range(delays)
    ]
    events += [f.delivery([f"user{i}@yahoo.com"], at=at - 30 + i) for i in range(12)]
    events.append(f.delay(["slow@yahoo.com"], at=at - 20, expires=at + 3600))
    return events


@dataclass
class World:
    """The state the status page reads, around a pipeline."""

    config: Config
    pipeline: Pipeline
    evaluator: Evaluator
    metrics: Metrics
    health: Health
    sources: Sources


def world(extra: str = "", *, now: float = f.T0) -> World:
    """A pipeline with the spike's rules (and ``extra`` config), nothing fed yet."""
    config = parse_config(RULES + extra)
    pipeline = Pipeline(core_settings(config))
    ledger = pipeline.ledger
    evaluator = Evaluator(config.alerts, [s.name for s in ledger.specs])
    metrics = Metrics(ledger, [QUEUE], lambda: now, evaluator=evaluator)
    health = Health(["q"])
    sources = Sources(
        ledger=ledger,
        evaluator=evaluator,
        metrics=metrics,
        health=health,
        clock=lambda: now,
        monotonic=lambda: 100.0,
        started=now - 600,
        version=__version__,
    )
    return World(config, pipeline, evaluator, metrics, health, sources)


def feed(w: World, events: list[dict[str, Any]], now: float) -> None:
    """Feed events (raw bodies) as a poller would, then evaluate the rules at ``now``."""
    for event in events:
        w.pipeline.feed(f.raw(event), "q", now)
    w.evaluator.evaluate(w.pipeline.ledger, now)


async def settled(daemon: Daemon, messages: int, firing: tuple[str, str] | None = None) -> None:
    """Until a running daemon handled ``messages`` messages and evaluated its rules after
    the last of them (an alert's value is then the one they make), and ``firing``
    (rule, label) fires. The first evaluation to end after the last message may have
    begun before it, and read the windows before its batch was in (a loaded machine
    gives that one the time): the second began after the first ended, so after the
    messages."""
    ledger, alerting = daemon.ledger, daemon.alerting
    with anyio.fail_after(20):
        await daemon.changes.wait_for(lambda: sum(ledger.tallies.messages.values()) >= messages)
        seen = alerting.evaluations
        await daemon.changes.wait_for(lambda: alerting.evaluations > seen + 1)
        if firing is not None:
            await daemon.changes.wait_for(lambda: firing in set(alerting.evaluator.firing()))


EVERYTHING = """
[canary]
from = "canary@example.com"
configuration_set = "sesd"

[tenants]
enabled = true

[[alerts.rules]]
name = "canary-missing"
metric = "canary_missing"
window = "15m"
above = 0

[[alerts.rules]]
name = "ses-paused"
metric = "sending_paused"
window = "5m"
above = 0

[[alerts.rules]]
name = "tenant-paused"
metric = "tenant_sending_paused"
window = "5m"
above = 0
tenants = ["*"]

[[alerts.rules]]
name = "slow-burn"
metric = "delayed_recipients"
window = "5m"
above = 0
for = "1h"
"""


def everything() -> World:
    """Every section has something: the spike, a canary back and one that failed to
    send, a paused account, a paused tenant, a pending alert, a silence."""
    w = world(EVERYTHING, now=NOW)
    ledger = w.pipeline.ledger
    events = spike(NOW)
    for event in events:
        event["mail"]["tags"]["ses:tenant-name"] = ["globex"]
    canary = ledger.canary
    canary.sent("m-1", NOW - 100, 0.2)
    back = f.raw(f.delivery(["c@simulator.example"], at=NOW - 98, message_id="m-1"))
    canary.observe(decode_body(back), NOW - 97)  # type: ignore[arg-type]
    canary.failed("auth", NOW - 50, 0.1)
    ledger.accounts.record(("default", "eu-west-1")).sending_enabled = False
    paused = ledger.tenant_status.record(("default", "eu-west-1", "globex"))
    paused.sending, paused.aws, paused.aws_cause = "DISABLED", "DISABLED", "<b>bounces</b>"
    w.evaluator.silences = SilenceSet(
        [Silence(id="s2", comment="known", starts_at=NOW - 9, ends_at=None, until_resolved=True,
                 rule="ses-paused")]
    )  # fmt: skip
    feed(w, events, NOW)
    return w


#: Over 1,000 domains, one alert each: more than a page lists.
MANY = 1001


def many_alerts() -> World:
    """A world with :data:`MANY` alerts firing, a delayed recipient on each domain."""
    w = world(
        f"[domains]\nmax_tracked = {MANY}\n"
        '[[alerts.rules]]\nname = "any-delay"\nmetric = "delayed_recipients"\n'
        'window = "5m"\nabove = 0\n',
        now=NOW,
    )
    feed(
        w,
        [f.delay([f"late@d{i}.example"], at=NOW - 30, expires=NOW + 3600) for i in range(MANY)],
        NOW,
    )
    return w
