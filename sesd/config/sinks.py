"""The sinks an ``[alerts]`` rule routes to, each type's settings checked on its own:
Slack, PagerDuty, Alertmanager, a webhook, the console. Which sinks exist by name, and
which rules name them, is sesd.config.alerts'."""

from __future__ import annotations

import re
import string
from typing import Final
from urllib.parse import urlsplit

import msgspec

from sesd.config.secrets import Secret
from sesd.config.urls import check_http_url, shown_url
from sesd.config.values import Duration, Section

__all__ = [
    "ROUTING_KEY_LENGTH",
    "SINK_TYPES",
    "AlertmanagerConfig",
    "ConsoleConfig",
    "PagerDutyConfig",
    "SinkConfig",
    "SlackConfig",
    "WebhookConfig",
    "slack_placeholder_fault",
]

SINK_TYPES = ("slack", "pagerduty", "alertmanager", "webhook", "console")
#: What every PagerDuty integration key seen is made of.
_KEY_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits)


class _Sink(Section, frozen=True, tag_field="type"):
    pass


def _check_timeout(timeout: Duration) -> None:
    """A sink's timeout of 0 would be none at all: a receiver that never answers would
    hold its outbox for ever, past notification_max_age, with nothing logged; one of
    hours (``timeout = 10000``, read in seconds) nearly so."""
    if timeout.seconds < 0.1:
        raise ValueError("timeout must be at least 100ms (0 would wait for ever)")
    if timeout.seconds > 300:
        raise ValueError(
            f"timeout {timeout.text!r} is over 5m: a receiver that hangs would hold every "
            "notification behind it that long (a bare number is seconds)"
        )


#: A part of a Slack webhook URL's path that no webhook has: the words of the URL the
#: Kubernetes Secret example ships (.../services/REPLACE/ME/PLEASE), the zeros and X's of
#: Slack's own documentation (.../services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX,
#: or shortened, T000/B000/XXX) and an ellipsis. A real one's parts are a workspace's
#: and a webhook's ids (T and B, then letters and digits) and a token of 24.
_PLACEHOLDER_PART: Final = re.compile(r"REPLACE|ME|PLEASE|[TB]0{3,}|X{3,}|\.{2,}", re.IGNORECASE)


def slack_placeholder_fault(url: str) -> str | None:
    """Why ``url`` is an example's stand-in for a Slack webhook, not one, or None: sesd
    would start on it and every notification would then fail, each one logged, none
    seen by the on-call engineer it was for. Said without the URL, as of any secret."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:  # refused by the URL's own check
        return None
    words = [word for word in parts.path.split("/") if word]
    if host != "hooks.slack.com" or words[:1] != ["services"]:
        return None
    if not any(_PLACEHOLDER_PART.fullmatch(word) for word in words[1:]):
        return None
    return (
        "an example's placeholder, not a webhook (REPLACE/ME/PLEASE, T000/B000/XXX or "
        "'...' in its path): every notification would fail; put there the channel's "
        "Webhook URL from the Slack app's Incoming Webhooks page (https://api.slack.com/apps), "
        "https://hooks.slack.com/services/ then three parts of letters and digits"
    )


class SlackConfig(_Sink, frozen=True, tag="slack"):
    """A Slack incoming webhook."""

    webhook_url: Secret
    timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))

    def __post_init__(self) -> None:
        _check_timeout(self.timeout)


#: The length of a PagerDuty integration key, an Events API v2 ``routing_key``: "the 32
#: character Integration Key", as PagerDuty's Events API v2 reference writes it (of what
#: characters, it does not say).
ROUTING_KEY_LENGTH: Final = 32


class PagerDutyConfig(_Sink, frozen=True, tag="pagerduty"):
    """PagerDuty Events API v2."""

    routing_key: Secret
    events_url: str = "https://events.pagerduty.com/v2/enqueue"
    #: Each event's ``source`` ("the unique location of the affected system,
    #: preferably a hostname or FQDN", PagerDuty's reference says). None: the replica
    #: that sends (sesd.io.replica), as sesd's other messages name it.
    source: str | None = None
    timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))

    def __post_init__(self) -> None:
        check_http_url(self.events_url, "events_url", drops=True)
        _check_timeout(self.timeout)
        if self.source is not None and not self.source.strip():
            raise ValueError("source must not be blank: PagerDuty refuses every event then")

    def key_fault(self) -> str | None:
        """Why PagerDuty would refuse every event sent with the routing key, once read,
        or None; said without the key. Its length alone is known: the key of another
        service (a REST API key), or one cut short in the copy. Judged where the events go
        to PagerDuty's own Events API (its EU host too): a compatible receiver of one's
        own (``events_url`` another host) may take keys of its own making."""
        if not (self.routing_key.is_read and self._at_pagerduty()):
            return None
        length = len(self.routing_key.get())
        if length == ROUTING_KEY_LENGTH:
            return None
        return (
            f"{length} character{'s' if length != 1 else ''} long, where every PagerDuty "
            f"integration key (the Events API v2 routing key) is {ROUTING_KEY_LENGTH}: "
            "PagerDuty would refuse each event; give the Integration Key of the service's "
            "Events API v2 integration (value not shown)"
        )

    def key_doubt(self) -> str | None:
        """Why PagerDuty would probably refuse each event sent with the routing key, once
        read and of the right length, or None; said without the key. Every integration
        key PagerDuty is known to issue is ASCII letters and digits (lowercase hex, or
        mixed case); its reference gives only the length, so a key of other characters
        is warned of, not refused. Judged as :meth:`key_fault` is."""
        if not (self.routing_key.is_read and self._at_pagerduty()):
            return None
        key = self.routing_key.get()
        if len(key) != ROUTING_KEY_LENGTH:
            return None  # refused (key_fault)
        odd = next((i for i, char in enumerate(key) if char not in _KEY_CHARACTERS), None)
        if odd is None:
            return None
        return (
            f"character {odd + 1} of {ROUTING_KEY_LENGTH} is neither an ASCII letter nor a "
            "digit, where every PagerDuty integration key seen is letters and digits: "
            "PagerDuty would probably refuse each event (its reference gives only the "
            "length, so this is not refused); check it against the Integration Key of the "
            "service's Events API v2 integration (value not shown)"
        )

    def _at_pagerduty(self) -> bool:
        """Whether the events go to PagerDuty's own Events API (its EU host too)."""
        try:
            # A name from the root ("events.pagerduty.com.") is the same host to the client.
            host = (urlsplit(self.events_url.strip()).hostname or "").rstrip(".")
        except ValueError:  # refused by the URL's own check
            return False
        return host == "pagerduty.com" or host.endswith(".pagerduty.com")


class AlertmanagerConfig(_Sink, frozen=True, tag="alertmanager"):
    """Alertmanager's ``/api/v2/alerts``, at every member of a cluster."""

    urls: list[str]
    #: Basic auth for an Alertmanager behind it (its ``--web.config.file``, a proxy):
    #: the password is a secret (``env:NAME``, ``file:PATH``).
    username: str = ""
    password: Secret | None = None
    #: How often a firing alert is posted again, its ``endsAt`` four periods ahead
    #: (so Alertmanager's ``resolve_timeout``, for alerts without one, does not apply).
    resend_every: Duration = msgspec.field(default_factory=lambda: Duration("1m"))
    timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))
    #: Several replicas post the same alerts: a replica whose share resolves posts no
    #: resolve (another may still fire it); Alertmanager ends the alert once no
    #: replica has posted it for four resend periods.
    shared: bool = False

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("urls must list at least one Alertmanager")
        if (self.password is None) != (not self.username):
            raise ValueError("username and password go together (basic auth)")
        for i, url in enumerate(self.urls):
            check_http_url(url, f"urls[{i}]")
            if "?" in url or "#" in url:  # a path prefix is taken: /alertmanager
                raise ValueError(
                    f"urls[{i}]: '{shown_url(url)}' has a query or a fragment ('?', '#'): sesd "
                    "adds /api/v2/alerts to the URL's path, which would land in it"
                )
        if self.resend_every.seconds < 1:
            raise ValueError("resend_every must be at least 1s")
        _check_timeout(self.timeout)


class WebhookConfig(_Sink, frozen=True, tag="webhook"):
    """A JSON POST of sesd's own schema, signed with HMAC-SHA256 when ``secret`` is set."""

    url: Secret
    secret: Secret | None = None
    timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))

    def __post_init__(self) -> None:
        _check_timeout(self.timeout)


class ConsoleConfig(_Sink, frozen=True, tag="console"):
    """Standard output."""


SinkConfig = SlackConfig | PagerDutyConfig | AlertmanagerConfig | WebhookConfig | ConsoleConfig
