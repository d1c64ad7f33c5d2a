"""Alert states a state file holds, restored within what each rule's scope can hold: a
hand-edited or damaged file with a flood of labels loads no more than that, a canary
rule only its one label, and the labels sesd writes survive."""

from __future__ import annotations

from pathlib import Path

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.state import read_state, restore, snapshot, write_state
from tests import factory as f
from tests.test_canary import CANARY

CONFIG = (
    CANARY
    + """
[domains]
max_tracked = 10
[dimensions]
max_tracked = 10
[tenants]
enabled = true
max_tracked = 10
[providers]
enabled = true
[[alerts.rules]]
name = "r"
metric = "delay_ratio"
window = "5m"
above = 0.2
[[alerts.rules]]
name = "by-provider"
metric = "delay_ratio"
window = "5m"
above = 0.2
providers = ["*"]
[[alerts.rules]]
name = "by-tenant"
metric = "tenant_sending_paused"
window = "5m"
above = 0
tenants = ["*"]
[[alerts.rules]]
name = "paused"
metric = "sending_paused"
window = "5m"
above = 0
[[alerts.rules]]
name = "canary-missing"
metric = "canary_missing"
window = "15m"
above = 0
"""
)


def _restored(tmp_path: Path, junk: int) -> dict[str, dict[str, AlertState]]:
    """A file saved with a firing alert on ``a.example`` and on the canary, then given
    ``junk`` more labels on each rule by hand; what a fresh sesd restores of it."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delivery(["a@a.example"])), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    firing = AlertState(Status.FIRING, f.T0, f.T0, 0.5, None, True)
    evaluator.states["r"]["a.example"] = firing
    evaluator.states["canary-missing"]["canary"] = AlertState(
        Status.FIRING, f.T0, f.T0, 1, None, True
    )
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 1, []))
    for rule in ("r", "canary-missing"):
        saved = data["alerts"][rule]
        (one,) = [state for label, state in saved.items() if label in ("a.example", "canary")]
        for n in range(junk):
            saved[f"junk-{n}.example"] = [Status.PENDING.value, f.T0 - n, *one[2:]]
    path = tmp_path / "state.bin"
    write_state(str(path), msgspec.msgpack.encode(data))
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, ["5m", "15m"])
    blob = read_state(str(path))
    assert blob is not None
    restore(blob, fresh.ledger, after, f.T0 + 2)
    return after.states


def test_a_flood_of_labels_in_a_file_is_bounded_and_the_firing_ones_stay(tmp_path: Path) -> None:
    """20,000 pending labels added by hand to a rule whose scopes track 10 each: the
    restore holds a few hundred at most, the firing ``a.example`` among them; the
    canary rule holds only its ``canary``."""
    states = _restored(tmp_path, 20_000)
    assert len(states["r"]) <= 1000
    assert states["r"]["a.example"].status is Status.FIRING
    assert list(states["canary-missing"]) == ["canary"]


def test_the_labels_sesd_writes_survive_a_restore(tmp_path: Path) -> None:
    """A file as sesd writes it, a few labels on each rule: all restored."""
    states = _restored(tmp_path, 3)
    assert {"a.example", "junk-0.example", "junk-2.example"} <= set(states["r"])
    assert states["canary-missing"]["canary"].status is Status.FIRING


#: A label of each scope as sesd writes it: a provider, a tenant, an (account, region).
WRITTEN = {"by-provider": "gmail", "by-tenant": "shop-eu", "paused": "default/us-east-1"}


def test_each_scope_s_labels_survive_a_restore(tmp_path: Path) -> None:
    """A firing alert on a provider, a tenant and an (account, region), as sesd writes
    their labels, next to 20,000 labels added by hand on each rule: each is restored,
    firing; the account rule holds no label that is not an (account, region)."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    for rule, label in WRITTEN.items():
        evaluator.states[rule][label] = AlertState(Status.FIRING, f.T0, f.T0, 1, None, True)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 1, []))
    for rule, label in WRITTEN.items():
        saved = data["alerts"][rule]
        for n in range(20_000):
            saved[f"junk-{n}"] = [Status.PENDING.value, f.T0 - n, *saved[label][2:]]
    path = tmp_path / "state.bin"
    write_state(str(path), msgspec.msgpack.encode(data))
    after = Evaluator(config.alerts, ["5m", "15m"])
    restore(path.read_bytes(), Pipeline(core_settings(config)).ledger, after, f.T0 + 2)
    for rule, label in WRITTEN.items():
        assert after.states[rule][label].status is Status.FIRING, rule
        assert len(after.states[rule]) <= 1000, rule
    # Not one of the junk labels reads as an (account, region).
    assert list(after.states["paused"]) == ["default/us-east-1"]
