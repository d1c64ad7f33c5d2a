"""The ledger owns every store: each is saved in the state file or declared transient
with its reason, and what is saved comes back whole."""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.config import core_settings, parse_config
from sesd.core.ledger import SAVED, TRANSIENT, Ledger
from sesd.core.pipeline import Pipeline
from tests import factory as f

CONFIG = (
    '[dimensions]\ntags = ["campaign"]\n[tenants]\nenabled = true\n'
    '[canary]\nfrom = "c@example.com"\nconfiguration_set = "s"\n'
)


def test_every_store_is_saved_or_declared_transient_with_a_reason() -> None:
    """A store added to the ledger and neither saved nor declared transient fails here:
    a restart would lose it without anyone deciding so."""
    stores = set(Ledger.__slots__)
    assert stores == set(SAVED) | set(TRANSIENT), (
        f"undeclared: {sorted(stores - set(SAVED) - set(TRANSIENT))}; "
        f"declared but gone: {sorted(set(SAVED) | set(TRANSIENT) - stores)}"
    )
    assert not set(SAVED) & set(TRANSIENT)
    assert all(reason.strip() for reason in (*SAVED.values(), *TRANSIENT.values()))


def _filled() -> Pipeline:
    pipeline = Pipeline(core_settings(parse_config(CONFIG)))
    tags = {"campaign": ["spring"], "ses:configuration-set": ["s"], "ses:tenant-name": ["acme"]}
    events = [
        f.delivery(["a@gmail.com"], at=f.T0 - 60),
        f.delay(["b@corp.example"], at=f.T0 - 30, message_id="m-1"),
        f.bounce(["c@yahoo.com"], at=f.T0 - 20),
    ]
    for event in events:
        event["mail"]["tags"] = tags
        pipeline.feed(f.raw(event), "q", f.T0)
    ledger = pipeline.ledger
    assert ledger.providers is not None
    ledger.providers.remember("corp.example", "microsoft", f.T0 + 3600)
    ledger.canary.sent("canary-1", f.T0 - 5, 0.2)
    arn = "arn:aws:ses:eu-west-1:123456789012:configuration-set/s"
    ledger.tenant_map.replace("eu-west-1", "123456789012", {arn: {"acme"}})
    return pipeline


def _canonical(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot with the duplicate filter's keys in order (they are sets)."""
    dedup = {key: sorted(value) if isinstance(value, list) else value
             for key, value in snapshot["dedup"].items()}  # fmt: skip
    return {**snapshot, "dedup": dedup}


def test_what_is_saved_comes_back_whole() -> None:
    """Each saved store, filled, is the same after a snapshot and a restore into a fresh
    ledger: the state file leaves none of them out."""
    filled = _filled().ledger
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(filled.snapshot(f.T0)))
    fresh = Ledger(core_settings(parse_config(CONFIG)))
    fresh.restore(saved)
    assert _canonical(fresh.snapshot(f.T0)) == _canonical(filled.snapshot(f.T0))
    for name in SAVED:
        assert getattr(fresh, name), f"{name} came back empty"
