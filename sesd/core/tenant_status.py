"""What SES says of one tenant (:class:`TenantStatus`: its sending status by origin,
impact, policy and open findings, with when each was said) and what one of its tenant
events says (:class:`TenantNotice`); kept per tenant by sesd.core.tenants. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

__all__ = ["TenantNotice", "TenantStatus", "restored"]


class TenantNotice(msgspec.Struct, frozen=True, gc=False):
    """What one of SES's tenant events (EventBridge) says: a sending status change
    (``status`` set) or a reputation finding opened or closed (``finding`` set)."""

    region: str
    account: str
    tenant: str
    time: float
    #: ENABLED, DISABLED or REINSTATED, with who set it (AWS_MANAGED or
    #: CUSTOMER_MANAGED) and why.
    status: str = ""
    origin: str = ""
    cause: str = ""
    #: A finding: its type (BOUNCE, COMPLAINT...), impact (LOW, HIGH), description,
    #: and whether it is open.
    finding: str = ""
    impact: str = ""
    description: str = ""
    open: bool = True
    #: The tenant's ARN as the event named it: its account's id and SES's id of it.
    arn: str = ""


@dataclass(slots=True)
class TenantStatus:
    """What SES says of one tenant in one (account, region)."""

    #: ENABLED, REINSTATED or DISABLED: DISABLED when either status below is.
    sending: str = "ENABLED"
    customer: str = "ENABLED"
    customer_cause: str = ""
    aws: str = "ENABLED"
    aws_cause: str = ""
    #: The highest impact of its open findings (LOW, HIGH), "" with none.
    impact: str = ""
    #: none, standard or strict.
    policy: str = ""
    #: Open findings: (type, impact, description).
    findings: list[tuple[str, str, str]] = field(default_factory=list)
    #: When SES's newest word on it was given (event or poll), Unix time.
    updated: float = 0.0
    #: When SES's newest word on its sending status was given (a status event or a
    #: poll): a finding's newer event says nothing of it.
    status_at: float = 0.0
    #: ...and on each origin's (a poll's word is on both, an event's on one; 0: none
    #: heard): what an event said under an id moves under a label by origin (merged).
    customer_at: float = 0.0
    aws_at: float = 0.0
    #: Each finding type's newest event (opened or closed), Unix time: an older one,
    #: come late or again (SQS delivers at least once), changes nothing.
    heard: dict[str, float] = field(default_factory=dict)
    #: When its last list of open findings was read from: it spoke of every type.
    findings_at: float = 0.0
    #: Which tenant it is, "account/id" (its AWS account's id and SES's id of it, from
    #: the ARN SES last named it by; "": not told): another (the tenant made again under
    #: its name, or the label's role pointed at another account) is another tenant.
    tenant_id: str = ""

    def held_to(self, now: float) -> None:
        """Its times ahead of ``now`` taken as ``now``, as the wall clock stepped back
        to it: sesd.core.ledger_steps says when, and why."""
        for name in ("updated", "status_at", "customer_at", "aws_at", "findings_at"):
            setattr(self, name, min(getattr(self, name), now))
        self.heard = {kind: min(at, now) for kind, at in self.heard.items()}

    @property
    def paused(self) -> bool:
        """Whether SES does not let the tenant send."""
        return self.sending == "DISABLED"

    @property
    def cause(self) -> str:
        """Why it is paused: SES's cause, else the customer's."""
        if self.aws == "DISABLED":
            return self.aws_cause or "paused by SES"
        if self.customer == "DISABLED":
            return self.customer_cause or "paused by you"
        return ""


def restored(saved: Any, *, unnamed: bool) -> TenantStatus:
    """A status as a state file saved it (sesd.core.tenants), an older build's dated as
    it was meant: a file from before ``status_at`` dates the status by ``updated``, and
    one from before the per-origin times dates each origin by ``status_at``; but under
    an AWS account id no poll named (``unnamed``: events' word, each on one origin), an
    origin still as none spoke of it (ENABLED, no cause) is dated as never heard: moved
    under the label (a poll naming the id), it would lift the label's pause there."""
    status = msgspec.convert(saved, TenantStatus)
    if "status_at" not in saved:  # a file from before: what ``updated`` meant
        status.status_at = status.updated
    if "aws_at" not in saved:  # (so of each origin: the newest word on either)
        status.customer_at = status.aws_at = status.status_at
        if unnamed and (status.customer, status.customer_cause) == ("ENABLED", ""):
            status.customer_at = 0.0
        if unnamed and (status.aws, status.aws_cause) == ("ENABLED", ""):
            status.aws_at = 0.0
    return status
