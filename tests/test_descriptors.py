"""File descriptors: sesd asks for what the host allows, and running out of them is a
warning a minute, not a storm of error lines."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from anyio import run_process

from sesd.runtime.descriptors import raise_open_files_limit

ROOT = Path(__file__).resolve().parent.parent


def test_the_soft_limit_on_open_files_is_raised_towards_the_hard_one() -> None:
    """systemd's default soft limit (1,024) is far below its hard one: sesd raises it, up
    to what it wants, never past the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard >= 512, "the test needs a hard limit of 512"
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert raise_open_files_limit(wanted=512) == 512
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (512, hard)
        assert raise_open_files_limit(wanted=300) == 512  # never lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


#: A server under a limit of 48 open files and clients in the same process that take
#: them all, for 300 turns of the event loop; sesd's logging, with and without the
#: watch. Prints how many error lines the event loop wrote and sesd's warnings.
_FLOOD = """
import asyncio, logging, resource, sys
from sesd.io.logs import configure_logging
from sesd.runtime.descriptors import watch_descriptors

resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
configure_logging("info", "json", stream=sys.stdout)
if sys.argv[1] == "watched":
    watch_descriptors()


async def main():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    held = []
    for _ in range(80):
        try:
            held.append(await asyncio.open_connection("127.0.0.1", port))
        except OSError:
            break
    for _ in range(300):
        await asyncio.sleep(0)


asyncio.run(main())
"""


async def _flood(mode: str) -> list[dict[str, object]]:
    result = await run_process([sys.executable, "-c", _FLOOD, mode], cwd=ROOT, check=False)
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


async def test_running_out_of_descriptors_is_one_warning_not_a_storm() -> None:
    """Without the watch, the event loop of Python 3.11 writes an error with a traceback
    for every connection it could not accept, again and again; with it, sesd writes one
    warning naming the limit and what to do, however long it lasts."""
    storm = [r for r in await _flood("bare") if "out of system resource" in str(r["event"])]
    watched = await _flood("watched")
    said = [r for r in watched if r["event"] == "sesd.http.out_of_descriptors"]
    assert len(storm) > 10
    assert not [r for r in watched if "out of system resource" in str(r["event"])]
    assert len(said) == 1
    assert said[0]["open_files_limit"] == 48
    assert "LimitNOFILE" in str(said[0]["hint"])
