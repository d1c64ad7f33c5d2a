"""A tenant's status at its edges: a finding closed of no level SES gave, a reload
that drops a target and adds it back, two tenantless accounts in one region, a
restart with ``[tenants]`` off, and the largest status the state file may hold.
Pure: the statuses as the poller and the pipeline write them."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import msgspec
import pytest

from sesd.account.tenant_entities import written
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_map import MAX_RESOURCE_ARN
from sesd.core.tenant_merge import MAX_FINDINGS, WORD
from sesd.core.tenants import (
    MAX_DROPPED_LISTS,
    MAX_STATUSES,
    TenantNotice,
    TenantStatus,
    TenantStatuses,
)
from sesd.core.text import MAX_CHARS
from sesd.runtime.state_bytes import read_state
from sesd.runtime.state_size import state_limit
from tests.alone import measured_alone

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


def _paused(tenant: str, at: float, account: str = ACCOUNT) -> TenantNotice:
    """SES's pause of ``tenant`` at ``at``, as its status event tells it."""
    return TenantNotice(REGION, account, tenant, at, status="DISABLED", origin="AWS_MANAGED")


def test_a_target_dropped_and_added_back_keeps_when_its_list_was_read() -> None:
    """initech goes at the list of T + 300; a reload drops the target, the next adds it
    back, its role reaching the same account. initech's pause (T + 10), delivered late,
    is older than that list: not heard (it was, paused until the first poll). A role
    pointed at another account since: that list says nothing of it."""
    where = ("ops", REGION)
    statuses = TenantStatuses([where])
    statuses.watch([where], {"ops": ACCOUNT})
    statuses.gone(*where, set(), T + 300)
    statuses.watch([], {"ops": ACCOUNT})
    statuses.watch([where], {"ops": ACCOUNT})
    statuses.apply(_paused("initech", T + 10))
    assert statuses.status == {}
    statuses.watch([], {"ops": ACCOUNT})
    statuses.watch([where], {"ops": "210987654321"})
    statuses.apply(_paused("initech", T + 10, account="210987654321"))
    assert list(statuses.status) == [("ops", REGION, "initech")]


def test_a_list_of_one_tenantless_account_leaves_another_ones_tenant() -> None:
    """Two labels without a role watch one region, neither's lists naming a tenant (no
    AWS account id known). hooli, paused at T + 310 and kept under its id, may be
    either's: b's list of T + 400 missed it, but a's last (T + 300) was read before it
    was made. a's may be the account it is of: it stays until a list of each missed it,
    and an event of it between the two lists is heard."""
    a, b = ("a", REGION), ("b", REGION)
    statuses = TenantStatuses([a, b])
    statuses.gone(*a, set(), T + 300)
    statuses.apply(_paused("hooli", T + 310))
    statuses.gone(*b, set(), T + 400)
    assert list(statuses.status) == [(ACCOUNT, REGION, "hooli")]
    statuses.apply(_paused("globex", T + 350))  # (made after a's list)
    assert (ACCOUNT, REGION, "globex") in statuses.status
    statuses.gone(*a, set(), T + 500)
    assert statuses.status == {}


def test_a_restart_with_tenants_off_forgets_the_account_id_listings_named() -> None:
    """The default credentials' tenants named ACCOUNT (then the last was deleted: an
    empty listing keeps the id as ``emptied``). Restarted with ``[tenants]`` off, no
    listing will ever say which account they reach again: the file's ids are not kept
    (the credentials may reach another account now, and the old one's mail would count
    under the label for good)."""
    queue = f"[[queues]]\nurl = 'https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu'\n"
    on = parse_config(f"{queue}[tenants]\nenabled = true\n")
    before = Pipeline(core_settings(on)).ledger
    before.accounts.record(("default", REGION)).account_id = ACCOUNT
    before.accounts.record(("default", REGION)).emptied = "210987654321"
    before.tenant_status.named(ACCOUNT, "default")
    saved = msgspec.json.decode(msgspec.json.encode(before.snapshot(T)))
    off = Pipeline(core_settings(parse_config(f"{queue}[tenants]\nenabled = false\n"))).ledger
    off.restore(saved, T)
    status = off.accounts.status[("default", REGION)]
    assert (status.account_id, status.emptied) == (None, None)
    assert off.accounts.ids() == set()
    assert off.tenant_status.accounts == {}
    again = Pipeline(core_settings(on)).ledger  # (with them on, the next listing corrects it)
    again.restore(saved, T)
    assert again.accounts.status[("default", REGION)].account_id == ACCOUNT


def test_with_tenants_off_what_ses_says_of_tenants_is_not_kept() -> None:
    """globex paused under ``default`` when sesd stopped; restarted with ``[tenants]``
    off, no poll reads its status again nor forgets it, and no rule reads it. It was
    restored all the same, and SES's status events read after the start were kept
    under the raw AWS account id (no listing names it): the page showed both, the
    pause for good, the event's word for as long as the run. Neither is kept now: the
    event is skipped as an EventBridge event sesd does not use. When its list was read
    stays in the file, for a start with them on again."""
    queue = f"[[queues]]\nurl = 'https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu'\n"
    before = Pipeline(core_settings(parse_config(f"{queue}[tenants]\nenabled = true\n")))
    statuses = before.ledger.tenant_status
    statuses.polled(("default", REGION, "globex"), TenantStatus(sending="DISABLED"), T)
    statuses.gone("default", REGION, {"globex"}, T)
    saved = msgspec.json.decode(msgspec.json.encode(before.ledger.snapshot(T)))
    off = Pipeline(core_settings(parse_config(f"{queue}[tenants]\nenabled = false\n")))
    off.ledger.restore(saved, T)
    arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/tn-1"
    paused = {
        "version": "0", "id": "eb-1", "detail-type": "Sending Status Disabled",
        "source": "aws.ses", "account": ACCOUNT, "time": "2027-01-15T08:00:05Z",
        "region": REGION, "resources": [arn],
        "detail": {"origin": "AWS_MANAGED", "data": {"record": {"status": "DISABLED"}}},
    }  # fmt: skip
    result = off.feed(msgspec.json.encode(paused), "eu", T + 60)
    assert (result.outcome, result.reason) == ("skipped", "tenants_off")
    assert off.ledger.tenant_status.status == {}
    assert off.ledger.snapshot(T + 60)["tenant_listed"] == [["default", REGION, T, None]]


def _largest() -> TenantStatus:
    """A status with every field at its bound: each text of 4-byte characters where any
    text goes, SES's ids at their longest, as many findings and types heard as kept."""
    wide = "\N{EMOJI MODIFIER FITZPATRICK TYPE-6}"
    status = TenantStatus(
        sending="DISABLED", customer=wide * WORD, customer_cause=wide * MAX_CHARS,
        aws=wide * WORD, aws_cause=wide * MAX_CHARS, impact=wide * WORD, policy=wide * WORD,
        tenant_id="9" * MAX_RESOURCE_ARN, updated=T, status_at=T, customer_at=T, aws_at=T,
        findings_at=T,
    )  # fmt: skip
    for i in range(MAX_FINDINGS):
        kind = f"{i:02d}" + wide * (WORD - 2)
        status.findings.append((kind, wide * WORD, wide * MAX_CHARS))
        status.heard[kind] = T + i
    return status


def test_a_file_of_the_largest_statuses_fits_under_the_limit() -> None:
    """Status events come from whoever can send to the queue: each tenant's status may
    hold every field at its bound (tenant_id included, up to 384 bytes), under the
    longest label and tenant name, for MAX_STATUSES tenants of each (account, region)
    watched and as many named by events only, beside a tenants' map full of the
    longest ARNs. A config with every cap small must not set such a file aside (a
    status was counted as 2 kB, 54 kB measured, and the events-only ones not at all:
    three regions' came to 2.61 GB beside the map, over a limit of 2.57 GB)."""
    queues = "".join(
        f'[[queues]]\nurl = "https://sqs.{region}.amazonaws.com/{ACCOUNT}/q"\nname = "{region}"\n'
        for region in ("eu-west-1", "us-east-1", "ap-southeast-2")
    )
    config = parse_config(
        "[domains]\nmax_tracked = 10\n[providers]\nenabled = false\n"
        "[ingest]\ndedup_max_entries = 1000\nmax_pending_delays = 1000\n"
        f"{queues}[tenants]\nenabled = true\n"
    )
    ledger = Pipeline(core_settings(config)).ledger
    assert len(ledger.settings.watched) == 3
    head = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/"
    rows = [[f"{head}{i:07d}".ljust(MAX_RESOURCE_ARN, "x"), "t" * 64] for i in range(1_000)]
    per_row = len(msgspec.msgpack.encode({"tenant_map": rows})) / len(rows)
    statuses = TenantStatuses([("a" * 80, REGION)])
    for i in range(100):
        statuses.status[("a" * 80, "ap-southeast-2", f"{i:03d}".ljust(64, "t"))] = _largest()
    per_status = len(msgspec.msgpack.encode({"tenant_status": statuses.snapshot()})) / 100
    assert per_status > 20_000
    most = MAX_STATUSES * (len(ledger.settings.watched) + 1)
    full_map = per_row * ledger.tenant_map.max_entries
    assert state_limit(ledger, config.alerts.rules, ()) > per_status * most + full_map


def test_a_small_state_file_is_read_in_as_little_memory_as_it_takes(tmp_path: Path) -> None:
    """The limit counts every tenant status at its largest: 2.75 GB for the example
    config. A read asked for the limit's bytes took them first (a buffered read makes
    room for all it is asked), so a 2-byte file failed with MemoryError on a host of
    less memory than that: sesd did not start. Only what the file holds is taken."""
    path = tmp_path / "state"
    path.write_bytes(b"{}")
    peak = measured_alone(_read_peak, str(path))
    assert peak < 1 << 20, peak


def _read_peak(path: str) -> int:
    """The peak of a read of the 2-byte file at ``path`` under a limit of a gibibyte."""
    tracemalloc.start()
    try:
        assert read_state(path, 1 << 30) == b"{}"
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_entry_removed_whole_and_added_back_keeps_when_its_list_was_read() -> None:
    """A reload removes the ``[[accounts]]`` entry whole (its role with it), the next
    adds it back, its role reaching the same account: initech's late pause (T + 10),
    older than the list of T + 300 that found it gone, is not heard, as where the
    reload dropped a region alone (it was, paused until the first poll). Added back
    reaching another account, that list says nothing of it."""
    where = ("ops", REGION)
    for role, heard in ((ACCOUNT, []), ("210987654321", [("ops", REGION, "initech")])):
        statuses = TenantStatuses([where])
        statuses.watch([where], {"ops": ACCOUNT})
        statuses.gone(*where, set(), T + 300)
        statuses.watch([], {})
        statuses.watch([where], {"ops": role})
        statuses.apply(_paused("initech", T + 10, account=role))
        assert list(statuses.status) == heard


def _restarted(statuses: TenantStatuses, where: list[tuple[str, str]], role: str) -> TenantStatuses:
    """A sesd started watching ``where``, ``ops``'s role reaching ``role``, from the list
    times ``statuses`` saved (through the file's encoding)."""
    rows = msgspec.json.decode(msgspec.json.encode(statuses.listed_rows()))
    fresh = TenantStatuses(where)
    fresh.watch(where, {"ops": role})
    fresh.restore([], set(where), (), rows)
    return fresh


def test_a_list_time_a_reload_dropped_is_kept_across_restarts() -> None:
    """initech goes at the list of T + 300; a reload drops the target, sesd restarts
    without it, and restarts again with it added back, its role reaching the same
    account. initech's pause (T + 10), delivered late, is older than that list: not
    heard, as where no restart came between (a dropped target's list time was kept for
    the run only: it was heard, paused until the first poll). Added back reaching
    another account, that list says nothing of it."""
    where = ("ops", REGION)
    for role, heard in ((ACCOUNT, []), ("210987654321", [("ops", REGION, "initech")])):
        statuses = TenantStatuses([where])
        statuses.watch([where], {"ops": ACCOUNT})
        statuses.gone(*where, set(), T + 300)
        statuses.watch([], {"ops": ACCOUNT})
        back = _restarted(_restarted(statuses, [], ACCOUNT), [where], role)
        back.apply(_paused("initech", T + 10, account=role))
        assert list(back.status) == heard


def test_a_list_time_a_restart_dropped_is_kept_in_the_state_file() -> None:
    """The default credentials' list of T + 300 found initech gone; a reload removes
    the region's queue, sesd restarts (the file saved, the config still without it),
    and a restart with the queue added back reads initech's pause of T + 10, delivered
    late: not heard, as without the restarts."""
    queue = f"[[queues]]\nurl = 'https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu'\n"
    other = queue.replace(REGION, "us-east-1").replace("/eu'", "/us'")
    on, off = (parse_config(f"{q}[tenants]\nenabled = true\n") for q in (queue + other, other))
    ledger = Pipeline(core_settings(on)).ledger
    ledger.tenant_status.gone("default", REGION, set(), T + 300)
    ledger.reconfigure(core_settings(off))
    for config in (off, on):
        saved = msgspec.json.decode(msgspec.json.encode(ledger.snapshot(T + 400)))
        ledger = Pipeline(core_settings(config)).ledger
        ledger.restore(saved, T + 500)
    ledger.tenant_status.apply(_paused("initech", T + 10))
    assert ledger.tenant_status.status == {}


def test_the_list_times_of_targets_dropped_are_bounded() -> None:
    """Reloads that drop target after target (a config made by a tool, a region each)
    kept each one's list time for the run, and the file would keep them for good:
    only the latest dropped are kept, the watched ones whatever their number."""
    statuses = TenantStatuses()
    for i in range(MAX_DROPPED_LISTS + 10):
        where = (f"a{i}", REGION)
        statuses.watch([where, ("ops", REGION)])
        statuses.gone(*where, set(), T + i)
        statuses.gone("ops", REGION, set(), T + i)
    statuses.watch([("ops", REGION)])
    rows = statuses.listed_rows()
    assert len(rows) == MAX_DROPPED_LISTS + 1
    assert ["ops", REGION, T + MAX_DROPPED_LISTS + 9, None] in rows
    assert [f"a{MAX_DROPPED_LISTS + 9}", REGION, T + MAX_DROPPED_LISTS + 9, None] in rows
    assert not any(row[0] == "a9" for row in rows)


def test_a_target_the_restart_s_config_removed_is_the_one_removed_last() -> None:
    """1,024 targets removed by reloads, one after another, and ``ops`` still watched
    when sesd stops; the restart's config leaves ``ops`` out. ``ops`` was removed last:
    its list time is kept and the first target removed makes room (the file's rows of
    targets watched come first: read as removed first, ``ops``'s went)."""
    statuses = TenantStatuses()
    ops = ("ops", REGION)
    for i in range(MAX_DROPPED_LISTS):
        statuses.watch([(f"a{i}", REGION), ops], {"ops": ACCOUNT})
        statuses.gone(f"a{i}", REGION, set(), T + i)
    statuses.watch([ops], {"ops": ACCOUNT})
    statuses.gone(*ops, set(), T + 5_000)
    after = _restarted(statuses, [], ACCOUNT)
    rows = after.listed_rows()
    assert len(rows) == MAX_DROPPED_LISTS
    assert [*ops, T + 5_000, ACCOUNT] in rows
    assert not any(row[0] == "a0" for row in rows)
    back = _restarted(after, [ops], ACCOUNT)
    back.apply(_paused("initech", T + 10))
    assert back.status == {}


OTHER = "210987654321"


@pytest.mark.parametrize(
    ("row", "heard"),
    [
        (["ops", REGION, T + 300], False),  # the build before's: no AWS account said
        (["ops", REGION, T + 300, ACCOUNT, "a later build's"], False),
        (["ops", REGION, T + 300, OTHER], True),  # the role reached another account
        (["ops", REGION, T + 300, 7], True),
        (["ops", REGION, "soon"], True),
        (["ops", REGION, True], True),
        (["ops", REGION], True),
        ([["ops"], REGION, T + 300], True),
        ("ops", True),
    ],
)
def test_a_list_time_row_is_read_as_its_shape_says(row: object, heard: bool) -> None:
    """``ops``'s list of T + 300 found initech gone; the file's row of it is read back
    and initech's pause of T + 10 comes late: not heard where the row says the list was
    of the account ``ops``'s role reaches (or, a file of the build before, says no
    account: restored as then); heard where it says another, or does not read (a hand's
    edit: not loaded, the rest of the file read)."""
    where = ("ops", REGION)
    statuses = TenantStatuses([where])
    statuses.watch([where], {"ops": ACCOUNT})
    statuses.restore([], {where}, (), [row, ["gone", REGION, T + 300, 7], ["old", REGION, T + 300]])
    statuses.apply(_paused("initech", T + 10))
    assert (list(statuses.status) == [(*where, "initech")]) is heard
    assert statuses.listed_rows() == ([] if heard else [[*where, T + 300, ACCOUNT]])


@pytest.mark.parametrize(
    "spoilt",
    [["ops", REGION], "ops", ["ops", REGION, "soon"], ["ops", REGION, True], [["ops"], REGION, 1]],
)
def test_a_list_time_row_that_does_not_read_leaves_the_rows_after_it_read(spoilt: object) -> None:
    """A hand's edit spoilt the first row of the file's list times; ``ops``'s row of
    T + 300, after it, still reads: initech's pause of T + 10, come late, is of a
    tenant that list found gone, and not heard (the spoilt row was skipped, not the
    rest)."""
    where = ("ops", REGION)
    statuses = TenantStatuses([where])
    statuses.watch([where], {"ops": ACCOUNT})
    statuses.restore([], {where}, (), [spoilt, ["ops", REGION, T + 300, ACCOUNT]])
    statuses.apply(_paused("initech", T + 10))
    assert statuses.status == {}
    assert statuses.listed_rows() == [[*where, T + 300, ACCOUNT]]


@pytest.mark.parametrize("listed", [None, 7, "ops", {"ops": T}])
def test_a_file_whose_list_times_are_no_list_restores_the_rest(listed: object) -> None:
    """A state file edited by hand: its list times are not a list. The restart reads
    the rest of it, globex's pause among it, and no list time."""
    queue = f"[[queues]]\nurl = 'https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu'\n"
    config = parse_config(f"{queue}[tenants]\nenabled = true\n")
    before = Pipeline(core_settings(config)).ledger
    before.tenant_status.polled(("default", REGION, "globex"), TenantStatus(sending="DISABLED"), T)
    saved = msgspec.json.decode(msgspec.json.encode(before.snapshot(T)))
    saved["tenant_listed"] = listed
    after = Pipeline(core_settings(config)).ledger
    after.restore(saved, T + 60)
    assert after.tenant_status.status[("default", REGION, "globex")].paused
    assert after.tenant_status.listed_rows() == []
