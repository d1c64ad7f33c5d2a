"""What sesd keeps of SES's tenants, read as SES means it: which tenant owns a
resource, each tenant's sending status from SES's status records (in whatever order
its events arrive), its open findings, and what a rule on them measures and says.
Pure code, no server."""

from __future__ import annotations

import msgspec
import pytest

from sesd.alerting.tenants import measure_tenant
from sesd.core.tenant_map import (
    AMBIGUOUS,
    MAX_RESOURCE_ARN,
    UNKNOWN,
    TenantMap,
    tenant_of_arn,
    valid_tenant,
)
from sesd.core.tenant_merge import identity
from sesd.core.tenants import MAX_FINDINGS, MAX_STATUSES, TenantNotice, TenantStatus, TenantStatuses

ACCOUNT = "123456789012"
WHERE = f"arn:aws:ses:eu-west-1:{ACCOUNT}"
T = 1_800_000_000.0


def _status(
    tenant: str, status: str, *, origin: str = "AWS_MANAGED", at: float = T
) -> TenantNotice:
    return TenantNotice(
        "eu-west-1", ACCOUNT, tenant, at, status=status, origin=origin, cause=f"{origin} {status}"
    )


def _finding(
    tenant: str, kind: str, impact: str, *, open_: bool = True, at: float = T
) -> TenantNotice:
    return TenantNotice(
        "eu-west-1", ACCOUNT, tenant, at, finding=kind, impact=impact,
        description=f"{kind} finding", open=open_,
    )  # fmt: skip


def test_a_tenant_name_is_what_ses_allows_and_its_arn_names_it() -> None:
    """Names of letters, digits, '-' and '_' up to 64 long; a tenant ARN gives its
    region, account and name; another resource's ARN, or a bad name, gives none."""
    assert valid_tenant("acme_Corp-2")
    assert valid_tenant("a" * 64)
    assert not valid_tenant("a" * 65)
    assert not valid_tenant("")
    assert not valid_tenant("acme corp")
    assert tenant_of_arn(f"{WHERE}:tenant/acme/tn-1") == ("eu-west-1", ACCOUNT, "acme")
    assert tenant_of_arn(f"{WHERE}:identity/example.com") is None
    assert tenant_of_arn(f"{WHERE}:tenant/no%20good/tn-1") is None
    region = "r" + "x" * 31
    assert tenant_of_arn(f"arn:aws:ses:{region}:{ACCOUNT}:tenant/a/tn-1") == (region, ACCOUNT, "a")
    assert tenant_of_arn(f"arn:aws:ses:{region}x:{ACCOUNT}:tenant/a/tn-1") is None


def test_a_resource_belongs_to_its_one_tenant_and_a_shared_one_to_none() -> None:
    """The configuration set's tenant first, then the identity's; a resource several
    tenants share names none; a later poll of one (region, account) replaces what it
    listed before and leaves the others' alone."""
    tenants = TenantMap()
    identity = f"{WHERE}:identity/example.com"
    tenants.replace(
        "eu-west-1",
        ACCOUNT,
        {
            f"{WHERE}:configuration-set/marketing": {"acme"},
            f"{WHERE}:configuration-set/shared": {"acme", "globex"},
            identity: {"globex"},
        },
    )
    other = f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/example.com"
    tenants.replace("us-east-1", ACCOUNT, {other: {"initech"}})
    assert tenants.version == 2
    assert tenants.tenant(identity, "marketing") == "acme"
    assert tenants.tenant(identity, "shared") == "globex"  # shared: the identity's
    assert tenants.arns[f"{WHERE}:configuration-set/shared"] == AMBIGUOUS
    assert tenants.tenant(identity, "") == "globex"
    assert tenants.tenant(f"{WHERE}:identity/other.example", "none") == UNKNOWN
    # Something that is not a resource's ARN belongs to no (region, account).
    odd = f"arn:aws:ses:eu-west-1:{ACCOUNT}"
    tenants.arns[odd] = "odd"
    tenants.replace("eu-west-1", ACCOUNT, {identity: {"acme"}})
    assert tenants.arns[odd] == "odd"
    assert tenants.tenant(identity, "marketing") == "acme"
    assert f"{WHERE}:configuration-set/marketing" not in tenants.arns
    assert tenants.tenant(other, "") == "initech"
    assert tenants.version == 3


def test_the_resource_map_is_bounded_and_survives_a_restart() -> None:
    """The oldest resource goes first when the map is full; a restore keeps what the
    state file held up to the bound, the newest, as the live map would have."""
    tenants = TenantMap(max_entries=2)
    tenants.replace("eu-west-1", ACCOUNT, {f"{WHERE}:identity/{n}": {n} for n in "abc"})
    assert list(tenants.arns) == [f"{WHERE}:identity/b", f"{WHERE}:identity/c"]
    again = TenantMap(max_entries=2)
    again.replace("us-east-1", ACCOUNT, {})
    again.restore([*tenants.snapshot(), [f"{WHERE}:identity/d", "d"]])
    tenants.learn(f"{WHERE}:identity/d", "", "d", by_ses=True)  # live: b goes
    assert list(again.arns.items()) == list(tenants.arns.items())
    assert list(again.arns) == [f"{WHERE}:identity/c", f"{WHERE}:identity/d"]
    assert again.version == 2  # what was looked up before the restore is stale
    assert again.tenant(f"{WHERE}:identity/c", "") == "c"


def test_a_resource_the_map_let_go_is_not_learned_again_by_a_word() -> None:
    """A resource learned from SES's tag and then forgotten by a poll, pushed out of a
    full map, or listed by a poll (whatever (region, account) its ARN names) is no
    longer the event's to change: a later event naming another tenant adds nothing
    and changes nothing. Each learned resource bumps the version from where it was."""
    identity = f"{WHERE}:identity/x.example"
    other = f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/x.example"
    tenants = TenantMap()
    tenants.replace("us-east-1", ACCOUNT, {})
    tenants.learn(identity, "", "globex", by_ses=True)
    assert tenants.version == 2
    tenants.replace("eu-west-1", ACCOUNT, {})
    tenants.learn(identity, "", "acme", by_ses=False)
    assert tenants.arns == {}
    tenants.learn(other, "", "globex", by_ses=True)
    tenants.replace("eu-west-1", ACCOUNT, {other: {"globex"}})
    tenants.learn(other, "", "acme", by_ses=False)
    assert tenants.arns == {other: "globex"}
    full = TenantMap(max_entries=1)
    full.learn(identity, "", "globex", by_ses=True)
    full.learn(identity, "set", "globex", by_ses=True)  # pushes the identity out
    full.learn(identity, "", "acme", by_ses=False)
    assert full.arns == {f"{WHERE}:configuration-set/set": "globex"}
    full.learn(identity, "", "globex", by_ses=True)
    full.replace("us-east-1", ACCOUNT, {other: {"initech"}})  # pushes it out again
    full.learn(identity, "", "acme", by_ses=False)
    assert full.arns == {other: "initech"}


def test_an_identity_is_read_from_its_arns_first_identity_part() -> None:
    """An email identity's name may itself hold ':identity/' (a local part may hold ':'
    and '/'): the configuration set's ARN is built from what comes before the first,
    and a poll of that (region, account) forgets an ARN whatever colons its resource
    holds (read from the right, they would name another account)."""
    identity = f"{WHERE}:identity/a:identity/b@x.example"
    tenants = TenantMap()
    tenants.learn(identity, "set", "acme", by_ses=True)
    assert tenants.arns == {f"{WHERE}:configuration-set/set": "acme"}
    tenants.replace("eu-west-1", ACCOUNT, {f"{WHERE}:configuration-set/set": {"globex"}})
    assert tenants.tenant(identity, "set") == "globex"
    tenants.replace("eu-west-1", ACCOUNT, {identity: {"initech"}})
    assert tenants.arns == {identity: "initech"}
    tenants.replace("eu-west-1", ACCOUNT, {})
    assert tenants.arns == {}


def test_a_restore_keeps_each_row_a_live_read_could_have_made() -> None:
    """A state file edited, or an older build's: a row no resource's ARN names (not an
    ARN, or longer than any resource's SES writes) or naming a tenant SES could not is
    passed over, and the rows after it are still read; a shared resource's row is kept
    as shared."""
    head = f"{WHERE}:configuration-set/"
    longest = head + "s" * (MAX_RESOURCE_ARN - len(head))
    too_long = longest + "s"
    shared = f"{WHERE}:identity/shared.example"
    tenants = TenantMap()
    tenants.restore(
        [
            ["not-an-arn", "acme"],
            [too_long, "acme"],
            [f"{WHERE}:identity/bad.example", "no good"],
            [longest, "acme"],
            [shared, AMBIGUOUS],
        ]
    )
    assert tenants.arns == {longest: "acme", shared: AMBIGUOUS}


def test_a_tenant_sends_unless_either_status_record_is_disabled() -> None:
    """SES's aggregate of the two records (yours, SES's): DISABLED when either is,
    REINSTATED when one is and neither is DISABLED; each record keeps its cause."""
    statuses = TenantStatuses()
    statuses.accounts[ACCOUNT] = "prod"
    key = ("prod", "eu-west-1", "acme")
    steps = [
        (_status("acme", "DISABLED"), "DISABLED", "AWS_MANAGED DISABLED"),
        (_status("acme", "REINSTATED", origin="CUSTOMER_MANAGED", at=T + 1), "DISABLED", ""),
        (_status("acme", "ENABLED", at=T + 2), "REINSTATED", ""),
        (_status("acme", "ENABLED", origin="CUSTOMER_MANAGED", at=T + 3), "ENABLED", ""),
        (_status("acme", "DISABLED", origin="CUSTOMER_MANAGED", at=T + 4), "DISABLED", ""),
    ]
    seen = []
    for notice, sending, _ in steps:
        statuses.apply(notice)
        status = statuses.status[key]
        seen.append((status.sending, status.paused, status.cause))
        assert status.sending == sending
        assert status.updated == notice.time
    assert seen[0] == ("DISABLED", True, "AWS_MANAGED DISABLED")
    assert seen[-1] == ("DISABLED", True, "CUSTOMER_MANAGED DISABLED")
    assert (statuses.status[key].aws, statuses.status[key].aws_cause) == (
        "ENABLED",
        "AWS_MANAGED ENABLED",
    )
    assert list(statuses.status) == [key]


def test_an_older_status_event_does_not_undo_a_newer_one() -> None:
    """EventBridge may deliver out of order: an event older than what was last heard
    (event or poll) is ignored; one of the same time is applied."""
    statuses = TenantStatuses()
    key = (ACCOUNT, "eu-west-1", "acme")  # no poll yet: the account id is the label
    statuses.apply(_status("acme", "DISABLED", at=T + 10))
    statuses.apply(_status("acme", "ENABLED", at=T + 5))
    assert statuses.status[key].sending == "DISABLED"
    statuses.apply(_status("acme", "ENABLED", at=T + 10))
    assert statuses.status[key].sending == "ENABLED"
    # A poll answered before the newest event is not newer than it.
    statuses.polled(key, TenantStatus(sending="DISABLED", aws="DISABLED"), T + 9)
    assert statuses.status[key].sending == "ENABLED"
    statuses.polled(key, TenantStatus(sending="DISABLED", aws="DISABLED"), T + 10)
    assert (statuses.status[key].sending, statuses.status[key].updated) == ("DISABLED", T + 10)
    assert statuses.status[key].paused


def test_open_findings_set_the_impact_and_closing_them_clears_it() -> None:
    """A finding opened again replaces the older one of its type; the impact is the
    highest of those open; a finding event never makes the status older."""
    statuses = TenantStatuses()
    key = (ACCOUNT, "eu-west-1", "acme")
    statuses.apply(_finding("acme", "COMPLAINT", "LOW", at=T + 20))
    assert statuses.status[key].impact == "LOW"
    statuses.apply(_finding("acme", "BOUNCE", "HIGH", at=T + 10))
    assert statuses.status[key].impact == "HIGH"
    assert statuses.status[key].updated == T + 20
    statuses.apply(_finding("acme", "BOUNCE", "HIGH", at=T + 30))
    assert [f[0] for f in statuses.status[key].findings] == ["COMPLAINT", "BOUNCE"]
    statuses.apply(_finding("acme", "BOUNCE", "HIGH", open_=False, at=T + 31))
    assert statuses.status[key].impact == "LOW"
    assert statuses.status[key].findings == [("COMPLAINT", "LOW", "COMPLAINT finding")]
    statuses.apply(_finding("acme", "COMPLAINT", "LOW", open_=False, at=T + 32))
    assert (statuses.status[key].impact, statuses.status[key].findings) == ("", [])
    assert statuses.status[key].updated == T + 32
    assert statuses.status[key].sending == "ENABLED"


HOSTILE = (
    "\x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07 victim.person@example.com"
    "\r\nFAKE \u202e"
)


def _hostile_status(text: str) -> TenantStatus:
    return TenantStatus(
        sending="DISABLED", customer="DISABLED", customer_cause=text, aws=text[:20],
        aws_cause=text, impact=text, policy=text, findings=[(text, text, text)] * 50,
    )  # fmt: skip


def test_what_ses_says_of_a_tenant_is_kept_cleaned_and_bounded() -> None:
    """Status events and polls carry text sesd did not write: every reader (alerts,
    the status page, metrics) gets it with addresses hidden, controls escaped and its
    size and number of findings bounded."""
    statuses = TenantStatuses()
    long = HOSTILE + "x" * 5000
    statuses.apply(TenantNotice("eu-west-1", ACCOUNT, "acme", T, status="DISABLED", cause=long))
    statuses.apply(TenantNotice("eu-west-1", ACCOUNT, "word", T, status=long, cause=long))
    statuses.apply(
        TenantNotice("eu-west-1", ACCOUNT, "acme", T, finding=long, impact=long, description=long)
    )
    statuses.polled((ACCOUNT, "eu-west-1", "poll"), _hostile_status(long), T)
    for status in statuses.status.values():
        words = [status.sending, status.customer, status.aws, status.impact, status.policy]
        words += [text for kind, impact, _ in status.findings for text in (kind, impact)]
        texts = [status.customer_cause, status.aws_cause, *(f[2] for f in status.findings)]
        for text in words + texts:
            assert len(text) <= (64 if text in words else 200)
            assert text.isprintable()
            assert "victim" not in text
    assert statuses.status[(ACCOUNT, "eu-west-1", "acme")].customer_cause.startswith("\\u001b[2J")
    assert len(statuses.status[(ACCOUNT, "eu-west-1", "poll")].findings) == MAX_FINDINGS


def test_tenants_and_their_findings_are_bounded_the_longest_silent_first_out() -> None:
    """A flood of status events for made-up tenants keeps at most MAX_STATUSES of them:
    the one SES spoke of longest ago makes room, so a tenant heard of again stays. A
    tenant keeps at most MAX_FINDINGS findings."""
    statuses = TenantStatuses()
    statuses.apply(_status("first", "DISABLED"))
    statuses.apply(_status("second", "DISABLED"))
    for i in range(MAX_STATUSES - 2):
        statuses.apply(_status(f"t{i}", "ENABLED"))
    statuses.apply(_finding("first", "BOUNCE", "HIGH", at=T + 1))  # heard of again
    statuses.apply(_status("newcomer", "DISABLED"))
    names = [name for _, _, name in statuses.status]
    assert len(names) == MAX_STATUSES
    assert "second" not in names
    assert {"first", "newcomer"} <= set(names)
    statuses.polled((ACCOUNT, "eu-west-1", "t1"), TenantStatus(), T)  # heard of again
    assert len(statuses.status) == MAX_STATUSES  # a tenant kept makes no room
    statuses.polled((ACCOUNT, "eu-west-1", "polled"), TenantStatus(), T)
    statuses.polled((ACCOUNT, "eu-west-1", "polled-too"), TenantStatus(), T)
    assert len(statuses.status) == MAX_STATUSES
    names = [name for _, _, name in statuses.status]
    assert "t0" not in names
    assert "t1" in names  # a poll of it made it the newest, so t2 made room
    assert "t2" not in names
    for i in range(MAX_FINDINGS + 5):
        statuses.apply(_finding("first", f"KIND{i}", "LOW", at=T + 2))
    assert len(statuses.status[(ACCOUNT, "eu-west-1", "first")].findings) == MAX_FINDINGS
    ranked = [name for (_, _, name), _ in statuses.ranked()[:3]]
    assert ranked == ["first", "newcomer", "polled"]  # paused (HIGH first), then by key


@pytest.mark.parametrize("older", ["another tenant of the name", "its own older word"])
def test_an_event_not_applied_does_not_keep_its_tenant_from_making_room(older: str) -> None:
    """acme (SES's id tn-2), polled first, is the tenant SES spoke of longest ago among
    MAX_STATUSES. An event comes late: of the tenant of its name SES deleted before (tn-1)
    or acme's own pause, older than the poll. Neither is applied, and neither is SES
    speaking of acme now: the next tenant polled takes acme's room (it took the second
    one's, acme moved to the newest end by what it did not apply)."""
    where = (ACCOUNT, "eu-west-1")
    statuses = TenantStatuses([where])
    arn = f"arn:aws:ses:eu-west-1:{ACCOUNT}:tenant/acme/tn-2"
    statuses.polled((*where, "acme"), TenantStatus(tenant_id=identity(arn)), T)
    for i in range(MAX_STATUSES - 1):
        statuses.polled((*where, f"t{i}"), TenantStatus(), T)
    made = arn.replace("tn-2", "tn-1") if older.startswith("another") else arn
    late = TenantNotice("eu-west-1", ACCOUNT, "acme", T - 60, status="DISABLED",
                        origin="AWS_MANAGED", arn=made)  # fmt: skip
    statuses.apply(late)
    assert not statuses.status[(*where, "acme")].paused
    statuses.polled((*where, "newcomer"), TenantStatus(), T + 1)
    assert (*where, "acme") not in statuses.status
    assert (*where, "t0") in statuses.status


def test_one_accounts_ten_thousand_tenants_do_not_crowd_out_anothers_paused_one() -> None:
    """Two accounts polled: small's paused tenant is polled first, then big's 10,000
    tenants (SES's quota per account and region) and more, then SES's events flood
    made-up tenants under an account id no poll named. small's pause stays (an alert
    that flapped every round before); big keeps its newest 10,000; the events' tenants
    are bounded on their own, and do not cost either account a tenant."""
    statuses = TenantStatuses([("small", "eu-west-1"), ("big", "eu-west-1")])
    paused = TenantStatus(sending="DISABLED", aws="DISABLED", aws_cause="bounces")
    statuses.polled(("small", "eu-west-1", "paused"), paused, T)
    statuses.polled(("small", "eu-west-1", "fine"), TenantStatus(), T)
    for i in range(MAX_STATUSES + 10):
        statuses.polled(("big", "eu-west-1", f"t{i:05d}"), TenantStatus(), T + 1)
    for i in range(MAX_STATUSES + 10):
        statuses.apply(_status(f"made-up-{i}", "DISABLED", at=T + 2))
    assert statuses.status[("small", "eu-west-1", "paused")].paused
    assert ("small", "eu-west-1", "fine") in statuses.status
    big = [name for account, _, name in statuses.status if account == "big"]
    assert len(big) == MAX_STATUSES
    assert big[0] == "t00010"  # the ten big polled first made room for its newest
    made_up = [name for account, _, name in statuses.status if account == ACCOUNT]
    assert len(made_up) == MAX_STATUSES
    assert len(statuses.status) == 2 + 2 * MAX_STATUSES
    statuses.gone("big", "eu-west-1", {"t00011"}, T + 1)  # a full list: room again
    statuses.polled(("big", "eu-west-1", "new"), TenantStatus(), T + 3)
    assert [name for a, _, name in statuses.status if a == "big"] == ["t00011", "new"]


def test_an_account_a_reload_adds_gets_room_of_its_own() -> None:
    """A reload adds the account "new" to the polls: its 10,000 tenants, polled, no
    longer share the room of tenants only events name, so a paused tenant an event
    named under an unpolled account id stays."""
    statuses = TenantStatuses([("old", "eu-west-1")])
    statuses.apply(_status("paused", "DISABLED"))
    statuses.watch([("old", "eu-west-1"), ("new", "eu-west-1")])
    for i in range(MAX_STATUSES):
        statuses.polled(("new", "eu-west-1", f"t{i:05d}"), TenantStatus(), T)
    assert statuses.status[(ACCOUNT, "eu-west-1", "paused")].paused
    assert len(statuses.status) == MAX_STATUSES + 1


def test_tenants_are_ranked_as_ses_acts_on_them_not_by_name() -> None:
    """Paused first, then a HIGH finding, then a LOW one, then the rest, each by key."""
    statuses = TenantStatuses()
    statuses.apply(_status("a-sending", "ENABLED"))
    statuses.apply(_finding("b-low", "COMPLAINT", "LOW"))
    statuses.apply(_finding("c-high", "BOUNCE", "HIGH"))
    statuses.apply(_status("d-paused", "DISABLED"))
    statuses.apply(_status("e-sending", "ENABLED"))
    ranked = [name for (_, _, name), _ in statuses.ranked()]
    assert ranked == ["d-paused", "c-high", "b-low", "a-sending", "e-sending"]


def test_a_polled_paused_tenant_keeps_its_series_past_paused_ones_only_events_named() -> None:
    """Anyone who can send to a queue can put status events on it naming made-up
    tenants, paused, under an account id no poll named (digits: sorted before any
    label). 250 of them do not take the series of acme, which a poll of prod says SES
    paused, past the 200 series cap: SesdTenantSendingPaused reads those series. Of
    each rank, the polled tenants come first."""
    from prometheus_client import CollectorRegistry

    from sesd.core.accounts import Accounts
    from sesd.metrics.tenants import TenantCollector

    statuses = TenantStatuses([("prod", "eu-west-1")])
    paused = TenantStatus(sending="DISABLED", aws="DISABLED", aws_cause="Bounce rate.")
    statuses.polled(("prod", "eu-west-1", "acme"), paused, T)
    statuses.polled(("prod", "eu-west-1", "beta"), TenantStatus(), T)
    for n in range(250):
        statuses.apply(_status(f"made-up-{n}", "DISABLED"))
    registry = CollectorRegistry()
    registry.register(TenantCollector(statuses, 200, Accounts(), TenantMap()))
    labels = {"account": "prod", "region": "eu-west-1", "tenant": "acme", "status": "DISABLED"}
    assert registry.get_sample_value("sesd_ses_reputation_entity_sending_status", labels) == 1
    ranked = [key for key, _ in statuses.ranked()]
    assert ranked[0] == ("prod", "eu-west-1", "acme")
    assert ranked[-1] == ("prod", "eu-west-1", "beta")  # sending: after every paused one


def test_tenants_only_events_named_make_at_most_the_cap_s_places_in_the_totals() -> None:
    """Status events on the queue may name a made-up account id and region for each
    tenant: 300 of them make no 300 series of sesd_ses_reputation_entities. The places
    a poll reads (prod in eu-west-1) have theirs always; of the others, the 4 (the
    series cap) with the most tenants theirs, the rest count under account and
    region other, so the family still counts every tenant."""
    from prometheus_client import CollectorRegistry

    from sesd.core.accounts import Accounts
    from sesd.metrics.tenants import TenantCollector

    statuses = TenantStatuses([("prod", "eu-west-1")])
    statuses.polled(("prod", "eu-west-1", "acme"), TenantStatus(), T)
    for n in range(3):  # one account whose events come here legitimately, unpolled
        statuses.apply(_status(f"legit-{n}", "DISABLED"))
    for n in range(300):
        made_up = TenantNotice(f"xx-{n}", f"{n:012d}", "t", T, status="DISABLED", origin="x")
        statuses.apply(made_up)
    registry = CollectorRegistry()
    registry.register(TenantCollector(statuses, 4, Accounts(), TenantMap()))
    samples = [
        s for m in registry.collect() if m.name == "sesd_ses_reputation_entities" for s in m.samples
    ]
    placed = {tuple(s.labels[k] for k in ("account", "region", "status")): s.value for s in samples}
    assert len(placed) == 6
    assert placed[("prod", "eu-west-1", "ENABLED")] == 1
    assert placed[(ACCOUNT, "eu-west-1", "DISABLED")] == 3
    assert placed[("other", "other", "DISABLED")] == 300 - 3
    assert sum(placed.values()) == len(statuses.status)


def _found(*statuses: tuple[str, TenantStatus]) -> list[tuple[tuple[str, str, str], TenantStatus]]:
    return [(("prod", region, "acme"), status) for region, status in statuses]


def test_a_paused_tenant_reads_1_with_who_paused_it_why_and_what_to_do() -> None:
    """Paused in any region reads 1, with a line per region it is paused in, its
    first three findings, and the advice for who paused it (SES, or you)."""
    findings = [("BOUNCE", "HIGH", f"bounce {i}") for i in range(4)]
    by_ses = TenantStatus(
        sending="DISABLED", aws="DISABLED", aws_cause="Bounce rate.", impact="HIGH",
        policy="standard", findings=findings,
    )  # fmt: skip
    fine = TenantStatus()
    value, volume, lines = measure_tenant(
        "tenant_sending_paused", _found(("us-east-1", fine), ("eu-west-1", by_ses))
    )
    assert (value, volume) == (1.0, 1)
    assert lines == (
        "SES paused tenant acme in eu-west-1 (account prod, policy standard): Bounce rate.",
        "finding BOUNCE (HIGH): bounce 0",
        "finding BOUNCE (HIGH): bounce 1",
        "finding BOUNCE (HIGH): bounce 2",
        lines[-1],
    )
    assert lines[-1].startswith("SES paused this tenant for its reputation")
    by_you = TenantStatus(sending="DISABLED", customer="DISABLED")
    value, _, lines = measure_tenant("tenant_sending_paused", _found(("eu-west-1", by_you)))
    assert value == 1.0
    assert lines[0] == "SES paused tenant acme in eu-west-1 (account prod): paused by you"
    assert lines[-1].startswith("The tenant was paused by your own account")
    assert "--sending-status ENABLED" in lines[-1]


def test_a_sending_tenant_reads_0_and_says_how_it_stands() -> None:
    """Not paused anywhere reads 0, each region's status and open impact said."""
    low = TenantStatus(sending="REINSTATED", impact="LOW", policy="strict")
    value, volume, lines = measure_tenant("tenant_sending_paused", _found(("eu-west-1", low)))
    assert (value, volume) == (0.0, 1)
    assert lines == (
        "tenant acme in eu-west-1 (account prod) sends (REINSTATED), findings of LOW impact "
        "open, policy strict",
    )
    assert measure_tenant("tenant_sending_paused", _found(("eu-west-1", TenantStatus()))) == (
        0.0,
        1,
        ("tenant acme in eu-west-1 (account prod) sends (ENABLED)",),
    )
    assert measure_tenant("tenant_sending_paused", []) == (None, 0, ())


def test_reputation_impact_reads_1_for_a_high_finding_only() -> None:
    """HIGH anywhere reads 1, with the warning that the policy may pause the tenant;
    LOW or none reads 0 without it."""
    high = TenantStatus(impact="HIGH", findings=[("COMPLAINT", "HIGH", "complaints")])
    low = TenantStatus(impact="LOW", findings=[("BOUNCE", "LOW", "bounces")])
    value, _, lines = measure_tenant(
        "reputation_impact", _found(("us-east-1", low), ("eu-west-1", high))
    )
    assert value == 1.0
    assert lines[0].startswith("tenant acme in eu-west-1 (account prod) sends (ENABLED)")
    assert "finding COMPLAINT (HIGH): complaints" in lines
    assert lines[-1].startswith("SES holds a high-impact reputation finding")
    value, _, lines = measure_tenant("reputation_impact", _found(("us-east-1", low)))
    assert value == 0.0
    assert not lines[-1].startswith("SES holds")
    assert measure_tenant("reputation_impact", _found(("us-east-1", TenantStatus())))[0] == 0.0
    with pytest.raises(ValueError, match="unknown tenant metric 'delay_ratio'"):
        measure_tenant("delay_ratio", _found(("us-east-1", low)))


def test_a_tenant_rule_alerts_once_per_watched_tenant_over_its_accounts_and_regions() -> None:
    """acme is paused in one of its two regions and accounts; beta sends; gamma is not
    watched. One alert, for acme, naming every account and region SES knows it in,
    inside SES (SES itself paused it); it goes out, and resolves once SES lets it send."""
    from sesd.alerting.evaluator import Evaluator
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline

    config = parse_config(
        "[tenants]\nenabled = true\n"
        '[[alerts.rules]]\nname = "tenant-paused"\nmetric = "tenant_sending_paused"\n'
        'window = "5m"\nabove = 0\ntenants = ["acme", "beta"]\n'
    )
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    statuses = pipeline.ledger.tenant_status
    statuses.apply(_status("acme", "DISABLED"))
    statuses.apply(
        TenantNotice("us-east-1", "210987654321", "acme", T, status="ENABLED", origin="AWS_MANAGED")
    )
    for tenant in ("beta", "gamma"):
        statuses.apply(_status(tenant, "DISABLED" if tenant == "gamma" else "ENABLED"))
    (alert,) = evaluator.evaluate(pipeline.ledger, T)
    assert (alert.kind.value, alert.rule, alert.domain, alert.scope, alert.value) == (
        "firing",
        "tenant-paused",
        "acme",
        "tenant",
        1.0,
    )
    assert (alert.accounts, alert.regions) == (
        [ACCOUNT, "210987654321"],
        ["eu-west-1", "us-east-1"],
    )
    assert alert.stage == "SES tenant management (the tenant's sending status and findings)"
    assert alert.internal is True
    assert alert.counts == {}
    assert alert.notes[0].startswith("SES paused tenant acme in eu-west-1")
    (notification,) = evaluator.due(T, flush=True)
    assert (notification.rule, [a.domain for a in notification.alerts]) == (
        "tenant-paused",
        ["acme"],
    )
    statuses.apply(_status("acme", "REINSTATED", at=T + 60))
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", "acme")
    assert evaluator.current == {}
    statuses.status.clear()  # SES no longer knows the tenant: nothing to say of it
    assert evaluator.evaluate(pipeline.ledger, T + 120) == []


def test_a_tenant_paused_in_more_places_than_an_alert_names_is_told_in_a_page() -> None:
    """Status events may name one tenant under any number of made-up account ids: 50
    of them pause acme besides the poll of prod that says SES paused it. Its alert
    names 10 places at most, prod's first (a poll's word), counts the rest, and still
    ends with what to do; its accounts and regions are those it names."""
    from sesd.alerting.evaluator import Evaluator
    from sesd.alerting.tenants import MOST_PLACES
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline

    config = parse_config(
        "[tenants]\nenabled = true\n"
        '[[alerts.rules]]\nname = "tenant-paused"\nmetric = "tenant_sending_paused"\n'
        'window = "5m"\nabove = 0\ntenants = ["*"]\n'
    )
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    statuses = pipeline.ledger.tenant_status
    statuses.watch([("prod", "eu-west-1")])
    for n in range(50):
        made_up = f"{n:012d}"
        statuses.apply(TenantNotice("eu-west-1", made_up, "acme", T, status="DISABLED",
                                    origin="AWS_MANAGED", cause="made up " * 20))  # fmt: skip
    paused = TenantStatus(sending="DISABLED", aws="DISABLED", aws_cause="Bounce rate.")
    statuses.polled(("prod", "eu-west-1", "acme"), paused, T)
    (alert,) = evaluator.evaluate(pipeline.ledger, T + 60)
    assert MOST_PLACES == 10
    assert alert.notes[0] == "SES paused tenant acme in eu-west-1 (account prod): Bounce rate."
    assert len(alert.notes) == MOST_PLACES + 2
    assert alert.notes[-2] == "and 41 more accounts and regions it is paused in"
    assert alert.notes[-1].startswith("SES paused this tenant for its reputation")
    assert len(alert.accounts) == MOST_PLACES
    assert "prod" in alert.accounts
    sending = [((f"{n:012d}", "eu-west-1", "beta"), TenantStatus()) for n in range(12)]
    value, _, lines = measure_tenant("tenant_sending_paused", sending)
    assert (value, len(lines), lines[-1]) == (
        0.0,
        11,
        "and 2 more accounts and regions SES names it in",
    )
    high = [(k, TenantStatus(impact="HIGH")) for k, _ in sending]
    value, _, lines = measure_tenant("reputation_impact", high)
    assert (value, lines[-2]) == (1.0, "and 2 more accounts and regions with a HIGH finding")


def test_a_rule_on_every_tenant_forgets_the_tenants_ses_no_longer_speaks_of() -> None:
    """A platform's tenants come and go (and anyone who can send to the queue can name
    made-up ones): a rule on every tenant keeps a state only for a tenant SES says
    something of. acme, paused, is deleted: its alert resolves, and then it is
    forgotten; so is beta, sending, once the status bound lets it go: half as many
    tenants again as the bound keeps, each said once, leave the rule a state only for
    those kept."""
    from sesd.alerting.evaluator import Evaluator
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline

    config = parse_config(
        "[tenants]\nenabled = true\n"
        '[[alerts.rules]]\nname = "tenant-paused"\nmetric = "tenant_sending_paused"\n'
        'window = "5m"\nabove = 0\ntenants = ["*"]\n'
    )
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [s.name for s in pipeline.ledger.specs])
    statuses = pipeline.ledger.tenant_status
    statuses.apply(_status("acme", "DISABLED"))
    statuses.apply(_status("beta", "ENABLED"))
    (alert,) = evaluator.evaluate(pipeline.ledger, T)
    assert (alert.kind.value, alert.domain) == ("firing", "acme")
    states = evaluator.states["tenant-paused"]
    assert sorted(states) == ["acme", "beta"]
    statuses.gone(ACCOUNT, "eu-west-1", {"beta"}, T + 30)  # acme deleted in SES
    (resolved,) = evaluator.evaluate(pipeline.ledger, T + 60)
    assert (resolved.kind.value, resolved.domain) == ("resolved", "acme")
    assert evaluator.evaluate(pipeline.ledger, T + 120) == []
    assert sorted(states) == ["beta"]
    for batch in range(3):  # made-up tenants, each said once: the bound lets beta go too
        for n in range(MAX_STATUSES // 2):
            statuses.apply(_status(f"made-up-{batch}-{n}", "ENABLED", at=T + 200 + batch))
        evaluator.evaluate(pipeline.ledger, T + 300 + 60 * batch)
    assert len(statuses.status) == MAX_STATUSES
    assert set(states) <= {label for _, _, label in statuses.status}
    assert "beta" not in states


def test_a_silence_on_a_tenant_holds_its_alert_then_it_waits_its_group() -> None:
    """A silence on the tenant's name (what its alert's mute line names) holds the
    firing back; once it ends the firing is sent and its notification waits the
    group_wait (10 s by default) from then."""
    from sesd.alerting.evaluator import Evaluator
    from sesd.alerting.silences import Silence, SilenceSet
    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline

    config = parse_config(
        "[tenants]\nenabled = true\n"
        '[[alerts.rules]]\nname = "tenant-paused"\nmetric = "tenant_sending_paused"\n'
        'window = "5m"\nabove = 0\ntenants = ["acme"]\n'
    )
    pipeline = Pipeline(core_settings(config))
    silence = Silence(id="s1", comment="known", starts_at=T, ends_at=T + 60, domain="acme")
    names = [s.name for s in pipeline.ledger.specs]
    evaluator = Evaluator(config.alerts, names, SilenceSet([silence]))
    pipeline.ledger.tenant_status.apply(_status("acme", "DISABLED"))
    assert evaluator.evaluate(pipeline.ledger, T) == []
    assert evaluator.held == [("tenant-paused", "acme", "firing", "s1")]
    (alert,) = evaluator.evaluate(pipeline.ledger, T + 60)
    assert (alert.kind.value, alert.domain, alert.since, alert.at) == ("firing", "acme", T, T + 60)
    assert evaluator.due(T + 69) == []
    (notification,) = evaluator.due(T + 70)
    assert [a.domain for a in notification.alerts] == ["acme"]


def _restored(edit: dict[str, object]) -> TenantStatus:
    """A tenant's status saved, its saved row changed by ``edit`` (a file an older build
    wrote, or one edited by hand), and restored."""
    statuses = TenantStatuses([(ACCOUNT, "eu-west-1")])
    statuses.apply(_finding("acme", "BOUNCE", "HIGH"))
    ((*key, saved),) = statuses.snapshot()
    saved.update(edit)
    again = TenantStatuses([(ACCOUNT, "eu-west-1")])
    again.restore([[*key, saved]], {(ACCOUNT, "eu-west-1")})
    return again.status[ACCOUNT, "eu-west-1", "acme"]


def test_a_restored_status_is_cleaned_as_one_said_live() -> None:
    """A saved cause and finding with an address, a terminal escape and a megabyte, and
    a hundred findings: restored, they read as SES's word read live does, addresses
    hidden, escapes escaped, cut, at most MAX_FINDINGS findings."""
    hostile = "ann@victim.example \x1b[2J"
    status = _restored({
        "aws": "DISABLED\x1b[2J",
        "aws_cause": hostile,
        "findings": [["BOUNCE", "HIGH", hostile]] + [[f"K{i}", "LOW", "x" * 1_000_000]
                                                     for i in range(100)],
    })  # fmt: skip
    assert status.aws == "DISABLED\\u001b[2J"
    assert status.aws_cause == status.findings[0][2] == "[address] \\u001b[2J"
    assert len(status.findings) == MAX_FINDINGS
    assert all(len(text) <= 200 for _, _, text in status.findings)


def test_a_restored_heard_list_is_trimmed_to_its_bound() -> None:
    """A hand-edited file whose tenant has heard of a thousand finding types: restored,
    it keeps the MAX_FINDINGS heard of last, as a live one keeps, each type cleaned."""
    heard = {f"K{i}": T + i for i in range(1000)} | {"ann@victim.example\n": T + 2000}
    status = _restored({"heard": heard})
    assert len(status.heard) == MAX_FINDINGS
    first, *_, last = status.heard
    assert (first, last) == (f"K{1000 - MAX_FINDINGS + 1}", "[address]")


def test_a_findings_list_gives_way_by_type_to_an_event_heard_after_it_began() -> None:
    """A list of open findings read from T on: a bounce finding an event opened after T
    (HIGH) stands over the list's older word on it; the complaint finding an event
    spoke of before T, and a spam one spoken of exactly at T, are as the list names
    them. Each type heard of before is then as old as the list: an event dated between
    its last word and the list changes nothing."""
    statuses = TenantStatuses()
    key = (ACCOUNT, "eu-west-1", "acme")
    statuses.apply(_finding("acme", "BOUNCE", "HIGH", at=T + 10))
    statuses.apply(_finding("acme", "COMPLAINT", "HIGH", at=T - 10))
    statuses.apply(_finding("acme", "SPAM", "HIGH", at=T))
    listed = [("COMPLAINT", "LOW", "listed"), ("SPAM", "LOW", "listed"), ("BOUNCE", "LOW", "old")]
    statuses.findings(key, listed, T)
    status = statuses.status[key]
    assert status.findings == [
        ("COMPLAINT", "LOW", "listed"),
        ("SPAM", "LOW", "listed"),
        ("BOUNCE", "HIGH", "BOUNCE finding"),
    ]
    assert status.heard == {"BOUNCE": T + 10, "COMPLAINT": T, "SPAM": T}
    statuses.apply(_finding("acme", "COMPLAINT", "HIGH", open_=False, at=T - 5))
    assert ("COMPLAINT", "LOW", "listed") in statuses.status[key].findings


def test_a_tenant_remembers_the_finding_types_heard_of_most_recently() -> None:
    """What was last heard of each finding type (to refuse an older event) is kept for
    MAX_FINDINGS types, all of them; one type more drops the one heard of longest ago,
    a type heard of again being the newest: an older event of a type still remembered
    is refused, one of the type dropped is taken."""
    statuses = TenantStatuses()
    kinds = [f"KIND{i}" for i in range(MAX_FINDINGS + 1)]
    for i, kind in enumerate(kinds[:MAX_FINDINGS]):
        statuses.apply(_finding("acme", kind, "LOW", at=T + i))
    status = statuses.status[(ACCOUNT, "eu-west-1", "acme")]
    assert list(status.heard) == kinds[:MAX_FINDINGS]
    statuses.apply(_finding("acme", "KIND0", "LOW", at=T + 100))
    statuses.apply(_finding("acme", kinds[-1], "LOW", at=T + 101))
    assert list(status.heard) == [*kinds[2:MAX_FINDINGS], "KIND0", kinds[-1]]
    statuses.apply(_finding("acme", "KIND0", "HIGH", open_=False, at=T + 50))
    statuses.apply(_finding("acme", "KIND1", "HIGH", at=T + 50))
    assert [f[:2] for f in status.findings if f[0] in ("KIND0", "KIND1")] == [
        ("KIND0", "LOW"),
        ("KIND1", "HIGH"),
    ]


def test_a_restored_finding_type_is_cut_as_a_word() -> None:
    """A hand-edited file whose tenant has heard of a finding type of 100 characters:
    restored, the type is cut as SES's words are, at 64 characters."""
    assert list(_restored({"heard": {"W" * 100: T}}).heard) == ["W" * 63 + "…"]


def test_a_poll_takes_the_status_but_not_the_findings_of_a_newer_finding_event() -> None:
    """A finding event (HIGH) at T + 10, then a poll read from T that says the tenant
    is paused and has no findings: the pause is taken, the event's findings and impact,
    newer than the poll, stand."""
    statuses = TenantStatuses()
    key = (ACCOUNT, "eu-west-1", "acme")
    statuses.apply(_finding("acme", "BOUNCE", "HIGH", at=T + 10))
    statuses.polled(key, TenantStatus(sending="DISABLED", customer="DISABLED"), T)
    status = statuses.status[key]
    assert (status.sending, status.impact) == ("DISABLED", "HIGH")
    assert status.findings == [("BOUNCE", "HIGH", "BOUNCE finding")]


def test_a_file_from_before_status_times_dates_the_status_by_its_newest_word() -> None:
    """A file written before statuses kept their own time: its row has no
    ``status_at``, and the pause it holds was SES's newest word at ``updated`` (T + 10).
    Restored, a status event from T + 5 (older, come late) does not undo the pause. A
    newer file's row keeps its own ``status_at`` (T), older than its finding's
    ``updated``: the same event from T + 5 is newer than the pause and is taken."""
    key = (ACCOUNT, "eu-west-1", "acme")
    paused = {"sending": "DISABLED", "aws": "DISABLED", "updated": T + 10}
    for edit, status_at, sending in ((paused, T + 10, "DISABLED"),
                                     ({**paused, "status_at": T}, T, "ENABLED")):  # fmt: skip
        row = msgspec.to_builtins(TenantStatus()) | edit
        del row["customer_at"], row["aws_at"]  # (both files are from before them too)
        if "status_at" not in edit:
            del row["status_at"]
        statuses = TenantStatuses([key[:2]])
        statuses.restore([[*key, row]], {key[:2]})
        assert (statuses.status[key].status_at, statuses.status[key].updated) == (status_at, T + 10)
        statuses.apply(_status("acme", "ENABLED", at=T + 5))
        assert statuses.status[key].sending == sending


def test_a_reload_keeps_the_tenants_of_what_it_still_polls_and_forgets_the_rest() -> None:
    """Two accounts polled, "kept" and "dropped", and a tenant only an event named under
    an account id no poll names. A reload polls "kept" and adds "new": kept's paused
    tenant stays paused and in the order it was heard of, dropped's paused tenant is
    forgotten (its alert resolves: no poll will speak of it again), and the tenant the
    event named is kept, as it was before the reload."""
    kept, dropped, new = ("kept", "eu-west-1"), ("dropped", "eu-west-1"), ("new", "eu-west-1")
    statuses = TenantStatuses([kept, dropped])
    paused = TenantStatus(sending="DISABLED", aws="DISABLED")
    statuses.polled((*kept, "acme"), paused, T)
    statuses.polled((*dropped, "globex"), TenantStatus(sending="DISABLED", aws="DISABLED"), T)
    statuses.polled((*kept, "initech"), TenantStatus(), T)
    statuses.apply(_status("stranger", "DISABLED"))
    statuses.watch([kept, new])
    assert list(statuses.status) == [
        (*kept, "acme"),
        (*kept, "initech"),
        (ACCOUNT, "eu-west-1", "stranger"),
    ]
    assert statuses.status[(*kept, "acme")] is paused
    assert statuses.status[(*kept, "acme")].paused


def test_what_events_said_under_an_id_joins_what_the_label_keeps_newest_first() -> None:
    """acme is kept under the ``prod`` label: paused, a DKIM finding open. sesd
    restarts (the ids the polls named are not saved; the statuses are), and before a
    poll names the account's id its events are kept under the id: acme reinstated, a
    BOUNCE finding opened, and DKIM closed but told before it opened (come late).
    Once a poll names the id as ``prod``'s, one acme is kept, under ``prod``: the newer
    status, both findings open; the tenants named by events only are none."""
    statuses = TenantStatuses([("prod", "eu-west-1")])
    statuses.accounts[ACCOUNT] = "prod"
    for notice in (_status("acme", "DISABLED"), _finding("acme", "DKIM", "LOW")):
        statuses.apply(notice)
    restarted = TenantStatuses([("prod", "eu-west-1")])
    restarted.restore(statuses.snapshot(), {("prod", "eu-west-1")})
    for notice in (
        _status("acme", "REINSTATED", at=T + 10),
        _finding("acme", "BOUNCE", "HIGH", at=T + 5),
        _finding("acme", "DKIM", "LOW", open_=False, at=T - 5),
    ):
        restarted.apply(notice)
    assert list(restarted.status) == [("prod", "eu-west-1", "acme"), (ACCOUNT, "eu-west-1", "acme")]
    restarted.named(ACCOUNT, "prod")
    assert list(restarted.status) == [("prod", "eu-west-1", "acme")]
    acme = restarted.status[("prod", "eu-west-1", "acme")]
    assert (acme.sending, acme.paused, acme.status_at) == ("REINSTATED", False, T + 10)
    assert [f[0] for f in acme.findings] == ["DKIM", "BOUNCE"]
    assert (acme.impact, acme.updated) == ("HIGH", T + 10)
    assert restarted.accounts == {ACCOUNT: "prod"}
