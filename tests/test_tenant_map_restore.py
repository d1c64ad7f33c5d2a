"""A state file's tenant map holding more rows than this sesd's map keeps (a build with
a lower cap restarted on a file of one with a higher): the restore keeps what live
eviction would have kept, the newest rows, the oldest going first. It kept the
oldest, dropping the resources the latest walks and events had mapped."""

from __future__ import annotations

from sesd.core.tenant_map import TenantMap

SENDER = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
HEAD = "arn:aws:ses:eu-west-1:123456789012:configuration-set/"


def _learned(cap: int, sets: int) -> TenantMap:
    """A map of cap ``cap`` that events named the tenants of ``sets`` sets to, in turn."""
    tenant_map = TenantMap(cap)
    for i in range(sets):
        tenant_map.learn(SENDER, f"set-{i}", f"t{i}", by_ses=True)
    return tenant_map


def test_a_restore_past_the_cap_keeps_the_newest_rows_as_live_eviction_does() -> None:
    saved = _learned(5, 5).snapshot()
    restored = TenantMap(3)
    restored.restore([*saved, ["not an arn", "t"], [f"{HEAD}bad", "no tenant!"]])
    assert restored.arns == _learned(3, 5).arns
    assert list(restored.arns) == [f"{HEAD}set-{i}" for i in (2, 3, 4)]
    restored.learn(SENDER, "set-5", "t5", by_ses=True)  # the oldest kept goes next
    assert list(restored.arns) == [f"{HEAD}set-{i}" for i in (3, 4, 5)]
    whole = TenantMap(5)
    whole.restore(saved)
    assert whole.snapshot() == saved
