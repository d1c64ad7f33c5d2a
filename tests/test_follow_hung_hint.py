"""The line an on-call engineer reads when a file the config names stops answering
(a hung mount): which key, which path, that the running config is kept, and what
sesd does meanwhile and what to do, in full. Each of its words is the engineer's only
account of why a rotated Secret is not read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import running
from tests.test_follow_files import _mounted, _reloaded
from tests.test_follow_hung import BOUND, KEY
from tests.test_follow_hung_said import _mount

pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]

HINT = (
    "a hung mount? The other files are still looked at, but a change to one is read "
    "once this one answers (a refresh reads them all); sesd looks at it again once "
    "that look comes back, and reads the files then. A SIGHUP does not look at it: a "
    "config naming another file in its place is read"
)


async def test_a_file_that_hangs_is_said_in_full(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's file stops answering: one line, with the key, the path, the
    running config kept and the whole hint; the reload metric reads 0."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    routing_key = str(mount_dir / "current" / "routing_key")
    mount = _mount(monkeypatch, {routing_key})
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(
                        lambda: any(e["event"] == "sesd.config.reload_failed" for e in logs)
                    )
                assert _reloaded(daemon) == 0
        finally:
            mount.answer()
    (hang,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert hang == {
        "event": "sesd.config.reload_failed",
        "log_level": "error",
        "files": [KEY],
        "error": f"{routing_key} did not answer a look within {BOUND:g} s",
        "kept": "running config",
        "hint": HINT,
    }
