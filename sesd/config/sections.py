"""The sections of the config file other than ``[aws]`` (sesd.config.aws),
``[alerts]`` (sesd.config.alerts) and ``[domains]`` (sesd.config.domains): each
validates itself, and an error names its key."""

from __future__ import annotations

import os
import re
from typing import Final, Literal

import msgspec

from sesd.config.urls import check_http_url
from sesd.config.values import (
    Duration,
    Section,
    check_region,
    toml_key,
)
from sesd.config.web import WebConfig, WebConfigFile
from sesd.core.domains import normalise_domain
from sesd.core.providers import MX_LABEL
from sesd.core.text import escaped, has_control, has_space_or_control

__all__ = [
    "EXIT_ROOM",
    "LAST_SAVE",
    "SHIPPED_STOP_TIMEOUT",
    "CanaryConfig",
    "DimensionsConfig",
    "HttpConfig",
    "IngestConfig",
    "LoggingConfig",
    "ProvidersConfig",
    "ShutdownConfig",
    "StateConfig",
    "TenantsConfig",
    "WindowsConfig",
]


class HttpConfig(Section, frozen=True):
    """``[http]``: the metrics and health endpoints, and the status page."""

    listen: str = "127.0.0.1:9585"
    #: The exporter-toolkit web configuration file (TLS, basic auth, headers); read with
    #: the secrets, and again on every reload.
    web_config: WebConfigFile | None = None

    def __post_init__(self) -> None:
        host, _, port = self.listen.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()):  # ('²' is a digit too)
            raise ValueError(f"listen must be HOST:PORT, got {self.listen!r}")
        if int(port) > 65535:
            raise ValueError(f"listen {self.listen!r}: port {port} is over 65535")
        if has_space_or_control(host):  # no bind takes it
            why = "a space, control or invisible character (shown escaped): no address has one"
            raise ValueError(f"listen {self.listen!r}: the host has {why}")

    @property
    def host(self) -> str:
        """Host part, brackets removed for IPv6."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        """Port part."""
        return int(self.listen.rpartition(":")[2])

    @property
    def web(self) -> WebConfig | None:
        """The web configuration file's content (once read), or None without one."""
        return self.web_config.get() if self.web_config is not None else None


class WindowsConfig(Section, frozen=True):
    """``[windows]``: the sliding windows kept per domain."""

    sizes: list[Duration] = msgspec.field(
        default_factory=lambda: [Duration("5m"), Duration("15m"), Duration("1h")]
    )
    resolution: Duration = msgspec.field(default_factory=lambda: Duration("10s"))
    max_buckets: int = 30

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ValueError("sizes must name at least one window")
        if self.resolution.seconds < 1:
            raise ValueError("resolution must be at least 1s")
        if not 2 <= self.max_buckets <= 3600:
            raise ValueError("max_buckets must be between 2 and 3600")
        seen: set[float] = set()
        for i, size in enumerate(self.sizes):
            # Each named by its index, as a type error's path names one of a list.
            if size.seconds < self.resolution.seconds:
                raise ValueError(
                    f"sizes[{i}]: {size.text} is shorter than the resolution "
                    f"({self.resolution.text})"
                )
            if size.seconds in seen:
                raise ValueError(f"sizes[{i}]: {size.text} is listed twice")
            seen.add(size.seconds)


class DimensionsConfig(Section, frozen=True):
    """``[dimensions]``: message tags broken down like domains."""

    tags: list[str] = []
    max_tracked: int = 200

    def __post_init__(self) -> None:
        if self.max_tracked < 0:
            raise ValueError("max_tracked must not be negative")


class ProvidersConfig(Section, frozen=True):
    """``[providers]``: recipient domains attributed to mailbox providers by their MX."""

    enabled: bool = True
    #: ``host:port`` of the resolvers to ask; empty for the system's (resolv.conf).
    nameservers: list[str] = []
    #: How long each nameserver is given, in turn, within one lookup.
    timeout: Duration = msgspec.field(default_factory=lambda: Duration("2s"))
    #: Lookups started a second, at most, and at once.
    rate: float = 20.0
    concurrency: int = 10
    #: Domains whose answers are cached (and saved in the state file).
    max_cache: int = 100_000
    #: Provider label -> MX host suffixes: adds to the built-in table, or overrides a
    #: built-in provider's suffixes.
    mx: dict[str, list[str]] = {}

    def __post_init__(self) -> None:
        for server in self.nameservers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) <= 65535:
                raise ValueError(f"nameservers: {server!r} is not HOST:PORT")
        if not 0 < self.timeout.seconds <= 30:
            raise ValueError("timeout must be more than 0s and at most 30s")
        if not 0 < self.rate <= 1000:
            raise ValueError("rate must be more than 0 and at most 1000 lookups a second")
        if not 1 <= self.concurrency <= 100:
            raise ValueError("concurrency must be between 1 and 100")
        if self.max_cache < 1:
            raise ValueError("max_cache must be at least 1")
        for label, suffixes in self.mx.items():
            if not MX_LABEL.fullmatch(label) or label in ("other", "none", "unknown"):
                raise ValueError(
                    f"mx.{toml_key(label, 200)}: not a usable provider label (lower-case ASCII "
                    "letters, digits, '_' and '-', first a letter, at most 32; not other, "
                    "none or unknown)"
                )
            if not suffixes:
                raise ValueError(f"mx.{label}: list at least one MX host suffix")
            for suffix in suffixes:
                if normalise_domain(suffix.strip(".")) is None:
                    raise ValueError(f"mx.{label}: {suffix!r} is not a host name suffix")

    @property
    def table(self) -> dict[str, tuple[str, ...]]:
        """The configured MX suffixes in the form DNS writes host names (lower case,
        punycode: a suffix written in Unicode would match no host), as the resolver
        takes them."""
        return {
            # Each one normalises: __post_init__ refused any other.
            label: tuple(normalise_domain(s.strip(".")) or s for s in suffixes)
            for label, suffixes in self.mx.items()
        }


class TenantsConfig(Section, frozen=True):
    """``[tenants]``: SES tenants as a third scope, and what SES says of each."""

    enabled: bool = False
    #: Message tags that name an event's tenant, the first found winning
    #: (``ses:tenant-name`` is SES's own; a sender's own tag set on every email
    #: reaches every event type).
    tags: list[str] = msgspec.field(default_factory=lambda: ["ses:tenant-name"])
    #: Tenants counted under their own label; the rest count as ``other``.
    max_tracked: int = 200
    #: How often each (account, region)'s tenants, their resources and their
    #: reputation status are polled (SESv2 ListTenants, ListTenantResources,
    #: ListReputationEntities, ListRecommendations).
    poll_every: Duration = msgspec.field(default_factory=lambda: Duration("5m"))
    #: Calls a second, at most, to each (account, region): SES allows these APIs about
    #: one a second per account, shared with the platform's own tooling.
    calls_per_second: float = 1.0
    #: Ask for open findings (VDM recommendations) of tenants that have some.
    recommendations: bool = True
    #: The SESv2 endpoint (a local one in tests and the demo); [aws] endpoint_url else.
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if not self.tags or any(not tag for tag in self.tags):
            raise ValueError("tags must name at least one message tag")
        if self.max_tracked < 0:
            raise ValueError("max_tracked must not be negative")
        if self.poll_every.seconds < 10:
            raise ValueError("poll_every must be at least 10s")
        if not 0.01 <= self.calls_per_second <= 100:
            raise ValueError("calls_per_second must be from 0.01 to 100")
        if self.endpoint_url is not None:
            check_http_url(self.endpoint_url, "endpoint_url")


class IngestConfig(Section, frozen=True):
    """``[ingest]``: how messages are judged and remembered."""

    delete_invalid: bool = False
    dedup_max_entries: int = 200_000
    max_pending_delays: int = 200_000

    def __post_init__(self) -> None:
        if self.dedup_max_entries < 2:
            raise ValueError("dedup_max_entries must be at least 2")
        if self.max_pending_delays < 0:
            raise ValueError("max_pending_delays must not be negative")


class LoggingConfig(Section, frozen=True):
    """``[logging]``."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    log_recipients: bool = False


#: Seconds the stop's last state save has after the grace period, at most: past them
#: the write is left to its thread and sesd exits 1 (a disk whose fsync hangs would
#: otherwise hold the stop until the supervisor's SIGKILL, which says nothing of why).
LAST_SAVE: Final = 10.0
#: What the exit itself may take after that (tasks ended, connections closed, logs
#: written): a moment, with room to spare; past it ``sesd run`` exits regardless (a
#: thread that does not end, a name lookup on a hung resolver, would hold it).
EXIT_ROOM: Final = 5.0
#: The stop timeout the shipped units give: systemd's TimeoutStopSec=45s, Kubernetes'
#: terminationGracePeriodSeconds: 45, `docker stop --time 45`.
SHIPPED_STOP_TIMEOUT: Final = 45.0


class ShutdownConfig(Section, frozen=True):
    """``[shutdown]``: how long a graceful stop may take before work is cut off."""

    grace_period: Duration = msgspec.field(default_factory=lambda: Duration("30s"))

    def longest_stop(self, saves: bool) -> float:
        """Seconds a stop may take, from the signal to the exit (``saves``: with a
        state file, whose last save has :data:`LAST_SAVE` after the grace period)."""
        return self.grace_period.seconds + (LAST_SAVE if saves else 0.0) + EXIT_ROOM


_SIMULATOR = re.compile(
    r"(success|bounce|ooto|complaint|suppressionlist)(\+[A-Za-z0-9._-]+)?@simulator\.amazonses\.com"
)


#: A configuration set's name, as SES allows it.
_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CanaryConfig(Section, frozen=True):
    """``[canary]``: one email through SES to the mailbox simulator every ``interval``."""

    from_: str = msgspec.field(name="from")
    configuration_set: str
    to: str = "success@simulator.amazonses.com"
    interval: Duration = msgspec.field(default_factory=lambda: Duration("1m"))
    deadline: Duration = msgspec.field(default_factory=lambda: Duration("5m"))
    queue: str = ""
    send_timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))
    endpoint_url: str | None = None
    #: The ``[[accounts]]`` entry that sends (its role), and the region to send in:
    #: the canary queue's unless set (sesd.config.Config.canary_sender).
    account: str = ""
    region: str | None = None

    def __post_init__(self) -> None:
        if "@" not in self.from_.strip("@"):
            raise ValueError(
                f"from must be an email address (a verified identity), got {self.from_!r}"
            )
        if not _SIMULATOR.fullmatch(self.to.lower()):
            raise ValueError(
                f"to must be a mailbox simulator address such as "
                f"success@simulator.amazonses.com, got {self.to!r}"
            )
        if not self.configuration_set:
            raise ValueError("configuration_set must name the set whose events reach sesd")
        # What SES refuses at the first send (a space, a pasted line break), refused here:
        # check-config passes, and the canary fails every send (and pages) after the start.
        if not _CONFIGURATION_SET.fullmatch(self.configuration_set):
            raise ValueError(
                f"configuration_set: '{escaped(self.configuration_set, 100)}' is no "
                "configuration set's name (ASCII letters, digits, '-' and '_', at most 64): "
                "SES refuses the canary's send"
            )
        # A display name may hold spaces ("Canary <canary@example.com>"); no address
        # holds a control character or begins or ends with a space.
        if has_control(self.from_) or self.from_ != self.from_.strip():
            raise ValueError(
                f"from: '{escaped(self.from_, 200)}': a line break, another control or "
                "invisible character, or a space at its start or end: SES refuses the "
                "canary's send"
            )
        check_region(self.region, "region")
        if self.interval.seconds < 1:
            raise ValueError("interval must be at least 1s")
        if self.deadline.seconds <= 0:
            raise ValueError("deadline must be positive")
        if self.send_timeout.seconds <= 0:
            raise ValueError("send_timeout must be positive")
        if self.endpoint_url is not None:
            check_http_url(self.endpoint_url, "endpoint_url")

    @property
    def call_timeout(self) -> float:
        """How long one SendEmail may take: ``send_timeout``, at most the interval."""
        return min(self.send_timeout.seconds, self.interval.seconds)


class StateConfig(Section, frozen=True):
    """``[state]``: where windows and alert states survive a restart."""

    path: str | None = None
    save_every: Duration = msgspec.field(default_factory=lambda: Duration("1m"))

    def __post_init__(self) -> None:
        if self.path is not None and not self.path.strip():
            # A template's unset value: read as no state file, restarts would lose it all.
            raise ValueError(
                "path: empty: leave it out to keep no state file, or give the file's path"
            )
        # A save holds the event loop while it builds the file: 0 would save in a loop.
        if self.save_every.seconds < 1:
            raise ValueError("save_every must be at least 1s")


def check_state_files(state: str | None, silences: str | None) -> None:
    """Raise ValueError when the silences file is the state file (``silences_path``
    written as ``state.path``, or a state file named ``silences.json``): each locks
    ``PATH.lock``, which the daemon holds while it runs, so ``sesd silence add`` would
    wait for ever, and each write would replace the other's file."""
    if state and silences and os.path.normpath(state) == os.path.normpath(silences):
        raise ValueError(
            f"alerts.silences_path: {escaped(silences, 200)!r} is the state file (state.path):"
            " `sesd silence` would wait for ever on its lock, which the daemon holds, and "
            "each would write over the other; give the silences a file of their own"
        )


class ReloadConfig(Section, frozen=True):
    """``[reload]``: files sesd reads again by itself, the config file aside."""

    #: How often the files behind ``file:`` secrets and ``[http] web_config`` (with the
    #: certificate and key it names) are looked at; one that changed is read again, as
    #: a reload reads it, with the config in force. "0s": only on SIGHUP.
    check_files_every: Duration = msgspec.field(default_factory=lambda: Duration("30s"))

    def __post_init__(self) -> None:
        seconds = self.check_files_every.seconds
        if 0 < seconds < 1:
            raise ValueError("check_files_every must be 0s (off) or at least 1s")
