"""An ``[[accounts]]`` entry a reload removes and a second reload adds back while a
poll's call for it is under way: the call was signed with the old role's credentials,
and its answer speaks of the old role's account, not of the one the entry names now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, load_config, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenants import TenantNotice
from tests.conftest import log_records, make_queue, running, sesd_logs
from tests.fake_ses import FakeSes, healthy_account
from tests.test_account_health import TARGET, _poller
from tests.test_aws_clients import _config, _pool_open
from tests.test_tenant_passes import ACCOUNT, REGION, Clock, tenant_poller
from tests.test_tenant_passes import TARGET as TENANTS

READER = ("reader", "eu-west-1")


def _reader(role: str) -> str:
    """The ``reader`` account, its role ``role`` (STS is moto's, at ``[aws]``)."""
    return (
        f'[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::{role}:role/sesd"\n'
        'region = "eu-west-1"\n'
    )


@pytest.mark.parametrize("old_says", ["paused", "refused"])
async def test_a_role_removed_and_added_back_mid_call_keeps_nothing_of_the_old_call(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, old_says: str
) -> None:
    """The ``reader`` account's GetAccount, signed with role 111111111111's credentials,
    is under way (the fake holds it) when a reload removes the entry and another adds
    it back with role 222222222222. The old role's account is paused, or the old role
    is refused (AccessDenied); the held call answers so. That answer is the old role's:
    the new one's account must not read as paused (a page for an account that sends),
    nor its credentials as answered, nor its polls as refused. It was kept: the
    round's status, taken before the removal, was written back under the entry added
    again, and the refusal counted against it. The next round asks with the new role's
    credentials and reads what its account says."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as fake:
        health = f'[account_health]\nses_endpoint_url = "{fake.url}"\ncloudwatch = false\n'
        base = _config(local_sqs, url) + health
        fake.account_gate = gate = anyio.Event()
        if old_says == "refused":  # (decided as the call arrives, answered once let go)
            fake.refused_regions[READER[1]] = "AccessDeniedException"
        path.write_text(base + _reader("111111111111"))
        async with running(load_config(str(path)), config_path=path) as daemon:
            poller = daemon.account_poller
            assert poller is not None
            accounts = daemon.ledger.accounts
            with anyio.fail_after(20):
                await fake.wait_for(lambda ses: ses.account_requests == 2)
            # The default account signs with the test's keys; the role with STS's.
            (old_key,) = [key for key in fake.account_keys if key.startswith("ASIA")]
            assert daemon.aws is not None
            (old,) = [e[0] for k, e in daemon.aws._clients.items() if k[1:4] == (*READER, "health")]
            fake.account_by_key[old_key] = {**healthy_account(), "SendingEnabled": False}
            fake.refused_regions.clear()
            path.write_text(base)
            assert await daemon.reload()
            assert READER not in accounts.status
            path.write_text(base + _reader("222222222222"))
            assert await daemon.reload()
            assert READER in poller.targets
            fake.account_gate = None
            gate.set()
            # The round has ended once the old role's client, retired, is closed.
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: not _pool_open(old))
            status = accounts.status.get(READER)
            assert status is None or status.sending_enabled is None
            assert READER not in accounts.accepted
            assert not [key for key in accounts.errors if key[:2] == READER]
            # The next round (not waited for: asked now) reads the new role's account.
            with anyio.fail_after(20):
                await poller.poll_once()
            assert fake.account_keys[-1].startswith("ASIA")
            assert fake.account_keys[-1] != old_key
            assert accounts.status[READER].sending_enabled is True
            assert READER in accounts.accepted


async def test_a_target_added_back_is_told_of_its_own_failures(local_sqs: LocalSqs) -> None:
    """GetAccount is refused (AccessDenied) and told; a reload removes the target and
    another adds it back (another role, say), whose GetAccount is refused too: told
    again, as a new failure. The old watch's memory of what it told silenced it (the
    same code as before), so a role wrongly set up again said nothing; and an answer
    after that was told as a recovery of a failure the new watch never had."""
    logs = sesd_logs("info")
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        for _ in range(2):
            fake.script_account((403, "AccessDeniedException"))
            await poller.poll_once()
            poller.targets = []  # the reloads, as sesd.runtime.reload does them
            poller.targets = [TARGET]
        await poller.poll_once()
    told = [r["event"] for r in log_records(logs)]
    assert told.count("sesd.account.poll_failed") == 2
    assert "sesd.account.poll_recovered" not in told


async def test_an_old_watch_s_answer_tells_no_recovery_of_the_new_one(local_sqs: LocalSqs) -> None:
    """A round's GetAccount is under way (held) when a reload removes the target and
    another adds it back; a round of the watch added back is refused (AccessDenied),
    told. The held call then answers: it is the old watch's, and says nothing of the
    new one's credentials. It cleared the refusal remembered, logged as
    ``sesd.account.poll_recovered`` (the new watch still refused), and the next
    refusal was told again as new; now the new watch's failure stands as told."""
    logs = sesd_logs("info")
    pipeline = Pipeline(core_settings(parse_config("")))
    async with FakeSes() as fake, _poller(fake, local_sqs, pipeline) as poller:
        fake.account_gate = gate = anyio.Event()
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                await fake.wait_for(lambda ses: ses.account_requests == 1)
                poller.targets = []  # the reloads, as sesd.runtime.reload does them
                poller.targets = [TARGET]
                fake.account_gate = None  # (the call under way waits on the old gate)
                fake.script_account((403, "AccessDeniedException"))
                await poller.poll_once()
                gate.set()
            fake.script_account((403, "AccessDeniedException"))
            await poller.poll_once()
    told = [r["event"] for r in log_records(logs)]
    assert fake.account_requests == 3
    assert told.count("sesd.account.poll_failed") == 1
    assert "sesd.account.poll_recovered" not in told


async def test_a_tenant_round_keeps_nothing_of_a_target_removed_and_added_back() -> None:
    """acme is read paused. A reload removes the (account, region) while the next
    tenant poll's ListReputationEntities is under way, and another adds it back (its
    role changed, say); meanwhile an event says initech is paused, stamped before the
    round began (SQS delivers late). The round's client is the old role's: the page
    that comes back is not kept (acme's pause, forgotten with the removal, is not
    brought back as the new account's), the list's end forgets no tenant of the entry
    added back (initech's pause stays: the old list never named it), and the walk of
    the tenants is not begun on that client."""
    tenants_on = "[tenants]\nenabled = true\n"
    eu = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'
    watched, removed = parse_config(tenants_on + eu), parse_config(tenants_on)
    pipeline = Pipeline(core_settings(watched))
    statuses = pipeline.ledger.tenant_status
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme")
        tenants.pause("acme", "The bounce rate exceeded 15.0%.")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            await poller.poll_once()
            assert statuses.status[(*TENANTS, "acme")].paused
            walked = tenants.calls["ListTenants"]
            clock.advance(300)
            tenants.held.add("ListReputationEntities")
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                await tenants.holding.wait()
                for config in (removed, watched):  # the reloads, as sesd.runtime.reload
                    pipeline.reconfigure(core_settings(config))
                    poller.targets = config.health_targets()
                # The entry added back reaches the same account: its id is the entry's
                # again (as a poll of the new watch would map it).
                statuses.accounts[ACCOUNT] = "default"
                late = TenantNotice(REGION, ACCOUNT, "initech", clock.now - 60, status="DISABLED")
                statuses.apply(late)
                tenants.close()
    assert list(statuses.status) == [(*TENANTS, "initech")]
    assert tenants.calls["ListTenants"] == walked
