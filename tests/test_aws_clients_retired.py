"""The AWS clients a reload in force no longer needs: closed once nothing uses them,
so that reloads, however many, leave no connection pools (and their sockets) open
until exit."""

from __future__ import annotations

import io
import time
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import log_records, make_queue, running, sesd_logs
from tests.fake_ses import FakeSes, Reply
from tests.test_aws_clients import CANARY, _config, _open_clients, _pool_open, _sessions


def _short(local: LocalSqs, url: str, concurrency: int = 1, extra: str = "") -> str:
    """The config of queue ``url`` on moto, short-polled. A stop (a reload's, the end of
    a test) ends a poller's pause between two short polls at once, where it waits for a
    long poll in flight to come back: a second each time, and these tests (but the one
    of a receive in flight) wait for stops, not for receives."""
    return _config(local, url, concurrency, extra, wait=0)


async def test_reloads_that_change_concurrency_leave_no_clients_open(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Five reloads alternate the queue's concurrency between 2 and 3: each makes the
    queue's clients anew (their pool sized for its pollers) and stops its old pollers.
    Once those have stopped, the old clients are closed: as many clients are open as
    at the start (they stayed open until exit, one pair more for each pool size)."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(_short(local_sqs, url))
    async with running(load_config(str(path)), config_path=path) as daemon:
        before = len(_open_clients())
        for reloads, concurrency in enumerate([2, 3, 2, 3, 2], start=1):
            path.write_text(_short(local_sqs, url, concurrency=concurrency))
            assert await daemon.reload()
            # The old pollers end their pause between two short polls and stop.
            with anyio.fail_after(20):
                await daemon.changes.wait_for(partial(_stopped, logs, reloads))
        # The stop line comes as the pollers let go of their clients; the check of the
        # queue a reload started (a GetQueueAttributes) may still hold clients the next
        # reload retired, closed as its answer comes: waited for, a change at a time.
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: len(_open_clients()) == before)
    assert "receive_failed" not in logs.getvalue()


async def _far_queue(local: LocalSqs) -> str:
    """A queue in eu-west-1 (moto keeps each region's queues apart)."""
    from aiobotocore.session import get_session

    async with get_session().create_client(
        "sqs",
        region_name="eu-west-1",
        endpoint_url=local.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as far:
        return str((await far.create_queue(QueueName="far"))["QueueUrl"])


def _with_far(kept: str, far: str, wait: int = 0) -> str:
    """The config ``kept`` and the queue ``far`` in eu-west-1, long-polled ``wait`` s (0:
    short polls)."""
    return (
        kept
        + f'[[queues]]\nurl = "{far}"\nname = "far"\nregion = "eu-west-1"\n'
        + f"wait_time_seconds = {wait}\n"
    )


def _polled(local: LocalSqs, url: str, ses: FakeSes, more: str) -> str:
    """The config of queue ``url`` whose accounts are polled on the fake ``ses``, with
    ``more`` of ``[account_health]``."""
    return _short(local, url) + f'[account_health]\nses_endpoint_url = "{ses.url}"\n' + more


def _canary_at(local: LocalSqs, url: str, ses: FakeSes) -> str:
    """The config of queue ``url`` whose canary sends through the fake ``ses``."""
    return _short(local, url, extra=CANARY + f'endpoint_url = "{ses.url}"\n')


def _stopped(logs: io.StringIO, times: int) -> bool:
    return logs.getvalue().count("sesd.queue.stopped") == times


async def test_a_removed_queues_clients_close_after_its_receive_in_flight(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload removes queue ``far`` (another region: clients of its own) while its
    poller waits in a long poll. Its clients stay open until that receive has come
    back (closed under it, the receive would fail), then are closed; the kept
    queue's clients stay open."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    far = await _far_queue(local_sqs)
    path = tmp_path / "sesd.toml"
    kept = _short(local_sqs, url)
    path.write_text(_with_far(kept, far, wait=2))
    async with running(load_config(str(path)), config_path=path) as daemon:
        queues = daemon.config.queues
        old = [daemon.sqs(queues[1]), daemon.sqs(queues[1], "receive")]
        staying = [daemon.sqs(queues[0]), daemon.sqs(queues[0], "receive")]
        path.write_text(kept)
        assert await daemon.reload()
        assert all(_pool_open(client) for client in old + staying)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: "sesd.queue.stopped" in logs.getvalue())
        assert not any(_pool_open(client) for client in old)
        assert all(_pool_open(client) for client in staying)
    assert "receive_failed" not in logs.getvalue()


async def test_the_exit_stack_holds_one_callback_however_many_clients() -> None:
    """Every client made pushed its closing onto the daemon's exit stack, kept there
    after the client was closed: the stack grew with each client a reload made. It
    holds one callback, which closes every client still open at exit."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients

    config = parse_config("")
    async with AsyncExitStack() as stack:
        clients = AwsClients(config, stack)
        made = [
            await clients.client("sqs", "", "us-east-1", AioConfig(), use=f":{n}") for n in range(3)
        ]
        # The stack's own list: what it will call at exit.
        assert len(stack._exit_callbacks) == 1  # type: ignore[attr-defined]
    assert not any(_pool_open(client) for client in made)


async def test_a_client_whose_close_hangs_keeps_no_other_open() -> None:
    """At exit, the close of the middle one of three clients hangs (a connection that
    never finishes closing): it is cut off within its share of the room the exit has,
    and the clients closed before and after it are closed all the same, all within the
    room. Closed one after the other, the hung close held every client after it open."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients

    logs = sesd_logs("info")
    async with AsyncExitStack() as stack:
        clients = AwsClients(parse_config(""), stack)
        made = [
            await clients.client("sqs", "", "us-east-1", AioConfig(), use=f":{n}") for n in range(3)
        ]
        # Its connections' close (what the client's exit awaits) never ends.
        made[1]._endpoint.http_session.__aexit__ = lambda *_: anyio.sleep_forever()
        with anyio.move_on_after(0.6, shield=True) as room:
            await stack.aclose()
    assert not room.cancelled_caught
    assert [_pool_open(client) for client in made] == [False, True, False]
    assert "aws_client sqs default us-east-1" in [r.get("what") for r in log_records(logs)]
    # What the hung close left, closed as it would have been.
    hung = made[1]._endpoint.http_session
    del hung.__aexit__
    await hung.__aexit__(None, None, None)


async def test_the_canarys_old_client_closes_once_the_old_sender_ends(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload moves ``[canary] endpoint_url``: the new sender sends through a client
    of its own, and the old sender's client is closed once it has ended (it stayed
    open until exit, one more for each endpoint or timeout a reload gave)."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as old, FakeSes() as new:
        path.write_text(_canary_at(local_sqs, url, old))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(10):
                await old.wait_for(lambda ses: len(ses.requests) >= 1)
            assert daemon.canary.sender is not None
            before = daemon.canary.sender.ses
            path.write_text(_canary_at(local_sqs, url, new))
            assert await daemon.reload()
            with anyio.fail_after(10):
                await new.wait_for(lambda ses: len(ses.requests) >= 1)
                await daemon.changes.wait_for(lambda: not _pool_open(before))
            assert daemon.canary.sender.ses is not before
            assert _pool_open(daemon.canary.sender.ses)


async def test_a_removed_regions_poll_clients_close(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """``[account_health]`` polls both queues' regions (SESv2 on a fake, CloudWatch on
    moto). A reload removes the queue of eu-west-1: that region is polled no more, and
    its two clients are closed (once no round holds them); us-east-1's stay open."""
    url, _ = await make_queue(sqs)
    far = await _far_queue(local_sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as fake:
        kept = _polled(local_sqs, url, fake, f'cloudwatch_endpoint_url = "{local_sqs.url}"\n')
        path.write_text(_with_far(kept, far))
        async with running(load_config(str(path)), config_path=path) as daemon:
            assert daemon.aws is not None
            clients = daemon.aws._clients

            def polled(region: str) -> list[Any]:
                return [e[0] for k, e in clients.items() if k[2] == region and k[3] == "health"]

            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: len(polled("eu-west-1")) == len(polled("us-east-1")) == 2
                )
            gone, staying = polled("eu-west-1"), polled("us-east-1")
            path.write_text(kept)
            assert await daemon.reload()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: not any(map(_pool_open, gone)))
            assert all(map(_pool_open, staying))


async def test_an_account_removed_then_added_with_another_role_leaves_one_pair(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload removes the ``reader`` account and its queue; its clients close once
    its poller has stopped. Another adds ``reader`` back with another role: its queue
    gets clients signed with that role, and as many clients are open as at the start
    (the old role's stayed open until exit, replaced in place but never closed)."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    read, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"

    def reader(account_id: str) -> str:
        return (
            f'[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::{account_id}:role/r"\n'
            f'[[queues]]\nurl = "{read}"\nname = "read"\naccount = "reader"\n'
            "wait_time_seconds = 0\n"
        )

    def sqs_clients() -> int:
        # (Not STS's, made at the role's first call: by the poller, at its own time.)
        return sum(c.meta.service_model.service_name == "sqs" for c in _open_clients())

    path.write_text(_short(local_sqs, url) + reader("111111111111"))
    async with running(load_config(str(path)), config_path=path) as daemon:
        before = sqs_clients()
        old = daemon.sqs(daemon.config.queues[1])
        path.write_text(_short(local_sqs, url))
        assert await daemon.reload()
        with anyio.fail_after(20):
            await daemon.changes.wait_for(partial(_stopped, logs, 1))
            # (The queue's check, started with it, may hold its clients a moment more.)
            await daemon.changes.wait_for(lambda: sqs_clients() == before - 2)
        path.write_text(_short(local_sqs, url) + reader("222222222222"))
        assert await daemon.reload()
        assert daemon.sqs(daemon.config.queues[1]) is not old
        assert sqs_clients() == before


async def test_a_poll_rounds_clients_close_after_the_round_not_under_its_call(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload removes eu-west-1's queue while the round's GetAccount there is under
    way (the fake holds it): the region's SESv2 client stays open for the call, and
    is closed once the round has ended."""
    url, _ = await make_queue(sqs)
    far = await _far_queue(local_sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as fake:
        fake.account_gate = gate = anyio.Event()
        kept = _polled(local_sqs, url, fake, "cloudwatch = false\n")
        path.write_text(_with_far(kept, far))
        async with running(load_config(str(path)), config_path=path) as daemon:
            assert daemon.aws is not None
            with anyio.fail_after(20):
                await fake.wait_for(lambda ses: ses.account_requests == 2)
            (gone,) = [
                e[0] for k, e in daemon.aws._clients.items() if k[2:4] == ("eu-west-1", "health")
            ]
            path.write_text(kept)
            assert await daemon.reload()
            assert _pool_open(gone)
            gate.set()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: not _pool_open(gone))


async def test_the_canarys_send_in_flight_ends_on_its_client(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload moves the canary while its SendEmail is under way (the fake holds it):
    the old client stays open until that send has its answer, which counts as sent
    (closed under it, the send failed: a canary failure no path had), then closes."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    async with FakeSes() as old, FakeSes() as new:
        old.script(Reply(hold=True))
        path.write_text(_canary_at(local_sqs, url, old))
        async with running(load_config(str(path)), config_path=path) as daemon:
            with anyio.fail_after(10):
                await old.wait_for(lambda ses: ses.held == 1)
            assert daemon.canary.sender is not None
            before = daemon.canary.sender.ses
            path.write_text(_canary_at(local_sqs, url, new))
            assert await daemon.reload()
            assert _pool_open(before)
            old.release()
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: not _pool_open(before))
    assert old.answered == [200]
    assert "sesd.canary.send_failed" not in logs.getvalue()


async def test_a_removed_accounts_session_goes_with_its_clients(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload removes the ``reader`` account and its queue: with its clients, its SDK
    session goes, and the models its clients read (about 8 MB for SQS). Kept, each
    account a reload removed held them until exit, however many reloads."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    read, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    reader = (
        '[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::111111111111:role/r"\n'
        f'[[queues]]\nurl = "{read}"\nname = "read"\naccount = "reader"\n'
        "wait_time_seconds = 0\n"
    )
    path.write_text(_short(local_sqs, url) + reader)
    async with running(load_config(str(path)), config_path=path) as daemon:
        assert daemon.aws is not None
        before = await _sessions()
        path.write_text(_short(local_sqs, url))
        assert await daemon.reload()
        with anyio.fail_after(20):
            await daemon.changes.wait_for(partial(_stopped, logs, 1))
        assert [who for who in daemon.aws._sessions if who != "default"] == []
        assert await _sessions() == before - 1


async def test_accounts_removed_leave_no_session_nor_sts_client(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Three times a reload adds account ``reader`` (each time another role, in another
    region) with a queue, whose poller assumes the role (STS's client in that region),
    and the next removes both. Once the poller has stopped, the role's SDK session (its
    credential refresher, the models its clients read: about 8 MB for SQS) and STS's
    client, which no account in force uses, are gone: as many sessions and clients as
    before the first (each role kept its session, and each region its STS client,
    until exit)."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"

    def reader(n: int, region: str) -> str:
        return (
            f'[[accounts]]\nname = "reader"\nrole_arn = "arn:aws:iam::{n:012d}:role/r"\n'
            f'region = "{region}"\n[[queues]]\nurl = "{url}"\nname = "read"\n'
            'account = "reader"\nwait_time_seconds = 0\n'
        )

    def sts_open(region: str) -> bool:
        return any(
            (c.meta.service_model.service_name, c.meta.region_name) == ("sts", region)
            for c in _open_clients()
        )

    def sts_made(clients: dict[tuple[Any, ...], Any], region: str) -> bool:
        # The daemon's record of its clients, cheap to read at each change: every
        # object of the process is walked (sts_open) once, when it holds.
        return any((key[0], key[2]) == ("sts", region) for key in clients)

    path.write_text(_short(local_sqs, url))
    async with running(load_config(str(path)), config_path=path) as daemon:
        assert daemon.aws is not None
        before = len(_open_clients()), await _sessions()
        for n, region in enumerate(["eu-west-1", "eu-west-2", "eu-central-1"], start=1):
            path.write_text(_short(local_sqs, url) + reader(n, region))
            assert await daemon.reload()
            with anyio.fail_after(20):  # the poller's first call assumed the role
                await daemon.changes.wait_for(partial(sts_made, daemon.aws._clients, region))
            assert sts_open(region)
            path.write_text(_short(local_sqs, url))
            assert await daemon.reload()
            with anyio.fail_after(20):
                await daemon.changes.wait_for(partial(_stopped, logs, n))
        assert (len(_open_clients()), await _sessions()) == before


def _close_held(client: Any, unhang: anyio.Event) -> Any:
    """``client``'s HTTP session, its close made to hang until ``unhang`` is set (a
    connection that never finishes closing), then to close as it would have."""
    session = client._endpoint.http_session
    close = session.__aexit__

    async def hangs(*exc: object) -> None:
        await unhang.wait()
        await close(*exc)

    session.__aexit__ = hangs
    return session


async def test_a_retired_client_whose_close_hangs_does_not_hold_its_holder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload retires a client a call in flight holds, and the client's close, run as
    that call ends, hangs (a connection that never finishes closing): it is cut off
    within the room a close has (here 0.3 s) and said so by name, and the holder (a
    receive, a poll round) goes on. Unbounded and shielded, that close held the holder
    for ever: a stop waited on it, and the stop's last save never came."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients

    monkeypatch.setattr("sesd.runtime.aws_closing.EXIT_ROOM", 0.3)
    logs = sesd_logs("info")
    unhang = anyio.Event()
    held_ended = anyio.Event()
    async with AsyncExitStack() as stack:
        clients = AwsClients(parse_config(""), stack)
        client = await clients.client("sqs", "", "us-east-1", AioConfig(), use=":0")
        session = _close_held(client, unhang)

        async def holder() -> None:
            async with clients.holding(client):
                await clients._closing.retire(client, ":0")
            held_ended.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(holder)
            try:
                with anyio.fail_after(0.3 * 3):
                    await held_ended.wait()
            finally:
                unhang.set()
    assert "aws_client sqs default us-east-1" in [r.get("what") for r in log_records(logs)]
    # What the hung close left, closed as it would have been.
    del session.__aexit__
    await session.__aexit__(None, None, None)


async def test_a_retired_client_closed_as_the_exit_runs_has_its_share_of_it() -> None:
    """The exit has begun (the stop's last save returned) with 0.6 s left of its closes'
    plan, two closes still to run (the AWS clients', the HTTP server's, which takes
    0.1 s), when a retired client's last holder ends (a receive, as the tasks stop) and
    its close hangs: it is cut off at its share, a third of what is left, and the
    plan's closes have theirs, the HTTP server's closed. Given a close's whole room
    (5 s), it held the exit past its bound (3 s after the save), which ended sesd
    mid-plan, the closes after it never run; given what was left of the plan, it took
    it all, and the plan's closes were cut off as they began."""
    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients
    from sesd.runtime.closes import Closes
    from sesd.runtime.exit_room import TAIL, ExitRoom

    unhang = anyio.Event()
    room = ExitRoom(TAIL + 0.6)
    plan = Closes()
    room.planned = partial(len, plan)
    closed = []

    async def http_server_close() -> None:
        await anyio.sleep(0.1)  # (its work)
        closed.append("http_server")

    plan.part("http_server").push_async_callback(http_server_close)
    clients = AwsClients(parse_config(""), plan.part("aws_clients"), room)
    client = await clients.client("sqs", "", "us-east-1", AioConfig(), use=":0")
    session = _close_held(client, unhang)
    try:
        async with clients.holding(client):
            await clients._closing.retire(client, ":0")
            begun = room.begin()
        # (Shielded: a scope around it would wait as long.)
        took = time.monotonic() - begun
        await plan.aclose(anyio.current_time() + room.closes_left())
    finally:
        unhang.set()
    assert 0.15 < took < 0.45
    assert closed == ["http_server"]
    del session.__aexit__
    await session.__aexit__(None, None, None)


async def test_a_failed_reloads_client_whose_close_hangs_does_not_hold_the_reload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload that fails made two clients, and the close of the first made (closed
    last) hangs (a connection that never finishes closing): it is cut off within the
    room a close has (here 0.3 s) and said so by name, the other is closed all the
    same, and the failed reload goes on (to say it failed). Unbounded, that close held
    the failed reload for ever, and every reload after it waited behind it."""
    from contextlib import AsyncExitStack

    from aiobotocore.config import AioConfig

    from sesd.config import parse_config
    from sesd.runtime.aws import AwsClients, Made

    monkeypatch.setattr("sesd.runtime.aws_closing.EXIT_ROOM", 0.3)
    logs = sesd_logs("info")
    unhang = anyio.Event()
    async with AsyncExitStack() as stack:
        clients = AwsClients(parse_config(""), stack)
        made: Made = []
        hung, other = [
            await clients.client("sqs", "", region, AioConfig(), use=":0", made=made)
            for region in ("us-east-1", "eu-west-1")
        ]
        session = _close_held(hung, unhang)
        try:
            with anyio.fail_after(0.3 * 3):
                await clients.discard(made)
        finally:
            unhang.set()
        assert made == []
        assert clients._clients == {}
        assert other._endpoint.http_session._sessions is None  # closed
    assert "aws_client sqs default us-east-1" in [r.get("what") for r in log_records(logs)]
    del session.__aexit__
    await session.__aexit__(None, None, None)
