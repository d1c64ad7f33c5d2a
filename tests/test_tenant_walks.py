"""A walk of an account's tenants' resources, as the state file keeps it: a resource is
taken only from the (region, account) the walk's tenants are in, and a restart
resumes only a walk that this sesd could have written, of an account configured now,
begun recently enough."""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.core.tenant_walks import (
    MAX_RESOURCE_ARN,
    MAX_TOKEN,
    MAX_WALK_AGE,
    MAX_WALK_TENANTS,
    TenantWalk,
    TenantWalks,
)

ACCOUNT, OTHER = "123456789012", "210987654321"
TARGET, SECOND = ("prod-eu", "eu-west-1"), ("prod-us", "us-east-1")
NOW = 1_800_000_000.0


def _arn(region: str = "eu-west-1", account: str = ACCOUNT, resource: str = "x") -> str:
    return f"arn:aws:ses:{region}:{account}:configuration-set/{resource}"


def test_a_walk_takes_resources_only_from_its_tenants_region_and_account() -> None:
    """Before its tenants' ARNs said where they are, a walk takes any resource; after,
    one of another account or region, or an ARN too short to say, is refused (the
    walk starts over), and a resource whose name holds a colon is still its own. A
    resource of two tenants belongs to both."""
    walk = TenantWalk(NOW)
    assert walk.add("acme", "arn:aws:ses:us-east-1:999999999999:identity/a.example", 10)
    walk = TenantWalk(NOW, where=("eu-west-1", ACCOUNT))
    assert not walk.add("acme", _arn(account=OTHER), 10)
    assert not walk.add("acme", _arn(region="us-east-1"), 10)
    assert not walk.add("acme", f"arn:aws:ses:eu-west-1:{ACCOUNT}", 10)
    assert walk.resources == {}
    assert walk.add("acme", _arn(resource="a:b"), 10)
    assert walk.add("acme", _arn(), 10)
    assert walk.add("globex", _arn(), 10)
    assert walk.resources == {_arn(resource="a:b"): {"acme"}, _arn(): {"acme", "globex"}}


def _rows(target: tuple[str, str] = TARGET, **fields: Any) -> list[list[Any]]:
    """The state file's rows of one walk of ``target``, 2 tenants listed, the first
    walked."""
    walks = TenantWalks()
    saved = {"listing": False, "tenants": ["acme", "globex"], "next": 1, **fields}
    walks.walks[target] = msgspec.convert({"started": NOW - 600, **saved}, TenantWalk)
    return list(msgspec.msgpack.decode(msgspec.msgpack.encode(walks.snapshot())))


def _resumed(rows: list[list[Any]], now: float = NOW) -> dict[tuple[str, str], TenantWalk]:
    """The walk of TARGET in ``rows`` if it resumes, restored with a walk of another
    account after it, which always resumes: a walk that starts over leaves the rest."""
    walks = TenantWalks()
    walks.restore(rows + _rows(SECOND, started=now), {TARGET, SECOND}, now, 10)
    assert SECOND in walks.walks
    return {target: walk for target, walk in walks.walks.items() if target != SECOND}


def test_a_restart_resumes_only_a_walk_this_sesd_could_have_written() -> None:
    """A walk resumes as it was saved, up to its last tenant; one begun at most a day
    ago (to the second), still listing from its start, or of tenants in the target's
    region. It starts over when it is of an account no longer configured, begun longer
    ago, of tenants in another region, past its last tenant, or walking tenants while
    still listing them."""
    assert _resumed(_rows(where=("eu-west-1", ACCOUNT)))[TARGET] == TenantWalk(
        NOW - 600, listing=False, tenants=["acme", "globex"], where=("eu-west-1", ACCOUNT), next=1
    )
    assert _resumed(_rows(next=2))[TARGET].next == 2
    assert _resumed(_rows(listing=True, next=0))[TARGET].listing
    assert TARGET in _resumed(_rows(), NOW - 600 + MAX_WALK_AGE)
    assert _resumed(_rows(), NOW - 600 + MAX_WALK_AGE + 1) == {}
    assert _resumed(_rows(("gone", "eu-west-1"))) == {}
    assert _resumed(_rows(where=("us-east-1", ACCOUNT))) == {}
    assert _resumed(_rows(next=3)) == {}
    assert _resumed(_rows(listing=True, next=1)) == {}


def test_a_tenants_pages_read_are_carried_across_a_restart() -> None:
    """How many pages of the walked tenant's resources were read is saved with the walk
    and restored (its bound on pages counts on after a restart); a file from before it
    was saved restores it as 0, and a count no sesd writes (negative) starts the walk
    over. A key the reader does not know (as the count is to an older build) is
    dropped, not refused: an older build resumes the walk of a file this one wrote."""
    assert _resumed(_rows(pages=3))[TARGET].pages == 3
    ((account, region, saved),) = _rows(pages=3)
    del saved["pages"]
    assert _resumed([[account, region, saved]])[TARGET].pages == 0
    assert _resumed(_rows(pages=-1)) == {}
    ((_, _, saved),) = _rows(pages=3)
    assert msgspec.convert({**saved, "unknown": 1}, TenantWalk).pages == 3


def test_a_walk_keeps_no_more_than_the_map_could_hold() -> None:
    """A walk keeps the first MAX_WALK_TENANTS tenants ListTenants names and the first
    ``most`` resources (the map's cap), counting those past the caps (saved, and so
    told once, at the walk's end, across a restart too); a resource already kept still
    takes a second tenant (it is shared). A resource keeps two tenants at most: the
    one being walked, forgotten (deleted meanwhile), leaves the earlier ones, which
    still tell whether it is shared. An ARN longer than SES writes is not kept, but
    counted (saved: the map counts it as the walk ends)."""
    walk = TenantWalk(NOW, where=("eu-west-1", ACCOUNT))
    for i in range(MAX_WALK_TENANTS + 2):
        walk.listed(f"t{i}")
    assert len(walk.tenants) == MAX_WALK_TENANTS
    assert walk.tenants[-1] == f"t{MAX_WALK_TENANTS - 1}"
    assert walk.tenants_left == 2
    for resource in ("a", "b", "c", "d"):
        assert walk.add("acme", _arn(resource=resource), 2)
    assert walk.add("globex", _arn(resource="a"), 2)
    assert walk.add("initech", _arn(resource="a"), 2)
    assert walk.add("initech", _arn(resource="b"), 2)
    assert walk.resources == {
        _arn(resource="a"): {"acme", "globex"},
        _arn(resource="b"): {"acme", "initech"},
    }
    assert walk.resources_left == 2
    walk.forget("initech")
    assert walk.resources == {_arn(resource="a"): {"acme", "globex"}, _arn(resource="b"): {"acme"}}
    longest = _arn(resource="x" * MAX_RESOURCE_ARN)[:MAX_RESOURCE_ARN]
    walk = TenantWalk(NOW, where=("eu-west-1", ACCOUNT))
    assert walk.add("acme", longest, 2)
    assert walk.add("acme", longest + "x", 2)
    assert (list(walk.resources), walk.refused) == ([longest], 1)
    assert _resumed(_rows(tenants_left=2, resources_left=3))[TARGET].resources_left == 3
    assert _resumed(_rows(resources_left=-1)) == {}
    assert _resumed(_rows(refused=2))[TARGET].refused == 2
    assert _resumed(_rows(refused=-1)) == {}
    assert _resumed(_rows(tenants=["t"] * (MAX_WALK_TENANTS + 1))) == {}


def test_a_walk_full_of_tenants_resumes_after_a_restart() -> None:
    """A walk holding as many tenants as it keeps (an account at SES's quota, those
    past it counted) resumes where it stood; one more than a live walk keeps starts
    over. Refused at the cap, a full account's walk started over at every restart."""
    full = [f"t{i}" for i in range(MAX_WALK_TENANTS)]
    resumed = _resumed(_rows(tenants=full, tenants_left=3, next=5))[TARGET]
    assert (len(resumed.tenants), resumed.tenants_left, resumed.next) == (MAX_WALK_TENANTS, 3, 5)
    assert _resumed(_rows(tenants=[*full, "extra"], next=5)) == {}


def test_a_walk_no_live_walk_keeps_starts_over_alone() -> None:
    """A walk holding what no live walk keeps (a token longer than any kept, a resource
    of a tenant it does not list) starts over, and the walks saved after it, of other
    accounts, still resume: one account's odd walk does not end the reading of the
    rest."""
    assert _resumed(_rows(token="t" * (MAX_TOKEN + 1))) == {}
    assert _resumed(_rows(resources={_arn(): ["initech"]})) == {}
    assert TARGET in _resumed(_rows(token="t" * MAX_TOKEN, resources={_arn(): ["acme"]}))
