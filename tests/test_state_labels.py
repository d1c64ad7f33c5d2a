"""Alert states a state file holds, restored within what each rule's scope can hold: a
hand-edited or damaged file with a flood of labels loads no more than that, a canary
rule only its one label, and the labels sesd writes survive."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import AlertState, Status
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import MAX_STATUSES
from sesd.core.text import clean
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import read_state, write_state
from tests import factory as f
from tests.test_canary import CANARY

CONFIG = (
    CANARY
    + """
[domains]
max_tracked = 10
groups = { Consumer-MS = ["hotmail.com"] }
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
name = "tenant-delays"
metric = "delay_ratio"
window = "5m"
above = 0.2
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


def _restored(tmp_path: Path, junk: int, text: str = CONFIG) -> dict[str, dict[str, AlertState]]:
    """A file saved with a firing alert on ``a.example`` and on the canary, then given
    ``junk`` more labels on each rule by hand; what a fresh sesd of config ``text``
    restores of it."""
    config = parse_config(text)
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
WRITTEN = {"by-provider": "google", "by-tenant": "shop-eu", "paused": "default/us-east-1"}
#: A rule on what SES says of tenants holds a state per tenant SES lists in the one
#: (account, region) watched, up to MAX_STATUSES: twice that, and the spare.
BOUNDS = {"by-tenant": 2 * MAX_STATUSES + 256}


def test_each_scope_s_labels_survive_a_restore(tmp_path: Path) -> None:
    """A firing alert on a provider, a tenant and an (account, region), as sesd writes
    their labels, next to 20,000 labels added by hand on each rule (more than its scope
    holds on the tenant status rule): each is restored, firing; the account rule holds
    no label that is not an (account, region)."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    for rule, label in WRITTEN.items():
        evaluator.states[rule][label] = AlertState(Status.FIRING, f.T0, f.T0, 1, None, True)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 1, []))
    for rule, label in WRITTEN.items():
        saved = data["alerts"][rule]
        for n in range(BOUNDS.get(rule, 19_000) + 1000):
            saved[f"junk-{n}"] = [Status.PENDING.value, f.T0 - n, *saved[label][2:]]
    path = tmp_path / "state.bin"
    write_state(str(path), msgspec.msgpack.encode(data))
    after = Evaluator(config.alerts, ["5m", "15m"])
    restore(path.read_bytes(), Pipeline(core_settings(config)).ledger, after, f.T0 + 2)
    for rule, label in WRITTEN.items():
        assert after.states[rule][label].status is Status.FIRING, rule
        assert len(after.states[rule]) <= BOUNDS.get(rule, 1000), rule
    # Not one of the junk labels reads as an (account, region).
    assert list(after.states["paused"]) == ["default/us-east-1"]


def test_a_rule_s_states_are_bounded_by_its_own_scope(tmp_path: Path) -> None:
    """Tenants may hold 10,000 labels, domains 10: 5,000 domain labels added by hand to
    a domain rule restore no more than its own scope holds (a few hundred), not as many
    as every scope together would."""
    text = CONFIG.replace("[tenants]\nenabled = true\nmax_tracked = 10", "[tenants]\n"
                          "enabled = true\nmax_tracked = 10000")  # fmt: skip
    assert text != CONFIG
    states = _restored(tmp_path, 5_000, text)
    assert len(states["r"]) <= 1000
    assert states["r"]["a.example"].status is Status.FIRING


#: A label each scope's events make (a domain, a group, the overflow; a provider; a
#: tenant, ``unknown``), and labels no event makes, by rule: too long, with control
#: characters, a domain not in its normal form, a provider not in the table, a tenant
#: name SES does not allow.
MADE = {
    "r": ["a.example", "Consumer-MS", "other"],
    "by-provider": ["google", "other"],
    "tenant-delays": ["shop-eu", "unknown"],
    "by-tenant": ["shop-eu"],
}
NEVER_MADE = {
    "r": ["x" * 250 + ".example", "bell\x07.example", "Upper.Example", "not a domain", ""],
    "by-provider": ["not-a-provider", "gmail\n", "g" * 40],
    "tenant-delays": ["shop eu", "t" * 65, "shop\x1b[31m"],
    "by-tenant": ["shop eu", "t" * 65, "shop\x1b[31m"],
}


def test_alert_states_on_labels_no_event_makes_are_not_restored() -> None:
    """A file edited by hand holds firing alerts on labels a fresh sesd would never
    make, beside those it makes, on a domain, a provider and two tenant rules: only the
    latter are restored; the others are counted and their firing alerts named
    (escaped) for a person to resolve by hand. Nothing raises."""
    config = parse_config(CONFIG)
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    for rule, made in MADE.items():
        for label in made:
            evaluator.states[rule][label] = AlertState(Status.FIRING, f.T0, f.T0, 1, None, True)
    data = msgspec.msgpack.decode(
        snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0 + 1, [])
    )
    # By hand, into the file: a live sesd's states are all labels its events made.
    for rule, never in NEVER_MADE.items():
        for label in never:
            data["alerts"][rule][label] = [Status.FIRING.value, f.T0, f.T0, 1, None, True]
    blob = msgspec.msgpack.encode(data)
    after = Evaluator(config.alerts, ["5m", "15m"])
    restored = restore(blob, Pipeline(core_settings(config)).ledger, after, f.T0 + 2)
    # A glob never takes a tenant rule's `unknown`: its state is made, so restored, and
    # the change of rules resolves it as a label the rule does not watch.
    assert restored["owed"] == ["resolved tenant-delays unknown"]
    for rule, made in MADE.items():
        kept = [label for label in made if (rule, label) != ("tenant-delays", "unknown")]
        assert sorted(after.states[rule]) == sorted(kept), rule
    assert restored["alert_states_refused"] == sum(map(len, NEVER_MADE.values()))
    # Named as a log line may name them: escaped.
    assert restored["dropped"] == {
        rule: sorted(map(clean, never)) for rule, never in NEVER_MADE.items()
    }


def test_pending_delays_on_labels_no_event_makes_are_not_restored() -> None:
    """A file's pending delays given, by hand, a domain, a provider or a tenant label no
    event makes: those delays are not restored (nor counted, nor exported under that
    label), the one sesd wrote is, and the restore says how many it refused."""
    config = parse_config(CONFIG)
    pipeline = Pipeline(core_settings(config))
    pipeline.feed(f.raw(f.delay(["u@a.example"], at=f.T0, expires=f.T0 + 3600)), "q", f.T0)
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 1, []))
    rows = data["pending"]["pending"]
    ((key, labels, since, expires),) = rows
    assert data["pending"]["axes"] == ["domain", "provider", "tenant"]
    bad = [
        ["bell\x07.example", labels[1], labels[2]],
        ["x" * 300, labels[1], labels[2]],
        ["Consumer-MS", "not-a-provider", labels[2]],
        ["other", labels[1], "shop eu"],
    ]
    rows += [[key + 1 + n, made, since, expires] for n, made in enumerate(bad)]
    fresh = Pipeline(core_settings(config))
    after = Evaluator(config.alerts, ["5m", "15m"])
    restored = restore(msgspec.msgpack.encode(data), fresh.ledger, after, f.T0 + 2)
    assert (restored["pending_delays"], restored["pending_delays_refused"]) == (1, 4)
    for scope in range(3):
        assert list(fresh.ledger.pending.counts(f.T0 + 2, scope)) == [labels[scope]]


def test_a_group_and_a_provider_the_config_no_longer_has_still_resolve() -> None:
    """Firing alerts on a group and on a ``[providers.mx]`` provider, saved with their
    windows and a pending delay by a build that did not list the groups (this one's
    restart resolves a group's alerts at once: tests/test_state_removed.py); sesd
    restarts with neither configured. The file's tables show both were made by the
    config it was saved under: their states and delays are restored (their alerts go
    on to resolve), while the same names, absent from the file's tables, would not be
    (see the test above: a hand's labels)."""
    mx = '[providers]\nenabled = true\nmx = { corpmx = ["mx.corp.example"] }\n'
    saved_under = parse_config(CONFIG.replace("[providers]\nenabled = true\n", mx))
    pipeline = Pipeline(core_settings(saved_under))
    assert pipeline.ledger.providers is not None
    pipeline.ledger.providers.remember("corp.example", "corpmx", f.T0 + 86400)
    pipeline.feed(f.raw(f.delay(["u@corp.example", "v@hotmail.com"], at=f.T0)), "q", f.T0)
    evaluator = Evaluator(saved_under.alerts, ["5m", "15m"])
    firing = AlertState(Status.FIRING, f.T0, f.T0, 1, None, True)
    evaluator.states["r"]["Consumer-MS"] = replace(firing)
    evaluator.states["by-provider"]["corpmx"] = replace(firing)
    data = msgspec.msgpack.decode(snapshot(pipeline.ledger, evaluator, f.T0 + 1, []))
    del data["groups"]
    blob = msgspec.msgpack.encode(data)
    now = parse_config(CONFIG.replace('groups = { Consumer-MS = ["hotmail.com"] }\n', ""))
    after = Evaluator(now.alerts, ["5m", "15m"])
    fresh = Pipeline(core_settings(now)).ledger
    restored = restore(blob, fresh, after, f.T0 + 2)
    assert after.states["r"]["Consumer-MS"].status is Status.FIRING
    assert after.states["by-provider"]["corpmx"].status is Status.FIRING
    assert (restored["alert_states_refused"], restored["dropped"]) == (0, {})
    # Their pending delays too: they go on to end or expire, as the alerts resolve.
    assert (restored["pending_delays"], restored["pending_delays_refused"]) == (2, 0)
    assert dict(fresh.pending.counts(f.T0 + 2, 0)) == {"corp.example": 1, "Consumer-MS": 1}
    assert fresh.pending.counts(f.T0 + 2, 1)["corpmx"] == 1


def test_an_account_rule_s_states_on_labels_no_account_makes_are_not_restored() -> None:
    """An account rule's labels are ``ACCOUNT/REGION``, the account named as
    ``[[accounts]]`` allows and the region an AWS region's: a file edited by hand with
    control characters, an over-long account or a region that is none brings no state
    (counted); the one sesd wrote is restored."""
    config = parse_config(CONFIG)
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    never = ["bell\x07/us-east-1", "a" * 65 + "/us-east-1", "default/not a region", "/x", "a/"]
    for label in ["default/us-east-1", *never]:
        evaluator.states["paused"][label] = AlertState(Status.FIRING, f.T0, f.T0, 1, None, True)
    blob = snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0 + 1, [])
    after = Evaluator(config.alerts, ["5m", "15m"])
    restored = restore(blob, Pipeline(core_settings(config)).ledger, after, f.T0 + 2)
    assert list(after.states["paused"]) == ["default/us-east-1"]
    assert restored["alert_states_refused"] == len(never)


def _restored_states(
    text: str, labels: dict[str, list[str]], listed: tuple[str, ...] = ()
) -> tuple[dict[str, dict[str, AlertState]], dict[str, Any]]:
    """A firing alert on each of ``labels`` (rule -> labels) saved under the config
    ``text``, the file's domain table given ``listed`` by hand; what a fresh sesd of that
    config restores, and its report."""
    config = parse_config(text)
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    for rule, named in labels.items():
        for label in named:
            evaluator.states[rule][label] = AlertState(Status.FIRING, f.T0, f.T0, 1, None, True)
    blob = snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0 + 1, [])
    data = msgspec.msgpack.decode(blob)
    data["domains"].update(dict.fromkeys(listed, f.T0))
    after = Evaluator(config.alerts, ["5m", "15m"])
    fresh = Pipeline(core_settings(config)).ledger
    restored = restore(msgspec.msgpack.encode(data), fresh, after, f.T0 + 2)
    return after.states, restored


def test_a_label_the_file_s_domain_table_lists_is_taken_only_in_a_group_s_shape() -> None:
    """Firing alerts of a domain rule on labels the file's domain table lists, none a
    domain nor a group of the config now: those shaped as a group's name may be
    (printable, one to 253 characters, a domain's longest) are restored, as a group the
    file was saved under is; an empty one, one a character longer and one with a
    control character are not, though the table lists them too."""
    taken = ["X", "G" * 253]
    refused = ["", "G" * 254, "Bell\x07"]
    states, restored = _restored_states(CONFIG, {"r": taken + refused}, (*taken, *refused))
    assert sorted(states["r"]) == sorted(taken)
    assert restored["alert_states_refused"] == len(refused)


def test_a_provider_of_the_config_s_mx_table_needs_no_listing_in_the_file() -> None:
    """A firing alert on a ``[providers.mx]`` provider the config has, in a file whose
    tables do not list it (saved before any mail went to it, or once its windows had
    emptied): restored, as a built-in provider's is."""
    mx = '[providers]\nenabled = true\nmx = { corpmx = ["mx.corp.example"] }\n'
    text = CONFIG.replace("[providers]\nenabled = true\n", mx)
    states, restored = _restored_states(text, {"by-provider": ["corpmx", "google"]})
    assert sorted(states["by-provider"]) == ["corpmx", "google"]
    assert (restored["alert_states_refused"], restored["dropped"]) == (0, {})


def test_a_tenant_name_ses_does_not_allow_from_an_older_build_is_named_not_restored() -> None:
    """An older build let a rule name a tenant SES could not call so (``shop.eu``: a
    dot), tracked as a named tenant's label in every tenant rule's scope; this one
    refuses such a rule. Its file's firing alerts on ``shop.eu`` are not restored (no
    event makes that label) but named, for a person to resolve by hand."""
    config = parse_config(CONFIG)
    evaluator = Evaluator(config.alerts, ["5m", "15m"])
    data = msgspec.msgpack.decode(
        snapshot(Pipeline(core_settings(config)).ledger, evaluator, f.T0 + 1, [])
    )
    data["alerts"]["by-tenant"]["shop.eu"] = [Status.FIRING.value, f.T0, f.T0, 1, None, True]
    after = Evaluator(config.alerts, ["5m", "15m"])
    blob = msgspec.msgpack.encode(data)
    restored = restore(blob, Pipeline(core_settings(config)).ledger, after, f.T0 + 2)
    assert "shop.eu" not in after.states["by-tenant"]
    assert restored["dropped"] == {"by-tenant": ["shop.eu"]}
