"""What a tenant's status keeps from what SES said before is its own: a status kept
under a raw AWS account id (its account not named by a poll yet) joins the label's
by what it heard, origin by origin, even when read from an older build's state
file. Pure: the statuses as the poller and the pipeline write them."""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.account.tenant_entities import written
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_merge import identity
from sesd.core.tenants import TenantNotice, TenantStatus, TenantStatuses

ACCOUNT = "123456789012"
REGION = "eu-west-1"
T = 1_700_000_000.0
PAUSE = "The bounce rate exceeded 15.0%."


def _old_row(status: TenantStatus) -> Any:
    """``status`` as a build before the per-origin times wrote it: no ``customer_at``
    and no ``aws_at``, and no ``findings_at`` either."""
    row = msgspec.to_builtins(status)
    del row["customer_at"], row["aws_at"], row["findings_at"]
    return row


def test_an_old_files_status_under_the_id_lifts_no_pause_on_an_origin_it_never_heard() -> None:
    """An older build's file: SES paused acme, read by the label's poll at T; under the
    account id (an event read before a poll named it), the customer's "enabled" event
    at T + 10. The file dates both of the id's origins at T + 10. Restored, the poll
    naming the id moves its word under the label: SES's pause, of an origin the event
    never spoke of, stands (else its alert resolved, until the next poll)."""
    label = ("default", REGION, "acme")
    polled = TenantStatus(sending="DISABLED", aws="DISABLED", aws_cause=PAUSE,
                          updated=T, status_at=T)  # fmt: skip
    heard = TenantStatus(updated=T + 10, status_at=T + 10)
    rows = [[*label, _old_row(polled)], [ACCOUNT, REGION, "acme", _old_row(heard)]]
    statuses = TenantStatuses([label[:2]])
    statuses.restore(rows, {label[:2]}, [(ACCOUNT, "default")])
    status = statuses.status[label]
    assert (status.sending, status.aws, status.cause) == ("DISABLED", "DISABLED", PAUSE)
    # What the id's row did say of an origin (a pause) moves as it did.
    paused = TenantStatus(sending="DISABLED", customer="DISABLED", customer_cause="held",
                          updated=T + 10, status_at=T + 10)  # fmt: skip
    rows = [[*label, _old_row(TenantStatus(updated=T, status_at=T))],
            [ACCOUNT, REGION, "acme", _old_row(paused)]]  # fmt: skip
    statuses = TenantStatuses([label[:2]])
    statuses.restore(rows, {label[:2]}, [(ACCOUNT, "default")])
    assert (statuses.status[label].customer, statuses.status[label].cause) == ("DISABLED", "held")


def test_an_old_files_status_under_the_id_lifts_no_customer_pause_it_never_heard() -> None:
    """The same with the origins the other way round: the customer's pause of acme,
    read by the label's poll at T; under the account id, SES's "enabled" event at
    T + 10, in an older build's file that dates both of the id's origins then. The
    poll naming the id moves its word under the label: the customer's pause stands."""
    label = ("default", REGION, "acme")
    polled = TenantStatus(sending="DISABLED", customer="DISABLED", customer_cause="held",
                          updated=T, status_at=T)  # fmt: skip
    heard = TenantStatus(updated=T + 10, status_at=T + 10)
    rows = [[*label, _old_row(polled)], [ACCOUNT, REGION, "acme", _old_row(heard)]]
    statuses = TenantStatuses([label[:2]])
    statuses.restore(rows, {label[:2]}, [(ACCOUNT, "default")])
    status = statuses.status[label]
    assert (status.sending, status.customer, status.cause) == ("DISABLED", "DISABLED", "held")


def _paused(tenant: str, at: float, account: str = ACCOUNT) -> TenantNotice:
    """SES's pause of ``tenant`` at ``at``, as its status event tells it."""
    return TenantNotice(
        REGION, account, tenant, at, status="DISABLED", origin="AWS_MANAGED", cause=PAUSE
    )


def test_a_tenant_heard_under_the_id_of_a_tenantless_account_goes_once_a_list_misses_it() -> None:
    """A fresh start whose account has no tenants: its lists name none, so no poll has
    named its AWS account id. hooli, created and paused at T + 10 (its event kept under
    the id), is deleted before the poll at T + 300 lists it: that list, of the one
    account in the region whose id is unknown, did not name it, and it goes (else its
    ``tenant_sending_paused`` alert fired for good, across restarts too: no list ever
    names the id). One heard of after the list was asked for stays."""
    where = ("default", REGION)
    statuses = TenantStatuses([where])
    statuses.gone(*where, set(), T)
    statuses.apply(_paused("hooli", T + 10))
    statuses.apply(_paused("globex", T + 310))
    # Kept across a restart, as a pause SES told of must be.
    restored = TenantStatuses([where])
    restored.restore(statuses.snapshot(), {where})
    assert (ACCOUNT, REGION, "hooli") in restored.status
    restored.gone(*where, set(), T + 300)
    assert list(restored.status) == [(ACCOUNT, REGION, "globex")]


def test_a_tenant_heard_under_another_id_than_the_labels_stays() -> None:
    """The label's polls have named its account's id (a tenant listed, then deleted:
    its lists are empty since): a tenant heard of under another id (another account's,
    on a shared queue) is not the label's, and a list of the label's says nothing of
    it."""
    where = ("default", REGION)
    statuses = TenantStatuses([where])
    statuses.named(ACCOUNT, "default")
    statuses.apply(_paused("hooli", T + 10, account="210987654321"))
    statuses.gone(*where, set(), T + 300)
    assert list(statuses.status) == [("210987654321", REGION, "hooli")]


def _entity(tenant_id: str, account: str = ACCOUNT) -> dict[str, object]:
    """ListReputationEntities' entry of acme, as SES answers it: enabled, low impact."""
    arn = f"arn:aws:ses:{REGION}:{account}:tenant/acme/{tenant_id}"
    return {"ReputationEntityReference": arn, "ReputationImpact": "LOW"}


def _opened(at: float, tenant_id: str = "tn-1") -> TenantNotice:
    """acme's BOUNCE finding opened at ``at``, as its event tells it."""
    arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/{tenant_id}"
    return TenantNotice(REGION, ACCOUNT, "acme", at, finding="BOUNCE", impact="HIGH",
                        description="The bounce rate is high.", arn=arn)  # fmt: skip


def test_a_tenant_made_again_under_its_name_starts_without_the_old_ones_findings() -> None:
    """Findings not listed (VDM off): acme's BOUNCE finding is known from its event
    alone. acme is deleted and made again between two polls (SES gives it another
    tenant id): the next poll's acme is another tenant, without the old one's finding
    (else its ``reputation_impact`` alert named a finding of a tenant that is no more,
    for good: no list ever closes it). Its own finding's event, heard before its
    first poll, is kept; an older event of the old acme, come late, is not heard."""
    where = ("default", REGION)
    statuses = TenantStatuses([where])
    written(statuses, where, _entity("tn-1"), T)
    statuses.apply(_opened(T + 10))
    written(statuses, where, _entity("tn-2"), T + 300)
    key = (*where, "acme")
    assert (statuses.status[key].findings, statuses.status[key].impact) == ([], "LOW")
    statuses.apply(_opened(T + 20))
    assert statuses.status[key].findings == []
    statuses.apply(_opened(T + 400, "tn-3"))  # (made a third time)
    written(statuses, where, _entity("tn-3"), T + 600)
    assert [f[0] for f in statuses.status[key].findings] == ["BOUNCE"]


def test_a_role_pointed_at_another_account_starts_its_same_named_tenant_clean() -> None:
    """prod's role reached ACCOUNT, whose acme had a BOUNCE finding (its event); a
    reload points the role at another account, whose tenant is named acme too. Its
    first poll's acme is that account's: none of the other's findings."""
    other = "210987654321"
    where = ("prod", REGION)
    statuses = TenantStatuses([where])
    statuses.watch([where], {"prod": ACCOUNT})
    written(statuses, where, _entity("tn-1"), T)
    statuses.apply(_opened(T + 10))
    assert statuses.status[(*where, "acme")].findings
    statuses.watch([where], {"prod": other})
    written(statuses, where, _entity("tn-1", other), T + 300)
    assert statuses.status[(*where, "acme")].findings == []


def test_a_late_event_of_a_tenant_a_tenantless_accounts_list_missed_is_not_heard() -> None:
    """As above, hooli (under the id) goes at the list of T + 300 that missed it; its
    pause's event, delivered again after (SQS delivers at least once), is older than
    that list: it does not bring hooli back (paused until the next poll)."""
    where = ("default", REGION)
    statuses = TenantStatuses([where])
    statuses.apply(_paused("hooli", T + 10))
    statuses.gone(*where, set(), T + 300)
    statuses.apply(_paused("hooli", T + 10))
    assert statuses.status == {}
    statuses.apply(_paused("hooli", T + 301))  # (made again since)
    assert list(statuses.status) == [(ACCOUNT, REGION, "hooli")]


def test_credentials_reaching_another_account_keep_its_tenants_events_not_the_old_ones() -> None:
    """The default credentials reached ACCOUNT, whose acme had a BOUNCE finding (its
    event); they reach another account now (no reload says so), whose acme's
    COMPLAINT finding is heard under that account's id before a poll names it. The
    poll naming it moves that word under the label: acme is that account's, with its
    finding alone, not the other's nor none."""
    other = "210987654321"
    where = ("default", REGION)
    statuses = TenantStatuses([where])
    written(statuses, where, _entity("tn-1"), T)
    statuses.apply(_opened(T + 10))
    arn = f"arn:aws:ses:{REGION}:{other}:tenant/acme/tn-9"
    statuses.apply(TenantNotice(REGION, other, "acme", T + 20, finding="COMPLAINT",
                                impact="LOW", arn=arn))  # fmt: skip
    written(statuses, where, _entity("tn-9", other), T + 300)
    assert [f[0] for f in statuses.status[(*where, "acme")].findings] == ["COMPLAINT"]


def test_a_tenant_is_told_by_its_account_and_id_not_by_the_form_of_its_arn() -> None:
    """An event's ARN and a poll's naming one tenant (account id and SES's id of it)
    are of one tenant whatever else they spell: a pause polled stands at its finding's
    event. An ARN without SES's id of the tenant says not which: no tenant's."""
    assert identity(f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/tn-1") == f"{ACCOUNT}/tn-1"
    assert identity(f"arn:aws-us-gov:ses:{REGION}:{ACCOUNT}:tenant/acme/tn-1") == f"{ACCOUNT}/tn-1"
    assert identity(f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/") == ""
    assert identity("arn:aws:ses:x:1:tenant/acme/" + "i" * 400) == ""  # (no ARN SES writes)
    where = ("default", REGION)
    statuses = TenantStatuses([where])
    paused = {**_entity("tn-1"), "AwsSesManagedStatus": {"Status": "DISABLED"}}
    written(statuses, where, paused, T)
    statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T + 10, finding="BOUNCE", arn=(
        f"arn:aws-us-gov:ses:{REGION}:{ACCOUNT}:tenant/acme/tn-1")))  # fmt: skip
    assert statuses.status[(*where, "acme")].paused


def test_a_low_finding_closed_leaves_the_high_impact_ses_gave_of_another() -> None:
    """Findings not listed: SES rates acme's impact HIGH (polled), of a finding no
    event told of; a LOW finding opens, and closes. Its close says nothing of the
    finding that made the impact HIGH: it stays (else the ``reputation_impact`` alert
    resolved until the next poll). The HIGH one's close lowers it."""
    where = ("default", REGION)
    statuses = TenantStatuses([where])
    written(statuses, where, {**_entity("tn-1"), "ReputationImpact": "HIGH"}, T)
    low = TenantNotice(REGION, ACCOUNT, "acme", T + 10, finding="COMPLAINT", impact="LOW")
    statuses.apply(low)
    statuses.apply(msgspec.structs.replace(low, time=T + 20, open=False))
    assert statuses.status[(*where, "acme")].impact == "HIGH"
    statuses.apply(_opened(T + 30))
    statuses.apply(msgspec.structs.replace(_opened(T + 40), open=False))
    assert statuses.status[(*where, "acme")].impact == ""


def test_a_restart_keeps_when_each_list_was_read_and_a_late_event_brings_back_no_one() -> None:
    """initech, paused, goes at the list of T + 300 (deleted); sesd restarts, and reads
    its queue's backlog before its first poll: the pause's event (T + 10) is older
    than that list, saved in the state file. initech stays gone (else paused, its
    alert firing, until the first poll)."""
    queue = f"[[queues]]\nurl = 'https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu'\n"
    config = parse_config(f"{queue}[tenants]\nenabled = true\n")
    before = Pipeline(core_settings(config)).ledger
    where = ("default", REGION)
    before.tenant_status.named(ACCOUNT, "default")
    before.tenant_status.polled((*where, "initech"), TenantStatus(sending="DISABLED"), T)
    before.tenant_status.gone(*where, set(), T + 300)
    after = Pipeline(core_settings(config)).ledger
    after.restore(msgspec.json.decode(msgspec.json.encode(before.snapshot(T + 400))), T + 400)
    after.tenant_status.apply(_paused("initech", T + 10))
    assert after.tenant_status.status == {}
