"""What SES said of one tenant under two keys joined into one (sesd.core.tenants: a poll
naming an AWS account id moves what its events said under the id to the label): its
findings' highest impact, and each word by the newer of the two; and a status's text
cleaned and bounded as an event's is. Pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sesd.core.tenant_map import MAX_RESOURCE_ARN, names_a_resource
from sesd.core.text import clean

if TYPE_CHECKING:
    from sesd.core.tenant_status import TenantStatus

__all__ = [
    "MAX_FINDINGS", "WORD", "clean_findings", "clean_status", "identity", "impact_after",
    "impact_of", "merged", "same",
]  # fmt: skip

#: The most open findings kept of one tenant: one per type of finding, and SES has
#: about a dozen types; beyond this a finding is not kept.
MAX_FINDINGS: Final = 32
#: The longest word kept where SES sends one (a status, an impact, a finding's type).
WORD: Final = 64
#: How high each impact SES gives is (any other word: none).
_LEVEL: Final = {"HIGH": 2, "LOW": 1}


def impact_of(findings: list[tuple[str, str, str]]) -> str:
    """The highest impact of open ``findings``: HIGH, LOW, or "" with none."""
    impacts = {f[1] for f in findings}
    return "HIGH" if "HIGH" in impacts else ("LOW" if impacts else "")


def impact_after(status: TenantStatus, *, opened: bool, closed: str = "") -> str:
    """``status``'s impact once a finding event was applied to its findings: their
    highest, once a list has named them all (``findings_at``); else an opened finding
    raises the impact SES gave (a poll's: of findings no event told of too), and never
    lowers it, and one closed (its impact ``closed``) lowers it but from its own level:
    a HIGH impact SES gave stands a LOW finding's close (another made it HIGH), and
    neither stands one of no level (a type never heard of, its event naming none)."""
    found = impact_of(status.findings)
    own = _LEVEL.get(closed, 0) >= _LEVEL.get(status.impact, 0)
    if status.findings_at or (not opened and own):
        return found
    return "HIGH" if "HIGH" in (found, status.impact) else found or status.impact


def identity(arn: str) -> str:
    """Which tenant a tenant's ARN names: its AWS account id and the id SES gave it
    ("account/id"; "" where the ARN names none, or is none SES writes). SES gives a
    tenant made again under its name another id; one of another account is another."""
    if not names_a_resource(arn):
        return ""
    head, _, rest = arn.partition(":tenant/")
    _, _, made = rest.partition("/")
    account = head.rpartition(":")[2]
    return f"{account}/{made}" if account and made else ""


def same(status: TenantStatus, tenant_id: str) -> bool:
    """Whether SES's word on the tenant ``tenant_id`` (:func:`identity`; "" when not
    told) can be of the one ``status`` is of."""
    return not (tenant_id and status.tenant_id) or tenant_id == status.tenant_id


def merged(kept: TenantStatus, later: TenantStatus) -> TenantStatus:
    """``kept`` with what ``later`` heard after it: each origin's sending status (SES's,
    the customer's) told after ``kept``'s word on that origin, and each type of finding
    it heard of no sooner than ``kept`` did. By origin: an event speaks of one, and the
    other's word in ``later`` (never heard: ENABLED) would lift a pause ``kept`` read."""
    customer, aws = later.customer_at > kept.customer_at, later.aws_at > kept.aws_at
    if customer:  # (0: that origin was not heard of)
        kept.customer, kept.customer_cause = later.customer, later.customer_cause
        kept.customer_at = later.customer_at
    if aws:
        kept.aws, kept.aws_cause, kept.aws_at = later.aws, later.aws_cause, later.aws_at
    if customer or aws:  # (else the aggregate stands as SES gave it)
        kept.sending = aggregate(kept.customer, kept.aws)
        kept.status_at = max(kept.status_at, later.status_at)
    taken = False
    for kind, at in later.heard.items():  # (a list read after it spoke of every type)
        if at >= max(kept.heard.get(kind, at), kept.findings_at):
            kept.findings = [f for f in kept.findings if f[0] != kind]
            kept.findings += [f for f in later.findings if f[0] == kind]
            kept.heard.pop(kind, None)
            kept.heard[kind] = at
            taken = True
    kept.findings_at = max(kept.findings_at, later.findings_at)
    kept.findings = kept.findings[:MAX_FINDINGS]
    kept.heard = dict(list(kept.heard.items())[-MAX_FINDINGS:])
    if taken:  # (else the impact stands as SES gave it: a status event says none)
        kept.impact = impact_after(kept, opened=True)  # (unlisted: raised, never lowered)
    kept.updated = max(kept.updated, later.updated)
    kept.tenant_id = kept.tenant_id or later.tenant_id
    return kept


def aggregate(customer: str, aws: str) -> str:
    """SES's aggregate: DISABLED when either is; REINSTATED lets a tenant send."""
    if "DISABLED" in (customer, aws):
        return "DISABLED"
    return "REINSTATED" if "REINSTATED" in (customer, aws) else "ENABLED"


def clean_status(status: TenantStatus) -> None:
    """A polled or restored status's text cleaned and bounded as
    :meth:`~sesd.core.tenants.TenantStatuses.apply` does an event's; of ``heard``, the
    types heard of last, as many as apply() keeps."""
    for name in ("sending", "customer", "aws", "impact", "policy"):
        setattr(status, name, clean(getattr(status, name), WORD))
    status.customer_cause, status.aws_cause = clean(status.customer_cause), clean(status.aws_cause)
    status.findings = clean_findings(status.findings)
    status.heard = {clean(k, WORD): at for k, at in list(status.heard.items())[-MAX_FINDINGS:]}
    ok = len(status.tenant_id) <= MAX_RESOURCE_ARN and status.tenant_id.isascii()
    status.tenant_id = status.tenant_id if ok else ""  # (a file edited by hand)


def clean_findings(findings: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """At most :data:`MAX_FINDINGS` findings, their text cleaned and bounded."""
    return [
        (clean(kind, WORD), clean(impact, WORD), clean(text))
        for kind, impact, text in findings[:MAX_FINDINGS]
    ]
