"""The configuration file: one TOML document.

:func:`parse_config` validates the text and does no I/O; :func:`load_config`
reads the file, validates it, then reads the secrets it refers to
(:func:`read_secrets`). Every error is raised as :class:`ConfigError` with
one line that names the key (``queues[0].concurrency: Expected `int`, got
`str```). Secrets are written as references (``env:NAME``, ``file:PATH``) or
literals and are held in :class:`Secret`, whose ``repr`` never shows the
value; ``[http] web_config`` names a file of its own (:mod:`sesd.config.web`),
read with them. The value types are in :mod:`sesd.config.values` (secrets in
:mod:`sesd.config.secrets`), the sections in :mod:`sesd.config.sections`,
:mod:`sesd.config.aws` and :mod:`sesd.config.alerts` (its sinks' in
:mod:`sesd.config.sinks`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from sesd.config.alerts import (
    ACCOUNT_METRICS,
    CANARY_METRICS,
    METRICS,
    QUANTILE_METRICS,
    TENANT_METRICS,
    AlertsConfig,
    RuleConfig,
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
from sesd.config.checks import check_across_sections, config_warnings, for_daemon
from sesd.config.core import core_settings
from sesd.config.domains import DomainsConfig
from sesd.config.hooks import dec_hook, display_hook
from sesd.config.pointed import pointed
from sesd.config.reading import check_written_files, read_bounded
from sesd.config.secrets import Secret, secret_fault
from sesd.config.sections import (
    CanaryConfig,
    DimensionsConfig,
    HttpConfig,
    IngestConfig,
    LoggingConfig,
    ProvidersConfig,
    ReloadConfig,
    ShutdownConfig,
    StateConfig,
    TenantsConfig,
    WindowsConfig,
)
from sesd.config.shapes import shaped
from sesd.config.sink_checks import check_sinks
from sesd.config.sinks import (
    SINK_TYPES,
    AlertmanagerConfig,
    ConsoleConfig,
    PagerDutyConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
    slack_placeholder_fault,
)
from sesd.config.toml_errors import TomlRefused, refused
from sesd.config.toml_layout import Placer
from sesd.config.urls import URL_SECRETS, shown_url, url_fault, urls_shown
from sesd.config.values import ConfigError, Duration, Section, keyed, one_line
from sesd.config.web import WebConfig, WebConfigFile, parse_web_config

__all__ = [
    "ACCOUNT_METRICS",
    "CANARY_METRICS",
    "METRICS",
    "QUANTILE_METRICS",
    "SINK_TYPES",
    "TENANT_METRICS",
    "AccountConfig",
    "AccountHealthConfig",
    "AlertmanagerConfig",
    "AlertsConfig",
    "AwsConfig",
    "CanaryConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "DimensionsConfig",
    "DomainsConfig",
    "Duration",
    "HttpConfig",
    "IngestConfig",
    "LoggingConfig",
    "PagerDutyConfig",
    "Placer",
    "ProvidersConfig",
    "QueueConfig",
    "ReloadConfig",
    "ReputationConfig",
    "RuleConfig",
    "Secret",
    "ShutdownConfig",
    "SinkConfig",
    "SlackConfig",
    "StateConfig",
    "TenantsConfig",
    "WebConfig",
    "WebConfigFile",
    "WebhookConfig",
    "WindowsConfig",
    "core_settings",
    "is_glob",
    "load_config",
    "load_placed",
    "parse_config",
    "parse_web_config",
    "read_secrets",
    "region_of_url",
    "rule_of",
    "saved_rule",
    "shown_url",
]


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
    tenants: TenantsConfig = msgspec.field(default_factory=TenantsConfig)
    ingest: IngestConfig = msgspec.field(default_factory=IngestConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    shutdown: ShutdownConfig = msgspec.field(default_factory=ShutdownConfig)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    state: StateConfig = msgspec.field(default_factory=StateConfig)
    reload: ReloadConfig = msgspec.field(default_factory=ReloadConfig)
    account_health: AccountHealthConfig = msgspec.field(default_factory=AccountHealthConfig)
    reputation: ReputationConfig = msgspec.field(default_factory=ReputationConfig)
    canary: CanaryConfig | None = None

    def __post_init__(self) -> None:
        # Checks across sections, each a function of its own (below).
        check_across_sections(self)

    def account(self, name: str) -> AccountConfig | None:
        """The ``[[accounts]]`` entry named ``name`` (None for "" or "default")."""
        return next((a for a in self.accounts if a.name == name), None)

    def health_targets(self) -> list[tuple[str, str]]:
        """The (account label, region) pairs whose health is watched: each that has a
        queue, and each ``[[accounts]]`` entry in its region."""
        found = {(q.account_label, self.region_of(q)) for q in self.queues}
        found |= {(a.name, a.region or self.aws.region) for a in self.accounts}
        return sorted(found)

    def deletes_invalid(self, queue: QueueConfig) -> bool:
        """Whether ``queue``'s invalid messages are deleted: its own setting, else
        ``[ingest] delete_invalid``."""
        own = queue.delete_invalid
        return self.ingest.delete_invalid if own is None else own

    def region_of(self, queue: QueueConfig) -> str:
        """A queue's region: its own ``region`` (never another than the one its URL
        names), else the one its URL names, else its account's, else ``[aws] region``."""
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

    def canary_sender(self) -> tuple[str, str]:
        """The ``[[accounts]]`` entry the canary sends as and the region it sends in:
        ``[canary] account`` and ``region``, else its queue's (its events must reach
        that queue: a configuration set is a region's), else ``[aws] region``."""
        canary = self.canary
        assert canary is not None
        queue = next((q for q in self.queues if q.label == self.canary_queue), None)
        account = canary.account or (queue.account if queue is not None else "")
        region = canary.region or (self.region_of(queue) if queue is not None else "")
        return account, region or self.aws.region

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
        return config_warnings(self)

    def to_display(self) -> dict[str, Any]:
        """The resolved config as plain data, secrets masked (and a password in a URL),
        each queue's region the one it is read in: what check-config prints."""
        shown: dict[str, Any] = msgspec.to_builtins(self, enc_hook=display_hook)
        for queue, data in zip(self.queues, shown["queues"], strict=True):
            data["region"] = self.region_of(queue)
        return urls_shown(shown)  # type: ignore[no-any-return]

    def digest(self) -> str:
        """12 hex digits naming this config as :meth:`to_display` shows it (what
        ``sesd_config_info`` exports): the same whatever the file's key order, layout
        or comments. Of the secrets it sees only their references (a literal's value is
        ``***``): it tells nothing of a value, nor that one rotated behind its reference."""
        shown = json.dumps(self.to_display(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(shown.encode()).hexdigest()[:12]


#: The keys a rule is saved with (a field's name as the config spells it: ``for``).
_RULE_KEYS = frozenset(RuleConfig.__struct_encode_fields__)


def saved_rule(rule: RuleConfig) -> dict[str, Any]:
    """A rule as plain data (the state file keeps the rules its alert states were
    stepped under, so a start under other rules can resolve what they fired)."""
    return msgspec.to_builtins(rule, enc_hook=display_hook)  # type: ignore[no-any-return]


def rule_of(saved: Any) -> RuleConfig:
    """A rule :func:`saved_rule` saved (a key a later build's rules have and this one's
    do not left out: a config refuses one, a misspelling, but no person wrote this);
    ValueError when it is not one (any more)."""
    if isinstance(saved, dict):
        saved = {key: value for key, value in saved.items() if key in _RULE_KEYS}
    try:
        return msgspec.convert(saved, RuleConfig, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None


# --- loading -----------------------------------------------------------------


def parse_config(text: str) -> Config:
    """Parse and validate a TOML document (no I/O: ``env:`` and ``file:`` secrets are
    read by :func:`read_secrets`); raise ConfigError in one line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise refused(exc, text) from None
    check_sinks(data)
    try:
        config = msgspec.convert(data, Config, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        said = keyed(one_line(exc, schema=Config), data)
        raise ConfigError(shaped(pointed(said, data), data, text, Config)) from None
    for key, secret in config.secrets():
        if secret.is_literal:
            _check_secret(key, secret)
    _check_keys(config)
    return config


def read_secrets(config: Config, *, sink: str | None = None) -> Config:
    """Read every ``env:`` and ``file:`` secret of ``config``, and the web configuration
    file (password hashes, the private key's name: a secret of its own kind, kept where
    the secrets are), the config's only I/O; ConfigError names the key of what cannot
    be read. With ``sink``, that sink's secrets alone (a test of one sink runs where
    the others' are not set). Returns ``config``."""
    if sink is not None:
        _read([(key, found) for key, found in config.alerts.secrets(sink) if found is not None])
        _check_keys(config, sink)
        return config
    _read(config.secrets())
    _check_keys(config)
    if config.http.web_config is not None:
        try:
            config.http.web_config.read()
        except ConfigError as exc:
            raise ConfigError(f"http.web_config: {exc}") from None
    return config


def _read(secrets: list[tuple[str, Secret]]) -> None:
    for key, secret in secrets:
        if secret.is_literal:
            continue
        try:
            secret.resolve()
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        _check_secret(key, secret)


def _check_secret(key: str, secret: Secret) -> None:
    """Refuse what the service a secret goes to would refuse at the first send."""
    if key.endswith(URL_SECRETS):  # a URL without a host would fail every send
        fault = url_fault(secret.get())
        if fault is None and key.endswith(".webhook_url"):  # Slack's, the one sink with it
            fault = slack_placeholder_fault(secret.get())
    elif key.endswith(".secret"):
        # A webhook's HMAC key is never sent: the receiver's copy holds what this does.
        fault = None
    else:
        fault = secret_fault(secret.get(), token=key.endswith(_TOKENS))
    if fault is not None:
        # The value is a secret: say what is wrong, never what it is.
        raise ConfigError(f"{key}: {fault} (value not shown)")


def _check_keys(config: Config, sink: str | None = None) -> None:
    """Refuse a key read that its service would refuse by its length (a routing key):
    the first, as every other check names one."""
    faults = config.alerts.key_faults(sink)
    if faults:
        raise ConfigError(faults[0])


#: Secrets that are keys, of no space (a password may hold one).
_TOKENS = (".routing_key", ".access_key_id", ".secret_access_key")


def load_config(
    path: str | os.PathLike[str], *, resolve_secrets: bool = True, daemon: bool = False
) -> Config:
    """Read and validate the config file at ``path`` (its secrets too, unless told not
    to), with ``daemon`` one a daemon can run on; a ConfigError names the file, and the
    line of the key it names where the file writes it."""
    return load_placed(path, resolve_secrets=resolve_secrets, daemon=daemon)[0]


def load_placed(
    path: str | os.PathLike[str], *, resolve_secrets: bool = True, daemon: bool = False
) -> tuple[Config, Placer]:
    """:func:`load_config`, and what places its warnings on the file's lines."""
    try:
        # An editor's byte-order mark (Windows, PowerShell's Out-File) is no TOML.
        text = read_bounded(Path(path), what="no config").decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
    try:
        config = parse_config(text)
        try:
            check_written_files(config, path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        config = for_daemon(config) if daemon else config
        return (read_secrets(config) if resolve_secrets else config), Placer(path, text)
    except TomlRefused as exc:
        raise ConfigError(exc.placed(path)) from None
    except ConfigError as exc:
        raise ConfigError(f"{Placer(path, text).where(str(exc))}: {exc}") from None
