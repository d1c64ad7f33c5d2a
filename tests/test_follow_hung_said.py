"""What the follower says of a file that hangs when sesd is not on the config it
started with: after a reload that faulted part way, the line must not say the
running config was kept; while a read given up is still held, each look refused
behind it is not said again (an hour of a hung share at one look a second would be
3,600 lines, the reload metric at 0 all along)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

import sesd.runtime.follow
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from tests.conftest import running
from tests.test_follow_files import _key, _mounted, _padded, _reloaded
from tests.test_follow_hung import BOUND, KEY, Mount, _first_read_held
from tests.test_reload_part_way import _once

pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]

#: What each refresh refused behind a read still held says.
HELD = "was given up and has not returned"


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


async def test_refreshes_refused_behind_a_held_read_are_said_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's file answers its stat again, then holds the read the follower
    begins (a share that flaps) past the bound: given up. Each look after it finds the
    file unread and is refused behind that read: said once, not at each look, the
    reload metric at 0 meanwhile; once the read returns, the files are read again."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    routing_key = str(mount_dir / "current" / "routing_key")
    mount = _mount(monkeypatch, {routing_key})
    held = _first_read_held(monkeypatch)
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                await mount.looked(str(mount_dir / "current" / "tls.crt"), 1)  # hung
                mount.answer()
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(
                        lambda: any("took over" in e.get("error", "") for e in logs)
                    )
                # The held stat's return, the look that began the read, then 4 looks.
                await mount.looked(routing_key, 6)
                assert _reloaded(daemon) == 0
                await held.returns()
                with anyio.fail_after(10):
                    await daemon.changes.wait_for(lambda: _reloaded(daemon) == 1)
                assert _key(daemon) == "key-one"
        finally:
            mount.answer()
            held.let_go()
    refused = [e for e in logs if HELD in e.get("error", "")]
    assert len(refused) <= 1
    assert held.reads == 2  # the one held, and the one once it returned


async def test_a_file_refused_once_it_answers_is_read_again_when_fixed(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routing key's file is cut short while its mount hangs: once it answers, the
    files are read and the key refused, said once (not at each look: the file is no
    longer unread), the key in force kept. Fixed by hand, it is read at its change."""
    mount_dir, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    routing_key = mount_dir / "current" / "routing_key"
    mount = _mount(monkeypatch, {str(routing_key)})
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                await mount.looked(str(mount_dir / "current" / "tls.crt"), 1)  # hung
                routing_key.write_text("short")
                mount.answer()
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(
                        lambda: any("5 characters long" in e.get("error", "") for e in logs)
                    )
                await mount.looked(str(routing_key), 4)  # the stat's return, then 3 looks
                assert _reloaded(daemon) == 0
                assert _key(daemon) == "key-one"
                routing_key.write_text(_padded("key-two"))
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(lambda: _key(daemon) == "key-two")
                assert _reloaded(daemon) == 1
        finally:
            mount.answer()
    refused = [e for e in logs if "5 characters long" in e.get("error", "")]
    assert len(refused) == 1
