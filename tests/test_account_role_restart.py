"""What SES last said of an ``[[accounts]]`` entry's (account, region) stands across a
restart until a poll answers again (a pause must not resolve while GetAccount is
throttled), but only while the entry's role reaches the AWS account that said it. A
restart with the role pointed at another account restored the old account's pause,
enforcement and quota under the entry: its alerts fired for an account no longer
polled, and while the new role's GetAccount failed (a role not yet allowed it) they
stood for the whole run, saved again at each save. So do what it said of the old
account's tenants, and a walk of them under way."""

from __future__ import annotations

from typing import Any

import pytest

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_walks import TenantWalk
from tests.test_tenant_passes import NOW
from tests.test_tenant_reach import ACCOUNT, OTHER, QUEUE, REGION, _restarted, _role

TARGET = ("prod", REGION)
#: What SES says of tenants is kept with them counted only.
TENANTS = "[tenants]\nenabled = true\n"


def _paused(account: str) -> Pipeline:
    """``prod``'s role reaches ``account``, whose last GetAccount said sending is paused
    and 49,000 of 50,000 sent."""
    pipeline = Pipeline(core_settings(parse_config(f"{QUEUE}{_role(account)}")))
    status = pipeline.ledger.accounts.record(TARGET)
    status.sending_enabled, status.enforcement = False, "SHUTDOWN"
    status.max_24h, status.sent_24h = 50000.0, 49000.0
    return pipeline


def test_a_restart_with_the_role_now_in_another_account_restores_none_of_the_old() -> None:
    """The file's status of ``prod`` is another account's: not restored, the first
    poll speaks of the account the role reaches now."""
    after = _restarted(_paused(ACCOUNT), f"{QUEUE}{_role(OTHER)}")
    assert TARGET not in after.ledger.accounts.status


def test_a_restart_with_the_same_role_restores_what_ses_said() -> None:
    """The role unchanged (its name may change: the account is the same), the pause
    and the quota stand as SES last said them."""
    after = _restarted(_paused(ACCOUNT), f"{QUEUE}{_role(ACCOUNT).replace('sesd', 'sesd2')}")
    status = after.ledger.accounts.status[TARGET]
    assert (status.sending_enabled, status.enforcement) == (False, "SHUTDOWN")
    assert status.quota_used_ratio == 49000.0 / 50000.0


def _tenant_paused(account: str) -> Pipeline:
    """``prod``'s role reaches ``account``, whose tenant globex SES last said is paused
    (its listing, as a poll's, recorded the entry's status in that region)."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(account)}")))
    pipeline.ledger.accounts.record(TARGET)
    status = pipeline.ledger.tenant_status.record(("prod", REGION, "globex"))
    status.sending = status.aws = "DISABLED"
    return pipeline


def test_a_moved_role_shows_no_tenant_the_old_account_paused() -> None:
    """The file's tenant statuses of ``prod`` are another account's: a paused one would
    show (and alert) under the entry until the new role's tenants were listed."""
    after = _restarted(_tenant_paused(ACCOUNT), f"{TENANTS}{QUEUE}{_role(OTHER)}")
    assert ("prod", REGION, "globex") not in after.ledger.tenant_status.status


def test_a_restart_with_the_same_role_restores_its_tenants() -> None:
    """The role unchanged (renamed), the tenant's pause stands as SES last said it."""
    renamed = _role(ACCOUNT).replace("sesd", "sesd2")
    after = _restarted(_tenant_paused(ACCOUNT), f"{TENANTS}{QUEUE}{renamed}")
    assert after.ledger.tenant_status.status[("prod", REGION, "globex")].paused


def _earlier_builds(pipeline: Pipeline) -> dict[str, Any]:
    """The state an earlier build saved of ``pipeline``: its account statuses name no
    ``role_account``."""
    data = pipeline.ledger.snapshot(NOW)
    for row in data["accounts"]:
        del row[2]["role_account"]
    return data


@pytest.mark.parametrize("now", [OTHER, ACCOUNT])
def test_an_earlier_builds_file_names_the_account_by_its_tenants_ids(now: str) -> None:
    """A file an earlier build wrote (the restart of an upgrade) names no
    ``role_account``; with ``[tenants]``, the AWS account id its tenants' ARNs named
    says whose the status was: another account's is not restored, the role's is."""
    before = _paused(ACCOUNT)
    before.ledger.accounts.record(TARGET).account_id = ACCOUNT
    after = Pipeline(core_settings(parse_config(f"{QUEUE}{_role(now)}")))
    after.ledger.restore(_earlier_builds(before), NOW + 1)
    assert (TARGET in after.ledger.accounts.status) is (now == ACCOUNT)


def test_an_earlier_builds_file_naming_no_account_restores_what_ses_said() -> None:
    """Without an account id (no ``[tenants]``), nothing says the role moved: the
    status is restored, as an earlier build did."""
    after = Pipeline(core_settings(parse_config(f"{QUEUE}{_role(OTHER)}")))
    after.ledger.restore(_earlier_builds(_paused(ACCOUNT)), NOW + 1)
    assert after.ledger.accounts.status[TARGET].sending_enabled is False


@pytest.mark.parametrize("now", [OTHER, ACCOUNT])
def test_a_restart_with_the_role_now_in_another_account_restores_none_of_its_tenants(
    now: str,
) -> None:
    """What the old account's SES said of its tenants (globex paused) is another
    account's too: not restored under the entry, where its ``tenant_sending_paused``
    would fire until the new role's ListTenants answers, and for the run while that
    fails. The same role's stands."""
    before = _paused(ACCOUNT)
    paused = before.ledger.tenant_status.record(("prod", REGION, "globex"))
    paused.sending = paused.aws = "DISABLED"
    after = _restarted(before, f"{TENANTS}{QUEUE}{_role(now)}")
    assert (("prod", REGION, "globex") in after.ledger.tenant_status.status) is (now == ACCOUNT)


@pytest.mark.parametrize("now", [OTHER, ACCOUNT])
def test_a_restart_with_the_role_now_in_another_account_resumes_no_listing(now: str) -> None:
    """A ListTenants of the old account under way (its next page's token the old
    account's, which the new one never gave) starts over; the same role's resumes."""
    before = _paused(ACCOUNT)
    before.ledger.tenant_walks.walks[TARGET] = TenantWalk(NOW - 60, tenants=["a"], token="t")
    after = _restarted(before, f"{QUEUE}{_role(now)}")
    assert (TARGET in after.ledger.tenant_walks.walks) is (now == ACCOUNT)
