"""A walk of a large account's tenants' resources spans polls, and sesd may restart
meanwhile: the walk's progress is saved with the state, and a restart resumes it
where it stood rather than starting over (a sesd restarted more often than a walk
takes would else keep an older map for ever). A walk of an account no longer
configured, or begun too long ago, starts over; a file from before walks were saved
still loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from structlog.testing import capture_logs

from sesd.account.failures import TRANSIENT_TRIES
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_map import MAX_RESOURCE_ARN
from sesd.core.tenant_walks import MAX_TOKEN, MAX_WALK_AGE, TenantWalk
from tests.conftest import make_queue, running
from tests.test_tenant_passes import TARGET, Clock, tenant_poller

ACCOUNT = "123456789012"
REGION = "us-east-1"  # the default account's, where the daemon polls it


# Short polls: a stop need not wait out a long poll (conftest.short_polls).
@pytest.mark.usefixtures("short_polls")
async def test_a_walk_interrupted_by_a_restart_goes_on_where_it_stood(
    local_sqs: Any, sqs: Any, tmp_path: Path
) -> None:
    """30 tenants, 10 a page, each with a configuration set. sesd's first poll reads the
    statuses (3 calls), lists the tenants (3 calls) and walks t00-t11; then SES fails
    (500, each try) and sesd stops, before its next poll. Restarted on the same state
    file, its first poll does not list the tenants again nor walk t00-t11 again: it
    asks for t12 first, and after 18 more ListTenantResources calls the map holds every
    tenant's configuration set."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "sesd.state"
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 10
        for i in range(30):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        config = parse_config(
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
            '[http]\nlisten = "127.0.0.1:0"\n[account_health]\nenabled = false\n'
            '[alerts]\nevaluate_every = "100ms"\n'
            f'[state]\npath = "{state}"\n'
            '[tenants]\nenabled = true\nrecommendations = false\npoll_every = "1h"\n'
            f'calls_per_second = 100\nendpoint_url = "{tenants.url}"\n'
        )
        tenants.script = [*[200] * 6, *[200] * 12, *[500] * TRANSIENT_TRIES]
        failed = ("default", REGION, "list_tenant_resources", "InternalFailure")
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: failed in daemon.ledger.accounts.errors)
            assert daemon.ledger.tenant_map.arns == {}
        first = dict(tenants.calls)
        assert first == {
            "ListReputationEntities": 3,
            "ListTenants": 3,
            "ListTenantResources": 12 + TRANSIENT_TRIES,
        }
        before = len(tenants.asked)
        async with running(config) as daemon:
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: len(daemon.ledger.tenant_map.arns) == 30)
            status = daemon.ledger.accounts.status[("default", REGION)]
            assert (status.tenants_listed, status.tenants_mapped) == (30, 30)
    resumed = [body for op, body in tenants.asked[before:] if op == "ListTenantResources"]
    assert resumed[0] == {"TenantName": "t12"}
    assert tenants.calls == {
        "ListReputationEntities": 3 + 3,
        "ListTenants": 3,
        "ListTenantResources": 12 + TRANSIENT_TRIES + 18,
    }
    assert (
        daemon.ledger.tenant_map.tenant(f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/x", "set-29")
        == "t29"
    )


CONFIG = (
    '[tenants]\nenabled = true\n[[accounts]]\nname = "prod-eu"\nregion = "eu-west-1"\n'
    'role_arn = "arn:aws:iam::123456789012:role/sesd-reader"\n'
)
NOW = 1_800_000_000.0


def _saved(started: float, target: tuple[str, str] = ("prod-eu", "eu-west-1")) -> dict[str, Any]:
    """A state document holding a walk of ``target`` begun at ``started``: its 2 tenants
    listed, the first walked."""
    ledger = Ledger(core_settings(parse_config(CONFIG)))
    walk = TenantWalk(started, listing=False, tenants=["acme", "globex"], next=1)
    walk.where = ("eu-west-1", ACCOUNT)
    walk.add("acme", f"arn:aws:ses:eu-west-1:{ACCOUNT}:configuration-set/acme-set", 10)
    ledger.tenant_walks.walks[target] = walk
    return dict(msgspec.msgpack.decode(msgspec.msgpack.encode(ledger.snapshot(NOW))))


def test_only_a_recent_walk_of_an_account_still_configured_resumes() -> None:
    """A walk begun up to a day before the restart resumes, with how far it had come
    (1 of 2 tenants walked); one begun longer ago starts over, as does the walk of an
    account no longer configured. A state file from before walks were saved loads,
    with no walk to resume."""
    fresh = Ledger(core_settings(parse_config(CONFIG)))
    assert fresh.restore(_saved(NOW - MAX_WALK_AGE), NOW)["tenant_walks_resumed"] == 1
    walk = fresh.tenant_walks.walks[("prod-eu", "eu-west-1")]
    assert (walk.next, walk.tenants, walk.resources) == (
        1, ["acme", "globex"], {f"arn:aws:ses:eu-west-1:{ACCOUNT}:configuration-set/acme-set":
                                {"acme"}},
    )  # fmt: skip
    status = fresh.accounts.status[("prod-eu", "eu-west-1")]
    assert (status.tenants_listed, status.tenants_mapped) == (2, 1)
    old = Ledger(core_settings(parse_config(CONFIG)))
    assert old.restore(_saved(NOW - MAX_WALK_AGE - 1), NOW)["tenant_walks_resumed"] == 0
    gone = Ledger(core_settings(parse_config(CONFIG)))
    assert gone.restore(_saved(NOW, ("gone", "eu-west-1")), NOW)["tenant_walks_resumed"] == 0
    before = _saved(NOW)
    del before["tenant_walks"]
    older = Ledger(core_settings(parse_config(CONFIG)))
    assert older.restore(before, NOW)["tenant_walks_resumed"] == 0
    assert older.tenant_walks.walks == {}


def _resumed(most: int, **fields: Any) -> dict[str, Any] | None:
    """The walk a ledger whose map holds ``most`` resumes from :func:`_saved`'s file
    with ``fields`` of its walk changed, as saved; None when it starts over."""
    saved = _saved(NOW)
    saved["tenant_walks"][0][2].update(fields)
    ledger = Ledger(core_settings(parse_config(CONFIG)))
    ledger.tenant_map.max_entries = most
    if not ledger.restore(saved, NOW)["tenant_walks_resumed"]:
        return None
    return dict(msgspec.to_builtins(ledger.tenant_walks.walks[("prod-eu", "eu-west-1")]))


def test_a_saved_walk_is_held_to_what_a_live_walk_keeps() -> None:
    """A file's walk (edited by hand, or a build's with other caps) holds what no live
    walk keeps: more resources than the map holds, a resource ARN longer than SES
    writes or not ASCII, a resource of a tenant it does not list (or of a name SES
    could not give) or of three, a tenant of such a name, a token longer than any
    kept, an account id that is none. The file fit under the size limit as read, but
    the map fills beside the walk from there: the next save would not, and the start
    after would set the file aside. Restored, the walk keeps its first resources up
    to the map's cap and counts the rest, as a live walk does; one holding anything
    else starts over."""
    where = f"arn:aws:ses:eu-west-1:{ACCOUNT}:identity/"
    three = {f"{where}{n}.example": ["acme"] for n in "abc"}
    walk = _resumed(2, resources=three, resources_left=1)
    assert walk is not None
    assert (list(walk["resources"]), walk["resources_left"]) == (list(three)[:2], 2)
    longest = where.ljust(MAX_RESOURCE_ARN, "x")
    assert _resumed(2, resources={longest: ["acme"]}, token="t" * MAX_TOKEN) is not None
    odds: list[dict[str, Any]] = [
        {"resources": {longest + "x": ["acme"]}},
        {"resources": {where + "\N{EMOJI MODIFIER FITZPATRICK TYPE-6}": ["acme"]}},
        {"resources": {where + "a": ["no good"]}},
        {"resources": {where + "a": ["initech"]}},  # a tenant the walk does not list
        {"resources": {where + "a": ["acme", "globex", "initech"]}},
        {"resources": {where + "a": []}},
        {"tenants": ["acme", "x" * 65]},
        {"token": "t" * (MAX_TOKEN + 1)},
        {"where": ["eu-west-1", ACCOUNT * 1000]},
    ]
    for odd in odds:
        assert _resumed(2, **odd) is None, odd


async def test_a_resumed_walk_of_another_account_starts_over() -> None:
    """A walk of account 123456789012's two tenants is resumed (restored from the state
    file) at its second tenant, but the account's label now reaches account
    210987654321, whose tenants have the same names: the first resource it is told of
    is of another account, so the walk is dropped (a warning says why), nothing of it
    goes into the map, and the next poll lists the tenants again and maps them."""
    other = "210987654321"
    clock = Clock()
    pipeline = Pipeline(core_settings(parse_config(CONFIG)))
    ledger = pipeline.ledger
    walk = TenantWalk(NOW - 600, listing=False, tenants=["acme", "globex"], next=1)
    walk.where = ("eu-west-1", ACCOUNT)
    walk.add("acme", f"arn:aws:ses:eu-west-1:{ACCOUNT}:configuration-set/acme-set", 10)
    ledger.tenant_walks.walks[TARGET] = walk
    async with LocalTenants(other, "eu-west-1") as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "acme-set"))
        tenants.add("globex", ("CONFIGURATION_SET", "globex-set"))
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, walks=ledger.tenant_walks
        ) as poller:
            with capture_logs() as logs:
                await poller.poll_once()
            assert ledger.tenant_walks.walks == {}
            assert ledger.tenant_map.arns == {}
            assert tenants.calls.get("ListTenants") is None
            await poller.poll_once()
    (dropped,) = [line for line in logs if line["log_level"] == "warning"]
    assert {key: dropped[key] for key in ("event", "account", "region", "hint")} == {
        "event": "sesd.tenants.walk_dropped",
        "account": TARGET[0],
        "region": TARGET[1],
        "hint": "a resource of another AWS account than the tenants' the walk began with: "
        "the next poll walks them from the first",
    }
    assert tenants.calls["ListTenants"] == 1
    assert sorted(ledger.tenant_map.arns) == [
        f"arn:aws:ses:eu-west-1:{other}:configuration-set/{name}-set" for name in ("acme", "globex")
    ]
