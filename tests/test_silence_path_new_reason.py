"""A silences path that cannot even be looked at is said once while it stays so, and
said again when the reason changes: the on-call who fixes one mistake in the path and
makes another (a file where a directory should be, then a link that loops) reads the
new reason at the next evaluation, not the old one until the file appears."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from sesd.alerting.silence_watcher import SilenceWatcher
from tests.test_routing import T


def test_a_path_that_cannot_be_looked_at_for_a_new_reason_is_said_again(
    tmp_path: Path,
) -> None:
    share = tmp_path / "share"
    share.write_text("")
    path = share / "silences.json"
    silences = SilenceWatcher(str(path))
    with capture_logs() as logs:
        silences.refresh(T)
        silences.refresh(T + 1)
        share.unlink()
        share.symlink_to(share)
        silences.refresh(T + 2)
        silences.refresh(T + 3)
    assert [(line["event"], line["error"]) for line in logs] == [
        ("sesd.silences.unreadable", f"cannot read {path}: Not a directory"),
        ("sesd.silences.unreadable", f"cannot read {path}: Too many levels of symbolic links"),
    ]
    assert silences.silences.items == []
