"""The configuration file: one TOML document, validated before any I/O.

Every error is raised as :class:`ConfigError` with one line that names the
key (``queues[0].concurrency: Expected `int`, got `str```). Secrets are
written as references (``env:NAME``, ``file:PATH``) or literals and are held
in :class:`Secret`, whose ``repr`` never shows the value.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import msgspec

from sesd.domains import normalise_domain

__all__ = [
    "AlertsConfig",
    "AwsConfig",
    "Config",
    "ConfigError",
    "DomainsConfig",
    "Duration",
    "HttpConfig",
    "IngestConfig",
    "LoggingConfig",
    "PagerDutyConfig",
    "QueueConfig",
    "RuleConfig",
    "Secret",
    "SlackConfig",
    "StateConfig",
    "WindowsConfig",
    "load_config",
    "parse_config",
]


class ConfigError(Exception):
    """The configuration is invalid; the message is one line naming the key."""


# --- value types -------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Duration:
    """A span of time written as ``"250ms"``, ``"10s"``, ``"5m"``, ``"1h30m"``."""

    __slots__ = ("seconds", "text")

    def __init__(self, text: str) -> None:
        text = text.strip()
        pos, total = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if text == "0":
            pos = 1
        if not text or pos != len(text):
            raise ValueError(f"invalid duration {text!r} (use e.g. '10s', '5m', '1h30m')")
        self.seconds = total
        self.text = text

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(self.seconds)


class Secret:
    """A secret value from ``env:NAME``, ``file:PATH`` or a literal.

    The reference is kept for display; the value is resolved once, at load,
    and never appears in ``repr``/``str`` (so never in logs or errors).
    """

    __slots__ = ("_value", "reference")

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self._value: str | None = None

    @property
    def is_literal(self) -> bool:
        """True when the secret was written into the file itself."""
        return not self.reference.startswith(("env:", "file:"))

    def resolve(self) -> None:
        """Read the secret from its source; raises ValueError naming the source only."""
        ref = self.reference
        if ref.startswith("env:"):
            name = ref[4:]
            value = os.environ.get(name)
            if not value:
                raise ValueError(f"environment variable {name} is not set")
            self._value = value.strip()
        elif ref.startswith("file:"):
            # "$CREDENTIALS_DIRECTORY/..." works with systemd's LoadCredential=.
            path = Path(os.path.expandvars(ref[5:]))
            try:
                self._value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
            if not self._value:
                raise ValueError(f"secret file {path} is empty")
        else:
            self._value = ref

    def get(self) -> str:
        """The secret itself; only the code that sends it should call this."""
        if self._value is None:
            raise RuntimeError("secret used before it was resolved")
        return self._value

    def masked(self) -> str:
        """What to print: the reference for env/file, asterisks for a literal."""
        return "***" if self.is_literal else self.reference

    def __repr__(self) -> str:
        return f"Secret({self.masked()!r})"

    __str__ = __repr__


# --- sections ----------------------------------------------------------------


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class AwsConfig(_Section, frozen=True):
    """``[aws]``: where SQS is. Credentials come from the default chain unless given."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            _check_http_url(self.endpoint_url)
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key go together")


class QueueConfig(_Section, frozen=True):
    """``[[queues]]``: one SQS queue and how hard to poll it."""

    url: str
    name: str = ""
    concurrency: int = msgspec.field(default=1)
    wait_time_seconds: int = 20
    max_messages: int = 10
    visibility_timeout: int | None = None

    def __post_init__(self) -> None:
        _check_http_url(self.url)
        if not 1 <= self.concurrency <= 64:
            raise ValueError("concurrency must be between 1 and 64")
        if not 0 <= self.wait_time_seconds <= 20:
            raise ValueError("wait_time_seconds must be between 0 and 20 (SQS limit)")
        if not 1 <= self.max_messages <= 10:
            raise ValueError("max_messages must be between 1 and 10 (SQS limit)")
        if self.visibility_timeout is not None and not 0 <= self.visibility_timeout <= 43200:
            raise ValueError("visibility_timeout must be between 0 and 43200")

    @property
    def label(self) -> str:
        """The ``queue`` label: the configured name, else the URL's last path part."""
        return self.name or self.url.rstrip("/").rsplit("/", 1)[-1]


class HttpConfig(_Section, frozen=True):
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


class WindowsConfig(_Section, frozen=True):
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


class DomainsConfig(_Section, frozen=True):
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


class DimensionsConfig(_Section, frozen=True):
    """``[dimensions]``: message tags broken down like domains."""

    tags: list[str] = []
    max_tracked: int = 200


class IngestConfig(_Section, frozen=True):
    """``[ingest]``: how messages are judged and remembered."""

    delete_invalid: bool = False
    dedup_max_entries: int = 200_000
    max_pending_delays: int = 200_000

    def __post_init__(self) -> None:
        if self.dedup_max_entries < 2:
            raise ValueError("dedup_max_entries must be at least 2")
        if self.max_pending_delays < 0:
            raise ValueError("max_pending_delays must not be negative")


class LoggingConfig(_Section, frozen=True):
    """``[logging]``."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    log_recipients: bool = False


class ShutdownConfig(_Section, frozen=True):
    """``[shutdown]``: how long a graceful stop may take before work is cut off."""

    grace_period: Duration = msgspec.field(default_factory=lambda: Duration("30s"))


METRICS = (
    "delay_ratio",
    "delayed_recipients",
    "bounce_ratio",
    "complaint_ratio",
    "delivery_ratio",
    "processing_p95_seconds",
    "delay_duration_p95_seconds",
    "pending_delays",
)
#: Rule metrics read from a window's quantiles (the others need its counts only).
QUANTILE_METRICS = ("processing_p95_seconds", "delay_duration_p95_seconds")
#: Rule metrics read from the canary rather than from a domain's windows.
CANARY_METRICS = ("canary_missing", "canary_send_latency_seconds")
SINKS = ("slack", "pagerduty", "console")


class RuleConfig(_Section, frozen=True):
    """``[[alerts.rules]]``: one threshold on one window metric, per domain. A rule
    fires while the value is ``above`` a threshold (or ``below`` one, for metrics such
    as ``delivery_ratio`` where low is bad)."""

    name: str
    metric: str
    window: str
    above: float | None = None
    below: float | None = None
    clear_below: float | None = None
    clear_above: float | None = None
    min_events: int = 0
    for_: Duration = msgspec.field(default_factory=lambda: Duration("0s"), name="for")
    domains: list[str] = msgspec.field(default_factory=lambda: ["*"])
    severity: Literal["critical", "error", "warning", "info"] = "warning"
    sinks: list[str] = msgspec.field(default_factory=lambda: ["console"])

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", self.name):
            raise ValueError(f"rule name {self.name!r}: use letters, digits, '-', '_', '.', ':'")
        if self.metric not in METRICS + CANARY_METRICS:
            known = ", ".join(METRICS + CANARY_METRICS)
            raise ValueError(f"unknown metric {self.metric!r} (known: {known})")
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` and `below`")
        if self.above is not None:
            if self.clear_above is not None:
                raise ValueError("clear_above goes with `below`; use clear_below with `above`")
            if self.clear_below is not None and self.clear_below > self.above:
                raise ValueError(
                    f"clear_below ({self.clear_below}) is above `above` ({self.above})"
                )
        if self.below is not None:
            if self.clear_below is not None:
                raise ValueError("clear_below goes with `above`; use clear_above with `below`")
            if self.clear_above is not None and self.clear_above < self.below:
                raise ValueError(
                    f"clear_above ({self.clear_above}) is below `below` ({self.below})"
                )
        if self.min_events < 0:
            raise ValueError("min_events must not be negative")
        if not self.domains:
            raise ValueError("domains must list '*' or at least one domain")
        if not self.sinks:
            raise ValueError("sinks must name at least one sink")
        for sink in self.sinks:
            if sink not in SINKS:
                raise ValueError(f"unknown sink {sink!r} (known: {', '.join(SINKS)})")

    @property
    def rising(self) -> bool:
        """True for an ``above`` rule, False for a ``below`` rule."""
        return self.above is not None

    @property
    def threshold(self) -> float:
        """``above`` or ``below``, whichever the rule has."""
        found = self.above if self.above is not None else self.below
        assert found is not None
        return found

    @property
    def clear_threshold(self) -> float:
        """Where a firing alert resolves: ``clear_below`` (``clear_above`` for a below
        rule), which is the threshold itself unless set."""
        clear = self.clear_below if self.rising else self.clear_above
        return self.threshold if clear is None else clear

    def breaches(self, value: float) -> bool:
        """Whether ``value`` is past the threshold."""
        return value > self.threshold if self.rising else value < self.threshold

    def holds(self, value: float) -> bool:
        """Whether a firing alert keeps firing at ``value``: while it is past the clear
        threshold; at the clear threshold or back from it, it resolves."""
        clear = self.clear_threshold
        return value > clear if self.rising else value < clear


class SlackConfig(_Section, frozen=True):
    """``[alerts.slack]``: an incoming webhook."""

    webhook_url: Secret
    timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))


class PagerDutyConfig(_Section, frozen=True):
    """``[alerts.pagerduty]``: Events API v2."""

    routing_key: Secret
    events_url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "sesd"
    timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))

    def __post_init__(self) -> None:
        _check_http_url(self.events_url)


class AlertsConfig(_Section, frozen=True):
    """``[alerts]``: rule evaluation and notification delivery."""

    evaluate_every: Duration = msgspec.field(default_factory=lambda: Duration("5s"))
    repeat_interval: Duration = msgspec.field(default_factory=lambda: Duration("4h"))
    group_wait: Duration = msgspec.field(default_factory=lambda: Duration("10s"))
    outbox_size: int = 1000
    notification_max_age: Duration = msgspec.field(default_factory=lambda: Duration("1h"))
    slack: SlackConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    rules: list[RuleConfig] = []

    def __post_init__(self) -> None:
        if self.evaluate_every.seconds <= 0:
            raise ValueError("evaluate_every must be positive")
        if self.outbox_size < 1:
            raise ValueError("outbox_size must be at least 1")
        if self.notification_max_age.seconds <= 0:
            raise ValueError("notification_max_age must be positive")
        names = [rule.name for rule in self.rules]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two rules are named {name!r}")
        for i, rule in enumerate(self.rules):
            for sink in rule.sinks:
                if sink != "console" and getattr(self, sink) is None:
                    raise ValueError(
                        f"rules[{i}] ({rule.name}): sink {sink!r} is not configured "
                        f"(add [alerts.{sink}])"
                    )


_SIMULATOR = re.compile(
    r"(success|bounce|ooto|complaint|suppressionlist)(\+[A-Za-z0-9._-]+)?@simulator\.amazonses\.com"
)


class CanaryConfig(_Section, frozen=True):
    """``[canary]``: one email through SES to the mailbox simulator every ``interval``."""

    from_: str = msgspec.field(name="from")
    configuration_set: str
    to: str = "success@simulator.amazonses.com"
    interval: Duration = msgspec.field(default_factory=lambda: Duration("1m"))
    deadline: Duration = msgspec.field(default_factory=lambda: Duration("5m"))
    queue: str = ""
    send_timeout: Duration = msgspec.field(default_factory=lambda: Duration("10s"))
    endpoint_url: str | None = None

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
            _check_http_url(self.endpoint_url)

    @property
    def call_timeout(self) -> float:
        """How long one SendEmail may take: ``send_timeout``, at most the interval."""
        return min(self.send_timeout.seconds, self.interval.seconds)


class StateConfig(_Section, frozen=True):
    """``[state]``: where windows and alert states survive a restart."""

    path: str | None = None
    save_every: Duration = msgspec.field(default_factory=lambda: Duration("1m"))


class Config(_Section, frozen=True):
    """The whole file."""

    aws: AwsConfig = msgspec.field(default_factory=AwsConfig)
    queues: list[QueueConfig] = []
    http: HttpConfig = msgspec.field(default_factory=HttpConfig)
    windows: WindowsConfig = msgspec.field(default_factory=WindowsConfig)
    domains: DomainsConfig = msgspec.field(default_factory=DomainsConfig)
    dimensions: DimensionsConfig = msgspec.field(default_factory=DimensionsConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    shutdown: ShutdownConfig = msgspec.field(default_factory=ShutdownConfig)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    state: StateConfig = msgspec.field(default_factory=StateConfig)
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
            for domain in rule.domains:
                group = members.get(normalise_domain(domain))
                if group is not None:
                    # Its events count under the group's label: the rule would never fire.
                    raise ValueError(
                        f"alerts.rules[{i}] ({rule.name}): domain {domain!r} is counted in "
                        f"group {group!r}; name the group instead (domains = [{group!r}])"
                    )
        labels = [q.label for q in self.queues]
        for label in labels:
            if labels.count(label) > 1:
                raise ValueError(f"two queues share the name {label!r}; set `name` on one")
        if self.canary is not None and self.canary.queue and self.canary.queue not in labels:
            raise ValueError(
                f"canary.queue: {self.canary.queue!r} is not a configured queue "
                f"({', '.join(labels) or 'none configured'})"
            )

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
        if self.alerts.slack is not None:
            found.append(("alerts.slack.webhook_url", self.alerts.slack.webhook_url))
        if self.alerts.pagerduty is not None:
            found.append(("alerts.pagerduty.routing_key", self.alerts.pagerduty.routing_key))
        return [(key, secret) for key, secret in found if secret is not None]

    def to_display(self) -> dict[str, Any]:
        """The resolved config as plain data, secrets masked: what check-config prints."""
        return msgspec.to_builtins(self, enc_hook=_display_hook)  # type: ignore[no-any-return]


# --- loading -----------------------------------------------------------------


def _is_http_url(url: str) -> bool:
    try:
        parsed = urlparse(url)
        host = parsed.hostname
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(host)


def _check_http_url(url: str) -> None:
    if not _is_http_url(url):
        raise ValueError(f"{url!r} is not an http(s) URL")


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


def _one_line(exc: msgspec.ValidationError) -> str:
    match = _AT_PATH.match(str(exc))
    assert match is not None
    msg, path = match.group("msg"), (match.group("path") or "").lstrip(".")
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
            if key in _URL_SECRETS and not _is_http_url(secret.get()):
                # The value is a secret: say what is wrong, never what it is.
                raise ConfigError(f"{key}: not an http(s) URL with a host (value not shown)")
    return config


#: Secrets that are URLs: a URL without a scheme or host would fail every send.
_URL_SECRETS = frozenset({"alerts.slack.webhook_url"})


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the config file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_config(text)
