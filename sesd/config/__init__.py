"""The configuration file: one TOML document, validated before any I/O.

Every error is raised as :class:`ConfigError` with one line that names the
key (``queues[0].concurrency: Expected `int`, got `str```). Secrets are
written as references (``env:NAME``, ``file:PATH``) or literals and are held
in :class:`Secret`, whose ``repr`` never shows the value. The value types are
in :mod:`sesd.config.values`, ``[alerts]`` in :mod:`sesd.config.alerts`.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from sesd.config.alerts import (
    ACCOUNT_METRICS,
    CANARY_METRICS,
    METRICS,
    QUANTILE_METRICS,
    SINK_TYPES,
    AlertmanagerConfig,
    AlertsConfig,
    ConsoleConfig,
    PagerDutyConfig,
    RuleConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
    is_glob,
)
from sesd.config.aws import (
    AccountConfig,
    AccountHealthConfig,
    AwsConfig,
    QueueConfig,
    ReputationConfig,
    region_of_url,
)
from sesd.config.core import core_settings
from sesd.config.values import (
    ConfigError,
    Duration,
    Secret,
    Section,
    check_http_url,
    is_http_url,
)
from sesd.core.domains import normalise_domain
from sesd.core.providers import LABELS as PROVIDER_LABELS

__all__ = [
    "ACCOUNT_METRICS",
    "CANARY_METRICS",
    "METRICS",
    "QUANTILE_METRICS",
    "SINK_TYPES",
    "AccountConfig",
    "AccountHealthConfig",
    "AlertmanagerConfig",
    "AlertsConfig",
    "AwsConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "DomainsConfig",
    "Duration",
    "HttpConfig",
    "IngestConfig",
    "LoggingConfig",
    "PagerDutyConfig",
    "ProvidersConfig",
    "QueueConfig",
    "ReputationConfig",
    "RuleConfig",
    "Secret",
    "SinkConfig",
    "SlackConfig",
    "StateConfig",
    "WebhookConfig",
    "WindowsConfig",
    "core_settings",
    "is_glob",
    "load_config",
    "parse_config",
    "region_of_url",
]


class HttpConfig(Section, frozen=True):
    """``[http]``: the metrics and health endpoint."""

    listen: str = "127.0.0.1:9585"

    def __post_init__(self) -> None:
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen must be HOST:PORT, got {self.listen!r}")

    @property
    def host(self) -> str:
        """Host part, brackets removed for IPv6."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        """Port part."""
        return int(self.listen.rpartition(":")[2])


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
        for size in self.sizes:
            if size.seconds < self.resolution.seconds:
                raise ValueError(f"window {size.text} is shorter than the resolution")
            if size.seconds in seen:
                raise ValueError(f"window {size.text} is listed twice")
            seen.add(size.seconds)


class DomainsConfig(Section, frozen=True):
    """``[domains]``: which recipient domains become label values."""

    track: list[str] = []
    groups: dict[str, list[str]] = {}
    max_tracked: int = 200
    idle_evict: Duration = msgspec.field(default_factory=lambda: Duration("24h"))

    def __post_init__(self) -> None:
        if self.max_tracked < 0:
            raise ValueError("max_tracked must not be negative")
        for domain in [*self.track, *(d for members in self.groups.values() for d in members)]:
            if normalise_domain(domain) is None:
                raise ValueError(f"{domain!r} is not a usable domain name")
        for name in self.groups:
            if name in ("other", "invalid") or not name:
                raise ValueError(f"group name {name!r} is reserved")


class DimensionsConfig(Section, frozen=True):
    """``[dimensions]``: message tags broken down like domains."""

    tags: list[str] = []
    max_tracked: int = 200


_PROVIDER_LABEL = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class ProvidersConfig(Section, frozen=True):
    """``[providers]``: recipient domains attributed to mailbox providers by their MX."""

    enabled: bool = True
    #: ``host:port`` of the resolvers to ask; empty for the system's (resolv.conf).
    nameservers: list[str] = []
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
            raise ValueError("timeout must be between 0s and 30s")
        if not 0 < self.rate <= 1000:
            raise ValueError("rate must be between 0 and 1000 lookups a second")
        if not 1 <= self.concurrency <= 100:
            raise ValueError("concurrency must be between 1 and 100")
        if self.max_cache < 1:
            raise ValueError("max_cache must be at least 1")
        for label, suffixes in self.mx.items():
            if not _PROVIDER_LABEL.fullmatch(label) or label in ("other", "none", "unknown"):
                raise ValueError(
                    f"mx: {label!r} is not a usable provider label (lower-case letters, digits, "
                    "'_' and '-'; not other, none or unknown)"
                )
            if not suffixes:
                raise ValueError(f"mx.{label}: list at least one MX host suffix")
            for suffix in suffixes:
                if normalise_domain(suffix.strip(".")) is None:
                    raise ValueError(f"mx.{label}: {suffix!r} is not a host name suffix")

    @property
    def table(self) -> dict[str, tuple[str, ...]]:
        """The configured MX suffixes, lower-cased, as the resolver takes them."""
        return {
            label: tuple(s.strip(".").lower() for s in suffixes)
            for label, suffixes in self.mx.items()
        }


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


class ShutdownConfig(Section, frozen=True):
    """``[shutdown]``: how long a graceful stop may take before work is cut off."""

    grace_period: Duration = msgspec.field(default_factory=lambda: Duration("30s"))


_SIMULATOR = re.compile(
    r"(success|bounce|ooto|complaint|suppressionlist)(\+[A-Za-z0-9._-]+)?@simulator\.amazonses\.com"
)


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
    #: the default credentials and ``[aws] region`` unless set.
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
        if self.interval.seconds < 1:
            raise ValueError("interval must be at least 1s")
        if self.deadline.seconds <= 0:
            raise ValueError("deadline must be positive")
        if self.send_timeout.seconds <= 0:
            raise ValueError("send_timeout must be positive")
        if self.endpoint_url is not None:
            check_http_url(self.endpoint_url)

    @property
    def call_timeout(self) -> float:
        """How long one SendEmail may take: ``send_timeout``, at most the interval."""
        return min(self.send_timeout.seconds, self.interval.seconds)


class StateConfig(Section, frozen=True):
    """``[state]``: where windows and alert states survive a restart."""

    path: str | None = None
    save_every: Duration = msgspec.field(default_factory=lambda: Duration("1m"))


class Config(Section, frozen=True):
    """The whole file."""

    aws: AwsConfig = msgspec.field(default_factory=AwsConfig)
    accounts: list[AccountConfig] = []
    queues: list[QueueConfig] = []
    http: HttpConfig = msgspec.field(default_factory=HttpConfig)
    windows: WindowsConfig = msgspec.field(default_factory=WindowsConfig)
    domains: DomainsConfig = msgspec.field(default_factory=DomainsConfig)
    dimensions: DimensionsConfig = msgspec.field(default_factory=DimensionsConfig)
    providers: ProvidersConfig = msgspec.field(default_factory=ProvidersConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    shutdown: ShutdownConfig = msgspec.field(default_factory=ShutdownConfig)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    state: StateConfig = msgspec.field(default_factory=StateConfig)
    account_health: AccountHealthConfig = msgspec.field(default_factory=AccountHealthConfig)
    reputation: ReputationConfig = msgspec.field(default_factory=ReputationConfig)
    canary: CanaryConfig | None = None

    def __post_init__(self) -> None:
        windows = {size.text for size in self.windows.sizes}
        for i, rule in enumerate(self.alerts.rules):
            if rule.window not in windows:
                raise ValueError(
                    f"alerts.rules[{i}] ({rule.name}): window {rule.window!r} is not one of "
                    f"windows.sizes ({', '.join(sorted(windows))})"
                )
            if rule.metric in CANARY_METRICS and self.canary is None:
                raise ValueError(
                    f"alerts.rules[{i}] ({rule.name}): metric {rule.metric!r} needs [canary]"
                )
        members = {
            normalise_domain(domain): group
            for group, domains in self.domains.groups.items()
            for domain in domains
        }
        for i, rule in enumerate(self.alerts.rules):
            for domain in rule.domains or []:
                if is_glob(domain):
                    continue
                group = members.get(normalise_domain(domain))
                if group is not None:
                    # Its events count under the group's label: the rule would never fire.
                    raise ValueError(
                        f"alerts.rules[{i}] ({rule.name}): domain {domain!r} is counted in "
                        f"group {group!r}; name the group instead (domains = [{group!r}])"
                    )
        known = {*PROVIDER_LABELS, *self.providers.mx}
        for i, rule in enumerate(self.alerts.rules):
            if rule.providers is not None and not self.providers.enabled:
                raise ValueError(
                    f"alerts.rules[{i}] ({rule.name}): providers needs [providers] enabled"
                )
            for provider in rule.providers or []:
                if not is_glob(provider) and provider not in known:
                    raise ValueError(
                        f"alerts.rules[{i}] ({rule.name}): unknown provider {provider!r} "
                        f"(known: {', '.join(sorted(known))})"
                    )
        names = [a.name for a in self.accounts]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two accounts share the name {name!r}")
        for i, queue in enumerate(self.queues):
            if queue.account and queue.account not in names:
                raise ValueError(
                    f"queues[{i}].account: {queue.account!r} is not one of [[accounts]] "
                    f"({', '.join(names) or 'none configured'})"
                )
        labels = [q.label for q in self.queues]
        for label in labels:
            if labels.count(label) > 1:
                raise ValueError(f"two queues share the name {label!r}; set `name` on one")
        if self.canary is not None and self.canary.account and self.canary.account not in names:
            raise ValueError(
                f"canary.account: {self.canary.account!r} is not one of [[accounts]] "
                f"({', '.join(names) or 'none configured'})"
            )
        if self.canary is not None and self.canary.queue and self.canary.queue not in labels:
            raise ValueError(
                f"canary.queue: {self.canary.queue!r} is not a configured queue "
                f"({', '.join(labels) or 'none configured'})"
            )

    def account(self, name: str) -> AccountConfig | None:
        """The ``[[accounts]]`` entry named ``name`` (None for "" or "default")."""
        return next((a for a in self.accounts if a.name == name), None)

    def health_targets(self) -> list[tuple[str, str]]:
        """The (account label, region) pairs whose health is watched: each that has a
        queue, and each ``[[accounts]]`` entry in its region."""
        found = {(q.account_label, self.region_of(q)) for q in self.queues}
        found |= {(a.name, a.region or self.aws.region) for a in self.accounts}
        return sorted(found)

    def region_of(self, queue: QueueConfig) -> str:
        """A queue's region: its own ``region``, else the one its URL names, else its
        account's, else ``[aws] region``."""
        if queue.region:
            return queue.region
        found = region_of_url(queue.url)
        if found:
            return found
        account = self.account(queue.account)
        if account is not None and account.region:
            return account.region
        return self.aws.region

    @property
    def canary_queue(self) -> str:
        """The label of the queue the canary's events arrive on (the first queue unless set)."""
        if self.canary is None:
            return ""
        if self.canary.queue:
            return self.canary.queue
        return self.queues[0].label if self.queues else ""

    def secrets(self) -> list[tuple[str, Secret]]:
        """Every secret in the file with its key, for resolving and masking."""
        found = [("aws.access_key_id", self.aws.access_key_id)]
        found.append(("aws.secret_access_key", self.aws.secret_access_key))
        found += self.alerts.secrets()
        return [(key, secret) for key, secret in found if secret is not None]

    @property
    def silences_path(self) -> str | None:
        """``[alerts] silences_path``, else ``silences.json`` beside the state file."""
        if self.alerts.silences_path:
            return self.alerts.silences_path
        if self.state.path:
            return str(Path(self.state.path).with_name("silences.json"))
        return None

    def warnings(self) -> list[str]:
        """What is valid but probably not meant (check-config prints these)."""
        return [
            f"alerts.sinks.{name}: no rule sends to this sink"
            if name in self.alerts.sinks
            else f"alerts.{name}: no rule sends to this sink"
            for name in self.alerts.unused_sinks()
        ]

    def to_display(self) -> dict[str, Any]:
        """The resolved config as plain data, secrets masked: what check-config prints."""
        return msgspec.to_builtins(self, enc_hook=_display_hook)  # type: ignore[no-any-return]


# --- loading -----------------------------------------------------------------


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Duration:
        if isinstance(obj, int | float) and not isinstance(obj, bool):
            return Duration(f"{obj}s")
        if isinstance(obj, str):
            return Duration(obj)
        raise ValueError(f"expected a duration such as '10s', got {type(obj).__name__}")
    if type_ is Secret:
        if not isinstance(obj, str) or not obj:
            raise ValueError("expected a string ('env:NAME', 'file:PATH' or a literal)")
        return Secret(obj)
    raise NotImplementedError(type_)


def _display_hook(obj: Any) -> Any:
    if isinstance(obj, Duration):
        return obj.text
    if isinstance(obj, Secret):
        return obj.masked()
    raise NotImplementedError(type(obj))


_AT_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


def _one_line(exc: msgspec.ValidationError, prefix: str = "") -> str:
    match = _AT_PATH.match(str(exc))
    assert match is not None
    msg, path = match.group("msg"), (match.group("path") or "").lstrip(".")
    path = ".".join(part for part in (prefix, path) if part)
    unknown = _UNKNOWN.match(msg)
    if unknown:
        key = f"{path}.{unknown.group('field')}" if path else unknown.group("field")
        return f"{key}: unknown key"
    return f"{path}: {msg}" if path else msg


def parse_config(text: str, *, resolve_secrets: bool = True) -> Config:
    """Parse and validate a TOML document; raise ConfigError in one line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    _check_sinks(data)
    try:
        config = msgspec.convert(data, Config, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    if resolve_secrets:
        for key, secret in config.secrets():
            try:
                secret.resolve()
            except ValueError as exc:
                raise ConfigError(f"{key}: {exc}") from None
            if key.endswith(_URL_SECRETS) and not is_http_url(secret.get()):
                # The value is a secret: say what is wrong, never what it is.
                raise ConfigError(f"{key}: not an http(s) URL with a host (value not shown)")
    return config


#: Secrets that are URLs: a URL without a scheme or host would fail every send.
_URL_SECRETS = (".webhook_url", ".url")


def _check_sinks(data: dict[str, Any]) -> None:
    """Each ``[alerts.sinks.NAME]`` on its own, so an error names the sink (msgspec's
    own path through a table of tables does not)."""
    alerts = data.get("alerts")
    sinks = alerts.get("sinks") if isinstance(alerts, dict) else None
    if not isinstance(sinks, dict):
        return
    for name, sink in sinks.items():
        if isinstance(sink, dict) and sink.get("type") not in SINK_TYPES:
            raise ConfigError(
                f"alerts.sinks.{name}.type: give one of {', '.join(SINK_TYPES)} "
                f"(got {sink.get('type')!r})"
            )
        try:
            msgspec.convert(sink, SinkConfig, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            raise ConfigError(_one_line(exc, f"alerts.sinks.{name}")) from None


def load_config(path: str | os.PathLike[str], *, resolve_secrets: bool = True) -> Config:
    """Read and validate the config file at ``path`` (and read its secrets, unless told
    not to: ``sesd silence`` needs none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_config(text, resolve_secrets=resolve_secrets)
