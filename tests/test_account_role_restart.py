"""What SES last said of an ``[[accounts]]`` entry's (account, region) stands across a
restart until a poll answers again (a pause must not resolve while GetAccount is
throttled), but only while the entry's role reaches the AWS account that said it. A
restart with the role pointed at another account restored the old account's pause,
enforcement and quota under the entry: its alerts fired for an account no longer
polled, and while the new role's GetAccount failed (a role not yet allowed it) they
stood for the whole run, saved again at each save."""

from __future__ import annotations

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests.test_tenant_reach import ACCOUNT, OTHER, QUEUE, REGION, _restarted, _role

TARGET = ("prod", REGION)


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
    """``prod``'s role reaches ``account``, whose tenant globex SES last said is paused."""
    pipeline = Pipeline(core_settings(parse_config(f"{QUEUE}{_role(account)}")))
    status = pipeline.ledger.tenant_status.record(("prod", REGION, "globex"))
    status.sending = status.aws = "DISABLED"
    return pipeline


def test_a_restart_with_the_role_now_in_another_account_restores_none_of_its_tenants() -> None:
    """The file's tenant statuses of ``prod`` are another account's: a paused one would
    show (and alert) under the entry until the new role's tenants were listed."""
    after = _restarted(_tenant_paused(ACCOUNT), f"{QUEUE}{_role(OTHER)}")
    assert ("prod", REGION, "globex") not in after.ledger.tenant_status.status


def test_a_restart_with_the_same_role_restores_its_tenants() -> None:
    """The role unchanged (renamed), the tenant's pause stands as SES last said it."""
    after = _restarted(_tenant_paused(ACCOUNT), f"{QUEUE}{_role(ACCOUNT).replace('sesd', 'sesd2')}")
    assert after.ledger.tenant_status.status[("prod", REGION, "globex")].paused
