"""The exit after a stop's last save: what is left (tasks ended, connections closed,
threads joined) has ``EXIT_ROOM``, so a whole stop ends inside the shipped units' stop
timeout (systemd's TimeoutStopSec, Kubernetes' terminationGracePeriodSeconds) rather
than at their SIGKILL, which says nothing of why. Real ``sesd run`` processes."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.run import _ExitBound
from sesd.config.sections import EXIT_ROOM
from sesd.runtime.exit_room import ExitRoom
from sesd.runtime.http import StartError
from tests.sesd_process import SesdProcess, config_file, sesd_process

#: ``sesd run`` whose name lookups of HUNG wait until the FIFO named first is opened
#: for writing: a resolver that does not answer (a DNS outage, a stalled resolver
#: timing out 5 s at a time), for as long as the test holds it. The lookup runs in a
#: thread of the event loop's default executor, which a cancel leaves running. Each
#: lookup held says so in a log line of its own (one write: print's text and newline
#: are two, and a line sesd logs meanwhile could come between them, making one line of
#: two records); released, HUNG is 127.0.0.1.
HUNG = "sqs.hung.test"
#: The end of each script below: ``sesd run``, of the arguments the test gives.
RUN = "from sesd.commands.main import main\nsys.exit(main())\n"
HUNG_RESOLVER = (
    f"""
import os, socket, sys
gate = sys.argv.pop(1)
looked_up = socket.getaddrinfo
def getaddrinfo(host, *rest, **named):
    if host == {HUNG!r}:
        os.write(2, b'{{"event": "test.lookup_held"}}\\n')
        with open(gate, "rb") as held:
            held.read()
        host = "127.0.0.1"
    return looked_up(host, *rest, **named)
socket.getaddrinfo = getaddrinfo
"""
    + RUN
)


def _config(directory: Path, more: str = "") -> Path:
    """A config file in ``directory``: one queue, at a port nothing listens on; ``more``
    after it."""
    return config_file(
        directory,
        '[aws]\nregion = "us-east-1"\n'
        '[[queues]]\nurl = "http://127.0.0.1:9/123456789012/q"\nname = "q"\n' + more,
    )


def _hung_config(directory: Path, state: Path) -> Path:
    """A config file in ``directory``: one queue on HUNG, long-polled 1 s, a grace
    period of 1 s, and the state file ``state``."""
    return config_file(
        directory,
        f'[aws]\nregion = "us-east-1"\nendpoint_url = "http://{HUNG}:9"\n'
        f'[[queues]]\nurl = "http://{HUNG}:9/123456789012/q"\nname = "q"\n'
        'wait_time_seconds = 1\n[shutdown]\ngrace_period = "1s"\n'
        f'[state]\npath = "{state}"\n',
    )


def _held(directory: Path, name: str, script: str) -> tuple[Path, list[str]]:
    """A FIFO ``name`` in ``directory``, and the command that runs ``script`` held on it
    until it is opened for writing."""
    gate = directory / name
    os.mkfifo(gate)
    return gate, [sys.executable, "-c", script, str(gate)]


async def _terminated(
    sesd: SesdProcess, budget: float, *events: str
) -> tuple[list[dict[str, Any]], int, float]:
    """SIGTERM to ``sesd``, then ``events`` logged in turn and its exit, inside
    ``budget`` (and 15 s to spare): the events, the exit code, and how long it all took."""
    sesd.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    with anyio.fail_after(budget + 15):
        said = [await sesd.wait_for_event(event) for event in events]
        code = await sesd.process.wait()
    return said, code, time.monotonic() - started


@pytest.mark.timeout(60)
@pytest.mark.parametrize("second", [False, True], ids=["waited", "second_signal"])
async def test_a_lookup_that_hangs_does_not_hold_the_exit_past_its_room(
    tmp_path: Path, second: bool
) -> None:
    """The resolver hangs on the queue's host, so the poller's receive waits in a
    lookup when SIGTERM comes: the grace period (1 s) abandons it and the state is
    saved, then the exit has ``EXIT_ROOM``: sesd exits 0 (its stop was whole) within
    it, saying what held it, rather than wait at the event loop's close for the
    lookup's thread (for as long as the resolver hangs). A second SIGTERM while the
    event loop's close waits (the run returned) ends the exit at once, 130, as one
    during its closes does: it was held as one that came before sesd watched signals,
    for a watch that had ended, and sesd exited at the exit's bound."""
    state = tmp_path / "state.bin"
    config = _hung_config(tmp_path, state)
    _, hung = _held(tmp_path, "resolver", HUNG_RESOLVER)
    async with sesd_process(config, command=hung) as sesd:
        await sesd.logged("test.lookup_held")
        if second:
            sesd.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(1 + EXIT_ROOM + 15):
                await sesd.wait_for_event("sesd.daemon.stopped")
                sesd.process.send_signal(signal.SIGTERM)
                forced = await sesd.wait_for_event("sesd.daemon.forced_exit")
                assert await sesd.process.wait() == 130
            assert (forced["signal"], forced["during"]) == ("SIGTERM", "exit")
            assert state.exists()
            return
        (stopped, stalled), code, took = await _terminated(
            sesd, 1 + EXIT_ROOM, "sesd.daemon.stopped", "sesd.daemon.exit_stalled"
        )
    assert code == 0
    assert took < 1 + EXIT_ROOM  # inside the stop's budget, not at its edge
    assert stopped["level"] == "info"
    assert (stalled["level"], stalled["after"]) == ("warning", "stop")
    assert stalled["waited_seconds"] < EXIT_ROOM
    assert stalled["threads"]  # the lookup's, still running
    assert "a name lookup on a resolver that does not answer" in stalled["hint"]
    assert state.exists()  # the stop itself was whole: saved, exit 0


@pytest.mark.timeout(60)
async def test_a_stop_while_the_start_waits_on_a_lookup_exits_within_its_room(
    tmp_path: Path,
) -> None:
    """The port to listen on is named by a host whose lookup hangs, so the start waits
    in it when SIGTERM comes: the start is given up there (nothing was consumed, the
    state file is as it was) and the exit has ``EXIT_ROOM``: sesd exits 0 within it,
    saying what held it, rather than wait for the start (for as long as the resolver
    hangs) and then for the lookup's thread, past the supervisor's stop timeout."""
    config = _config(
        tmp_path,
        f'[state]\npath = "{tmp_path / "state.bin"}"\n',
    )
    _, hung = _held(tmp_path, "resolver", HUNG_RESOLVER)
    listen = {"SESD_HTTP_LISTEN": f"{HUNG}:0"}
    async with sesd_process(config, command=hung, env=listen, until="test.lookup_held") as sesd:
        (stalled,), code, took = await _terminated(sesd, EXIT_ROOM, "sesd.daemon.exit_stalled")
    assert code == 0
    assert took < EXIT_ROOM
    assert stalled["after"] == "stop"
    assert stalled["threads"]  # the lookup's, still running
    assert "sesd.daemon.started" not in [r["event"] for r in sesd.records]


@pytest.mark.timeout(60)
async def test_a_failed_start_exits_within_its_room_past_a_thread_that_hangs(
    tmp_path: Path,
) -> None:
    """A lookup hangs in a thread of its own (begun before sesd's start, as a library
    might), and the start fails (the state path is a directory): sesd says why it
    cannot start and exits 2 within ``EXIT_ROOM``, naming the thread, rather than wait
    for it at the interpreter's exit (for as long as the resolver hangs)."""
    state = tmp_path / "state"
    state.mkdir()
    config = _config(
        tmp_path,
        f'[state]\npath = "{state}"\n',
    )
    begun = HUNG_RESOLVER.replace(
        "from sesd.commands.main import main",
        "import threading\n"
        f"threading.Thread(target=getaddrinfo, args=({HUNG!r}, 9), name='lookup').start()\n"
        "from sesd.commands.main import main",
    )
    _, hung = _held(tmp_path, "resolver", begun)
    # Logged as the start begins, the lookup held since.
    async with sesd_process(config, command=hung, until="sesd.limits.open_files") as sesd:
        started = time.monotonic()
        with anyio.fail_after(EXIT_ROOM + 15):
            code = await sesd.process.wait()
            lines = await sesd.rest()
        took = time.monotonic() - started
    assert code == 2
    assert took < EXIT_ROOM
    said = [line for line in lines if line.startswith("sesd: cannot start: state.path: ")]
    stalled = [json.loads(line) for line in lines if "sesd.daemon.exit_stalled" in line]
    assert len(said) == 1
    assert [(s["after"], s["threads"]) for s in stalled] == [("failed_start", ["lookup"])]


@pytest.mark.timeout(60)
async def test_a_reload_asked_for_while_sesd_starts_waits_for_the_start(
    tmp_path: Path,
) -> None:
    """SIGHUP while the start waits on a lookup (the port's host): the reload waits
    until sesd has started (it needs what the start makes, and the file may have
    changed since the start read it), then runs once; sesd neither ends nor misses it."""
    config = _config(tmp_path)
    gate, hung = _held(tmp_path, "resolver", HUNG_RESOLVER)
    listen = {"SESD_HTTP_LISTEN": f"{HUNG}:0"}
    async with sesd_process(config, command=hung, env=listen, until="test.lookup_held") as sesd:
        sesd.process.send_signal(signal.SIGHUP)
        await sesd.wait_for_event("sesd.daemon.signal")
        with gate.open("wb"):  # the resolver answers
            pass
        with anyio.fail_after(20):
            await sesd.wait_for_event("sesd.daemon.started")
            await sesd.wait_for_event("sesd.config.reloaded")
            sesd.process.send_signal(signal.SIGTERM)
            code = await sesd.process.wait()
    assert code == 0
    events = [r["event"] for r in sesd.records]
    assert events.count("sesd.config.reloaded") == 1


#: ``sesd run`` whose reads of the SDK's model files wait until the FIFO named first is
#: opened for writing: a disk that hangs under the first client's making.
HUNG_MODELS = (
    """
import os, sys
gate = sys.argv.pop(1)
from botocore.loaders import Loader
read = Loader.load_service_model
def load_service_model(self, *args, **named):
    os.write(2, b'{"event": "test.read_held"}\\n')
    with open(gate, "rb") as held:
        held.read()
    return read(self, *args, **named)
Loader.load_service_model = load_service_model
"""
    + RUN
)


@pytest.mark.timeout(60)
async def test_a_stop_while_the_start_reads_on_a_hung_disk_exits_within_its_room(
    tmp_path: Path,
) -> None:
    """The start makes the queue's SQS client, whose SDK files are read on a disk that
    hangs, when SIGTERM comes: the start is given up there and sesd exits 0 within
    ``EXIT_ROOM``, naming the thread left reading, rather than wait for the read."""
    config = _config(tmp_path)
    _, hung = _held(tmp_path, "disk", HUNG_MODELS)
    async with sesd_process(config, command=hung, until="test.read_held") as sesd:
        (stalled,), code, took = await _terminated(sesd, EXIT_ROOM, "sesd.daemon.exit_stalled")
    assert code == 0
    assert took < EXIT_ROOM
    assert stalled["after"] == "stop"
    assert stalled["threads"]  # the read's, still waiting on the disk


#: HUNG_RESOLVER's ``sesd run``, whose drain raises once the stop's last save has
#: returned: a fault in what is left of the exit (a task's end, a close that raises).
FAULT_AFTER_SAVE = HUNG_RESOLVER.replace(
    "from sesd.commands.main import main",
    """from sesd.runtime.daemon import Daemon
drained = Daemon.drain
async def drain(self, deadline):
    await drained(self, deadline)
    raise RuntimeError("a bug after the last save")
Daemon.drain = drain
from sesd.commands.main import main""",
)


@pytest.mark.timeout(60)
async def test_a_fault_after_the_stop_s_last_save_exits_1_within_the_same_room(
    tmp_path: Path,
) -> None:
    """A stop whose last save returned, then a fault, while a lookup's thread holds the
    exit: sesd exits 1, as after any fault (a supervisor shows the unit failed, and
    someone reads the traceback), not 0 as if the stop were clean; within the room the
    exit had from the save, one bound and one `sesd.daemon.exit_stalled` (after the
    fault), not a second room begun at the fault."""
    state = tmp_path / "state.bin"
    config = _hung_config(tmp_path, state)
    gate = tmp_path / "resolver"
    os.mkfifo(gate)
    hung = [sys.executable, "-c", FAULT_AFTER_SAVE, str(gate)]
    async with sesd_process(config, command=hung) as sesd:
        await sesd.logged("test.lookup_held")
        sesd.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        with anyio.fail_after(1 + EXIT_ROOM + 15):
            failed = await sesd.wait_for_event("sesd.daemon.failed")
            code = await sesd.process.wait()
            lines = await sesd.rest()
        took = time.monotonic() - started
    assert code == 1
    assert took < 1 + EXIT_ROOM
    assert "RuntimeError: a bug after the last save" in failed["exception"]
    records = sesd.records + [json.loads(line) for line in lines if line.startswith("{")]
    stalled = [r for r in records if r["event"] == "sesd.daemon.exit_stalled"]
    assert [(s["after"], s["threads"] != []) for s in stalled] == [("fault", True)]
    assert state.exists()  # the stop's save, before the fault


#: ``sesd run`` whose HTTP server's close and sinks' session's close never end until
#: cut off: two closes that hang at exit.
HUNG_CLOSES = (
    """
import sys
from contextlib import asynccontextmanager
import anyio
import sesd.runtime.daemon as daemon
def hung(opens):
    @asynccontextmanager
    async def opened(*args, **named):
        async with opens(*args, **named) as it:
            try:
                yield it
            finally:
                await anyio.sleep_forever()
    return opened
daemon.http_server = hung(daemon.http_server)
daemon.sink_session = hung(daemon.sink_session)
"""
    + RUN
)


@pytest.mark.timeout(60)
async def test_two_closes_that_hang_take_their_shares_and_the_exit_follows_its_plan(
    tmp_path: Path,
) -> None:
    """The sinks' session's close (run first) and the HTTP server's (run third) hang at
    a stop: each is cut off at its share of the closes' plan and said so, the AWS
    clients and the state file's lock closed between and after them, and sesd exits 0
    without its exit's bound firing (no `sesd.daemon.exit_stalled`), within
    ``EXIT_ROOM``. The bound, armed on a clock of its own, fired 3 s into a plan of 5 s
    that the second hung close took past it: exit by the bound, mid-plan."""
    state = tmp_path / "state.bin"
    config = _config(tmp_path, f'[state]\npath = "{state}"\n[shutdown]\ngrace_period = "1s"\n')
    hung = [sys.executable, "-c", HUNG_CLOSES]
    async with sesd_process(config, command=hung) as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        with anyio.fail_after(1 + EXIT_ROOM + 15):
            code = await sesd.process.wait()
            lines = await sesd.rest()
        took = time.monotonic() - started
    records = sesd.records + [json.loads(line) for line in lines if line.startswith("{")]
    events = [r["event"] for r in records]
    cut_off = [r["what"] for r in records if r["event"] == "sesd.daemon.close_cut_off"]
    assert "sesd.daemon.exit_stalled" not in events
    assert "sesd.daemon.stopped" in events
    assert code == 0
    assert cut_off == ["sinks_session", "http_server"]
    assert took < 1 + EXIT_ROOM
    assert state.exists()


#: HUNG_CLOSES's ``sesd run``, whose HTTP server's close, once under way, holds the
#: main thread inside threading's lock for new threads (as ``Thread.start`` does, or a
#: thread's end) and says so (``test.close_locked``), waiting there 30 s.
LOCKED_CLOSE = HUNG_CLOSES.replace(
    "daemon.http_server = hung(daemon.http_server)",
    """import os, threading, time
def locked(opens):
    @asynccontextmanager
    async def opened(*args, **named):
        async with opens(*args, **named) as it:
            try:
                yield it
            finally:
                with threading._active_limbo_lock:
                    os.write(2, b'{"event": "test.close_locked"}\\n')
                    time.sleep(30)
    return opened
daemon.http_server = locked(daemon.http_server)""",
)


@pytest.mark.timeout(60)
async def test_a_second_signal_during_the_closes_cuts_the_exit_short(tmp_path: Path) -> None:
    """A stop whose last save returned, then a second SIGTERM while the exit's closes
    hang (the sinks' session's cut off, the HTTP server's under way, the main thread in
    it holding threading's lock for new threads): sesd says so (`sesd.daemon.forced_exit`,
    `during: exit`) and exits 130 at once, as a second signal does, no traceback,
    without the rest of the plan; a SIGHUP just before it is ignored. Once the signal
    watch had ended the signals had their default actions: the SIGHUP (and a SIGTERM)
    killed sesd without a line. Then a handler started a thread to say and do it, which
    waited for ever on that lock, the main thread's, and sesd exited 0 at the exit's
    bound. A Ctrl-C is handled as the SIGTERM is (one handler for both,
    sesd.runtime.signals): a second process for it would prove nothing more."""
    second = signal.SIGTERM
    state = tmp_path / "state.bin"
    config = _config(tmp_path, f'[state]\npath = "{state}"\n[shutdown]\ngrace_period = "1s"\n')
    hung = [sys.executable, "-c", LOCKED_CLOSE]
    async with sesd_process(config, command=hung) as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(1 + EXIT_ROOM + 15):
            await sesd.wait_for_event("sesd.daemon.close_cut_off")
            # Written as it comes, maybe before the line buffered ahead of it.
            await sesd.logged("test.close_locked")
            sesd.process.send_signal(signal.SIGHUP)  # nothing left to reload: ignored
            sesd.process.send_signal(second)
            code = await sesd.process.wait()
            lines = await sesd.rest()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    forced = [r for r in records if r["event"] == "sesd.daemon.forced_exit"]
    assert code == 130
    assert [(r["signal"], r["during"]) for r in forced] == [(second.name, "exit")]
    assert "sesd.daemon.close_cut_off" not in [r["event"] for r in records]  # cut short
    assert not [line for line in lines if not line.startswith("{")]  # no traceback
    assert state.exists()


def test_the_exit_is_bounded_once_and_a_fault_after_it_exits_1() -> None:
    """The exit's bound starts at the first call (a stop's last save returned), and a
    fault after it changes what the exit gives (1, as for any fault), not when the
    bound ends; a failed start gives 2 (a bug in it 1), a stop whose save failed 1."""
    failed = [False]
    bounds = [_ExitBound(ExitRoom(3600.0), lambda: failed[0]) for _ in range(3)]
    try:
        stop, start, bug = bounds
        stop("stop", None)
        timer = stop.timer
        assert stop.code() == 0
        failed[0] = True
        assert stop.code() == 1
        failed[0] = False
        stop("fault", None)
        stop("stop", None)
        assert stop.timer is timer
        assert stop.code() == 1
        start("failed_start", StartError("cannot listen"))
        assert start.code() == 2
        start("fault", None)
        assert start.code() == 1
        bug("failed_start", RuntimeError("a bug"))
        assert bug.code() == 1
    finally:
        for bound in bounds:
            if bound.timer is not None:
                bound.timer.cancel()


#: ``sesd run`` whose restore of the state file takes what a large file's takes on a
#: busy host (seconds; the default caps' full pending table alone takes 1.3 s on a
#: quiet one): it says it began, then waits 30 s before restoring, as interruptible by
#: a signal's handler as the restore's own Python is.
SLOW_RESTORE = """
import os, sys, time
import sesd.runtime.state_start as start
restored = start.restore
def restore(*args, **named):
    os.write(2, b'{"event": "test.restoring"}\\n')
    time.sleep(30)
    return restored(*args, **named)
start.restore = restore
from sesd.commands.main import main
sys.exit(main())
"""


@pytest.fixture(scope="module")
def saved_state(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A state file as ``sesd run`` saves it at its stop, made once for the module's
    tests, which only copy it (a start and a stop: about a second of CPU)."""
    directory = tmp_path_factory.mktemp("saved")
    state = directory / "state.bin"
    config = _config(directory, f'[state]\npath = "{state}"\n')

    async def save() -> None:
        async with sesd_process(config) as sesd:
            sesd.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                assert await sesd.process.wait() == 0

    anyio.run(save)
    return state.read_bytes()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
async def test_a_stop_while_the_state_file_is_restored_exits_within_its_room(
    tmp_path: Path, stop: signal.Signals, saved_state: bytes
) -> None:
    """SIGTERM while the start restores the state file (a rollout, or the kubelet giving
    up on a slow start), or SIGINT (Ctrl-C in a terminal): the restore is given up
    where it is and sesd exits 0 within ``EXIT_ROOM``, the file byte for byte as it
    was, nothing kept aside and no killed restore counted; the next start restores it.
    The restore runs on the event loop, which would see the signal only once it ended,
    the exit's room after that."""
    state = tmp_path / "state.bin"
    config = _config(tmp_path, f'[state]\npath = "{state}"\n')
    state.write_bytes(saved := saved_state)
    slow = [sys.executable, "-c", SLOW_RESTORE]
    async with sesd_process(config, command=slow, until="test.restoring") as sesd:
        sesd.process.send_signal(stop)
        started = time.monotonic()
        with anyio.fail_after(EXIT_ROOM + 15):
            given_up = await sesd.wait_for_event("sesd.state.restore_stopped")
            code = await sesd.process.wait()
        took = time.monotonic() - started
    assert code == 0
    assert took < EXIT_ROOM
    assert given_up["path"] == str(state)
    assert "sesd.daemon.started" not in [r["event"] for r in sesd.records]
    assert state.read_bytes() == saved
    assert sorted(os.listdir(tmp_path)) == [
        "sesd.toml",
        "state.bin",
        "state.bin.lock",
    ]
    async with sesd_process(config, until="sesd.state.restored") as sesd:
        sesd.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            assert await sesd.process.wait() == 0
