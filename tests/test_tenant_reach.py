"""The tenants' map keeps the resources of the AWS accounts sesd reaches, and no
other's: after a restart whose config no longer watches an account, and once the
default credentials' polls name another account than before. An account no walk
reads any more would else keep its tenants' map for ever, its mail on a shared
queue counted under tenants no poll reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session

from sesd.account.tenants import TenantPoller
from sesd.alerting.evaluator import Evaluator
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_map import UNKNOWN
from sesd.core.tenants import MAX_IDS_PER_LABEL
from sesd.runtime.aws import tenant_config
from sesd.runtime.state import restore, snapshot
from sesd.runtime.state_bytes import read_state, write_state
from tests.test_tenant_passes import NOW, Clock, tenant_poller

ACCOUNT = "123456789012"
OTHER = "210987654321"
REGION = "eu-west-1"
TENANTS = "[tenants]\nenabled = true\n"
QUEUE = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/eu"\n'


def _role(account: str) -> str:
    return (
        f'[[accounts]]\nname = "prod"\nrole_arn = "arn:aws:iam::{account}:role/sesd"\n'
        f'region = "{REGION}"\n'
    )


def _mapped(pipeline: Pipeline, account: str) -> str:
    """The tenant the map gives globex's configuration set in ``account``."""
    sender = f"arn:aws:ses:{REGION}:{account}:identity/example.com"
    return pipeline.ledger.tenant_map.tenant(sender, "set-globex")


async def _polled(pipeline: Pipeline, account: str, target: tuple[str, str]) -> None:
    """One poll of ``target``, whose credentials reach ``account``: globex's set mapped."""
    async with LocalTenants(account, REGION) as tenants:
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        async with tenant_poller(tenants, pipeline, Clock(), recommendations=False) as poller:
            poller.targets = [target]
            await poller.poll_once()


def _restarted(pipeline: Pipeline, config: str) -> Pipeline:
    """A sesd started with ``config`` from the state file ``pipeline`` saved."""
    evaluator = Evaluator(parse_config(config).alerts, ["5m"])
    blob = snapshot(pipeline.ledger, evaluator, NOW)
    fresh = Pipeline(core_settings(parse_config(config)))
    restore(blob, fresh.ledger, evaluator, NOW + 1)
    return fresh


def _saved_and_restarted(pipeline: Pipeline, config: str, path: Path) -> Pipeline:
    """A sesd started with ``config`` from the state file ``pipeline`` wrote at ``path``."""
    evaluator = Evaluator(parse_config(config).alerts, ["5m"])
    assert write_state(str(path), snapshot(pipeline.ledger, evaluator, NOW))
    blob = read_state(str(path))
    assert blob is not None
    fresh = Pipeline(core_settings(parse_config(config)))
    restore(blob, fresh.ledger, evaluator, NOW + 1)
    return fresh


def _client(url: str) -> Any:
    """An SESv2 client of the endpoint at ``url``, made with the daemon's settings."""
    return get_session().create_client(
        "sesv2", region_name=REGION, endpoint_url=url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=tenant_config(),
    )  # fmt: skip


@asynccontextmanager
async def _reaching(
    pipeline: Pipeline, servers: dict[tuple[str, str], LocalTenants]
) -> AsyncIterator[TenantPoller]:
    """A poller of each target in ``servers``, its credentials reaching that endpoint's
    account: one put in ``servers`` anew reaches another from the next poll on."""
    async with AsyncExitStack() as stack:
        clients: dict[str, Any] = {}

        async def client_for(service: str, target: tuple[str, str]) -> Any:
            url = servers[target].url
            if url not in clients:
                clients[url] = await stack.enter_async_context(_client(url))
            return clients[url]

        ledger = pipeline.ledger
        yield TenantPoller(
            list(servers), client_for, ledger.accounts, ledger.tenant_map, ledger.tenant_status,
            every=300, clock=Clock(), recommendations=False,
        )  # fmt: skip


async def test_a_restart_without_an_accounts_role_forgets_its_accounts_map() -> None:
    """The role ``prod`` into ACCOUNT maps globex's set; sesd restarts with ``prod``
    removed, as a reload removing it would: no walk reads ACCOUNT any more, and its map
    goes with it (the file's map kept it for the whole run)."""
    before = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(before, ACCOUNT, ("prod", REGION))
    assert _mapped(before, ACCOUNT) == "globex"
    assert _mapped(_restarted(before, f"{TENANTS}{QUEUE}"), ACCOUNT) == UNKNOWN


async def test_a_restart_with_the_role_now_in_another_account_forgets_the_old_map() -> None:
    """``prod``'s role is pointed at another AWS account across the restart: the old
    account's map goes (nothing reaches it now), the label is the same."""
    before = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(before, ACCOUNT, ("prod", REGION))
    assert _mapped(_restarted(before, f"{TENANTS}{QUEUE}{_role(OTHER)}"), ACCOUNT) == UNKNOWN


async def test_a_restart_keeps_the_map_of_the_accounts_still_reached() -> None:
    """Unchanged config: the role's map and the default credentials' (their id as the
    file says, no poll having named it yet) are both kept."""
    config = f"{TENANTS}{QUEUE}{_role(OTHER)}"
    before = Pipeline(core_settings(parse_config(config)))
    await _polled(before, ACCOUNT, ("default", REGION))
    await _polled(before, OTHER, ("prod", REGION))
    after = _restarted(before, config)
    assert (_mapped(after, ACCOUNT), _mapped(after, OTHER)) == ("globex", "globex")


async def test_the_default_credentials_reaching_another_account_forget_the_old_map() -> None:
    """The default credentials' polls name ACCOUNT, then (their credentials changed)
    OTHER: ACCOUNT's map goes as OTHER's tenants are listed, not kept for the run."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}")))
    await _polled(pipeline, ACCOUNT, ("default", REGION))
    await _polled(pipeline, OTHER, ("default", REGION))
    assert (_mapped(pipeline, ACCOUNT), _mapped(pipeline, OTHER)) == (UNKNOWN, "globex")


async def test_the_default_credentials_keep_a_map_a_role_still_reaches() -> None:
    """The default credentials move from ACCOUNT to OTHER while ``prod``'s role still
    reaches ACCOUNT: its map stays (prod's own walk keeps it)."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(pipeline, ACCOUNT, ("prod", REGION))
    await _polled(pipeline, ACCOUNT, ("default", REGION))
    await _polled(pipeline, OTHER, ("default", REGION))
    assert _mapped(pipeline, ACCOUNT) == "globex"


async def test_an_account_id_past_the_bound_leaves_no_map_behind_a_reload() -> None:
    """The default credentials reach one AWS account after another, more than a label
    keeps ids of; a reload then stops watching their region. Each account's id but
    the last was forgotten as the credentials left it, yet none of the accounts keeps
    a map."""
    accounts = [f"{n:012d}" for n in range(1, MAX_IDS_PER_LABEL + 3)]
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}")))
    for account in accounts:
        await _polled(pipeline, account, ("default", REGION))
    assert pipeline.ledger.tenant_status.accounts == {accounts[-1]: "default"}
    us = f'[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/us"\n'
    pipeline.reconfigure(core_settings(parse_config(f"{TENANTS}{us}")))
    assert [_mapped(pipeline, account) for account in accounts] == [UNKNOWN] * len(accounts)


async def test_the_last_tenant_deleted_after_a_restart_forgets_the_files_map(
    tmp_path: Path,
) -> None:
    """The default credentials' poll maps globex's set in ACCOUNT; sesd saves its state
    file, stops and starts again; globex, ACCOUNT's last tenant, is deleted. The next
    poll's empty listing (from the credentials the file says reach ACCOUNT) means
    ACCOUNT has no tenants now: the map the file gave back goes, not kept for the run."""
    config = f"{TENANTS}{QUEUE}"
    before = Pipeline(core_settings(parse_config(config)))
    await _polled(before, ACCOUNT, ("default", REGION))
    after = _saved_and_restarted(before, config, tmp_path / "state")
    assert _mapped(after, ACCOUNT) == "globex"
    async with (
        LocalTenants(ACCOUNT, REGION) as emptied,
        _reaching(after, {("default", REGION): emptied}) as poller,
    ):
        await poller.poll_once()
    assert _mapped(after, ACCOUNT) == UNKNOWN


async def test_an_empty_listing_of_another_account_keeps_a_map_a_role_reaches() -> None:
    """``prod``'s role and the default credentials both reach ACCOUNT; then the default
    credentials reach OTHER, which has no tenant, while prod's walk has not come round
    (its ListTenants throttled). That empty listing says nothing of ACCOUNT, which prod
    still reaches: its map stays (it was emptied until prod's walk ended again)."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    async with LocalTenants(ACCOUNT, REGION) as first, LocalTenants(OTHER, REGION) as empty:
        first.add("globex", ("CONFIGURATION_SET", "set-globex"))
        servers = {("prod", REGION): first, ("default", REGION): first}
        async with _reaching(pipeline, servers) as poller:
            await poller.poll_once()
            assert _mapped(pipeline, ACCOUNT) == "globex"
            servers[("default", REGION)] = empty
            first.throttled.add("ListTenants")
            await poller.poll_once()
    assert _mapped(pipeline, ACCOUNT) == "globex"


async def test_a_reload_pointing_the_role_at_another_account_forgets_the_old_map() -> None:
    """``prod``'s role is pointed at another AWS account by a reload, as across the
    restart above: the old account's map goes with the reload, not only once the new
    account's tenants are listed (never, while its role may not list them)."""
    before = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(before, ACCOUNT, ("prod", REGION))
    before.reconfigure(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(OTHER)}")))
    assert _mapped(before, ACCOUNT) == UNKNOWN


async def test_a_reload_pointing_the_role_away_keeps_what_the_default_still_reaches() -> None:
    """The default credentials and ``prod`` both reach ACCOUNT; a reload points ``prod``
    at OTHER: ACCOUNT's map stays, the default credentials' walk keeps it."""
    before = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(before, ACCOUNT, ("prod", REGION))
    await _polled(before, ACCOUNT, ("default", REGION))
    before.reconfigure(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(OTHER)}")))
    assert _mapped(before, ACCOUNT) == "globex"


async def test_the_default_credentials_keep_a_map_the_config_gives_a_role() -> None:
    """The default credentials move from ACCOUNT to OTHER while ``prod``'s role into
    ACCOUNT has not listed its tenants yet (its first poll to come, or its ListTenants
    refused): ACCOUNT's map stays, as a reload keeps it, whichever poll comes first."""
    pipeline = Pipeline(core_settings(parse_config(f"{TENANTS}{QUEUE}{_role(ACCOUNT)}")))
    await _polled(pipeline, ACCOUNT, ("default", REGION))
    await _polled(pipeline, OTHER, ("default", REGION))
    assert (_mapped(pipeline, ACCOUNT), _mapped(pipeline, OTHER)) == ("globex", "globex")
