"""Which label an SES tenant event read after a restart, before the first poll, is
counted under: the one whose polls named its AWS account id before the restart, as
the state file's account statuses say, while its credentials still reach that
account. Else the event is kept under the raw id, and the poll naming the id moves it
under the label, its one origin's word taking the other's default with it (SES's
pause shown as lifted). A real state file; the local SESv2 tenants endpoint, its
answers parsed by botocore."""

from __future__ import annotations

from pathlib import Path

import anyio

from sesd.alerting.evaluator import Evaluator
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice, TenantStatuses
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import read_state, write_state
from tests.test_tenant_passes import ACCOUNT, NOW, REGION, Clock, tenant_poller

OTHER = "210987654321"
TENANTS = "[tenants]\nenabled = true\n"
QUEUE = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
PAUSE = "The bounce rate exceeded 15.0%."


def _role(account: str) -> str:
    return (
        f'[[accounts]]\nname = "prod"\nrole_arn = "arn:aws:iam::{account}:role/sesd"\n'
        f'region = "{REGION}"\n'
    )


def _restarted(pipeline: Pipeline, config: str, path: Path) -> Pipeline:
    """A sesd started with ``config`` from the state file ``pipeline`` wrote at ``path``."""
    evaluator = Evaluator(parse_config(config).alerts, ["5m"])
    assert write_state(str(path), snapshot(pipeline.ledger, evaluator, NOW))
    blob = read_state(str(path))
    assert blob is not None
    fresh = Pipeline(core_settings(parse_config(config)))
    restore(blob, fresh.ledger, evaluator, NOW + 1)
    return fresh


def _resumed(at: float) -> TenantNotice:
    """The customer's own word on globex at ``at``: sending, as far as they are concerned."""
    return TenantNotice(REGION, ACCOUNT, "globex", at, status="ENABLED", origin="CUSTOMER_MANAGED")


async def test_an_event_before_the_first_poll_keeps_a_restored_ses_pause(tmp_path: Path) -> None:
    """SES has paused globex; the default credentials' poll read it, and sesd restarts.
    Before the first poll, the customer's own status event says globex is enabled as
    far as they are concerned (SES's pause stands). It was kept under the raw AWS
    account id (no poll had named it since the start), globex shown twice; the poll
    naming the id then moved it under ``default``, its SES status the event's default
    (ENABLED) over the restored pause: globex shown sending until that poll's answer,
    and past it where the event was newer than the poll's start, as here."""
    config = f"{TENANTS}{QUEUE}"
    before = Pipeline(core_settings(parse_config(config)))
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        tenants.pause("globex", PAUSE)
        async with tenant_poller(tenants, before, Clock(), recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
        after = _restarted(before, config, tmp_path / "state")
        statuses = after.ledger.tenant_status
        statuses.apply(_resumed(NOW + 60))
        key = ("default", REGION, "globex")
        assert list(statuses.status) == [key]
        assert statuses.status[key].paused
        assert (statuses.status[key].customer, statuses.status[key].cause) == ("ENABLED", PAUSE)
        clock = Clock()
        clock.advance(30)  # the poll started before the event
        async with tenant_poller(tenants, after, clock, recommendations=False) as poller:
            with anyio.fail_after(20):
                await poller.poll_once()
    assert list(statuses.status) == [key]
    assert statuses.status[key].paused
    assert statuses.status[key].cause == PAUSE


async def test_a_restart_with_the_role_in_another_account_keeps_the_old_id_unnamed(
    tmp_path: Path,
) -> None:
    """``prod``'s role reached ACCOUNT before the restart and reaches OTHER after it: an
    event of ACCOUNT's globex is no longer ``prod``'s (its polls read OTHER now), as
    after a reload making the same change; it is kept under the id. What the file kept
    of ACCOUNT's globex under ``prod`` is not restored (another account's word)."""
    before = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("globex")
        async with tenant_poller(tenants, before, Clock(), recommendations=False) as poller:
            poller.targets = [("prod", REGION)]
            with anyio.fail_after(20):
                await poller.poll_once()
    assert before.ledger.tenant_status.accounts == {ACCOUNT: "prod"}
    after = _restarted(before, f"{TENANTS}{QUEUE}{_role(OTHER)}", tmp_path / "state")
    statuses = after.ledger.tenant_status
    assert statuses.accounts == {}
    statuses.apply(_resumed(NOW + 60))
    assert statuses.status[(ACCOUNT, REGION, "globex")].status_at == NOW + 60
    assert ("prod", REGION, "globex") not in statuses.status


def test_the_files_ids_are_named_again_only_where_a_label_still_reaches_them() -> None:
    """The ids are named again where a reload's watch() would keep them: not one an
    entry's role no longer reaches (a file whose account status names the old id, as
    one an endpoint's ARNs made), nor one of a label no longer watched."""
    statuses = TenantStatuses()
    statuses.watch([("prod", REGION), ("default", REGION)], {"prod": OTHER})
    gone = ("111122223333", "gone")
    statuses.restore([], set(statuses.watched), {(ACCOUNT, "prod"), (OTHER, "prod"), gone})
    assert statuses.accounts == {OTHER: "prod"}
