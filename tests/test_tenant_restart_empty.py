"""The account a label's listing named before its last tenant was deleted stays the
label's across a restart: the state file keeps it though the label's status names
none (its listing empty). Else a tenant created there next, its status event read
after the restart before a listing names the account again, counts under the raw AWS
account id (the status page, the metrics, an alert fired under the id, resolved and
fired again under the label). A real state file; the local SESv2 tenants endpoint."""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec

from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_reach import ids_in
from sesd.core.tenants import TenantNotice
from tests.test_tenant_passes import ACCOUNT, NOW, REGION, Clock, tenant_poller
from tests.test_tenant_restart_ids import OTHER, QUEUE, TENANTS, _restarted


async def test_an_empty_listing_before_a_restart_leaves_the_account_the_labels(
    tmp_path: Path,
) -> None:
    config = f"{TENANTS}{QUEUE}"
    before = Pipeline(core_settings(parse_config(config)))
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        async with tenant_poller(tenants, before, Clock(), recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
            del tenants.tenants["globex"]  # its last tenant deleted: the listing is empty
            with anyio.fail_after(20):
                await poller.poll_once()
    assert before.ledger.tenant_status.accounts == {ACCOUNT: "default"}
    after = _restarted(before, config, tmp_path / "state")
    statuses = after.ledger.tenant_status
    paused = TenantNotice(
        REGION, ACCOUNT, "initech", NOW + 60, status="DISABLED", origin="AWS_MANAGED"
    )
    statuses.apply(paused)
    assert list(statuses.status) == [("default", REGION, "initech")]
    assert statuses.accounts == {ACCOUNT: "default"}


def test_the_files_ids_are_read_as_far_as_they_read() -> None:
    """A row of the file's ids that does not read (a hand's edit) names none; items a
    later build adds after the two are not this build's; an older file has none."""
    rows = [[ACCOUNT, "default", "later"], ["12345", "default"], [1, "x"], "x", [OTHER]]
    assert ids_in(rows) == {(ACCOUNT, "default")}
    assert ids_in(None) == set()
    assert ids_in({"x": 1}) == set()


def test_an_older_file_without_the_ids_restores_as_before(tmp_path: Path) -> None:
    """A file without ``tenant_ids`` (an earlier build's) names the ids its account
    statuses name: here none, after the empty listing."""
    config = f"{TENANTS}{QUEUE}"
    before = Pipeline(core_settings(parse_config(config)))
    before.ledger.tenant_status.named(ACCOUNT, "default")
    saved = msgspec.msgpack.decode(msgspec.msgpack.encode(before.ledger.snapshot(NOW)))
    assert saved["tenant_ids"] == [[ACCOUNT, "default"]]
    del saved["tenant_ids"]
    after = Pipeline(core_settings(parse_config(config)))
    after.ledger.restore(saved, NOW)
    assert after.ledger.tenant_status.accounts == {}


def test_a_pause_only_an_event_told_of_stands_after_a_restart(tmp_path: Path) -> None:
    """SES pauses globex of an account no poll has named (its label's polls refused,
    say): the event's word is kept under the raw id. A restart kept it out: the pause
    gone, its alert resolved while SES holds it. It stands, and a poll naming the id
    later moves it under the label as it would have before the restart."""
    config = f"{TENANTS}{QUEUE}"
    before = Pipeline(core_settings(parse_config(config)))
    paused = TenantNotice(
        REGION, OTHER, "globex", NOW - 60, status="DISABLED", origin="AWS_MANAGED", cause="x"
    )
    before.ledger.tenant_status.apply(paused)
    after = _restarted(before, config, tmp_path / "state")
    statuses = after.ledger.tenant_status
    assert [k for k, s in statuses.status.items() if s.paused] == [(OTHER, REGION, "globex")]
    statuses.named(OTHER, "default")
    assert [k for k, s in statuses.status.items() if s.paused] == [("default", REGION, "globex")]
