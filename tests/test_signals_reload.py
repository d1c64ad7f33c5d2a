"""Signals while a reload hangs (its config on a hung network mount): a stop signal is
still read, stops sesd, and the process exits."""

from __future__ import annotations

import os
import signal
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
from sesd.runtime.in_flight import InFlight
from sesd.runtime.signals import watch_signals
from tests.conftest import make_queue, running
from tests.fake_ses import FakeSes
from tests.fifo_gates import open_for_writing
from tests.sesd_process import config_file, sesd_process

pytestmark = pytest.mark.timeout(30)


async def test_a_reload_that_hangs_holds_no_stop_and_reloads_do_not_pile_up() -> None:
    """SIGHUP starts a reload that never ends; SIGTERM then stops sesd (it was not even
    read while the watch awaited the reload). SIGHUPs meanwhile wait as one reload.
    Ended, the watch leaves no handler of its own in the process that ran it (the
    exit's is a daemon's run's, which puts back what it found): each signal does what
    it did before (a Ctrl-C, the event loop's runner's). The watch had installed the
    exit's, for good: a Ctrl-C or a SIGTERM then ended the process by ``os._exit`` (no
    cleanup), a SIGHUP was ignored."""
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    before = [signal.getsignal(s) for s in stops]
    stopped, hung = anyio.Event(), anyio.Event()
    started = []

    async def reload() -> None:
        started.append(1)
        hung.set()
        await anyio.sleep_forever()

    async def save(**_: object) -> None:
        raise AssertionError("a first stop signal saves nothing here")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            watch = partial(
                watch_signals, stopped.set, reload, anyio.Event(), save, in_flight=InFlight()
            )
            await tasks.start(watch)
            for _ in range(3):
                os.kill(os.getpid(), signal.SIGHUP)
            await hung.wait()
            os.kill(os.getpid(), signal.SIGTERM)
            await stopped.wait()
            tasks.cancel_scope.cancel()
    assert started == [1]
    assert [signal.getsignal(s) for s in stops] == before


async def test_a_program_watching_a_signal_of_its_own_meanwhile_keeps_no_stop_from_sesd() -> None:
    """A program embedding sesd begins watching a signal of its own (SIGUSR1, through
    its event loop) while the watch runs: its loop makes its own pipe the process's
    wakeup file, and none once it is done. A SIGTERM, meanwhile and after, still
    reaches the watch once each, the program's SIGUSR1 still reaches it, and once both
    are done the wakeup file is as it was. The stop went to the program's loop, which
    dropped it (not one of its signals), or nowhere: sesd never stopped."""
    told, stops = anyio.create_memory_object_stream[None](4)

    async def save(**_: object) -> None:
        raise AssertionError("no stop signal here is a second one")

    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            stop = partial(told.send_nowait, None)
            watch = partial(
                watch_signals, stop, _no_reload, anyio.Event(), save, in_flight=InFlight()
            )
            await tasks.start(watch)
            with anyio.open_signal_receiver(signal.SIGUSR1) as own:
                os.kill(os.getpid(), signal.SIGUSR1)
                async for signum in own:
                    assert signum == signal.SIGUSR1
                    break
                os.kill(os.getpid(), signal.SIGTERM)
                await stops.receive()
            os.kill(os.getpid(), signal.SIGTERM)
            await stops.receive()
            await anyio.wait_all_tasks_blocked()
            tasks.cancel_scope.cancel()
    with told, stops, pytest.raises(anyio.WouldBlock):
        stops.receive_nowait()  # once each
    assert signal.set_wakeup_fd(wakeup) == wakeup


async def _no_reload() -> None:
    raise AssertionError("no SIGHUP was sent")


async def test_a_signal_handled_outside_python_is_left_to_its_handler(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program embedding sesd handles SIGHUP in C, a handler Python cannot read (nor
    set again): a run watching signals leaves SIGHUP to it, ends without an error, and
    puts back what SIGTERM and SIGINT did. It took SIGHUP over, and as it ended raised
    TypeError putting back what it had read (None)."""
    url, _ = await make_queue(sqs)
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
    )
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    before = [signal.getsignal(s) for s in stops]
    readable = signal.getsignal
    monkeypatch.setattr(signal, "getsignal", lambda s: None if s == signal.SIGHUP else readable(s))
    async with running(config, signals=True):
        assert readable(signal.SIGHUP) == before[2]
    assert [readable(s) for s in stops] == before


@pytest.mark.timeout(60)
async def test_sesd_exits_after_a_stop_while_its_reload_hangs_on_a_file(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """`sesd run`'s config becomes a FIFO nobody writes (a file on a hung network
    mount): SIGHUP's read hangs in its thread; SIGTERM stops sesd, and the process
    exits rather than wait for the read for ever (systemd would wait out its stop
    timeout, then kill it and mark the unit failed)."""
    url, _ = await make_queue(sqs)
    path = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n',
    )
    async with sesd_process(path) as sesd:
        path.unlink()
        os.mkfifo(path)
        sesd.process.send_signal(signal.SIGHUP)
        # Opening the FIFO to write returns once the reload has opened it to read; the
        # read then waits for bytes that never come.
        async with open_for_writing(path):
            sesd.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                await sesd.wait_for_event("sesd.daemon.stopped")
                code = await sesd.process.wait()
    assert code == 0


#: ``sesd run`` whose opening of the queue named ``added`` (making its SQS clients)
#: waits until the FIFO named first is opened for writing and closed: a reload that
#: adds it is still opening it when the test sends the stop.
SLOW_TO_OPEN_ADDED = """
import sys
import anyio
gate = sys.argv.pop(1)
from sesd.runtime import aws
made = aws.AwsClients.queue_clients
def wait():
    with open(gate, "rb") as held:
        held.read()
async def queue_clients(self, queue, config, *rest):
    if queue.label == "added":
        await anyio.to_thread.run_sync(wait)
    return await made(self, queue, config, *rest)
aws.AwsClients.queue_clients = queue_clients
from sesd.commands.main import main
sys.exit(main())
"""


def slow_to_open_added(tmp_path: Path) -> tuple[Path, list[str]]:
    """A FIFO gate and the ``sesd run`` command (:data:`SLOW_TO_OPEN_ADDED`) it holds."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    return gate, [sys.executable, "-c", SLOW_TO_OPEN_ADDED, str(gate)]


async def stopped_mid_reload(sesd: Any, gate: Path) -> int:
    """SIGHUP, its config now adding the queue ``added``; SIGTERM while the reload waits
    in that queue's opening, then let it go. The exit code."""
    sesd.process.send_signal(signal.SIGHUP)
    # Open once the reload waits in the added queue's opening.
    async with open_for_writing(gate):
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            await sesd.wait_for_event("sesd.daemon.stopping")
    with anyio.fail_after(30):
        await sesd.wait_for_event("sesd.daemon.stopped")
        code: int = await sesd.process.wait()
    return code


@pytest.mark.timeout(60)
async def test_a_stop_during_a_reload_that_adds_a_queue_starts_no_poller_of_it(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A SIGHUP's reload adds a queue, and a SIGTERM comes while its clients are being
    made: the stop wins. No poller of the added queue starts after the stop began (it
    would read, unasked, until cut off at the grace period's end), nothing fails, and
    sesd exits 0."""
    url, _ = await make_queue(sqs)
    added, _ = await make_queue(sqs)
    text = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        '[shutdown]\ngrace_period = "5s"\n'
    )
    path = config_file(tmp_path, text)
    gate, slow = slow_to_open_added(tmp_path)
    async with sesd_process(path, command=slow) as sesd:
        path.write_text(
            path.read_text()
            + f'\n[[queues]]\nurl = "{added}"\nname = "added"\nwait_time_seconds = 1\n'
        )
        code = await stopped_mid_reload(sesd, gate)
    stopping = next(i for i, r in enumerate(sesd.records) if r["event"] == "sesd.daemon.stopping")
    after = sesd.records[stopping:]
    assert not [r for r in after if r.get("queue") == "added"]
    assert not [r for r in sesd.records if r.get("level") == "error" or "exception" in r]
    assert not [r for r in after if r["event"] == "sesd.daemon.grace_period_exceeded"]
    assert code == 0


@pytest.mark.timeout(60)
async def test_a_stop_during_a_reload_that_changes_the_canary_starts_no_canary(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A SIGHUP's reload adds a queue and changes ``[canary]``, and a SIGTERM comes
    while the queue's clients are being made: the stop wins there too. No canary starts
    after the stop began (its first act is a SendEmail, an email sent by a daemon on
    its way out): SES sees the one canary of the start, nothing fails, sesd exits 0."""
    url, _ = await make_queue(sqs)
    added, _ = await make_queue(sqs)
    async with FakeSes() as ses:
        canary = (
            f'[canary]\nfrom = "canary@example.com"\nendpoint_url = "{ses.url}"\n'
            'configuration_set = "sesd"\nqueue = "q"\ninterval = "1h"\ndeadline = "2m"\n'
            'send_timeout = "5s"\n'
        )
        text = (
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            '[shutdown]\ngrace_period = "5s"\n'
        )
        path = config_file(tmp_path, text + canary)
        gate, slow = slow_to_open_added(tmp_path)
        async with sesd_process(path, command=slow) as sesd:
            with anyio.fail_after(20):
                await ses.wait_for(lambda s: len(s.answered) == 1)
            path.write_text(
                path.read_text().replace('interval = "1h"', 'interval = "2h"')
                + f'\n[[queues]]\nurl = "{added}"\nname = "added"\nwait_time_seconds = 1\n'
            )
            code = await stopped_mid_reload(sesd, gate)
    assert len(ses.requests) == 1, ses.requests
    assert not [r for r in sesd.records if r.get("level") == "error" or "exception" in r]
    assert code == 0


#: ``sesd run`` that is sent a SIGHUP while it starts: after its config is read, before
#: its daemon watches signals (the imports and the config's read take most of a second).
HUP_WHILE_STARTING = """
import os
import signal
import sys
from sesd.runtime import daemon
made = daemon.Daemon.__init__
def init(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGHUP)
    made(self, *args, **kwargs)
daemon.Daemon.__init__ = init
from sesd.commands.main import main
sys.exit(main())
"""


@pytest.mark.timeout(60)
async def test_a_sighup_while_sesd_starts_reloads_once_it_has_started(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A SIGHUP before sesd watches signals (a reload sent as it restarts, under a
    supervisor that is not systemd): not fatal (SIGHUP's default action ends a process
    with no drain and no save), nor dropped (PID 1 in a container ignores a signal it
    has no handler for): sesd starts, then reloads, and stops cleanly."""
    url, _ = await make_queue(sqs)
    path = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n',
    )
    command = [sys.executable, "-c", HUP_WHILE_STARTING]
    async with sesd_process(path, command=command, until="sesd.config.reloaded") as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            await sesd.wait_for_event("sesd.daemon.stopped")
            code = await sesd.process.wait()
    signals = [
        (r["signal"], r.get("during")) for r in sesd.records if r["event"] == "sesd.daemon.signal"
    ]
    assert signals == [("SIGHUP", "start"), ("SIGTERM", None)]
    events = [r["event"] for r in sesd.records]
    assert events.index("sesd.daemon.started") < events.index("sesd.config.reloaded")
    assert code == 0
