"""What one word of SES does to a tenant's status (sesd.core.tenant_words), called
directly on statuses made by hand: the id a status event or a poll names kept, a
finding event older than its type's last word refused, and the impact a finding's
event leaves: a close lowers it from the level of the finding it closes, a finding
told again at a lower level does not. Pure."""

from __future__ import annotations

from sesd.core.tenant_status import TenantNotice, TenantStatus
from sesd.core.tenant_words import notice_over, poll_over

T = 1_800_000_000.0


def _notice(**kw: object) -> TenantNotice:
    return TenantNotice(region="eu-west-1", account="123456789012", tenant="t", **kw)  # type: ignore[arg-type]


def test_a_status_event_names_the_tenant_by_the_id_it_gives() -> None:
    """A status event naming SES's id of the tenant makes it the kept id (the tenant
    made again under its name is told apart by it); one naming none keeps the id."""
    status = TenantStatus()
    assert notice_over(status, _notice(time=T, status="DISABLED", origin="AWS_MANAGED"), "1/a")
    assert (status.tenant_id, status.aws, status.sending) == ("1/a", "DISABLED", "DISABLED")
    assert notice_over(status, _notice(time=T + 1, status="ENABLED", origin="CUSTOMER_MANAGED"), "")
    assert status.tenant_id == "1/a"


def test_a_poll_naming_no_id_keeps_the_one_known() -> None:
    current = TenantStatus(tenant_id="1/a", updated=T, status_at=T, customer_at=T, aws_at=T)
    fresh = TenantStatus()
    poll_over(current, fresh, T + 10)
    assert fresh.tenant_id == "1/a"


def test_a_finding_event_older_than_its_types_last_word_is_not_taken() -> None:
    status = TenantStatus()
    assert notice_over(status, _notice(time=T + 5, finding="BOUNCE", impact="HIGH"), "")
    older = _notice(time=T, finding="BOUNCE", impact="LOW", open=False)
    assert not notice_over(status, older, "")
    assert (status.findings, status.impact) == ([("BOUNCE", "HIGH", "")], "HIGH")


def test_a_close_naming_no_impact_lowers_it_from_the_findings_own_level() -> None:
    """A HIGH finding opened, then closed by an event naming no impact: the close is of
    the HIGH finding kept, so the impact it made goes with it."""
    status = TenantStatus()
    notice_over(status, _notice(time=T, finding="BOUNCE", impact="HIGH"), "")
    assert status.impact == "HIGH"
    notice_over(status, _notice(time=T + 1, finding="BOUNCE", open=False), "")
    assert (status.findings, status.impact) == ([], "")


def test_an_open_finding_told_again_lower_does_not_lower_the_impact() -> None:
    """An open finding's event never lowers the impact (only a list naming every open
    finding, or a close, does): a HIGH finding told again at LOW leaves HIGH."""
    status = TenantStatus()
    notice_over(status, _notice(time=T, finding="BOUNCE", impact="HIGH"), "")
    notice_over(status, _notice(time=T + 1, finding="BOUNCE", impact="LOW"), "")
    assert (status.findings, status.impact) == ([("BOUNCE", "LOW", "")], "HIGH")
