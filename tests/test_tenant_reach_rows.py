"""Which AWS accounts' tenants' maps sesd keeps, read without a daemon: the accounts
a state file's rows say it may hold maps of (a row a hand edited names none, the others
read as written), and a target's listing naming the account it reaches."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from sesd.core.accounts import Accounts
from sesd.core.tenant_map import TenantMap
from sesd.core.tenant_reach import held_in, named_now
from sesd.core.tenants import TenantNotice, TenantStatuses

ACCOUNT = "123456789012"


def _row(account_id: Any = ACCOUNT, region: str = "eu-west-1") -> list[Any]:
    """A row as ``Accounts.snapshot`` writes it: label, region, status."""
    return ["default", region, {"account_id": account_id, "enforcement": None}]


def test_rows_not_a_list_name_no_account() -> None:
    """A file whose ``accounts`` is no list (a hand's null, a number): no account."""
    for rows in (None, 7, 1.5, True):
        assert held_in(rows) == set()


def test_a_row_too_short_or_not_a_list_names_none_and_the_others_are_read() -> None:
    """A row of two items, a map, a row whose status is no map: each names nothing,
    and the rows around them are read as written."""
    rows = [
        _row(region="us-east-1"),
        ["default", "eu-west-1"],
        {"0": "default", "1": "eu-west-1", "2": {"account_id": ACCOUNT}},
        ["default", "eu-west-1", [ACCOUNT]],
        _row("210987654321"),
    ]
    assert held_in(rows) == {(ACCOUNT, "us-east-1"), ("210987654321", "eu-west-1")}


def test_an_id_that_is_no_aws_account_id_names_none() -> None:
    rows = [_row(None), _row(123456789012), _row("12345678901"), _row(f"{ACCOUNT}\n")]
    assert held_in([*rows, _row(region="us-east-1")]) == {(ACCOUNT, "us-east-1")}


def test_a_target_naming_its_account_again_keeps_that_accounts_map() -> None:
    """Each poll's listing names the account its target reaches; named again (the
    same credentials), that account's map stays as its last walk read it. Cleared at
    each listing, mail counted under no tenant until the walk came round again."""
    accounts, tenant_map = Accounts(), TenantMap()
    arn = f"arn:aws:ses:eu-west-1:{ACCOUNT}:configuration-set/set-globex"
    named_now(accounts, tenant_map, ("default", "eu-west-1"), ACCOUNT, ({}, ()))
    tenant_map.replace("eu-west-1", ACCOUNT, {arn: {"globex"}})
    named_now(accounts, tenant_map, ("default", "eu-west-1"), ACCOUNT, ({}, ()))
    assert tenant_map.arns == {arn: "globex"}
    assert accounts.status["default", "eu-west-1"].account_id == ACCOUNT


def test_an_account_left_in_one_region_stays_the_labels_while_another_names_it() -> None:
    """The default credentials' listings named ACCOUNT in two regions; eu-west-1's then
    names another: ACCOUNT's events still count under ``default`` (us-east-1's polls
    read its tenants) until us-east-1's listing names another too."""
    accounts, tenant_map = Accounts(), TenantMap()
    statuses = TenantStatuses([("default", "eu-west-1"), ("default", "us-east-1")])
    other, roles = "210987654321", (dict[str, str](), ())
    for region in ("eu-west-1", "us-east-1"):
        named_now(accounts, tenant_map, ("default", region), ACCOUNT, roles, statuses)
        statuses.named(ACCOUNT, "default")
    statuses.named(other, "default")
    named_now(accounts, tenant_map, ("default", "eu-west-1"), other, roles, statuses)
    assert statuses.accounts == {ACCOUNT: "default", other: "default"}
    named_now(accounts, tenant_map, ("default", "us-east-1"), other, roles, statuses)
    assert statuses.accounts == {other: "default"}
    assert statuses.ids_forgotten == 0


def test_each_account_named_anew_is_a_change_the_pipeline_sees() -> None:
    """The pipeline asks again where each sender's mail counts when the polls' count
    of accounts named anew changes: each new account a change, the same one none."""
    accounts, tenant_map = Accounts(), TenantMap()
    counts = [accounts.reach]
    for now in (ACCOUNT, ACCOUNT, "210987654321", ACCOUNT, None):
        named_now(accounts, tenant_map, ("default", "eu-west-1"), now, ({}, ()))
        counts.append(accounts.reach)
    changed = [after != before for before, after in pairwise(counts)]
    assert changed == [True, False, True, True, True]


def test_an_empty_listing_leaves_the_account_the_labels_till_another_is_named() -> None:
    """The default credentials' last tenant deleted, their listing names no account:
    a tenant created there next, before the listing names the account again, is still
    ``default``'s (not shown under the raw id, its alert fired again under the label at
    the next poll); once a listing names another account, the one before is its id's."""
    accounts, tenant_map = Accounts(), TenantMap()
    target, other, roles = ("default", "eu-west-1"), "210987654321", (dict[str, str](), ())
    statuses = TenantStatuses([target])
    statuses.named(ACCOUNT, "default")
    named_now(accounts, tenant_map, target, ACCOUNT, roles, statuses)
    named_now(accounts, tenant_map, target, None, roles, statuses)  # its last tenant gone
    paused = TenantNotice("eu-west-1", ACCOUNT, "acme", 1.0, status="DISABLED", origin="X")
    statuses.apply(paused)
    assert list(statuses.status) == [("default", "eu-west-1", "acme")]
    statuses.named(other, "default")
    named_now(accounts, tenant_map, target, other, roles, statuses)
    assert statuses.accounts == {other: "default"}
    assert statuses.ids_forgotten == 0
