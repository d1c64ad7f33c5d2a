"""What the follower says of a file that hangs when sesd is not on the config it
started with: after a reload that faulted part way, the line must not say the
running config was kept; while a read given up is still held, each look refused
behind it is not said again (an hour of a hung share at one look a second would be
3,600 lines, the reload metric at 0 all along)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from structlog.testing import capture_logs

import sesd.runtime.follow
import sesd.runtime.reload
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import running
from tests.test_follow_files import _mounted
from tests.test_follow_hung import BOUND, KEY, Mount
from tests.test_reload_part_way import _once

pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]


def _mount(monkeypatch: pytest.MonkeyPatch, hung: set[str]) -> Mount:
    """The follower's stats, those of the paths in ``hung`` (added to as the test goes)
    held until the mount answers."""
    monkeypatch.setattr(sesd.runtime.follow, "LOOK_BOUND", BOUND)
    mount = Mount(hung, sesd.runtime.follow.signature, ("sesd-follow-stat",))
    monkeypatch.setattr(sesd.runtime.follow, "signature", mount.signature)
    return mount


async def test_a_file_that_hangs_after_a_reload_faulted_part_way_says_what_is_in_force(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload faults once its config was switched (a bug in sesd), then the routing
    key's file stops answering: the hang's line says what the reload's did, neither
    config whole and to restart, not that the running config was kept."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    routing_key = str(mount_dir / "current" / "routing_key")
    hung: set[str] = set()
    mount = _mount(monkeypatch, hung)
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                _once(daemon, monkeypatch, daemon.alerting, "reconfigure")
                path.write_text(path.read_text().replace('window = "5m"', 'window = "15m"'))
                assert not await daemon.reload()
                hung.add(routing_key)
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(
                        lambda: any("did not answer" in e.get("error", "") for e in logs)
                    )
        finally:
            mount.answer()
    faulted, hang = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert faulted["error"] == "RuntimeError: a fault in reconfigure"
    assert hang["files"] == [KEY]
    assert hang["kept"] == faulted["kept"] == "neither config whole: the new one in part"
    assert hang["hint"].startswith("a hung mount? ")
