"""The alerts of the status document: every (rule, label) firing or pending, with the
cause of its window's delays and what to do, where in the path, and the silence
that holds it. A pure read of the evaluator's states and the ledger at ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from sesd.alerting.accounts import account_lines
from sesd.alerting.alert import SEVERITY_RANK, alert_of, identity, metric_text
from sesd.alerting.cause_text import (
    cause_advice,
    cause_noted,
    dominant_cause,
    hinted_count,
    receiver,
)
from sesd.alerting.evaluator import Evaluator
from sesd.alerting.figures import side_text
from sesd.alerting.held import THIN_NOTE
from sesd.alerting.rules import AlertState, Status, Transition
from sesd.alerting.silences import Silence
from sesd.alerting.tenants import measure_tenant
from sesd.config import ACCOUNT_METRICS, CANARY_METRICS, TENANT_METRICS, Duration, RuleConfig
from sesd.core.ledger import Ledger
from sesd.core.scopes import ACCOUNT, DOMAIN, PROVIDER, TENANT, Scope
from sesd.core.tenant_map import tenant_label
from sesd.core.text import clean
from sesd.core.windows import Breakdown
from sesd.status.charts import named
from sesd.status.document import AlertList, AlertRow, CauseView, SilenceList, SilenceRef, SilenceRow

__all__ = [
    "CANARY",
    "Active",
    "active",
    "alert_list",
    "alert_rows",
    "firing_on",
    "link",
    "silence_list",
]

#: The scope of a canary rule's alert.
CANARY: Final = "canary"
#: Notes are sesd's own sentences around SES's words: longer than a diagnostic.
_NOTE_CHARS: Final = 1000
#: Scopes from the widest: an alert on one of them explains those on the next.
_BREADTH: Final = {ACCOUNT: 0, CANARY: 1, PROVIDER: 2, TENANT: 3, DOMAIN: 4}
#: The note of a firing alert whose resolve a stop left undelivered.
_OWED_NOTE: Final = (
    "resolved before sesd stopped; its resolve goes out at the next evaluation "
    "whose window holds enough events"
)
_WINDOW_STAGE: Final = {
    ACCOUNT: "the SES account (sending status and reputation)",
    TENANT: "SES tenant management (the tenant's sending status and findings)",
}


def link(axis: str, name: str) -> str:
    """The page of a domain, provider or tenant."""
    return f"/{axis}/{quote(name, safe='')}"


def _scope_of(rule: RuleConfig) -> str:
    if rule.metric in CANARY_METRICS:
        return CANARY
    if rule.metric in ACCOUNT_METRICS:
        return ACCOUNT
    return rule.scope


@dataclass(frozen=True, slots=True)
class Active:
    """A (rule, label) firing or pending, before its row is read: sorting and counting
    every alert costs no window read; only the rows shown read their windows."""

    rule: RuleConfig
    label: str
    state: AlertState
    scope: str

    @property
    def firing(self) -> bool:
        """Whether it fires (else it is pending, or resolved: :attr:`resolved`)."""
        return self.state.status is Status.FIRING and self.state.resolved_at is None

    @property
    def resolved(self) -> bool:
        """Whether its resolve, decided before a stop, is owed: firing in the state
        until an evaluation makes that resolve again, resolved as sesd last knew it (and
        as Alertmanager is posted it), so counted neither firing nor pending."""
        return self.state.status is Status.FIRING and self.state.resolved_at is not None

    def key(self) -> tuple[int, int, int, float, str, str]:
        """Firing first, then pending, then resolved (over: a cut list leaves them out
        before an alert that may yet fire); the account's, the canary's, a provider's
        and a tenant's before a domain's (one of them explains many of a domain's); then
        critical first, then the oldest: a resolved one by when it resolved, as its row's
        since reads (by when it fired, rows since 09:30 came before rows since 08:45)."""
        breadth = _BREADTH.get(self.scope, len(_BREADTH))
        severity = SEVERITY_RANK.get(self.rule.severity, 9)
        rank, since = (0 if self.firing else 1), self.state.since
        if self.state.resolved_at is not None and self.resolved:
            rank, since = 2, self.state.resolved_at
        return (rank, breadth, severity, since, self.rule.name, self.label)


def active(evaluator: Evaluator) -> list[Active]:
    """Every alert firing or pending, in the order the page lists them."""
    rules = {rule.name: rule for rule in evaluator.rules}
    found = [
        Active(rule, label, state, _scope_of(rule))
        for name, states in evaluator.states.items()
        if (rule := rules.get(name)) is not None
        for label, state in states.items()
        if state.status is not Status.INACTIVE
    ]
    found.sort(key=Active.key)
    return found


def firing_on(found: list[Active]) -> dict[tuple[str, str], list[str]]:
    """(scope, label) -> the rules firing on it. Not one whose resolve a stop left
    undelivered: its row reads it resolved, and so does the label's."""
    out: dict[tuple[str, str], list[str]] = {}
    for alert in found:
        if alert.firing:
            out.setdefault((alert.scope, alert.label), []).append(alert.rule.name)
    return out


def alert_rows(
    ledger: Ledger, evaluator: Evaluator, found: list[Active], now: float
) -> list[AlertRow]:
    """The rows of ``found``: each with its window's cause, its stage and its silence."""
    return [_row(ledger, evaluator, a.rule, a.label, a.state, now) for a in found]


def alert_list(
    ledger: Ledger, evaluator: Evaluator, found: list[Active], now: float, top: int
) -> AlertList:
    """The rows of the first ``top`` of ``found``, with the counts of all."""
    return AlertList(
        total=len(found),
        firing=sum(1 for a in found if a.firing),
        resolved=sum(1 for a in found if a.resolved),
        items=alert_rows(ledger, evaluator, found[:top], now),
    )


def _row(
    ledger: Ledger,
    evaluator: Evaluator,
    rule: RuleConfig,
    label: str,
    state: AlertState,
    now: float,
) -> AlertRow:
    scope = _scope_of(rule)
    # A provider name may come back from a state file: kept like any text read in.
    provider = ledger.provider_of(label, now) if scope == DOMAIN else None
    cause, stage, notes = None, _WINDOW_STAGE.get(scope, ""), _notes(ledger, rule, label)
    if scope == CANARY:
        stage = ledger.canary.stage(rule.metric, now, Duration(rule.window).seconds)
    elif rule.metric not in TENANT_METRICS and scope != ACCOUNT:
        breakdown = _breakdown(ledger, rule, label, now)
        cause = _cause(breakdown, receiver(scope, label, provider))
        stage = alert_of(
            identity(rule, label, Transition.FIRING, state, now), None, breakdown
        ).stage
    silence = evaluator.silences.match(rule.name, label, rule.severity, now)
    shown_state, since = state.status.value, state.since
    value, value_text = state.value, metric_text(rule.metric, state.value)
    if state.status is Status.FIRING and state.resolved_at is not None:
        shown_state = "resolved"
        # Its resolve, decided before a stop, not delivered: firing in the state until
        # an evaluation on a window holding enough makes it again. Its figure is the
        # one it resolved at (under the threshold): shown so, as the sinks are told.
        value, value_text = None, _resolved_text(rule.metric, state.value)
        notes = (*notes, _OWED_NOTE)
        # Since it resolved (as Alertmanager's endsAt, never after now: a clock set
        # back across the restart), not since it fired: "resolved since 08:00" read
        # as an incident over an hour before it was.
        since = min(state.resolved_at, now)
    elif state.held:
        notes = (*notes, THIN_NOTE)  # its figure the one it last fired at, as reminders say
    return AlertRow(
        rule=rule.name,
        scope=scope,
        name=label,
        state=shown_state,
        severity=rule.severity,
        metric=rule.metric,
        window=rule.window,
        value=value,
        threshold=rule.threshold,
        clear_threshold=rule.clear_threshold,
        fires="above" if rule.rising else "below",
        fires_text=side_text(
            rule.rising, state.value, rule.threshold, resolved=shown_state == "resolved"
        ),
        value_text=value_text,
        threshold_text=metric_text(rule.metric, rule.threshold),
        since=since,
        cause=cause,
        stage=stage,
        silence=None if silence is None else _silence_ref(silence),
        notes=[clean(note, _NOTE_CHARS) for note in notes],
        link=link(scope, label) if scope in (DOMAIN, PROVIDER, TENANT) else None,
        shown=named(scope, label),
        provider=None if provider is None else clean(provider),
    )


def _resolved_text(metric: str, value: float | None) -> str:
    """What a firing alert whose resolve is owed resolved at (a figure not saved: none)."""
    return "resolved" if value is None else f"resolved at {metric_text(metric, value)}"


def _scope(ledger: Ledger, axis: str) -> Scope | None:
    return {DOMAIN: ledger.by_domain, PROVIDER: ledger.by_provider, TENANT: ledger.by_tenant}.get(
        axis
    )


def _breakdown(ledger: Ledger, rule: RuleConfig, label: str, now: float) -> Breakdown:
    """What the rule's window of the label says (its breakdown is kept: a rule reads it)."""
    scope = _scope(ledger, rule.scope)
    windows = None if scope is None else scope.windows.get(label)
    names = [spec.name for spec in ledger.specs]
    if windows is None or rule.window not in names:
        return Breakdown()
    return windows.breakdown(names.index(rule.window), now, delays=rule.about_delays)


def _cause(breakdown: Breakdown, provider: str | None) -> CauseView | None:
    """The dominant cause of ``breakdown`` and its advice for mail ``provider``
    receives (None: not known), as alert text says them; None without causes."""
    if not breakdown.causes:
        return None
    name, n = breakdown.causes[0]
    return CauseView(
        name=name,
        label=dominant_cause(breakdown),
        recipients=n,
        of=sum(count for _, count in breakdown.causes),
        hinted=hinted_count(breakdown),
        noted=cause_noted(breakdown),
        advice=cause_advice(breakdown, provider),
    )


def _notes(ledger: Ledger, rule: RuleConfig, label: str) -> tuple[str, ...]:
    """What SES says of an account or a tenant, or the canary's last timings."""
    if rule.metric in CANARY_METRICS:
        return tuple(ledger.canary.notes())
    if rule.metric in TENANT_METRICS:
        found = [
            (k, s) for k, s in ledger.tenant_status.status.items() if tenant_label(k[2]) == label
        ]
        return measure_tenant(rule.metric, found, ledger.tenant_status.watched)[2]
    if rule.metric in ACCOUNT_METRICS:
        account, _, region = label.partition("/")
        status = ledger.accounts.status.get((account, region))
        estimate = ledger.reputation.estimate((account, region, ""))
        return account_lines(rule.metric, status, estimate)
    return ()


def _silence_ref(silence: Silence) -> SilenceRef:
    return SilenceRef(
        id=clean(silence.id),
        comment=clean(silence.comment),
        ends_at=silence.ends_at,
        until_resolved=silence.until_resolved,
    )


def silence_list(evaluator: Evaluator, now: float, top: int, unreadable: str = "") -> SilenceList:
    """Active and pending silences, those that end first first; ``unreadable``: why the
    file could not be read (its path and an error, cleaned: a file named by mistake may
    hold anything)."""
    found = [s for s in evaluator.silences.items if s.state(now) != "expired"]
    found.sort(key=lambda s: (s.ends_at is None, s.ends_at or 0.0, s.id))
    rows = [
        SilenceRow(
            id=clean(s.id),
            rule=None if s.rule is None else clean(s.rule),
            domain=None if s.domain is None else clean(s.domain),
            severity=None if s.severity is None else clean(s.severity),
            comment=clean(s.comment),
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            until_resolved=s.until_resolved,
            state=s.state(now),
            created_by=clean(s.created_by),
        )
        for s in found[:top]
    ]
    return SilenceList(total=len(found), items=rows, unreadable=clean(unreadable))
