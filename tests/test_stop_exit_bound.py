"""The exit after a stop's last save: what is left (tasks ended, connections closed,
threads joined) has ``EXIT_ROOM``, so a whole stop ends inside the shipped units' stop
timeout (systemd's TimeoutStopSec, Kubernetes' terminationGracePeriodSeconds) rather
than at their SIGKILL, which says nothing of why. Real ``sesd run`` processes."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import anyio
import pytest

from sesd.config.sections import EXIT_ROOM
from tests.sesd_process import config_file, sesd_process

#: ``sesd run`` whose name lookups of HUNG wait until the FIFO named first is opened
#: for writing: a resolver that does not answer (a DNS outage, a stalled resolver
#: timing out 5 s at a time), for as long as the test holds it. The lookup runs in a
#: thread of the event loop's default executor, which a cancel leaves running. Each
#: lookup held says so in a log line of its own.
HUNG = "sqs.hung.test"
HUNG_RESOLVER = f"""
import socket, sys
gate = sys.argv.pop(1)
looked_up = socket.getaddrinfo
def getaddrinfo(host, *rest, **named):
    if host == {HUNG!r}:
        print('{{"event": "test.lookup_held"}}', file=sys.stderr, flush=True)
        with open(gate, "rb") as held:
            held.read()
    return looked_up(host, *rest, **named)
socket.getaddrinfo = getaddrinfo
from sesd.commands.main import main
sys.exit(main())
"""


@pytest.mark.timeout(60)
async def test_a_lookup_that_hangs_does_not_hold_the_exit_past_its_room(
    tmp_path: Path,
) -> None:
    """The resolver hangs on the queue's host, so the poller's receive waits in a
    lookup when SIGTERM comes: the grace period (1 s) abandons it and the state is
    saved, then the exit has ``EXIT_ROOM``: sesd exits 0 (its stop was whole) within
    it, saying what held it, rather than wait at the event loop's close for the
    lookup's thread (for as long as the resolver hangs)."""
    state = tmp_path / "state.bin"
    config = config_file(
        tmp_path,
        f'[aws]\nregion = "us-east-1"\nendpoint_url = "http://{HUNG}:9"\n'
        f'[[queues]]\nurl = "http://{HUNG}:9/123456789012/q"\nname = "q"\n'
        'wait_time_seconds = 1\n[shutdown]\ngrace_period = "1s"\n'
        f'[state]\npath = "{state}"\n',
    )
    gate = tmp_path / "resolver"
    os.mkfifo(gate)
    hung = [sys.executable, "-c", HUNG_RESOLVER, str(gate)]
    async with sesd_process(config, command=hung) as sesd:
        await sesd.logged("test.lookup_held")
        sesd.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        with anyio.fail_after(1 + EXIT_ROOM + 15):
            stopped = await sesd.wait_for_event("sesd.daemon.stopped")
            stalled = await sesd.wait_for_event("sesd.daemon.exit_stalled")
            code = await sesd.process.wait()
        took = time.monotonic() - started
    assert code == 0
    assert took < 1 + EXIT_ROOM  # inside the stop's budget, not at its edge
    assert stopped["level"] == "info"
    assert (stalled["level"], stalled["after"]) == ("warning", "stop")
    assert stalled["waited_seconds"] < EXIT_ROOM
    assert stalled["threads"]  # the lookup's, still running
    assert "a name lookup on a resolver that does not answer" in stalled["hint"]
    assert state.exists()  # the stop itself was whole: saved, exit 0
