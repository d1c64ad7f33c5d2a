"""Which sink delivers each ``[alerts.sinks]`` type, and the HTTP client they post with."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

import aiohttp

from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.sinks import ConsoleSink, PagerDutySink, Sink, SlackSink
from sesd.alerting.webhook import WebhookSink
from sesd.config import (
    AlertmanagerConfig,
    AlertsConfig,
    ConsoleConfig,
    PagerDutyConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
)

__all__ = ["build_sink", "build_sinks", "sink_session"]


def sink_session() -> aiohttp.ClientSession:
    """The HTTP client the sinks post with: through the proxy ``HTTPS_PROXY`` or
    ``HTTP_PROXY`` names (``NO_PROXY`` honoured), as the AWS SDK's calls go, so a host
    that reaches the internet only through a proxy gets its pages out too."""
    return aiohttp.ClientSession(trust_env=True)


def build_sink(
    name: str, config: SinkConfig, session: aiohttp.ClientSession, console: TextIO | None = None
) -> Sink:
    """The sink a ``[alerts.sinks.NAME]`` describes (a type added to the config and
    not here is a KeyError at start, not a console that pages nobody)."""
    if isinstance(config, ConsoleConfig):
        return ConsoleSink(console, name)
    made: Sink = _SINKS[type(config)](config, session, name)
    return made


#: The sink each ``[alerts.sinks]`` type is delivered by.
_SINKS: dict[type, Callable[..., Sink]] = {
    SlackConfig: SlackSink,
    PagerDutyConfig: PagerDutySink,
    AlertmanagerConfig: AlertmanagerSink,
    WebhookConfig: WebhookSink,
}


def build_sinks(
    alerts: AlertsConfig, session: aiohttp.ClientSession, console: TextIO | None = None
) -> list[Sink]:
    """Every sink ``[alerts]`` names; the console sink is always there."""
    return [
        build_sink(name, config, session, console) for name, config in alerts.named_sinks().items()
    ]
