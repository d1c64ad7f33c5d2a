"""A tenant's status at its edges: a finding closed of no level SES gave, a reload
that drops a target and adds it back, two tenantless accounts in one region, a
restart with ``[tenants]`` off, and the largest status the state file may hold.
Pure: the statuses as the poller and the pipeline write them."""

from __future__ import annotations

from sesd.account.tenant_entities import written
from sesd.core.tenants import TenantNotice, TenantStatuses

ACCOUNT = "123456789012"
REGION = "eu-west-1"
T = 1_700_000_000.0


def _entity(impact: str) -> dict[str, object]:
    """ListReputationEntities' entry of acme, as SES answers it: enabled, ``impact``."""
    arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/tn-1"
    return {"ReputationEntityReference": arn, "ReputationImpact": impact}


def test_a_close_of_a_finding_of_no_level_lowers_no_impact_ses_gave() -> None:
    """Findings not listed: SES rates acme's impact (polled) of findings no event told
    of. A finding opened raises it; one closed lowers it only from its own level: a
    close of a type never heard, naming no impact, lowers neither a HIGH nor a LOW
    (the LOW was lowered to none: its alert resolved until the next poll)."""
    where = ("default", REGION)
    for impact in ("HIGH", "LOW"):
        statuses = TenantStatuses([where])
        written(statuses, where, _entity(impact), T)
        statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T + 10, finding="BOUNCE", open=False))
        assert statuses.status[(*where, "acme")].impact == impact
    # A LOW finding's close lowers a LOW impact: its own level.
    statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T + 20, finding="DMARC", impact="LOW",
                                open=False))  # fmt: skip
    assert statuses.status[(*where, "acme")].impact == ""
