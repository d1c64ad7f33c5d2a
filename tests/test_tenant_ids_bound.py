"""The AWS account ids the tenant polls named, kept by their account label, are
bounded: an endpoint naming another id in each tenant's ARN (not SES, whose ARNs
name the account polled) must not grow the map for as long as sesd runs, nor make
each new id cost a pass over every tenant kept. Pure."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sesd.core.accounts import Accounts
from sesd.core.tenant_map import TenantMap
from sesd.core.tenant_merge import merged
from sesd.core.tenants import MAX_IDS_PER_LABEL, TenantNotice, TenantStatuses
from sesd.metrics.tenants import TenantCollector

REGION = "eu-west-1"


def test_a_label_keeps_the_ids_it_named_last() -> None:
    """``prod``'s polls name 1,000 AWS account ids, one a tenant: it keeps the last
    :data:`MAX_IDS_PER_LABEL` (the map grew by one an id), the rest counted as
    forgotten; ``stage``'s id stays its own."""
    statuses = TenantStatuses([("prod", REGION), ("stage", REGION)])
    statuses.named("999999999999", "stage")
    ids = [f"{i:012d}" for i in range(1000)]
    for account_id in ids:
        statuses.named(account_id, "prod")
    assert statuses.accounts == {
        "999999999999": "stage",
        **dict.fromkeys(ids[-MAX_IDS_PER_LABEL:], "prod"),
    }
    assert statuses.ids_forgotten == 1000 - MAX_IDS_PER_LABEL


def test_an_id_named_again_is_the_newest_the_bound_keeps() -> None:
    """``prod``'s real id is named at every poll, among others an endpoint names once
    each: named again, it is the newest, and the id named longest ago goes, not it
    (which would forget the real id over and over, each time counted)."""
    statuses = TenantStatuses([("prod", REGION)])
    ids = [f"{i:012d}" for i in range(MAX_IDS_PER_LABEL)]
    for account_id in ids:
        statuses.named(account_id, "prod")
    statuses.named(ids[0], "prod")
    statuses.named("999999999999", "prod")
    assert set(statuses.accounts) == {ids[0], *ids[2:], "999999999999"}
    assert statuses.ids_forgotten == 1


def _plain_named(statuses: TenantStatuses, account_id: str, label: str) -> None:
    """What :meth:`TenantStatuses.named` did with a pass over every tenant kept (ids
    few enough for the bound to forget none)."""
    if statuses.accounts.get(account_id) == label:
        return
    statuses.accounts.pop(account_id, None)
    statuses.accounts[account_id] = label
    for key in [key for key in statuses.status if key[0] == account_id]:
        if key[:2] in statuses.watched:
            continue
        heard = statuses.status[key]
        statuses._forget(key)
        moved = (label, key[1], key[2])
        kept = statuses.status.get(moved)
        statuses._newest(moved, heard if kept is None else merged(kept, heard))


_ACCOUNTS = st.sampled_from(["111111111111", "222222222222", "prod", "stage"])
_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("event"), _ACCOUNTS, st.sampled_from([REGION, "us-east-1"]),
            st.sampled_from(["acme", "globex", "initech"]), st.booleans(),
        ),
        st.tuples(
            st.just("named"), st.sampled_from(["111111111111", "222222222222"]),
            st.sampled_from(["prod", "stage"]),
        ),
        st.tuples(st.just("watch"), st.sets(st.sampled_from(["prod", "stage"]))),
    ),
    max_size=40,
)  # fmt: skip


_ONE = "111111111111"


@settings(max_examples=200, deadline=None)
@given(_OPS)
@example(  # acme heard of again after globex: moved after it
    [("event", _ONE, REGION, t, False) for t in ("acme", "globex", "acme")]
    + [("named", _ONE, "prod")]
)
def test_named_moves_what_a_pass_over_every_tenant_moved(ops: list[tuple[Any, ...]]) -> None:
    """Events under ids and labels, polls naming ids, reloads: ``named`` keeps the same
    tenants, in the same order (the order they make room in), with the same statuses,
    as a pass over all did."""
    both = TenantStatuses([("prod", REGION)]), TenantStatuses([("prod", REGION)])
    for at, op in enumerate(ops):
        for statuses, named in zip(both, (TenantStatuses.named, _plain_named), strict=True):
            if op[0] == "event":
                _, account, region, tenant, paused = op
                status = "DISABLED" if paused else "ENABLED"
                statuses.apply(TenantNotice(region, account, tenant, at, status=status))
            elif op[0] == "named":
                named(statuses, op[1], op[2])
            else:
                statuses.watch((label, REGION) for label in op[1])
        new, plain = both
        assert list(new.status.items()) == list(plain.status.items())
        assert new.accounts == plain.accounts
        assert {k: list(g) for k, g in new._groups.items()} == {
            k: list(g) for k, g in plain._groups.items()
        }


def test_the_ids_forgotten_are_a_metric() -> None:
    """``sesd_tenant_account_ids_forgotten_total`` counts them."""
    statuses = TenantStatuses([("prod", REGION)])
    for i in range(MAX_IDS_PER_LABEL + 3):
        statuses.named(f"{i:012d}", "prod")
    registry = CollectorRegistry()
    registry.register(TenantCollector(statuses, 100, Accounts(), TenantMap()))
    assert registry.get_sample_value("sesd_tenant_account_ids_forgotten_total") == 3


def test_an_id_named_again_is_the_newest() -> None:
    """``prod``'s own id is named at every poll while another endpoint's ARNs name four
    more, one a poll; ``stage``'s id moves to ``prod``: each kept as named last, the
    id named longest ago goes (kept in the order first named, ``prod``'s own went)."""
    statuses = TenantStatuses([("prod", REGION), ("stage", REGION)])
    own, moved = "111111111111", "222222222222"
    statuses.named(own, "prod")
    statuses.named(moved, "stage")
    others = [f"{i:012d}" for i in range(4)]
    for other in others[:3]:
        statuses.named(other, "prod")
        statuses.named(own, "prod")
    statuses.named(moved, "prod")
    statuses.named(others[3], "prod")
    assert statuses.accounts == dict.fromkeys([others[2], own, moved, others[3]], "prod")
    assert statuses.ids_forgotten == 2
