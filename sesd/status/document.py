"""The status document: what ``/api/v1/status`` answers, what the page shows and what
``sesd status`` prints (one label's document is in sesd.status.scope_document).

Typed, frozen structs, encoded and decoded by msgspec: the daemon builds them
(sesd.status.model, sesd.status.scopes), the CLI decodes the JSON into the same
types. Every string from event text (diagnostics, MTAs, SMTP statuses, message
ids, names) was cleaned when sesd kept it (sesd.core.text: addresses hidden,
control characters escaped, bounded); each renderer escapes what its format
needs on top. Times are Unix seconds; ratios are fractions (0.05 is 5%).
Sizes are bounded: each list that could grow with the traffic holds the top
``top`` items beside its ``total``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

__all__ = [
    "MAX_ALERTS",
    "RESTART_KEY_CHARS",
    "RESTART_LISTED",
    "SCHEMA",
    "AccountRow",
    "AlertList",
    "AlertRow",
    "CanaryRun",
    "CanaryView",
    "CauseView",
    "ConfigView",
    "DaemonView",
    "LagView",
    "Limits",
    "QueueView",
    "ReloadView",
    "ScopeRow",
    "ScopeTable",
    "SilenceList",
    "SilenceRef",
    "SilenceRow",
    "Status",
    "TenantRow",
]

#: The document's name; fields are only ever added within one.
SCHEMA: Final = "sesd.status.v1"

#: The most alerts (and silences, and tenants SES spoke of) a document lists.
MAX_ALERTS: Final = 1000
#: The most settings waiting for a restart a document (and `sesd reload`) names, each
#: cut at RESTART_KEY_CHARS, their count saying how many in all: an ``[[accounts]]``
#: entry's is named by its name, and a config may have many.
RESTART_LISTED: Final = 20
RESTART_KEY_CHARS: Final = 100


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a document lists: the top ``top`` labels of each axis, ``alerts``
    alerts, silences and tenants SES spoke of; ``window`` is the index of the window
    that ranks labels."""

    top: int = 20
    alerts: int = 50
    window: int = 0


class ReloadView(msgspec.Struct, frozen=True, kw_only=True):
    """The last load or reload of the config (or save of the state file): whether it
    worked, and when the last good one was (None before any)."""

    ok: bool
    at: float | None


class ConfigView(ReloadView, frozen=True, kw_only=True):
    """The config's last load or reload, and the settings of the config in force that
    wait for a restart (escaped, the first RESTART_LISTED) and how many: a reload took
    the rest of the file, and sesd runs on with these as they were."""

    restart: list[str] = []
    restart_count: int = 0


class DaemonView(msgspec.Struct, frozen=True, kw_only=True):
    """sesd itself: version, since when, readiness, the config."""

    version: str
    started: float
    uptime_seconds: float
    ready: bool
    #: Queues with no receive in the last minute, or failing since their last: found
    #: unusable, stalled, three failed in a row (what /readyz names).
    not_ready: list[str]
    reload: ConfigView
    #: A stop has begun: not ready whatever the queues say (what /readyz says).
    stopping: bool = False
    #: The commit of this build ("" when unknown): builds of one version differ.
    revision: str = ""
    #: The last save of the state file (``ok`` also without one).
    state: ReloadView = ReloadView(ok=True, at=None)
    #: A sink is ``shared``: one of several replicas on the same queues, whose
    #: figures are the part of the traffic SQS hands it, not the fleet's.
    shared: bool = False
    #: The name of the machine that answered (a pod's name in Kubernetes): through a
    #: Service, each request may reach another replica.
    host: str = ""
    #: Sinks whose posts did not go out over the queues' rate span: sink -> outcome
    #: (retried, rate_limited, failed, dropped, expired) -> how many
    #: (``sesd_notifications_total``). Alerts may fire with nobody told.
    sinks_failing: dict[str, dict[str, int]] = {}


class QueueView(msgspec.Struct, frozen=True, kw_only=True):
    """One configured queue: receives, their rate, errors."""

    name: str
    account: str
    region: str
    ready: bool
    #: Seconds since its last successful receive (None: none yet).
    last_receive_seconds_ago: float | None
    #: SQS messages received since sesd started, and per second over the last
    #: ``rate_seconds`` (None while that span is under a second).
    received: int
    received_per_second: float | None
    rate_seconds: float
    #: SES events processed, invalid messages.
    events: int
    invalid: int
    #: Failed SQS calls since start, by operation (receive, delete, release, process),
    #: and how many of them in the last ``rate_seconds``.
    errors: dict[str, int]
    recent_errors: int


class LagView(msgspec.Struct, frozen=True, kw_only=True):
    """Receive time minus event time over the last ``over_seconds``, across queues: the
    bucket bounds of ``sesd_event_lag_seconds`` the median and p95 fall in (at most
    that many seconds; 3600 means an hour or more), None without events."""

    events: int
    over_seconds: float
    p50_seconds: float | None
    p95_seconds: float | None
    #: The same as the page and ``sesd status`` say it ("event lag p50 <= 2s, p95 >
    #: 3600s (...)"): a quantile past the last bound is "more than" it.
    text: str = ""
    #: How far behind sesd reads now: the lag of the freshest event of the latest two
    #: receives (on the queue furthest behind, of those read in the last five
    #: minutes; 0 once a standard queue's long poll comes back empty); None without one.
    latest_seconds: float | None = None


class CauseView(msgspec.Struct, frozen=True, kw_only=True):
    """The dominant cause of a window's delays, as alert text names it, and advice."""

    name: str
    #: With its second cause where half its recipients came with one
    #: ("ip_reputation, or rate_limited").
    label: str
    recipients: int
    #: Recipients noted with any cause in the window.
    of: int
    #: The dominant cause's recipients whose cause the text only hinted at (0 from a
    #: sesd that did not say: fields are only added within a schema).
    hinted: int = 0
    #: How alert text says the counts: "12 of 15 noted", and when the text mostly only
    #: hinted at the cause, how many of them and what to do ("" from a sesd that did
    #: not say).
    noted: str = ""
    advice: str


class SilenceRef(msgspec.Struct, frozen=True, kw_only=True):
    """The silence holding an alert back."""

    id: str
    comment: str
    ends_at: float | None
    until_resolved: bool


#: What an alert's row says in place of the advice the row above it gave (the page,
#: ``sesd status``): with hundreds of alerts of one cause, the paragraph once.
SAME_ADVICE: Final = "the same advice as above"


class AlertRow(msgspec.Struct, frozen=True, kw_only=True):
    """An alert firing or pending: which rule, on what, the value against the
    threshold, since when, why, where, and whether a silence holds it."""

    rule: str
    #: domain, provider, tenant, account or canary.
    scope: str
    name: str
    #: firing or pending; resolved: its resolve, decided before a stop, is owed (firing
    #: in the state until an evaluation makes it again).
    state: str
    severity: str
    metric: str
    window: str
    value: float | None
    threshold: float
    clear_threshold: float
    #: above or below: which side of the threshold it fires on.
    fires: str
    #: The words before the threshold as alert text writes them: ``fires`` of a figure
    #: past it ("above"), else the rule's side ("fires above": a resolved row, one still
    #: firing between its clear threshold and its threshold, "no data").
    fires_text: str = ""
    #: The value and the threshold as alert text writes them (4.5%, 12.0s).
    value_text: str
    threshold_text: str
    #: When it fired (firing), the breach began (pending) or it resolved (resolved:
    #: never after the document's ``at``, should the clock have been set back since).
    since: float
    cause: CauseView | None
    #: Where in the path: "SES -> recipient MTA", "inside SES", a canary stage...
    stage: str
    silence: SilenceRef | None
    notes: list[str]
    #: The page of its domain, provider or tenant (None for accounts and the canary).
    link: str | None
    #: ``name`` as people read it: a domain in IDNA form with its Unicode form.
    shown: str = ""
    #: A domain alert's mailbox provider, as last found (None when not known, and on
    #: other scopes), as the alert's text names it.
    provider: str | None = None


class AlertList(msgspec.Struct, frozen=True, kw_only=True):
    """Firing alerts first, then pending ones, then resolved ones (each: the widest
    scope first, then critical first, then the oldest, as the rows' since reads)."""

    total: int
    firing: int
    items: list[AlertRow]
    #: Listed, but neither firing nor pending: a resolve a stop left undelivered, its
    #: row's state ``resolved`` until an evaluation makes it again.
    resolved: int = 0


class ScopeRow(msgspec.Struct, frozen=True, kw_only=True):
    """One domain, provider or tenant in the ranking."""

    name: str
    link: str
    delay_ratio: float | None
    delivered: int
    delayed: int
    bounced: int
    #: Recipients delayed and not delivered yet (until their expiry).
    pending: int
    delay_p95_seconds: float | None
    top_cause: str | None
    #: The delay ratio per bucket of the sparkline's window, oldest first (None where
    #: a bucket has no delivered or delayed recipient).
    sparkline: list[float | None]
    #: Rules firing on it.
    firing: list[str]
    #: ``name`` as people read it: a domain in IDNA form with its Unicode form.
    shown: str = ""


class ScopeTable(msgspec.Struct, frozen=True, kw_only=True):
    """The labels of one axis ranked by delay ratio in ``window`` (worst first, then
    by delayed recipients), the top ``len(items)`` of ``total``."""

    axis: str
    window: str
    sparkline_window: str
    sparkline_step_seconds: float
    total: int
    items: list[ScopeRow]
    #: What the ``pending`` figures may leave out, "" when nothing: delayed recipients
    #: the full pending table did not hold, first delayed in the last 16 h (all of them
    #: since the start: ``sesd_pending_delays_overflow_total``).
    pending_note: str = ""


class CanaryRun(msgspec.Struct, frozen=True, kw_only=True):
    """One canary that came back: its stage timings."""

    sent_at: float
    send_seconds: float
    ses_seconds: float | None
    pipeline_seconds: float | None
    end_to_end_seconds: float | None
    outcome: str


class CanaryView(msgspec.Struct, frozen=True, kw_only=True):
    """The canary over the last hour, and the newest runs that came back (oldest first)."""

    sent: int
    back: int
    missing: int
    send_failed: int
    deadline_seconds: float
    recent: list[CanaryRun]


class AccountRow(msgspec.Struct, frozen=True, kw_only=True):
    """One (account, region): what SES said at the last poll, and sesd's estimate."""

    account: str
    region: str
    sending_enabled: bool | None
    enforcement: str | None
    production: bool | None
    quota_used_ratio: float | None
    #: When the last poll ended, answered or not.
    polled_at: float | None
    #: When GetAccount last answered: the age of the status shown (None from a sesd
    #: that did not say).
    answered_at: float | None = None
    bounce_ratio: float | None
    complaint_ratio: float | None
    sends: int
    aws_bounce_ratio: float | None
    aws_complaint_ratio: float | None
    #: The walk of its tenants' resources (with ``[tenants]``): the tenants listed for
    #: the walk under way or the last (None: none listed since sesd started), how many
    #: it has read, and when a walk last completed the map (None: never).
    tenants_listed: int | None = None
    tenants_mapped: int = 0
    tenant_map_at: float | None = None


class TenantRow(msgspec.Struct, frozen=True, kw_only=True):
    """What SES says of one tenant in one (account, region)."""

    tenant: str
    account: str
    region: str
    sending: str
    cause: str
    impact: str
    findings: list[str]


class SilenceRow(msgspec.Struct, frozen=True, kw_only=True):
    """A silence: its matchers (None matches everything), comment and end."""

    id: str
    rule: str | None
    domain: str | None
    severity: str | None
    comment: str
    starts_at: float
    #: None for an --until-resolved silence still waiting.
    ends_at: float | None
    until_resolved: bool
    #: active or pending (ended ones are not listed).
    state: str
    created_by: str


class SilenceList(msgspec.Struct, frozen=True, kw_only=True):
    """Active and pending silences, those ending first first."""

    total: int
    items: list[SilenceRow]
    #: Why the silences file in force could not be read at the last look ("" when it
    #: could): its silences are then those read before, none since the start.
    unreadable: str = ""


class Status(msgspec.Struct, frozen=True, kw_only=True):
    """``/api/v1/status``."""

    schema: str = SCHEMA
    at: float
    sesd: DaemonView
    queues: list[QueueView]
    lag: LagView
    alerts: AlertList
    #: Domains, then providers and tenants where sesd counts them.
    scopes: list[ScopeTable]
    canary: CanaryView | None
    accounts: list[AccountRow]
    tenants: list[TenantRow]
    silences: SilenceList
    #: How many tenants SES spoke of, ``tenants`` listing the first (0 from a sesd that
    #: did not say).
    tenants_total: int = 0
