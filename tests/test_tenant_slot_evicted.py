"""A tenant evicted idle and heard from again counts in its series made anew: the
pipeline forgets the slot it kept of the evicted label, else the tenant's recipients
went on counting in the counters the eviction dropped, exported nowhere, and its rules
read no events."""

from __future__ import annotations

import dataclasses
import json

from sesd.config import core_settings, parse_config
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.pipeline import Pipeline
from tests import factory as f

T = f.T0
_DELIVERY = EVENT_TYPE_INDEX["delivery"]


def test_a_tenant_evicted_idle_counts_anew_when_it_sends_again() -> None:
    base = core_settings(parse_config(""))
    settings = dataclasses.replace(base, tenants=True, tenant_tags=("tenant",), idle_evict=600.0)
    pipeline = Pipeline(settings)
    scope = pipeline.ledger.by_tenant
    assert scope is not None

    def fed(now: float) -> None:
        event = f.delivery(
            ["u@a.example"], at=now - 1, message_id=f"m{now}", tags={"tenant": ["t1"]}
        )
        pipeline.feed(json.dumps(event), "q", now)

    fed(T)
    assert scope.recipients["t1"][_DELIVERY] == 1
    pipeline.housekeep(T + 4000)
    assert "t1" not in scope.recipients
    fed(T + 4001)
    assert scope.recipients["t1"][_DELIVERY] == 1


def test_a_restored_tenant_evicted_before_it_sends_is_forgotten() -> None:
    """A tenant label a state file restored, idle: no slot of it was ever kept here."""
    base = core_settings(parse_config(""))
    settings = dataclasses.replace(base, tenants=True, tenant_tags=("tenant",), idle_evict=600.0)
    pipeline = Pipeline(settings)
    pipeline.ledger.tenant_labels.restore({"t2": T})
    assert "t2" in pipeline.ledger.tenant_labels.last_seen
    pipeline.housekeep(T + 4000)
    assert "t2" not in pipeline.ledger.tenant_labels.last_seen
