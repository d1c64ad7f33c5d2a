"""merged() and its two helpers called directly, on statuses made by hand: a word as
old as the kept one, each origin's word and time taken, findings replaced by type
(an older type's left), the types heard kept newest last, and the impact and the
aggregate read from what is left. The tests through TenantStatuses reach only the
shapes a poll and an event make. Pure."""

from __future__ import annotations

from sesd.core.tenant_merge import (
    MAX_FINDINGS,
    WORD,
    aggregate,
    clean_status,
    impact_after,
    impact_of,
    merged,
)
from sesd.core.tenants import TenantStatus
from sesd.core.text import clean

T = 1_800_000_000.0


def test_the_impact_is_the_highest_of_the_findings_or_none() -> None:
    assert impact_of([("a", "LOW", "x"), ("b", "HIGH", "y")]) == "HIGH"
    assert impact_of([("a", "LOW", "x")]) == "LOW"
    assert impact_of([]) == ""


def test_the_aggregate_lets_a_reinstated_tenant_send_unless_either_disables_it() -> None:
    assert aggregate("REINSTATED", "ENABLED") == "REINSTATED"
    assert aggregate("ENABLED", "REINSTATED") == "REINSTATED"
    assert aggregate("REINSTATED", "DISABLED") == "DISABLED"
    assert aggregate("ENABLED", "ENABLED") == "ENABLED"


def test_a_word_as_old_as_the_kept_one_leaves_it() -> None:
    kept = TenantStatus(sending="DISABLED", customer="DISABLED", aws="DISABLED",
                        customer_at=T, aws_at=T, status_at=T)  # fmt: skip
    later = TenantStatus(customer_at=T, aws_at=T, status_at=T)
    merged(kept, later)
    assert (kept.sending, kept.customer, kept.aws) == ("DISABLED", "DISABLED", "DISABLED")


def test_a_newer_word_of_one_origin_is_taken_with_its_time() -> None:
    kept = TenantStatus(customer_at=T, aws_at=T, status_at=T, updated=T)
    later = TenantStatus(customer="REINSTATED", customer_cause="asked", customer_at=T + 5,
                         status_at=T + 5, updated=T + 5)  # fmt: skip
    merged(kept, later)
    assert (kept.sending, kept.customer, kept.customer_cause) == (
        "REINSTATED",
        "REINSTATED",
        "asked",
    )
    assert (kept.customer_at, kept.aws_at, kept.status_at, kept.updated) == (T + 5, T, T + 5, T + 5)


def test_findings_are_replaced_by_type_where_heard_no_sooner() -> None:
    kept = TenantStatus(findings=[("a", "LOW", "old a"), ("b", "LOW", "b")],
                        heard={"a": T, "b": T}, updated=T + 3)  # fmt: skip
    later = TenantStatus(
        findings=[("a", "HIGH", "new a"), ("b", "HIGH", "stale b"), ("c", "LOW", "c")],
        heard={"a": T + 1, "b": T - 1, "c": T + 2}, updated=T + 2,
    )  # fmt: skip
    merged(kept, later)
    assert kept.findings == [("b", "LOW", "b"), ("a", "HIGH", "new a"), ("c", "LOW", "c")]
    assert list(kept.heard.items()) == [("b", T), ("a", T + 1), ("c", T + 2)]
    assert (kept.impact, kept.updated, kept.sending) == ("HIGH", T + 3, "ENABLED")


def test_a_finding_opened_before_any_list_raises_the_impact_and_never_lowers_it() -> None:
    """Until a list has named every finding, SES's impact (a poll's) may be of findings
    no event told of: a LOW finding opened on a tenant SES gave none reads LOW, on one
    it gave HIGH still HIGH; once listed, the findings alone make it."""
    low = [("COMPLAINT", "LOW", "Complaints.")]
    assert impact_after(TenantStatus(findings=low), opened=True) == "LOW"
    assert impact_after(TenantStatus(findings=low, impact="HIGH"), opened=True) == "HIGH"
    assert impact_after(TenantStatus(findings=[], impact="LOW"), opened=True) == "LOW"
    listed = TenantStatus(findings=low, impact="HIGH", findings_at=T)
    assert impact_after(listed, opened=True) == "LOW"


def test_a_finding_moved_under_the_label_leaves_a_higher_impact_polled() -> None:
    """SES's HIGH (polled, findings never listed) and a LOW finding heard under the
    AWS account id: joined, the impact stays HIGH."""
    kept = TenantStatus(impact="HIGH", updated=T)
    later = TenantStatus(findings=[("COMPLAINT", "LOW", "c")], heard={"COMPLAINT": T + 1})
    merged(kept, later)
    assert (kept.findings, kept.impact) == ([("COMPLAINT", "LOW", "c")], "HIGH")


def test_a_status_word_moved_under_the_label_leaves_the_impact_as_ses_gave_it() -> None:
    """SES's impact HIGH, its findings listed (none open): a pause heard under the id
    and joined says nothing of the impact, which stays HIGH."""
    kept = TenantStatus(impact="HIGH", findings_at=T, customer_at=T, aws_at=T, status_at=T)
    later = TenantStatus(customer="DISABLED", customer_at=T + 5, status_at=T + 5)
    merged(kept, later)
    assert (kept.sending, kept.impact) == ("DISABLED", "HIGH")


def test_a_newer_word_of_ses_is_taken_and_disables_the_tenant() -> None:
    """SES's own pause (the AWS-managed origin) heard under the id: joined, the tenant
    is paused by SES, with SES's cause and time."""
    kept = TenantStatus(customer_at=T, aws_at=T, status_at=T)
    later = TenantStatus(aws="DISABLED", aws_cause="bounces", aws_at=T + 5, status_at=T + 5)
    merged(kept, later)
    assert (kept.sending, kept.aws, kept.aws_cause, kept.aws_at) == (
        "DISABLED", "DISABLED", "bounces", T + 5,
    )  # fmt: skip


def test_a_polled_status_is_cleaned_and_bounded_as_an_events_text() -> None:
    """A poll's or a state file's words are a stranger's as an event's are: each word
    at most WORD characters, control characters escaped, findings and the types heard
    bounded, the types heard of last kept."""
    word = "\x1b[31m" + "W" * 100
    status = TenantStatus(
        sending=word, customer=word, aws=word, impact=word, policy=word,
        customer_cause="C" * 500, aws_cause="A" * 500,
        findings=[(word, word, "D" * 500)] * (MAX_FINDINGS + 5),
        heard={f"{i:02d}{word}": float(i) for i in range(MAX_FINDINGS + 5)},
    )  # fmt: skip
    clean_status(status)
    words = [status.sending, status.customer, status.aws, status.impact, status.policy]
    assert all(len(w) <= WORD and "\x1b" not in w for w in words), words
    assert len(status.customer_cause) == len(status.aws_cause) == len(clean("C" * 500))
    assert len(status.findings) == MAX_FINDINGS
    kind, impact, text = status.findings[0]
    assert (len(kind), len(impact), text) == (WORD, WORD, clean("D" * 500))
    assert "\x1b" not in kind + impact
    heard = list(status.heard)
    assert len(heard) == MAX_FINDINGS
    assert all(len(k) <= WORD and "\x1b" not in k for k in heard)
    assert [status.heard[k] for k in heard] == [float(i) for i in range(5, MAX_FINDINGS + 5)]
