"""An entry of the silences file sesd leaves out is said when first left out, not again
at each read (sesd.alerting.silence_watcher, silence_entries): another entry left out for
the same reason, added by a later edit, is said too, whether it is no silence or a
silence the config's checks refuse."""

from __future__ import annotations

import json
from pathlib import Path

from structlog.testing import capture_logs

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import SILENCES_VERSION, Silence
from tests.test_routing import T


def _skipped(watcher: SilenceWatcher, now: float) -> list[tuple[object, object]]:
    """(entry, id) of each entry said left out at a read of the file at ``now``."""
    with capture_logs() as logs:
        assert watcher.refresh(now)
    return [(e["entry"], e["id"]) for e in logs if e["event"] == "sesd.silences.skipped"]


def _write(path: Path, entries: list[dict[str, object]]) -> None:
    """The file as an editor leaves it."""
    path.write_text(json.dumps({"version": SILENCES_VERSION, "silences": entries}))


def test_a_second_entry_that_is_no_silence_for_the_same_reason_is_said_too(
    tmp_path: Path,
) -> None:
    """An entry edited in without its start is no silence: said. A later edit adds
    another, another id, missing the same: said too, the first not again."""
    path = tmp_path / "silences.json"
    first = {"id": "hand-1", "comment": "by hand", "ends_at": T + 3600}
    _write(path, [first])
    watcher = SilenceWatcher(str(path))
    assert _skipped(watcher, T) == [(1, "hand-1")]
    _write(path, [first, {"id": "hand-2", "comment": "by hand too", "ends_at": T + 60}])
    assert _skipped(watcher, T + 1) == [(2, "hand-2")]


def test_a_second_silence_the_checks_refuse_for_the_same_reason_is_said_too(
    tmp_path: Path,
) -> None:
    """A silence the config's checks refuse is said; a ``sesd silence add`` of another
    they refuse for the same reason is said too, the first not again."""
    path = tmp_path / "silences.json"
    file = SilenceFile(str(path))

    def silence(number: int) -> Silence:
        return Silence(id=f"s{number}", comment="", starts_at=T, ends_at=None,
                       until_resolved=True, domain=f"{number}.example")  # fmt: skip

    file.add(silence(1), T)
    watcher = SilenceWatcher(str(path), lambda s: "names a domain no rule watches")
    assert _skipped(watcher, T) == [(1, "s1")]
    file.add(silence(2), T + 1)
    assert _skipped(watcher, T + 1) == [(2, "s2")]


def test_an_entry_left_out_is_said_with_the_file_and_why(tmp_path: Path) -> None:
    """The line of an entry left out names the file it is in, beside its place, its id
    and why: the on-call engineer edits that file."""
    path = tmp_path / "silences.json"
    _write(path, [{"id": "hand-1", "comment": "by hand", "ends_at": T + 3600}])
    watcher = SilenceWatcher(str(path))
    with capture_logs() as logs:
        assert watcher.refresh(T)
    [line] = [e for e in logs if e["event"] == "sesd.silences.skipped"]
    assert (line["path"], line["entry"], line["id"]) == (str(path), 1, "hand-1")
    assert line["reason"].startswith("not a silence: ")
    assert "starts_at" in line["reason"]
