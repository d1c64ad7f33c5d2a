"""A client whose making outlives its use: the SDK's files of a first client of a kind
are read in a worker thread (tenths of a second, more on a busy host), and a reload
may retire what the client is for meanwhile (the region an account poll asks, the
canary's endpoint). Such a client is closed as soon as it is made and nothing holds
it: no later reload would, and it stayed open, its pool and sockets with it, until
the next reload or exit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from aiobotocore.session import AioSession

import sesd.runtime.aws as aws
import sesd.runtime.aws_making as aws_making
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config, parse_config
from tests.conftest import make_queue, running
from tests.fake_ses import ROLE_ACCOUNT, FakeSes
from tests.test_aws_clients import _pool_open
from tests.test_aws_clients_retired import _canary_at, _far_queue, _polled, _with_far


class Made:
    """Every client the daemon's :class:`~sesd.runtime.aws.AwsClients` made or found,
    as (service, region, endpoint, client), in the order asked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clients: list[tuple[str, str, str, Any]] = []
        client = aws.AwsClients.client

        async def recorded(clients: aws.AwsClients, service: str, *args: Any, **kw: Any) -> Any:
            made = await client(clients, service, *args, **kw)
            self.clients.append((service, made.meta.region_name, made.meta.endpoint_url, made))
            return made

        monkeypatch.setattr(aws.AwsClients, "client", recorded)

    def of(self, service: str, region: str, endpoint: str) -> list[Any]:
        return [c for s, r, e, c in self.clients if (s, r, e) == (service, region, endpoint)]


@contextmanager
def files_held(
    monkeypatch: pytest.MonkeyPatch, kind: str = "sesv2"
) -> Iterator[tuple[anyio.Event, Any]]:
    """Each read of the SDK files of service ``kind`` (a first client's, in its worker
    thread) waits until the test lets them go: yields (set once one waits, the
    release)."""
    reading, gate = anyio.Event(), threading.Event()
    read = aws_making.read_models
    token = anyio.lowlevel.current_token()

    def held(session: AioSession, service: str) -> None:
        if service == kind:
            anyio.from_thread.run_sync(reading.set, token=token)
            gate.wait(30)
        read(session, service)

    monkeypatch.setattr(aws, "_read_models", held)
    try:
        yield reading, gate.set
    finally:
        gate.set()


async def test_a_canary_client_made_as_a_reload_moves_the_canary_is_closed_once_made(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The canary's first SESv2 client is being made (the SDK's files read in a thread)
    when a reload moves the canary to another endpoint: the old canary sends nothing
    and its client, made after the reload, is closed as soon as it is made; the new
    canary sends through its own, open."""
    made = Made(monkeypatch)
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as old, FakeSes() as new:
        path.write_text(_canary_at(local_sqs, url, old))
        with files_held(monkeypatch) as (reading, release):
            async with running(load_config(str(path)), config_path=path) as daemon:
                with anyio.fail_after(10):
                    await reading.wait()
                path.write_text(_canary_at(local_sqs, url, new))
                assert await daemon.reload()
                release()
                with anyio.fail_after(20):
                    await new.wait_for(lambda ses: len(ses.requests) >= 1)
                    await daemon.changes.wait_for(
                        lambda: bool(made.of("sesv2", "us-east-1", old.url))
                    )
                (late,) = made.of("sesv2", "us-east-1", old.url)
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(lambda: not _pool_open(late))
                assert daemon.canary.sender is not None
                assert _pool_open(daemon.canary.sender.ses)
    assert old.requests == []


async def test_an_account_poll_client_made_as_a_reload_removes_its_region_is_closed(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first round of ``[account_health]`` makes SESv2 clients for both queues'
    regions (the SDK's files read in a thread) when a reload removes the queue of
    eu-west-1: that region's client, made after the reload, is closed once the round
    has ended (the round's call on it ends on it); us-east-1's stays open."""
    made = Made(monkeypatch)
    url, _ = await make_queue(sqs)
    far = await _far_queue(local_sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as fake:
        kept = _polled(local_sqs, url, fake, "cloudwatch = false\n")
        path.write_text(_with_far(kept, far))
        with files_held(monkeypatch) as (reading, release):
            async with running(load_config(str(path)), config_path=path) as daemon:
                with anyio.fail_after(10):
                    await reading.wait()
                path.write_text(kept)
                assert await daemon.reload()
                release()
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(
                        lambda: bool(made.of("sesv2", "eu-west-1", fake.url))
                    )
                (late,) = made.of("sesv2", "eu-west-1", fake.url)
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(lambda: not _pool_open(late))
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(
                        lambda: bool(made.of("sesv2", "us-east-1", fake.url))
                    )
                assert all(map(_pool_open, made.of("sesv2", "us-east-1", fake.url)))


async def test_an_sts_client_made_as_a_reload_removes_its_account_closes_after_its_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A removed account's last credential refresh (its poller's receive under way)
    makes STS's client in its region as a reload removes the account: the AssumeRole
    call is answered on it (not closed under it), and then it is closed (no account
    assumes a role there any more)."""
    from contextlib import AsyncExitStack

    made = Made(monkeypatch)
    async with FakeSes() as fake, AsyncExitStack() as stack:
        aws_keys = f'[aws]\nendpoint_url = "{fake.url}"\n'
        config = parse_config(aws_keys + ROLE_ACCOUNT)
        (account,) = config.accounts
        clients = aws.AwsClients(config, stack)
        answers: list[dict[str, str]] = []

        async def refresh() -> None:
            answers.append(await clients._assume(account))

        with files_held(monkeypatch, "sts") as (reading, release):
            async with anyio.create_task_group() as tg:
                tg.start_soon(refresh)
                with anyio.fail_after(10):
                    await reading.wait()
                removed = parse_config(aws_keys + ROLE_ACCOUNT.partition("[[accounts]]")[0])
                clients.reconfigure(removed)
                await clients.retire(removed, [])
                release()
        (sts,) = made.of("sts", "eu-west-1", fake.url)
        assert answers[0]["access_key"]
        assert len(fake.assume_role) == 1
        assert not _pool_open(sts)


async def test_sts_clients_made_at_once_for_two_accounts_are_one(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Two accounts assume their roles in one region at once (their queues' pollers
    start together, each first call refreshing its credentials): they share one STS
    client there. Then a reload removes both, and no STS client is left open (each
    made one, the second kept in place of the first, which no reload closed: it stayed
    open, its pool and sockets with it, until exit)."""
    from tests.test_aws_clients import _config, _open_clients

    url, _ = await make_queue(sqs)
    queues = [(await make_queue(sqs))[0] for _ in range(2)]
    path = tmp_path / "sesd.toml"
    readers = "".join(
        f'[[accounts]]\nname = "r{n}"\nrole_arn = "arn:aws:iam::123456789012:role/r{n}"\n'
        f'[[queues]]\nurl = "{queue}"\nname = "q{n}"\n'
        f'account = "r{n}"\nwait_time_seconds = 1\n'
        for n, queue in enumerate(queues)
    )

    def sts_open() -> list[Any]:
        return [c for c in _open_clients() if c.meta.service_model.service_name == "sts"]

    path.write_text(_config(local_sqs, url) + readers)
    async with running(load_config(str(path)), config_path=path) as daemon:
        with anyio.fail_after(20):  # each poller's first receive assumed its role
            await daemon.changes.wait_for(lambda: daemon.health.ready(daemon.monotonic())[0])
        assert len(sts_open()) == 1
        path.write_text(_config(local_sqs, url))
        assert await daemon.reload()
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: not sts_open())


async def test_one_making_at_a_time_of_a_key_and_no_lock_kept_after() -> None:
    """Makings of one key run one at a time (those of another beside them), and once
    none holds nor waits, no lock of it is kept (one a key, kept, grew with every
    client a reload ever made)."""
    from sesd.runtime.aws_making import OneEach

    one = OneEach()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0}
    together = False

    async def make(key: str) -> None:
        nonlocal together
        async with one.one(key):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            together = together or all(inside.values())
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            inside[key] -= 1

    async with anyio.create_task_group() as tg:
        for key in "aabab":
            tg.start_soon(make, key)
    assert most == {"a": 1, "b": 1}
    assert together
    assert one._locks == {}
