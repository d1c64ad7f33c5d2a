"""What one word of SES on a tenant does to its status (sesd.core.tenants keeps one per
tenant): a poll's, a list of its open findings, or one of its events (a status change,
a finding), each taken unless something newer was heard. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.core.tenant_merge import (
    MAX_FINDINGS,
    WORD,
    aggregate,
    clean_findings,
    clean_status,
    impact_after,
    same,
)
from sesd.core.text import clean

if TYPE_CHECKING:
    from sesd.core.tenant_status import TenantNotice, TenantStatus

__all__ = ["list_over", "notice_over", "poll_over"]


def poll_over(current: TenantStatus | None, fresh: TenantStatus, at: float) -> None:
    """``fresh``, what a poll said (newer than any event before ``at``), made what is
    kept: on each origin of the sending status but one a status event spoke of while the
    poll was under way (its word, newer, stands: dropped whole, the poll's on the other
    went unseen), ``current``'s. Of another tenant of the name than the one kept
    (:func:`~sesd.core.tenant_merge.same`): from none."""
    fresh.updated = fresh.status_at = fresh.customer_at = fresh.aws_at = at
    if current is not None and not same(current, fresh.tenant_id):
        current, fresh.findings = None, []  # another tenant of the name: from none
    if current is not None:
        fresh.tenant_id = fresh.tenant_id or current.tenant_id
        if current.customer_at > at:
            fresh.customer, fresh.customer_cause = current.customer, current.customer_cause
            fresh.customer_at = current.customer_at
        if current.aws_at > at:
            fresh.aws, fresh.aws_cause = current.aws, current.aws_cause
            fresh.aws_at = current.aws_at
        if current.status_at > at:
            fresh.sending = aggregate(fresh.customer, fresh.aws)
            fresh.status_at = current.status_at
        fresh.heard, fresh.updated = current.heard, max(current.updated, at)
        fresh.findings_at = current.findings_at
        # A finding's newer event: its word stands (a status event's is of neither).
        if any(heard > at for heard in current.heard.values()):
            fresh.findings, fresh.impact = current.findings, current.impact
    clean_status(fresh)


def list_over(current: TenantStatus, findings: list[tuple[str, str, str]], at: float) -> None:
    """The open ``findings`` a list read from ``at`` on named written into ``current``,
    but for each type an event spoke of after ``at`` (its word stands)."""
    newer = {kind for kind, heard in current.heard.items() if heard > at}
    kept = [f for f in current.findings if f[0] in newer]
    listed = [f for f in clean_findings(findings) if f[0] not in newer]
    current.findings = (listed + kept)[:MAX_FINDINGS]
    for kind in current.heard:  # an event heard before, come again, is older
        current.heard[kind] = max(current.heard[kind], at)
    current.findings_at = max(current.findings_at, at)  # (so of a type never heard)


def notice_over(status: TenantStatus, notice: TenantNotice, made: str) -> bool:
    """Whether ``notice`` (of the tenant SES's id ``made`` names, "" when not told) is
    taken: written into ``status`` unless something newer was heard (events may arrive
    out of order). Its text is a stranger's as far as sesd knows: cleaned and bounded
    here, for every reader."""
    if notice.status:
        # Older than the newest word on its own origin (a poll's is on both): the
        # other's newer word says nothing of this one's.
        ses = notice.origin == "AWS_MANAGED"
        if notice.time < (status.aws_at if ses else status.customer_at):
            return False
        status.tenant_id = made or status.tenant_id
        said, cause = clean(notice.status, WORD), clean(notice.cause)
        if ses:
            status.aws, status.aws_cause, status.aws_at = said, cause, notice.time
        else:
            status.customer, status.customer_cause = said, cause
            status.customer_at = notice.time
        status.sending = aggregate(status.customer, status.aws)
        status.status_at = max(status.status_at, notice.time)
        status.updated = max(status.updated, notice.time)
        return True
    kind = clean(notice.finding, WORD)
    heard = status.heard
    if notice.time < max(heard.get(kind, notice.time), status.findings_at):
        return False
    status.tenant_id = made or status.tenant_id
    heard.pop(kind, None)  # the newest last: the one dropped is the longest unheard
    heard[kind] = notice.time
    if len(heard) > MAX_FINDINGS:
        del heard[next(iter(heard))]
    finding = (kind, clean(notice.impact, WORD), clean(notice.description))
    was = next((f[1] for f in status.findings if f[0] == kind), finding[1])
    status.findings = [f for f in status.findings if f[0] != kind]
    if notice.open and len(status.findings) < MAX_FINDINGS:
        status.findings.append(finding)
    status.impact = impact_after(status, opened=notice.open, closed=was)
    status.updated = max(status.updated, notice.time)
    return True
