"""``[alerts]``: rules, the sinks they route to, silences and links.

Sinks are named: ``[alerts.sinks.NAME]`` with a ``type``. The older
``[alerts.slack]`` and ``[alerts.pagerduty]`` are the sinks named ``slack``
and ``pagerduty``; ``console`` always exists. Each sink type's own settings are
sesd.config.sinks'.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from sesd.config.rule_checks import check_extras, check_template, check_watched
from sesd.config.secrets import Secret
from sesd.config.sinks import (
    AlertmanagerConfig,
    ConsoleConfig,
    PagerDutyConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
)
from sesd.config.thresholds import check_thresholds
from sesd.config.values import Duration, Section, meant_word, toml_key

__all__ = [
    "ACCOUNT_METRICS",
    "CANARY_METRICS",
    "GET_ACCOUNT_METRICS",
    "METRICS",
    "QUANTILE_METRICS",
    "TENANT_METRICS",
    "AlertsConfig",
    "RuleConfig",
    "is_glob",
]

METRICS = (
    "delay_ratio",
    "delayed_recipients",
    "bounce_ratio",
    "complaint_ratio",
    "delivery_ratio",
    "processing_p95_seconds",
    "delay_duration_p95_seconds",
    "pending_delays",
    "cause_ratio",
)
#: Rule metrics read from a window's quantiles (the others need its counts only).
QUANTILE_METRICS = ("processing_p95_seconds", "delay_duration_p95_seconds")
#: Rule metrics read from the canary rather than from a domain's windows.
CANARY_METRICS = ("canary_missing", "canary_send_latency_seconds")
#: Rule metrics of an (account, region): SES's view of it, sesd's reputation estimate.
ACCOUNT_METRICS = (
    "sending_paused",
    "enforcement_not_healthy",
    "quota_used_ratio",
    "reputation_bounce_ratio",
    "reputation_complaint_ratio",
)
#: The rule metrics only GetAccount's polls give a value (the reputation estimate is
#: read from events).
GET_ACCOUNT_METRICS = ("sending_paused", "enforcement_not_healthy", "quota_used_ratio")
#: Rule metrics of a tenant: what SES says of it (its sending status, its findings).
TENANT_METRICS = ("tenant_sending_paused", "reputation_impact")

#: The shortest evaluate_every, seconds.
_FASTEST_EVALUATION = 0.1
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: What :data:`_NAME` takes, said: "letters" alone reads as any alphabet's (é is one).
_NAME_IS = "ASCII letters, digits, '-', '_', '.', ':', at most 64"


def is_glob(pattern: str) -> bool:
    """Whether a domain or matcher is a glob (``*``, ``?``, ``[...]``) rather than a name."""
    return any(c in pattern for c in "*?[")


class RuleConfig(Section, frozen=True):
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
    #: Domain names or globs; ``*`` is every domain (the default, unless the rule
    #: names ``providers``).
    domains: list[str] | None = None
    #: Mailbox provider labels or globs (``*`` is every provider): the rule watches
    #: providers instead of domains.
    providers: list[str] | None = None
    #: SES tenant names or globs: the rule watches tenants (``*`` every tenant).
    tenants: list[str] | None = None
    #: Names or globs of domains (providers, tenants) the rule skips.
    exclude_domains: list[str] = []
    exclude_providers: list[str] = []
    exclude_tenants: list[str] = []
    severity: Literal["critical", "error", "warning", "info"] = "warning"
    sinks: list[str] = msgspec.field(default_factory=lambda: ["console"])
    #: Extra labels on the rule's Alertmanager alerts.
    labels: dict[str, str] = {}
    runbook_url: str | None = None
    #: For ``cause_ratio``: the cause (sesd cause) whose share of recipients is watched.
    cause: str | None = None
    #: Count bounces to suppression lists (never attempted) in ``bounce_ratio``.
    include_suppressed: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"name {self.name!r}: use {_NAME_IS}")
        if self.metric not in METRICS + CANARY_METRICS + ACCOUNT_METRICS + TENANT_METRICS:
            known = ", ".join(METRICS + CANARY_METRICS + ACCOUNT_METRICS + TENANT_METRICS)
            raise ValueError(f"metric {self.metric!r} is unknown (known: {known})")
        if self.min_events < 0:
            raise ValueError("min_events: must not be negative")
        if not self.sinks:
            raise ValueError("sinks must name at least one sink")
        check_thresholds(self)
        check_watched(self)
        check_extras(self)

    @property
    def about_delays(self) -> bool:
        """Whether its alert text names the delays' codes, MTAs and messages (not the
        bounces' or complaints', as a bounce or complaint ratio's does)."""
        return self.metric not in ("bounce_ratio", "complaint_ratio")

    @property
    def scope(self) -> str:
        """What the rule watches: ``domain``, ``provider`` or ``tenant``."""
        if self.tenants is not None or self.metric in TENANT_METRICS:
            return "tenant"
        return "domain" if self.providers is None else "provider"

    @property
    def watched(self) -> list[str]:
        """The domains, providers or tenants the rule names (globs included)."""
        found = {"domain": self.domains, "provider": self.providers, "tenant": self.tenants}[
            self.scope
        ]
        assert found is not None
        return found

    @property
    def excluded(self) -> list[str]:
        """The domains, providers or tenants the rule skips (globs included)."""
        return {
            "domain": self.exclude_domains,
            "provider": self.exclude_providers,
            "tenant": self.exclude_tenants,
        }[self.scope]

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


class AlertsConfig(Section, frozen=True):
    """``[alerts]``: rule evaluation and notification delivery."""

    evaluate_every: Duration = msgspec.field(default_factory=lambda: Duration("5s"))
    repeat_interval: Duration = msgspec.field(default_factory=lambda: Duration("4h"))
    group_wait: Duration = msgspec.field(default_factory=lambda: Duration("10s"))
    outbox_size: int = 1000
    notification_max_age: Duration = msgspec.field(default_factory=lambda: Duration("1h"))
    #: A link template: ``{domain}``, ``{rule}``, ``{window}`` and ``{scope}`` are filled in.
    dashboard_url: str | None = None
    #: The silences file; beside the state file when left out.
    silences_path: str | None = None
    slack: SlackConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    sinks: dict[str, SinkConfig] = {}
    rules: list[RuleConfig] = []

    def __post_init__(self) -> None:
        # A repeat_interval of 0 would repeat every firing alert at every evaluation.
        for key in ("evaluate_every", "repeat_interval", "notification_max_age"):
            if getattr(self, key).seconds <= 0:
                raise ValueError(f"{key} must be positive")
        # Each evaluation reads every rule over every domain: "1ms" or "5ms" (a slip for
        # "5s") would do that hundreds of times a second, a core's worth, and make a
        # replay's ticks as many. Ten a second is ample: the windows count by the second.
        if self.evaluate_every.seconds < _FASTEST_EVALUATION:
            raise ValueError(
                f"evaluate_every must be at least 100ms (it is {self.evaluate_every.text})"
            )
        if self.outbox_size < 1:
            raise ValueError("outbox_size must be at least 1")
        if self.dashboard_url is not None:
            check_template(self.dashboard_url, "dashboard_url")
        _check_sink_names(self)
        names = [rule.name for rule in self.rules]
        for i, name in enumerate(names):
            if name in names[:i]:
                # The second one named by its key, as any refused value is.
                first = names.index(name)
                raise ValueError(
                    f"rules[{i}] ({name}).name: {name!r} is alerts.rules[{first}]'s name too"
                )
        known = self.named_sinks()
        for i, rule in enumerate(self.rules):
            for j, wanted in enumerate(rule.sinks):
                if wanted not in known:
                    raise ValueError(
                        f"rules[{i}] ({rule.name}).sinks[{j}]: sink {wanted!r} is not configured "
                        f"{self.sink_missing(wanted)}"
                    )
                if wanted in rule.sinks[:j]:
                    # Each name is a route: named twice, the sink was paged twice for
                    # one transition (a second PagerDuty trigger, a second Slack post).
                    raise ValueError(
                        f"rules[{i}] ({rule.name}).sinks[{j}]: {wanted!r} is named twice"
                    )

    def named_sinks(self) -> dict[str, SinkConfig]:
        """Every sink by name: ``console``, the older sections, then ``[alerts.sinks]``."""
        found: dict[str, SinkConfig] = {"console": ConsoleConfig()}
        if self.slack is not None:
            found["slack"] = self.slack
        if self.pagerduty is not None:
            found["pagerduty"] = self.pagerduty
        found.update(self.sinks)
        return found

    def sink_missing(self, wanted: str) -> str:
        """What to say of a sink ``wanted`` that is not configured: the sinks that are,
        the one meant when it is a typo of one (``slak``), and the table to add (for a
        near miss, as a new sink may be meant: ``pagerduty-eu`` beside
        ``pagerduty-us``; not for one differing in case alone)."""
        known = sorted(self.named_sinks())
        meant = meant_word(wanted, known, "sink names are case-sensitive")
        # [alerts.slack] and [alerts.pagerduty], as README and the example write them,
        # are those names' tables and need no type; [alerts.sinks.slack] would.
        table = wanted if wanted in ("slack", "pagerduty") else f"sinks.{toml_key(wanted)}"
        add = f"add [alerts.{table}]"
        if not meant:
            fix = add
        elif wanted.lower() in {name.lower() for name in known}:
            fix = meant
        else:
            fix = f"{meant} or, for a new sink, {add}"
        return f"(configured: {', '.join(known)}; {fix})"

    def by_labels(self) -> frozenset[str]:
        """The sinks that tell alerts apart by their labels (Alertmanager's)."""
        sinks = self.named_sinks().items()
        return frozenset(name for name, sink in sinks if isinstance(sink, AlertmanagerConfig))

    def unused_sinks(self) -> list[str]:
        """Configured sinks that no rule names (``console`` aside)."""
        used = {name for rule in self.rules for name in rule.sinks}
        return [name for name in self.named_sinks() if name != "console" and name not in used]

    def key_faults(self, sink: str | None = None) -> list[str]:
        """Each PagerDuty sink's routing key, once read, that PagerDuty would refuse
        (:meth:`PagerDutyConfig.key_fault`), named by its key (``sink``'s alone, when
        named)."""
        found = []
        for name, config in self.named_sinks().items():
            fault = config.key_fault() if isinstance(config, PagerDutyConfig) else None
            if fault is not None and sink in (None, name):
                key = f"alerts.sinks.{toml_key(name)}" if name in self.sinks else f"alerts.{name}"
                found.append(f"{key}.routing_key: {fault}")
        return found

    def secrets(self, sink: str | None = None) -> list[tuple[str, Secret | None]]:
        """The sinks' secrets with their keys (``sink``'s alone, when named)."""
        found: list[tuple[str, Secret | None]] = []
        for name, config in self.named_sinks().items():
            if sink is not None and name != sink:
                continue
            # The older sections and a named sink never share a name (checked).
            key = f"alerts.sinks.{toml_key(name)}" if name in self.sinks else f"alerts.{name}"
            if isinstance(config, SlackConfig):
                found.append((f"{key}.webhook_url", config.webhook_url))
            elif isinstance(config, PagerDutyConfig):
                found.append((f"{key}.routing_key", config.routing_key))
            elif isinstance(config, WebhookConfig):
                found += [(f"{key}.url", config.url), (f"{key}.secret", config.secret)]
            elif isinstance(config, AlertmanagerConfig):
                found.append((f"{key}.password", config.password))
        return found


def _check_sink_names(alerts: AlertsConfig) -> None:
    """Sink names are usable, ``console`` is standard output's, and an older section
    and a named sink do not share a name."""
    for name, sink in alerts.sinks.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"sinks.{toml_key(name)}: a sink's name is of {_NAME_IS}")
        if name == "console" and not isinstance(sink, ConsoleConfig):
            raise ValueError("sinks.console: the name is kept for standard output")
    for name in ("slack", "pagerduty"):
        if getattr(alerts, name) is not None and name in alerts.sinks:
            raise ValueError(
                f"sinks.{name}: [alerts.{name}] and [alerts.sinks.{name}] name the same sink"
            )
