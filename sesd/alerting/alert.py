"""An alert as the on-call engineer gets it, and notifications (a rule's alerts of one
kind, sent together): what the evaluator hands the sinks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import quote

from sesd.alerting.figures import duration, metric_text, named, percent
from sesd.alerting.rules import AlertState, Transition
from sesd.config import ACCOUNT_METRICS, RuleConfig
from sesd.core.causes import INSIDE_SES
from sesd.core.events import EVENT_TYPES
from sesd.core.scopes import ACCOUNT, DOMAIN
from sesd.core.windows import Breakdown

#: PagerDuty's longest dedup_key.
_MAX_DEDUP_KEY: Final = 255

__all__ = [
    "SEVERITY_RANK",
    "Alert",
    "Notification",
    "alert_of",
    "duration",
    "identity",
    "link",
    "linked",
    "metric_text",
    "named",
    "notification_of",
    "percent",
    "remuted",
    "scope_of",
    "told_by_labels",
    "with_alerts",
]

#: A rule's severities, most urgent first (0).
SEVERITY_RANK: Final = {"critical": 0, "error": 1, "warning": 2, "info": 3}

#: The metrics about delays (their stage may be inside SES).
_DELAY_METRICS: Final = frozenset(
    {
        "delay_ratio",
        "delayed_recipients",
        "pending_delays",
        "delay_duration_p95_seconds",
        "cause_ratio",
    }
)


@dataclass(frozen=True, slots=True)
class Alert:
    """One (rule, domain) transition with everything the on-call person needs. For a
    rule on providers, ``domain`` is the provider and ``scope`` says so."""

    rule: str
    metric: str
    domain: str
    kind: Transition
    severity: str
    window: str
    value: float | None
    threshold: float
    clear_threshold: float
    at: float
    since: float
    counts: dict[str, int]
    breakdown: Breakdown
    stage: str
    regions: list[str]
    internal: bool
    notes: tuple[str, ...] = ()
    #: True when the rule fires above its threshold, False when below it.
    rising: bool = True
    runbook_url: str | None = None
    dashboard_url: str | None = None
    #: The rule's own labels (Alertmanager).
    labels: dict[str, str] = field(default_factory=dict)
    #: AWS accounts of the sending identities in the breakdown (from their ARNs).
    accounts: list[str] = field(default_factory=list)
    #: What ``domain`` names: a recipient domain label (``domain``), or a mailbox
    #: provider (``provider``) for a rule on providers.
    scope: str = DOMAIN
    #: The mailbox provider of a domain's mail, as last found (None when not known,
    #: or not one domain): a fact of the alert, not part of what it is about.
    provider: str | None = None
    #: A test alert (``sesd send-test-alert``): every sink says so in its first words.
    test: bool = False

    @property
    def fires(self) -> str:
        """``"above"`` or ``"below"``: which side of its threshold the alert fires on."""
        return "above" if self.rising else "below"

    @property
    def dedup_key(self) -> str:
        """Stable per (rule, domain): replicas and repeats fold into one incident. At
        most PagerDuty's 255 characters: a longer one keeps its head and ends in a
        digest of the whole, so two long domains alike in their first 200 characters
        stay two incidents."""
        key = f"sesd:{self.rule}:{self.domain}"
        if len(key) <= _MAX_DEDUP_KEY:
            return key
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{key[: _MAX_DEDUP_KEY - 33]}~{digest}"

    def moved(self, step: float) -> Alert:
        """This alert on a wall clock stepped by ``step`` seconds since it was made: its
        times moved as far (sesd.alerting.clock_steps)."""
        return replace(self, at=self.at + step, since=self.since + step)


@dataclass(frozen=True, slots=True)
class Notification:
    """Alerts of one rule and kind, sent as one message per sink."""

    rule: str
    kind: Transition
    severity: str
    sinks: tuple[str, ...]
    alerts: tuple[Alert, ...]
    at: float
    #: The ``sesd silence add`` line that would mute it ("" for a resolve).
    silence: str = ""
    #: (domain, the line that would mute its alert alone): Alertmanager shows each
    #: alert on its own, and its ``mute`` must not mute the rule's other domains.
    mutes: tuple[tuple[str, str], ...] = ()
    #: What gave ``silence`` and ``mutes`` (the rule, its domains): asked again for
    #: what a recall leaves of it. None: no line to give.
    mute: Callable[[str, list[str]], str] | None = field(default=None, compare=False, repr=False)


def notification_of(
    rule: RuleConfig,
    kind: Transition,
    sinks: tuple[str, ...],
    alerts: tuple[Alert, ...],
    at: float,
    mute: Callable[[str, list[str]], str],
) -> Notification:
    """A rule's alerts of one kind as one notification; ``mute`` gives the ``sesd
    silence add`` line for a list of domains (for them all, and for each alone: none
    for a resolve). Its severity is the most urgent of its alerts': a reload that
    changed the rule's while a group waited leaves alerts of both in it, and the header
    and the outbox's order must not read a critical page as the warning before it."""
    return Notification(
        rule=rule.name,
        kind=kind,
        severity=_most_urgent(alerts, rule.severity),
        sinks=sinks,
        alerts=alerts,
        at=at,
        **_muting(rule.name, kind, alerts, mute),
    )


def with_alerts(notification: Notification, alerts: tuple[Alert, ...]) -> Notification:
    """``notification`` holding only ``alerts`` (a silence recalled the others, say),
    as urgent as they are: kept critical for a critical alert taken out, what is left
    of a mixed group read as a critical page in Slack's header and the webhook's
    ``severity``, while PagerDuty and Alertmanager, reading each alert's, said warning.
    Its mute lines are made again for ``alerts``: the group's (``--domain '*'``) would
    mute domains no longer in it."""
    severity = _most_urgent(alerts, notification.severity)
    muting = _muting(notification.rule, notification.kind, alerts, notification.mute)
    return replace(notification, alerts=alerts, severity=severity, **muting)


def remuted(notification: Notification) -> Notification:
    """``notification`` with its mute lines made again by its ``mute``: a reload that
    added or removed the silences file changed what they begin with."""
    mute = notification.mute
    return replace(notification, **_muting(notification.rule, notification.kind,
                                           notification.alerts, mute))  # fmt: skip


def _muting(
    rule: str,
    kind: Transition,
    alerts: tuple[Alert, ...],
    mute: Callable[[str, list[str]], str] | None,
) -> dict[str, Any]:
    """A notification's mute lines (:class:`Notification` ``silence``, ``mutes``) for
    ``alerts``, by ``mute``: none for a resolve, nor without ``mute``."""
    if kind is Transition.RESOLVED or mute is None:
        return {"silence": "", "mutes": (), "mute": mute}
    return {
        "silence": mute(rule, [a.domain for a in alerts]),
        "mutes": tuple((a.domain, mute(rule, [a.domain])) for a in alerts),
        "mute": mute,
    }


def told_by_labels(alert: Alert) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """What a sink telling alerts apart by their labels (Alertmanager) tells ``alert``
    by, among its rule's: its label, severity and labels. A reload that changes them
    makes another alert there, whose firing the earlier one's resolve does not end."""
    return alert.domain, alert.severity, tuple(sorted(alert.labels.items()))


def _most_urgent(alerts: tuple[Alert, ...], default: str) -> str:
    """The most urgent severity of ``alerts`` (``default`` for none)."""
    ranked = sorted({a.severity for a in alerts}, key=lambda s: SEVERITY_RANK.get(s, 9))
    return ranked[0] if ranked else default


def identity(
    rule: RuleConfig, domain: str, kind: Transition, state: AlertState, now: float
) -> dict[str, Any]:
    """The fields every alert has: which rule and domain, the value against the thresholds."""
    return {
        "rule": rule.name,
        "metric": rule.metric,
        "domain": domain,
        "kind": kind,
        "severity": rule.severity,
        "window": rule.window,
        "value": state.value,
        "threshold": rule.threshold,
        "clear_threshold": rule.clear_threshold,
        "rising": rule.rising,
        # A resolve ends when it was decided: one a stop left undelivered, before it.
        "at": now if kind is not Transition.RESOLVED else min(state.resolved_at or now, now),
        "since": state.since,  # when it fired (a resolve leaves it unchanged)
    }


def scope_of(rule: RuleConfig) -> str:
    """What ``domain`` names in the rule's alerts (:attr:`Alert.scope`): ``account`` for
    a rule on account health (its alerts are ``ACCOUNT/REGION``), else what the rule
    watches. The canary's one alert is a domain's (``canary``), as its labels say."""
    return ACCOUNT if rule.metric in ACCOUNT_METRICS else rule.scope


def link(template: str | None, rule: RuleConfig, domain: str) -> str | None:
    """A runbook or dashboard link template (``{domain}``, ``{rule}``, ``{window}``,
    ``{scope}``) filled in for one alert, each value percent-encoded: a group's name may
    hold a space or an ``&`` (``AT&T mail``), which would end or split the link.
    ``{scope}`` is what ``{domain}`` names (domain, provider, tenant or account): one
    template then links a provider's alert to its provider's view
    (``var-{scope}={domain}``, the status page's ``/{scope}/{domain}``), not to a domain
    named after it; an account's to ``var-account=default%2Feu-west-1``, not to a
    domain of that name."""
    if not template:
        return None
    return template.format(
        domain=quote(domain, safe=""),
        rule=quote(rule.name, safe=""),
        window=rule.window,
        scope=scope_of(rule),
    )


def linked(
    rule: RuleConfig,
    domain: str,
    kind: Transition,
    state: AlertState,
    now: float,
    dashboard: str | None,
) -> dict[str, Any]:
    """:func:`identity`, and the alert's runbook and dashboard links and its labels."""
    return {
        **identity(rule, domain, kind, state, now),
        "runbook_url": link(rule.runbook_url, rule, domain),
        "dashboard_url": link(dashboard, rule, domain),
        "labels": rule.labels,
    }


def alert_of(
    identity: dict[str, Any],
    counts: tuple[int, ...] | None,
    breakdown: Breakdown,
) -> Alert:
    named = dict(zip(EVENT_TYPES, counts or (0,) * len(EVENT_TYPES), strict=True))
    # Inside SES when most delays are SES's own (three InternalFailure among a
    # hundred recipient-MTA deferrals do not make a Microsoft throttle an AWS case),
    # or when no recipient's side said anything. A window without delays (a resolve,
    # a pending count of older delays) says nowhere.
    inside = sum(n for name, n in breakdown.delay_types if name in INSIDE_SES)
    mta_signal = bool(breakdown.statuses or breakdown.diagnostics or breakdown.mtas)
    metric = identity["metric"]
    mostly = 2 * inside > sum(n for _, n in breakdown.delay_types)
    delays = metric in _DELAY_METRICS
    internal = delays and bool(breakdown.delay_types) and (mostly or not mta_signal)
    if metric == "processing_p95_seconds":
        stage = "inside SES (processing time)"
    elif delays and not breakdown.delay_types:
        stage = "- (no delays in the window)"
    elif internal:
        stage = "inside SES"
    else:
        stage = "SES -> recipient MTA"
    arns = [arn.split(":") for arn in breakdown.sources if arn.count(":") >= 5]
    regions = sorted({parts[3] for parts in arns})
    accounts = sorted({parts[4] for parts in arns})
    return Alert(
        **identity,
        counts={
            name: named[name]
            for name in ("send", "delivery", "delivery_delay", "bounce", "complaint")
        },
        breakdown=breakdown,
        stage=stage,
        regions=regions,
        accounts=accounts,
        internal=internal,
    )
