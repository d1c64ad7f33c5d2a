"""The AWS clients a reload makes anew: what a client is made with (its endpoint, its
connection pool) is part of which client a caller gets."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import log_records, make_queue, running, sesd_logs
from tests.fake_ses import ROLE_ACCOUNT, FakeSes

CANARY = (
    '[canary]\nfrom = "canary@example.com"\nconfiguration_set = "sesd"\ninterval = "1s"\n'
    'deadline = "2m"\nqueue = "q"\n'
)


def _config(local: LocalSqs, url: str, concurrency: int = 1, extra: str = "", wait: int = 1) -> str:
    """The config of queue ``url`` on moto, long-polled ``wait`` s (0: short polls)."""
    return (
        f'[aws]\nendpoint_url = "{local.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = {wait}\n'
        f"concurrency = {concurrency}\n"
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n' + extra
    )


def _pool(client: Any) -> int:
    """How many requests a client's connection pool lets through at once."""
    return int(client._endpoint.http_session._max_pool_connections)


async def test_a_reload_that_raises_concurrency_gives_the_pollers_room(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """From 1 poller to 24: the queue's clients hold 24 requests at once (and four
    more), as at a start with 24; a pool sized for one would queue 19 of them."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(_config(local_sqs, url))
    async with running(load_config(str(path)), config_path=path) as daemon:
        queue = daemon.config.queues[0]
        assert _pool(daemon.sqs(queue, "receive")) == 5
        path.write_text(_config(local_sqs, url, concurrency=24))
        assert await daemon.reload()
        queue = daemon.config.queues[0]
        assert _pool(daemon.sqs(queue, "receive")) == 28
        assert _pool(daemon.sqs(queue)) == 28


async def test_a_reload_that_moves_the_canary_endpoint_sends_there(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """`[canary] endpoint_url` changes at a reload: the next SendEmail goes to the new
    endpoint, not to the client made for the old one."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as old, FakeSes() as new:
        path.write_text(_config(local_sqs, url, extra=CANARY + f'endpoint_url = "{old.url}"\n'))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(10):
                await old.wait_for(lambda ses: len(ses.requests) >= 1)
            path.write_text(_config(local_sqs, url, extra=CANARY + f'endpoint_url = "{new.url}"\n'))
            assert await daemon.reload()
            with anyio.fail_after(10):
                await new.wait_for(lambda ses: len(ses.requests) >= 1)


async def test_aws_keys_sign_the_default_accounts_calls(local_sqs: LocalSqs) -> None:
    """`[aws] access_key_id` and `secret_access_key` (when the default chain is not
    available) sign the default account's calls, over the environment's keys."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config, read_secrets
    from sesd.runtime.aws import AwsClients

    config = read_secrets(
        parse_config(
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            'access_key_id = "AKIAFROMCONFIG"\nsecret_access_key = "from-config"\n'
        )
    )
    async with AsyncExitStack() as stack:
        clients = AwsClients(config, stack)
        sqs = await clients.client("sqs", "", "us-east-1", AioConfig())
        credentials = await sqs._request_signer._credentials.get_frozen_credentials()
    assert credentials.access_key == "AKIAFROMCONFIG"
    assert credentials.secret_key == "from-config"


async def test_an_accounts_external_id_goes_with_its_assume_role(local_sqs: LocalSqs) -> None:
    """An [[accounts]] entry's `external_id` is sent with the AssumeRole of its role
    (a role that requires one refuses the call without it)."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import DEFAULT_ACCOUNT, AwsClients

    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        '[[accounts]]\nname = "prod-eu"\nrole_arn = "arn:aws:iam::210987654321:role/r"\n'
        'external_id = "sesd-7f3a"\nregion = "eu-west-1"\n'
    )
    (account,) = config.accounts
    asked: list[dict[str, Any]] = []
    async with AsyncExitStack() as stack:
        clients = AwsClients(config, stack)
        sts = await clients.client(
            "sts", DEFAULT_ACCOUNT, "eu-west-1",
            AioConfig(connect_timeout=5, read_timeout=10, retries={"mode": "standard"}),
        )  # fmt: skip
        sts.meta.events.register(
            "provide-client-params.sts.AssumeRole", lambda params, **_: asked.append(params)
        )
        credentials = await clients._assume(account)
    assert asked[0]["ExternalId"] == "sesd-7f3a"
    assert asked[0]["RoleArn"] == "arn:aws:iam::210987654321:role/r"
    assert credentials["access_key"]


async def test_a_first_client_reads_the_sdks_files_off_the_event_loop() -> None:
    """The SDK's JSON files a first SESv2 or SQS client needs (tenths of a second to
    parse) are read in a worker thread, not on the event loop every poll shares; a
    second client of the kind reads none."""
    import threading
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import DEFAULT_ACCOUNT, AwsClients

    config = parse_config('[aws]\nregion = "eu-west-1"\n')
    loop_thread = threading.get_ident()
    on_loop: list[str] = []
    async with AsyncExitStack() as stack:
        clients = AwsClients(config, stack)
        files = clients._session(DEFAULT_ACCOUNT).get_component("data_loader").file_loader
        read = files.load_file

        def load_file(path: str) -> Any:
            found = read(path)
            # A file that is not there (the SDK looks for optional extras at each
            # client) costs a stat, not a parse.
            if found is not None and threading.get_ident() == loop_thread:
                on_loop.append(path)
            return found

        files.load_file = load_file
        for service in ("sesv2", "sqs"):
            await clients.client(service, "", "eu-west-1", AioConfig())
        await clients.client("sqs", "", "eu-west-1", AioConfig(), use="other")
    assert on_loop == [], on_loop


async def test_while_sts_fails_the_sdks_refresh_warning_is_one_line_an_episode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """STS (the fake) refuses every AssumeRole of an account's role while sesd makes
    five calls with its credentials, a minute apart: the SDK warns at each failed
    refresh, and one line of it is logged, not five. Once no refresh has failed for
    REFRESH_QUIET (a new episode), the next failure is logged again."""
    from contextlib import AsyncExitStack

    from botocore.exceptions import ClientError

    from sesd.config import parse_config
    from sesd.io import logs
    from sesd.runtime.aws import AwsClients, poll_config

    stream = sesd_logs("info")
    now = [1000.0]
    monkeypatch.setattr(logs, "_clock", lambda: now[0])

    def refresh_lines() -> list[str]:
        records = log_records(stream)
        return [r["event"] for r in records if r.get("logger") == "aiobotocore.credentials"]

    async with FakeSes() as fake, AsyncExitStack() as stack:
        clients = AwsClients(
            parse_config(f'[aws]\nendpoint_url = "{fake.url}"\n' + ROLE_ACCOUNT),
            stack,
        )
        ses = await clients.client("sesv2", "prod-eu", "eu-west-1", poll_config(attempts=1))
        fake.script_sts(*[403] * 6)  # refused: STS's client does not retry it
        for _ in range(5):
            with pytest.raises(ClientError):
                await ses.get_account()
            now[0] += 60
        (line,) = refresh_lines()
        assert "Refreshing temporary credentials failed" in line
        assert "AccessDenied" in line
        assert "repeats not logged" in line
        now[0] += logs.REFRESH_QUIET
        with pytest.raises(ClientError):
            await ses.get_account()
    assert len(fake.assume_role) == 6
    assert len(refresh_lines()) == 2


def _pool_open(client: Any) -> bool:
    """Whether a client's connections are open (its HTTP session is None once closed)."""
    return client._endpoint.http_session._sessions is not None


def _instances(cls: type) -> list[Any]:
    """Every object of this process that is a ``cls``. Each refers to its class (the
    collector's walk of an instance of a class made in Python visits its type), and
    each of their classes is alive, so among ``cls``'s subclasses: the referrers of
    those, asked of the collector in C, not every one of the process' few hundred
    thousand objects tested here in Python (a tenth of a second or more a call)."""
    classes, todo = [], [cls]
    while todo:
        classes.append(todo.pop())
        todo.extend(classes[-1].__subclasses__())
    # The daemon moves what it holds into the permanent generation (sesd.runtime.
    # collector), which the collector's walks skip: back, to be found.
    gc.unfreeze()
    return [o for o in gc.get_referrers(*classes) if isinstance(o, cls)]


def _open_clients() -> list[Any]:
    """The AWS clients of this process whose connections are not closed."""
    from aiobotocore.client import AioBaseClient

    return [o for o in _instances(AioBaseClient) if _pool_open(o)]


async def test_a_reload_that_fails_closes_the_clients_it_made_and_no_other(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload adds two queues: the first's SQS clients are made (a pool for three
    queues' pollers), then the second's, read through a new [[accounts]] role, cannot
    be (the SDK's config file was broken meanwhile), and the reload fails. The clients
    it made are closed, each time it is tried (left open, they stayed until exit,
    reused by the next try). The running queue's clients stay open,
    and still work; once the SDK's file is mended, the reload opens the two."""
    from botocore.exceptions import ConfigParseError

    sdk_file = tmp_path / "aws-config"
    sdk_file.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(sdk_file))
    first, _ = await make_queue(sqs)
    added, _ = await make_queue(sqs)
    other, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(_config(local_sqs, first))
    more = (
        f'[[queues]]\nurl = "{added}"\nname = "added"\nwait_time_seconds = 1\n'
        '[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::123456789012:role/r"\n'
        f'[[queues]]\nurl = "{other}"\nname = "other"\naccount = "reader"\n'
        "wait_time_seconds = 1\n"
    )
    async with running(load_config(str(path)), config_path=path) as daemon:
        queue = daemon.config.queues[0]
        running_clients = [daemon.sqs(queue), daemon.sqs(queue, "receive")]
        before = _open_clients()
        assert all(client in before for client in running_clients)
        # The default account's session read the file at the start; a new account's
        # reads it as its first client is made.
        sdk_file.write_text("[default\nregion = us-east-1\n")
        path.write_text(_config(local_sqs, first) + more)
        for _ in range(2):
            with pytest.raises(ConfigParseError):
                await daemon.reload()
            after = _open_clients()  # each a walk of the process' objects: once
            assert len(after) == len(before)
        assert all(client in after for client in running_clients)
        assert [q.label for q in daemon.config.queues] == ["q"]
        for client in running_clients:  # and still answered through
            await client.get_queue_attributes(QueueUrl=first, AttributeNames=["QueueArn"])

        sdk_file.write_text("")
        assert await daemon.reload()
        assert [q.label for q in daemon.config.queues] == ["q", "added", "other"]
        assert len(_open_clients()) == len(before) + 4


async def test_a_failed_try_gives_back_the_client_it_made_another_in_place_of() -> None:
    """A try (a reload's) makes a client where one of the config in force is, for the
    same queue's use, as another role's (an account removed and added again): when the
    try fails, its client is closed and the one in force is what a caller gets again,
    open; a client the try found and reused is not closed."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients, Made

    def reader(role: str) -> Any:
        return parse_config(f'[[accounts]]\nname = "reader"\nrole_arn = "{role}"\n')

    running, other = (
        reader("arn:aws:iam::111111111111:role/r"),
        reader("arn:aws:iam::222222222222:role/r"),
    )
    at = ("sqs", "reader", "us-east-1", AioConfig(), "http://127.0.0.1:9")
    async with AsyncExitStack() as stack:
        clients = AwsClients(running, stack)
        in_force = await clients.client(*at, accounts=running)
        made: Made = []
        found = await clients.client(*at, accounts=running, made=made)
        tried = await clients.client(*at, accounts=other, made=made)
        assert found is in_force
        assert tried is not in_force
        await clients.discard(made)
        assert not _pool_open(tried)
        assert _pool_open(in_force)
        assert await clients.client(*at, accounts=running) is in_force


async def _sessions() -> int:
    """How many SDK sessions this process keeps alive (each holds the models its
    clients' services read: about 8 MB for SQS's). A worker thread holds the arguments
    of the last call it ran (the models' read, given a session) until it runs another:
    one that holds nothing, first."""
    from aiobotocore.session import AioSession

    await anyio.to_thread.run_sync(gc.unfreeze)
    gc.collect()
    return len(_instances(AioSession))


async def test_a_failed_try_keeps_no_session_of_a_role_only_it_used() -> None:
    """Tries (reloads') that each make an SQS client for a new [[accounts]] role, then
    fail: with its client, each role's session goes, and the SDK's models it read
    (about 8 MB for SQS): kept, each role tried held them until exit. The session of
    the credentials in force, whose client a try reused, stays, its client open."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients, Made

    def reader(role: str) -> Any:
        return parse_config(
            f'[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::123456789012:role/{role}"\n'
        )

    at = ("sqs", "reader", "us-east-1", AioConfig(), "http://127.0.0.1:9")
    running = reader("in-force")
    async with AsyncExitStack() as stack:
        clients = AwsClients(running, stack)
        in_force = await clients.client(*at, accounts=running)
        before = await _sessions()
        for role in ("r1", "r2", "r3", "in-force"):
            made: Made = []
            await clients.client(*at, accounts=reader(role), made=made)
            await clients.discard(made)
            assert await _sessions() == before
        assert _pool_open(in_force)
        assert await clients.client(*at, accounts=running) is in_force
