"""A second signal saves the state and exits: nothing sesd deletes from a queue after
that save's snapshot may be missing from the file, or the restart counts it nowhere.
A real ``sesd run`` on a disk the test holds (as tests/test_slow_disk_stop.py does),
moto's SQS, then a restart from the file."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests import factory as f
from tests.conftest import make_queue, queue_counts, running, send_bodies
from tests.fifo_gates import open_for_writing
from tests.sesd_process import config_file, sesd_process

#: ``sesd run`` whose first fsync (the forced exit's save: nothing saves before it)
#: waits until the FIFO named first is opened for writing and closed, and whose forced
#: exit waits for that save as long as the test holds it (rather than two seconds).
FORCED_ON_SLOW_DISK = """
import os, sys
gate = sys.argv.pop(1)
synced = os.fsync
held_once = []
def fsync(fd):
    if not held_once:
        held_once.append(fd)
        with open(gate, "rb") as held:
            held.read()
    synced(fd)
os.fsync = fsync
from sesd.runtime import signals
signals.FORCED_SAVE = 60.0
from sesd.commands.main import main
sys.exit(main())
"""


def _bodies(first: int) -> list[str]:
    now = time.time()
    return [f.raw(f.delivery([f"u{i}@d{i}.example"], at=now)) for i in range(first, first + 5)]


@pytest.mark.timeout(90)
async def test_what_is_read_after_a_forced_exits_snapshot_is_not_lost(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Five events read and saved-to-be; a SIGTERM, then a second one while the long
    poll in flight waits: its save takes the snapshot, and the disk holds the write.
    Five more events reach the queue meanwhile. Whatever sesd does with them before it
    exits, the restart from the file counts all ten, each once.

    The batch's line comes only once the receive made beside its delete answers, a whole
    long poll on the empty queue later: 5 s here (20 s made the test wait 20 s for
    nothing). The next long poll is then under way, and the forced exit abandons it."""
    url, _ = await make_queue(sqs, dlq=False, visibility=1)
    state = tmp_path / "state.bin"
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 5\n'
        f'[shutdown]\ngrace_period = "30s"\n'
        f'[state]\npath = "{state}"\nsave_every = "1h"\n',
    )
    gate = tmp_path / "disk"
    os.mkfifo(gate)
    await send_bodies(sqs, url, _bodies(0))
    slow = [sys.executable, "-c", FORCED_ON_SLOW_DISK, str(gate)]
    async with sesd_process(config, command=slow) as sesd:
        with anyio.fail_after(30):
            await sesd.wait_for_received(5)  # then its next long poll is under way
            sesd.process.send_signal(signal.SIGTERM)
            await sesd.wait_for_event("sesd.daemon.stopping")
            sesd.process.send_signal(signal.SIGTERM)
            await sesd.wait_for_event("sesd.daemon.forced_exit")
            # Open once the save's write waits on the disk: its snapshot is taken.
            async with open_for_writing(gate):
                await send_bodies(sqs, url, _bodies(5))
                await sesd.logged("sesd.queue.stopped")
            assert await sesd.process.wait() == 130
    events = [r["event"] for r in sesd.records]
    # The second signal came while a long poll was in flight.
    assert "sesd.sqs.receive_abandoned" in events[events.index("sesd.daemon.forced_exit") :]
    # The restart's long polls short: its stop waits for the one in flight.
    config.write_text(config.read_text().replace("wait_time_seconds = 5", "wait_time_seconds = 1"))
    async with running(load_config(str(config))) as daemon:

        def delivered() -> int:
            now = daemon.clock.peek()
            return sum(w.figures(2, now).count("delivery") for w in daemon.ledger.windows.values())

        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: delivered() >= 10)
        assert delivered() == 10
    # Stopped: the batch that brought the last ones is deleted too.
    assert await queue_counts(sqs, url) == (0, 0)


@pytest.mark.timeout(60)
async def test_a_second_signal_s_exit_outlasts_the_drain(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A second SIGTERM's save waits on the disk while the stop's last save, behind it,
    gives up (its time, shortened here, is over) and the drain ends: the second
    signal's exit still comes once its save returns, 130. The drain's end cancelled
    that save as it waited, and the exit with it: sesd went on through the exit as
    after any stop whose save did not finish, exit 1, as if never asked."""
    url, _ = await make_queue(sqs, dlq=False)
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 20\n'
        f'[shutdown]\ngrace_period = "0.5s"\n'
        f'[state]\npath = "{tmp_path / "state.bin"}"\nsave_every = "1h"\n',
    )
    gate = tmp_path / "disk"
    os.mkfifo(gate)
    script = FORCED_ON_SLOW_DISK.replace(
        "signals.FORCED_SAVE = 60.0",
        "signals.FORCED_SAVE = 60.0\nimport sesd.runtime.daemon as daemon\ndaemon.LAST_SAVE = 0.0",
    )
    async with sesd_process(config, command=[sys.executable, "-c", script, str(gate)]) as sesd:
        with anyio.fail_after(30):
            sesd.process.send_signal(signal.SIGTERM)
            await sesd.wait_for_event("sesd.daemon.stopping")
            sesd.process.send_signal(signal.SIGTERM)
            await sesd.wait_for_event("sesd.daemon.forced_exit")
            unfinished = await sesd.wait_for_event("sesd.state.save_unfinished")
            async with open_for_writing(gate):  # it answers
                pass
            code = await sesd.process.wait()
    assert unfinished["after"] == "stop"
    assert code == 130
