"""The ledger owns every store: each is saved in the state file or declared transient
with its reason, and what is saved comes back whole."""

from __future__ import annotations

from typing import Any

import msgspec

from sesd.config import core_settings, parse_config
from sesd.core.ledger import _MAX_SENDERS, SAVED, TRANSIENT, Ledger
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_map import UNKNOWN
from sesd.core.tenant_walks import TenantWalk
from tests import factory as f

CONFIG = (
    '[dimensions]\ntags = ["campaign"]\n[tenants]\nenabled = true\n'
    '[canary]\nfrom = "c@example.com"\nconfiguration_set = "s"\n'
    '[[accounts]]\nname = "prod-eu"\nregion = "eu-west-1"\n'
    'role_arn = "arn:aws:iam::123456789012:role/sesd-reader"\n'
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
    walk = TenantWalk(f.T0 - 600, listing=False, tenants=["acme", "globex"], next=1)
    walk.where = ("eu-west-1", "123456789012")
    walk.add("acme", arn, 10)
    ledger.tenant_walks.walks[("prod-eu", "eu-west-1")] = walk
    progress = ledger.accounts.record(("prod-eu", "eu-west-1"))
    progress.tenants_listed, progress.tenants_mapped = 2, 1
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
    fresh.restore(saved, f.T0)
    assert _canonical(fresh.snapshot(f.T0)) == _canonical(filled.snapshot(f.T0))
    for name in SAVED:
        assert getattr(fresh, name), f"{name} came back empty"


def test_a_state_file_from_before_providers_tenants_and_canaries_still_loads() -> None:
    """The stores added since the first state files are left out of an old one: the
    rest comes back and those start empty; the report says what came back."""
    filled = _filled().ledger
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(filled.snapshot(f.T0)))
    later = ("scopes", "tenant_labels", "tenant_map", "providers", "canaries", "tenant_walks")
    for key in (*later, "accounts", "tenant_status", "tenant_ids", "tenant_listed"):
        del saved[key]
    del saved["pending"]["axes"]
    fresh = Ledger(core_settings(parse_config(CONFIG)))
    assert fresh.restore(saved, f.T0) == {
        "windows": 3,
        "windows_started_empty": [],
        "pending_delays": 1,
        "pending_delays_refused": 0,
        "pending_delays_over_bound": 0,
        "providers_cached": 0,
        "canaries": 0,
        "tenant_walks_resumed": 0,
        "tenant_walks_unread": 0,
    }
    assert set(fresh.windows) == {"gmail.com", "corp.example", "yahoo.com"}
    assert fresh.by_tenant is not None
    assert fresh.by_tenant.windows == {}
    assert fresh.pending.count("corp.example", f.T0) == 1


def test_a_restore_reports_what_it_kept() -> None:
    filled = _filled().ledger
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(filled.snapshot(f.T0)))
    assert Ledger(core_settings(parse_config(CONFIG))).restore(saved, f.T0) == {
        "windows": 3,
        "windows_started_empty": [],
        "pending_delays": 1,
        "pending_delays_refused": 0,
        "pending_delays_over_bound": 0,
        "providers_cached": 1,
        "canaries": 1,
        "tenant_walks_resumed": 1,
        "tenant_walks_unread": 0,
    }
    other = Ledger(core_settings(parse_config(CONFIG + '[windows]\nsizes = ["10m"]\n')))
    assert other.restore(saved, f.T0)["windows"] == "dropped: window layout changed"
    wider = Ledger(core_settings(parse_config(CONFIG + '[windows]\nsizes = ["5m", "6h"]\n')))
    assert wider.restore(saved, f.T0)["windows_started_empty"] == ["6h"]
    plain = Ledger(core_settings(parse_config("[providers]\nenabled = false\n")))
    assert plain.restore(saved, f.T0)["providers_cached"] == 0


def test_the_ledger_is_built_from_the_settings() -> None:
    """Scopes are numbered in order (a tenant's delays are counted under its own
    number, with or without providers); breakdowns are kept only for the windows
    rules read; the canary has its deadline (5m by default) and queue; each queue has
    its account and region, an unknown one the default."""
    rule = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "15m"\nabove = 0.1\n'
    queues = (
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/210987654321/events"\n'
        'name = "events"\n'
    )
    ledger = Ledger(core_settings(parse_config(CONFIG + rule + queues)))
    assert [s.index for s in ledger.scopes] == [0, 1, 2]
    assert ledger.by_tenant is not None
    assert ledger.by_tenant.index == 2
    assert [s.breakdown for s in ledger.specs] == [False, True, False]
    assert (ledger.canary.deadline, ledger.canary.queue) == (300.0, "events")
    assert ledger.where("events") == ("default", "eu-west-1")  # the region of its URL
    assert ledger.where("nope") == ("default", "us-east-1")
    without = Ledger(core_settings(parse_config("[providers]\nenabled = false\n" + CONFIG)))
    assert without.by_tenant is not None
    assert [s.index for s in without.scopes] == [0, 1]
    assert without.by_tenant.index == 1
    pipeline = Pipeline(core_settings(parse_config("[providers]\nenabled = false\n" + CONFIG)))
    delay = f.delay(["b@corp.example"], at=f.T0 - 30)
    delay["mail"]["tags"] = {"ses:tenant-name": ["acme"]}
    pipeline.feed(f.raw(delay), "q", f.T0)
    assert pipeline.ledger.pending.count("acme", f.T0, 1) == 1
    assert pipeline.ledger.pending.count("corp.example", f.T0, 0) == 1


def _hand_edited() -> dict[str, Any]:
    """A real snapshot with a label no event could have made added to each store that
    holds labels: a domain not in normal form and one with a terminal escape, a tag
    value with a space, a tenant name SES could not give, providers nobody names, one
    with a newline and one in the shape of a ``[providers.mx]`` name (their windows
    and DNS answers naming them)."""
    filled = _filled().ledger
    saved: dict[str, Any] = msgspec.msgpack.decode(msgspec.msgpack.encode(filled.snapshot(f.T0)))
    window = saved["windows"]["gmail.com"]
    for label in ("Gmail.COM", "evil.example\x1b[31m", "a b.example"):
        saved["domains"][label] = f.T0
        saved["windows"][label] = window
    saved["tags"]["campaign"]["spring sale"] = f.T0
    saved["tag_windows"].append(["campaign", "spring sale", window])
    saved["tenant_labels"]["bad tenant!"] = f.T0
    saved["scopes"]["tenant"]["bad tenant!"] = window
    for provider in ("evil\nprovider", "nobody"):
        saved["scopes"]["provider"][provider] = window
    saved["providers"].append(["corp2.example", "evil\nprovider", f.T0 + 3600])
    saved["providers"].append(["corp4.example", "nobody", f.T0 + 3600])
    saved["providers"].append(["Corp3.Example", "google", f.T0 + 3600])
    return saved


def test_a_restore_holds_labels_to_the_rules_events_are_held_to() -> None:
    """A hand-edited state file (or one an older build wrote) cannot bring a label that
    ingest would refuse: domains not in normal form, tag values and tenant names SES
    could not carry, provider names neither built in nor configured are left out, with
    their windows and DNS answers; what ingest takes comes back."""
    fresh = Ledger(core_settings(parse_config(CONFIG)))
    fresh.restore(_hand_edited(), f.T0)
    assert set(fresh.windows) == {"gmail.com", "corp.example", "yahoo.com"}
    assert set(fresh.domains.labels()) == {"gmail.com", "corp.example", "yahoo.com"}
    assert set(fresh.tag_tables["campaign"].labels()) == {"spring"}
    assert set(fresh.tag_windows) == {("campaign", "spring")}
    assert fresh.by_tenant is not None
    assert set(fresh.by_tenant.windows) == {"acme"}
    assert set(fresh.tenant_labels.labels()) == {"acme"}
    assert fresh.by_provider is not None
    assert set(fresh.by_provider.windows) == {"google", "unknown", "yahoo"}
    assert fresh.providers is not None
    assert set(fresh.providers.cache) == {"corp.example"}


def test_a_restore_keeps_no_windows_past_the_labels_a_smaller_cap_admits() -> None:
    """Restarted with a lower ``max_tracked`` (or on a file listing more windows than
    labels), the windows of labels the cap leaves out are not restored: they would be
    exported, and never evicted, with no label holding them."""
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(_filled().ledger.snapshot(f.T0)))
    small = Ledger(core_settings(parse_config(CONFIG + "[domains]\nmax_tracked = 1\n")))
    small.restore(saved, f.T0)
    assert len(small.domains) == 1
    assert set(small.windows) == set(small.domains.labels())


def test_a_file_saved_with_providers_off_loads_with_them_on() -> None:
    """Providers off, the file holds no DNS answers nor provider windows; a sesd with
    them on loads it: the domains' windows come back, the providers' start empty."""
    off = Pipeline(core_settings(parse_config("[providers]\nenabled = false\n" + CONFIG)))
    off.feed(f.raw(f.delivery(["a@gmail.com"], at=f.T0 - 60)), "q", f.T0)
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(off.ledger.snapshot(f.T0)))
    assert (saved["providers"], list(saved["scopes"])) == ([], ["tenant"])
    on = Ledger(core_settings(parse_config(CONFIG)))
    assert on.restore(saved, f.T0)["providers_cached"] == 0
    assert set(on.windows) == {"gmail.com"}
    assert on.by_provider is not None
    assert on.by_provider.windows == {}


def test_the_senders_remembered_are_bounded_and_the_rest_answered() -> None:
    """A flood of identities (a replay of strangers' files): the first 4,096 have their
    sender remembered, not one more, and those past the bound are still answered, each
    from its own ARN."""
    ledger = Ledger(core_settings(parse_config(CONFIG)))
    arns = [
        f"arn:aws:ses:eu-west-1:123456789012:identity/x{i}.example"
        for i in range(_MAX_SENDERS + 10)
    ]
    assert {ledger.sender("q", arn, "") for arn in arns} == {("prod-eu", "eu-west-1")}
    assert list(ledger.senders) == [("q", arn, "") for arn in arns[:_MAX_SENDERS]]


def test_a_reload_that_stops_polling_an_account_drops_its_tenant_resources() -> None:
    """An ``[[accounts]]`` entry a reload removes: the tenants' map forgets what its
    resources in that region belong to (no walk will replace it, and its mail would
    else count under its tenants for ever); another account's resources stay."""
    ledger = Ledger(core_settings(parse_config(CONFIG)))
    gone = "arn:aws:ses:eu-west-1:123456789012:configuration-set/s"
    ledger.tenant_map.replace("eu-west-1", "123456789012", {gone: {"acme"}})
    other = "arn:aws:ses:us-east-1:210987654321:configuration-set/k"
    ledger.tenant_map.replace("us-east-1", "210987654321", {other: {"globex"}})
    sender = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
    other_sender = "arn:aws:ses:us-east-1:210987654321:identity/example.com"
    assert ledger.tenant_map.tenant(sender, "s") == "acme"
    ledger.reconfigure(core_settings(parse_config(CONFIG.split("[[accounts]]")[0])))
    assert ledger.tenant_map.tenant(sender, "s") == UNKNOWN
    assert ledger.tenant_map.tenant(other_sender, "k") == "globex"
