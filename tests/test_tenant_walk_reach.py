"""A walk of the tenants' resources under way in the state file, of an AWS account the
config no longer reaches after the restart (its ``[[accounts]]`` role pointed at
another account): the restart forgets that account's map, and the walk must not put
it back. Resumed, it asked the new account for the old account's tenants (SES
answers ``NotFoundException``, each passed over), ended, and replaced the old
account's map with what it had read before the stop: mail of that account on a
shared queue counted under tenants no poll reads, until a listing of the new
account's tenants ended (for the run, while none did)."""

from __future__ import annotations

import anyio

from sesd.account.tenants import TenantPoller
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_map import UNKNOWN
from sesd.core.tenant_walks import TenantWalk
from tests.test_tenant_passes import NOW, Clock
from tests.test_tenant_reach import (
    ACCOUNT,
    OTHER,
    QUEUE,
    REGION,
    TENANTS,
    _client,
    _mapped,
    _polled,
    _restarted,
    _role,
)

PROD = ("prod", REGION)
SET = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/set-globex"


async def _first_poll(after: Pipeline) -> LocalTenants:
    """The restarted sesd's first poll of ``prod``, its role now reaching OTHER (which
    holds no tenant of ACCOUNT's), the walk the state file had under way resumed; the
    endpoint, to count its calls."""
    ledger = after.ledger
    async with LocalTenants(OTHER, REGION) as other, _client(other.url) as ses:

        async def client_for(service: str, target: tuple[str, str]) -> object:
            return ses

        poller = TenantPoller(
            [PROD], client_for, ledger.accounts, ledger.tenant_map, ledger.tenant_status,
            every=300, clock=Clock(), recommendations=False, walks=ledger.tenant_walks,
        )  # fmt: skip
        with anyio.fail_after(20):
            await poller.poll_once()
    return other


async def test_a_walk_of_an_account_no_longer_reached_does_not_bring_its_map_back() -> None:
    """``prod``'s role into ACCOUNT mapped globex's set, and a walk of ACCOUNT's
    tenants (globex read, acme next) was under way at the stop. sesd starts again
    with ``prod``'s role in OTHER. ACCOUNT's map stays forgotten after the first poll,
    and the old walk is not resumed: the poll lists OTHER's tenants."""
    before = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(before, ACCOUNT, PROD)
    assert _mapped(before, ACCOUNT) == "globex"
    before.ledger.tenant_walks.walks[PROD] = TenantWalk(
        NOW, listing=False, tenants=["globex", "acme"], where=(REGION, ACCOUNT), next=1,
        resources={SET: {"globex"}},
    )  # fmt: skip
    after = _restarted(before, f"{TENANTS}{QUEUE}{_role(OTHER)}")
    assert _mapped(after, ACCOUNT) == UNKNOWN
    assert (await _first_poll(after)).calls["ListTenants"] == 1
    assert _mapped(after, ACCOUNT) == UNKNOWN


async def test_a_walk_under_a_role_moved_away_does_not_replace_what_another_reaches() -> None:
    """The default credentials and ``prod``'s role both reach ACCOUNT; prod's walk of it
    was under way at the stop (acme next, nothing of globex kept by it yet). sesd
    starts again with prod's role in OTHER: ACCOUNT's map is the default credentials'
    to keep, and prod's old walk, ended through the new role, must not replace it
    with what it had read (nothing: globex's set then counted as unknown)."""
    before = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(before, ACCOUNT, PROD)
    await _polled(before, ACCOUNT, ("default", REGION))
    before.ledger.tenant_walks.walks[PROD] = TenantWalk(
        NOW, listing=False, tenants=["globex", "acme"], where=(REGION, ACCOUNT), next=1
    )
    after = _restarted(before, f"{TENANTS}{QUEUE}{_role(OTHER)}")
    assert _mapped(after, ACCOUNT) == "globex"
    await _first_poll(after)
    assert _mapped(after, ACCOUNT) == "globex"
