"""A state file's walk of tenants' resources (``tenant_walks``) whose row does not read
(a hand's edit, a flipped byte): like the other entries beside the alert states, it is
skipped alone and counted, and the rest of the file restores (the other walks, the
windows, the alert states). It set the whole file aside: the windows lost, every
firing alert paged again, for a walk that starts over at the next poll anyway."""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_walks import TenantWalk
from sesd.runtime.state import restore
from tests import factory as f
from tests.test_state_forward import CONFIG, OWED, _document, _restarted

WATCHED = ("default", "eu-west-1")
QUEUE = '[tenants]\nenabled = true\n[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'


def test_walk_rows_that_do_not_read_are_skipped_alone() -> None:
    _, data = _document()
    config = parse_config(CONFIG + QUEUE)
    good = msgspec.to_builtins(TenantWalk(f.T0, listing=False, tenants=["acme"]))
    bad: list[Any] = [
        [*WATCHED, {**good, "started": "yesterday"}],  # a field of the wrong type
        [*WATCHED, {**good, "tenants": "acme"}],
        [["default"], "eu-west-1", good],  # an account that is no name
        ["default"],  # too short
        "default",  # no row
    ]
    data["tenant_walks"] = [*bad, [*WATCHED, good]]
    restored, sent = _restarted(config, data)
    assert sent == OWED
    assert restored["entries_skipped"] == {"tenant_walks": len(bad)}
    assert restored["tenant_walks_resumed"] == 1
    ledger = Pipeline(core_settings(config)).ledger
    restore(msgspec.msgpack.encode(data), ledger, Evaluator(config.alerts, ["5m"]), f.T0 + 2)
    assert ledger.tenant_walks.walks[WATCHED].tenants == ["acme"]
    assert "gmail.com" in ledger.windows
