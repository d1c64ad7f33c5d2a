"""The rules on no windows: what sesd is told or probes rather than counts. A canary
rule has one alert (domain ``canary``), an account rule one per (account, region)
SES's polls or the reputation estimate know, a tenant rule one per tenant SES lists.

Each is stepped once an evaluation's slices are done (sesd.alerting.slices), through
the evaluator's states, silences and groups as a rule on windows is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sesd.alerting.accounts import account_lines, account_value
from sesd.alerting.alert import Alert
from sesd.alerting.gate import gate
from sesd.alerting.labels import takes
from sesd.alerting.rules import INACTIVE, AlertState, step
from sesd.alerting.tenants import measure_tenant, named_places
from sesd.config import Duration, RuleConfig
from sesd.core.accounts import AccountStatus
from sesd.core.canary import CANARY_DOMAIN
from sesd.core.ledger import Ledger
from sesd.core.reputation import Estimate
from sesd.core.scopes import ACCOUNT, TENANT
from sesd.core.tenant_map import tenant_label
from sesd.core.tenants import TenantKey, TenantStatus
from sesd.core.windows import Breakdown

if TYPE_CHECKING:
    from sesd.alerting.evaluator import Evaluator

__all__ = ["AccountReads", "account_reads", "step_accounts", "step_canary", "step_tenants"]


def step_canary(
    evaluator: Evaluator, rule: RuleConfig, ledger: Ledger, now: float, out: list[Alert]
) -> None:
    """A canary rule: one alert, domain ``canary``, measured by the canary tracker."""
    tracker = ledger.canary
    state = evaluator.states[rule.name].setdefault(CANARY_DOMAIN, AlertState())
    window = Duration(rule.window).seconds
    value, volume = tracker.measure(rule.metric, window, now)
    transition = step(rule, state, value, volume, now, evaluator._repeat, tick=evaluator._tick)
    kind = gate(evaluator, rule, CANARY_DOMAIN, state, transition, now)
    if kind is None:
        return
    missing = [c.message_id for c in tracker.missing(now, now - window) if c.message_id]
    alert = Alert(
        **evaluator._identity(rule, CANARY_DOMAIN, kind, state, now),
        counts=tracker.counts(window, now),
        breakdown=Breakdown(message_ids=missing[-5:]),
        stage=tracker.stage(rule.metric, now, window),
        regions=[],
        internal=False,
        notes=tuple(tracker.notes()),
    )
    evaluator._emit(rule, alert, now, out)


#: What every account rule of one evaluation reads: the labels (``ACCOUNT/REGION``,
#: sorted), and for each its last poll's status and the estimate of its reputation.
AccountReads = tuple[list[str], dict[str, tuple[AccountStatus | None, Estimate | None]]]


def account_reads(ledger: Ledger) -> AccountReads:
    """The (account, region)s the polls or the estimate know, read once an evaluation
    for all its account rules (the example config's six each listed, sorted and read
    them: about 2,100 instructions an event of the replay benchmark)."""
    targets = {f"{a}/{r}": (a, r) for a, r in ledger.accounts.status}
    targets |= {f"{a}/{r}": (a, r) for a, r, cs in ledger.reputation.seen() if not cs}
    status, reputation = ledger.accounts.status, ledger.reputation
    reads = {
        label: (status.get(target), reputation.estimate((*target, "")))
        for label, target in targets.items()
    }
    return sorted(reads), reads


def step_accounts(
    evaluator: Evaluator,
    rule: RuleConfig,
    ledger: Ledger,
    now: float,
    out: list[Alert],
    reads: AccountReads | None = None,
) -> None:
    """An account rule: one alert per (account, region), named ``ACCOUNT/REGION``, from
    the last poll or from the reputation estimate (``reads``: :func:`account_reads`'
    answer at this evaluation, read here without it)."""
    states = evaluator.states[rule.name]
    listed, targets = account_reads(ledger) if reads is None else reads
    # A state of a target gone (an estimate or a poll no longer kept) is stepped too.
    labels = listed if states.keys() <= targets.keys() else sorted(targets.keys() | states)
    for label in labels:
        state = states.setdefault(label, AlertState())
        status, estimate = targets.get(label, _UNKNOWN)
        # The alert's lines only for an alert (sesd.alerting.accounts.account_value).
        value, volume = account_value(rule.metric, status, estimate)
        transition = step(rule, state, value, volume, now, evaluator._repeat, tick=evaluator._tick)
        kind = gate(evaluator, rule, label, state, transition, now)
        if kind is None:
            continue
        account, _, region = label.partition("/")
        alert = Alert(
            **evaluator._identity(rule, label, kind, state, now),
            counts={},
            breakdown=Breakdown(),
            stage="the SES account (sending status and reputation)",
            regions=[region],
            accounts=[account],
            internal=False,
            notes=account_lines(rule.metric, status, estimate),
            scope=ACCOUNT,
        )
        evaluator._emit(rule, alert, now, out)


#: What a label no poll or estimate knows reads.
_UNKNOWN: Final = (None, None)


def step_tenants(
    evaluator: Evaluator, rule: RuleConfig, ledger: Ledger, now: float, out: list[Alert]
) -> None:
    """A rule on what SES says of tenants: one alert per tenant, over the accounts
    and regions it is in."""
    states = evaluator.states[rule.name]
    by_tenant: dict[str, list[tuple[TenantKey, TenantStatus]]] = {}
    for key, status in ledger.tenant_status.status.items():
        # Labelled as the tenant's mail is (a tenant SES names ``other``: ``'other'``).
        by_tenant.setdefault(tenant_label(key[2]), []).append((key, status))
    # Named or matched, less those left out (exclude_tenants), as a rule on windows.
    watched = [t for t in by_tenant if takes(rule, t)]
    polled = ledger.tenant_status.watched  # (account, region)s: SES's answers, not events
    for tenant in sorted(set(watched) | set(states)):
        state = states.setdefault(tenant, AlertState())
        found = by_tenant.get(tenant, [])
        value, volume, notes = measure_tenant(rule.metric, found, polled)
        transition = step(rule, state, value, volume, now, evaluator._repeat, tick=evaluator._tick)
        kind = gate(evaluator, rule, tenant, state, transition, now)
        if kind is None:
            if state.status is INACTIVE and not found:
                # SES says nothing of it any more (deleted, or past the statuses'
                # bound): kept, the states of tenants that came and went (made-up
                # names too) would outgrow that bound, as a domain's without windows.
                del states[tenant]
            continue
        named = named_places(rule.metric, found, polled)  # (10 at most: where it reads 1 first)
        alert = Alert(
            **evaluator._identity(rule, tenant, kind, state, now),
            counts={},
            breakdown=Breakdown(),
            stage="SES tenant management (the tenant's sending status and findings)",
            regions=sorted({key[1] for key, _ in named}),
            accounts=sorted({key[0] for key, _ in named}),
            internal=True,
            notes=notes,
            scope=TENANT,
        )
        evaluator._emit(rule, alert, now, out)
