"""``sesd_silences_readable{path}``: whether the silences file in force could be read at
the last look. A file sesd cannot read (its permissions, EIO, a share's stale handle,
what it holds) leaves its silences out of force, or the last read's in force: the log
says so once, and the on-call paged for an alert they muted finds the cause here, and
SesdSilencesUnreadable warns of it. A missing file is no silences, by design: readable."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import anyio
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.config import parse_config
from sesd.metrics.exposition import render
from sesd.runtime.daemon import Daemon
from tests.test_routing import RULE, T, _silenceable
from tests.test_silence_hung import (
    BOUND,
    AtTheGate,
    Stuck,
    _reloaded,
    _silence,
    _through,
    gate,
)
from tests.test_silence_reload import _text, _watching
from tests.test_silence_unreadable_again import Flaky, _as_the_daemon, _watched


def _scraped(daemon: Daemon) -> dict[str, float]:
    """The gauge's samples as a scrape reads them, by path."""
    text = render(daemon.metrics.registry.collect()).decode()
    (family,) = [
        family
        for family in text_string_to_metric_families(text)
        if family.name == "sesd_silences_readable"
    ]
    assert family.type == "gauge"
    return {sample.labels["path"]: sample.value for sample in family.samples}


def test_a_file_sesd_cannot_open_reads_0_until_its_permissions_are_mended() -> None:
    with tempfile.TemporaryDirectory() as where:  # under /tmp, which any user may reach
        Path(where).chmod(0o755)
        path = Path(where) / "silences.json"
        _watched(path)
        path.chmod(0)
        daemon = Daemon(parse_config(f'[alerts]\nsilences_path = "{path}"\n'), clock=lambda: T)
        with _as_the_daemon():
            daemon.alerting.silences.look(T)
        assert _scraped(daemon) == {str(path): 0}
        path.chmod(0o644)  # mended: the file itself does not change
        with _as_the_daemon():
            daemon.alerting.silences.look(T + 1)
        assert _scraped(daemon) == {str(path): 1}


def test_a_passing_read_error_reads_0_while_it_lasts(tmp_path: Path) -> None:
    path = tmp_path / "silences.json"
    _watched(path)
    watcher = SilenceWatcher(str(path))
    watcher.file = flaky = Flaky(str(path))
    flaky.failing = ""
    assert watcher.refresh(T)
    assert watcher.unreadable.readable() == {str(path): 1}
    flaky.failing = "Stale file handle"
    path.touch()  # a version the share does not give
    assert not watcher.refresh(T + 1)
    assert watcher.unreadable.readable() == {str(path): 0}
    assert watcher.unreadable.why == f"cannot read {path}: Stale file handle"
    # The silences read before stay in force: still unreadable, at each look.
    assert not watcher.refresh(T + 2)
    assert watcher.unreadable.readable() == {str(path): 0}
    flaky.failing = ""
    assert watcher.refresh(T + 3)
    assert watcher.unreadable.readable() == {str(path): 1}
    assert watcher.unreadable.why == ""


def test_a_file_that_holds_no_silences_file_reads_0_until_it_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "silences.json"
    path.write_text('{"version": 99, "silences": []}')  # a newer sesd's
    watcher = SilenceWatcher(str(path))
    for now in (T, T + 1):  # the same version: not read again, still unreadable
        assert not watcher.refresh(now)
        assert watcher.unreadable.readable() == {str(path): 0}
    assert watcher.unreadable.why == f"{path}: version 99 is not 1"
    path.unlink()  # the on-call writes it anew
    _watched(path)
    assert watcher.refresh(T + 2)
    assert watcher.unreadable.readable() == {str(path): 1}


def test_a_missing_file_is_no_silences_and_reads_1(tmp_path: Path) -> None:
    path = tmp_path / "silences.json"
    watcher = SilenceWatcher(str(path))
    assert not watcher.refresh(T)
    assert watcher.unreadable.readable() == {str(path): 1}
    assert watcher.unreadable.why == ""


def test_no_silences_file_has_no_series(tmp_path: Path) -> None:
    watcher = SilenceWatcher(None)
    assert not watcher.refresh(T)
    assert watcher.unreadable.readable() == {}


def test_a_reload_to_another_file_drops_the_series_of_the_old_one(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text("garbage\n")
    daemon = Daemon(parse_config(f'[alerts]\nsilences_path = "{old}"\n'), clock=lambda: T)
    daemon.alerting.silences.look(T)
    assert _scraped(daemon) == {str(old): 0}
    daemon.alerting.silences.use(str(new), None, T + 1)
    assert _scraped(daemon) == {str(new): 1}
    daemon.alerting.silences.use(None, None, T + 2)
    assert _scraped(daemon) == {}


async def test_a_reload_to_a_file_that_is_no_silences_file_reads_0(tmp_path: Path) -> None:
    """As the daemon reloads: the file read ahead of the change, which takes what the
    read found."""
    alerting, _, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, rule="delays", domain="a.example")
    await alerting.evaluate_in_slices()
    assert alerting.silences.unreadable.readable() == {str(silences): 1}
    typo = tmp_path / "sesd.log"
    typo.write_text("garbage\n")
    now[0] = T + 10
    await _reloaded(alerting, parse_config(_text(typo, RULE + 'sinks = ["ops"]\n')))
    assert alerting.silences.unreadable.readable() == {str(typo): 0}
    typo.write_text('{"version": 1, "silences": []}')
    now[0] = T + 20
    await alerting.evaluate_in_slices()
    assert alerting.silences.unreadable.readable() == {str(typo): 1}


def test_the_status_page_says_why_the_file_cannot_be_read(tmp_path: Path) -> None:
    """Where the on-call paged for a muted alert looks: the Silences part, the API and
    ``sesd status``. The path and the error are the config's and the file's, escaped."""
    from sesd.commands.status_table import table
    from sesd.status.document import Status
    from sesd.status.model import build_status, read_counters
    from sesd.status.page import status_html

    path = tmp_path / "<b>silences.json"
    path.write_text("garbage\n")
    daemon = Daemon(parse_config(f'[alerts]\nsilences_path = "{path}"\n'), clock=lambda: T)
    daemon.alerting.silences.look(T)
    counters = read_counters(daemon.status)
    doc = build_status(daemon.status, T, counters, (T, counters))
    why = f"{path} is not a silences file (JSON is malformed: invalid character (byte 0))"
    assert doc.silences.unreadable == why
    assert msgspec.json.decode(msgspec.json.encode(doc), type=Status) == doc
    page = status_html(doc, 10)
    shown = why.replace("<", "&lt;").replace(">", "&gt;")
    assert f'<p class="warn">The silences file cannot be read: {shown}</p>' in page
    assert "<b>" not in page
    assert f"  the silences file cannot be read: {why}" in table(doc)
    path.write_text('{"version": 1, "silences": []}')
    daemon.alerting.silences.look(T + 1)
    doc = build_status(daemon.status, T + 1, counters, (T, counters))
    assert doc.silences.unreadable == ""
    assert "cannot be read" not in status_html(doc, 10) + table(doc)


@pytest.mark.timeout(30)
async def test_a_file_that_hangs_from_the_start_reads_0_until_a_read_takes(
    tmp_path: Path,
) -> None:
    """A share that does not answer from the start: none of the file's silences are in
    force, and the alerts muted there page, so the gauge reads 0 and says the file does
    not answer, at each look while it hangs; 1 once a read of it takes."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence("s1", domain="a.example"), T)
    watcher = SilenceWatcher(str(path))
    watcher.thread = AtTheGate()
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo, stuck="look")
        watcher.file = stuck
        with anyio.fail_after(5 * BOUND):
            for now in (T, T + 1):  # the second asks nothing of the file: it still hangs
                assert not await watcher.arefresh(now)
                assert watcher.silences.items == []
                assert watcher.unreadable.readable() == {str(path): 0}
                assert watcher.unreadable.why == f"{path} did not answer a look within {BOUND:g} s"
        await _through(fifo, stuck)
    assert await watcher.arefresh(T + 2)
    assert [s.id for s in watcher.silences.items] == ["s1"]
    assert watcher.unreadable.readable() == {str(path): 1}
    assert watcher.unreadable.why == ""


@pytest.mark.timeout(30)
@pytest.mark.parametrize("looks", [0, 1])
async def test_a_file_that_hangs_after_a_read_took_reads_1(tmp_path: Path, looks: int) -> None:
    """The silences read last hold while the file does not answer (the log's
    sesd.silences.hung says it does not): they are in force as read, 1; also after
    ``looks`` looks found it unchanged."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence("s1", domain="a.example"), T)
    watcher = SilenceWatcher(str(path))
    watcher.thread = AtTheGate()
    assert await watcher.arefresh(T)
    for _ in range(looks):
        assert not await watcher.arefresh(T)
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo, stuck="look")
        watcher.file = stuck
        with anyio.fail_after(5 * BOUND):
            assert not await watcher.arefresh(T + 1)
        assert [s.id for s in watcher.silences.items] == ["s1"]
        assert watcher.unreadable.readable() == {str(path): 1}
        assert watcher.unreadable.why == ""
        await _through(fifo, stuck)


@pytest.mark.timeout(30)
async def test_a_file_that_fails_then_hangs_says_it_does_not_answer(tmp_path: Path) -> None:
    """Still 0 when a file that could not be read then hangs, and the page says what is
    true now: it does not answer."""
    path = tmp_path / "silences.json"
    path.write_text("garbage\n")
    watcher = SilenceWatcher(str(path))
    watcher.thread = AtTheGate()
    assert not await watcher.arefresh(T)
    assert watcher.unreadable.readable() == {str(path): 0}
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo, stuck="look")
        watcher.file = stuck
        with anyio.fail_after(5 * BOUND):
            assert not await watcher.arefresh(T + 1)
        assert watcher.unreadable.readable() == {str(path): 0}
        assert watcher.unreadable.why == f"{path} did not answer a look within {BOUND:g} s"
        await _through(fifo, stuck)
    assert not await watcher.arefresh(T + 2)  # answers again, still no silences file
    assert watcher.unreadable.readable() == {str(path): 0}
    assert watcher.unreadable.why.startswith(f"{path} is not a silences file")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("stuck", ["look", "read"])
async def test_a_reload_back_to_a_file_that_hangs_reads_0_at_once(
    tmp_path: Path, stuck: str
) -> None:
    """Its silences held while it hung; the on-call moves ``silences_path`` to a local
    disk and back, the share still hung: none of its silences are in force after the
    reload, so the gauge reads 0 and the page says the file does not answer, from the
    reload on, not from the next evaluation's look."""
    alerting, _, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    alerting.silences.thread = AtTheGate()
    SilenceFile(str(silences)).add(_silence("s1", domain="a.example"), T)
    await alerting.evaluate_in_slices()
    local = tmp_path / "local.json"
    SilenceFile(str(local)).add(_silence("s2", domain="b.example"), T)
    with gate(tmp_path) as fifo:
        alerting.silences.file = file = Stuck(str(silences), fifo, stuck=stuck)
        if stuck == "read":
            os.utime(silences, (T, T))  # a new version, whose read hangs
        with anyio.fail_after(5 * BOUND):
            await alerting.evaluate_in_slices()
            assert [s.id for s in alerting.silences.silences.items] == ["s1"]  # held: 1
            assert alerting.silences.unreadable.readable() == {str(silences): 1}
            now[0] = T + 10
            await _reloaded(alerting, parse_config(_text(local, RULE + 'sinks = ["ops"]\n')))
            assert alerting.silences.unreadable.readable() == {str(local): 1}
            now[0] = T + 20
            await _reloaded(alerting, parse_config(_text(silences, RULE + 'sinks = ["ops"]\n')))
        assert alerting.silences.silences.items == []
        assert alerting.silences.unreadable.readable() == {str(silences): 0}
        why = f"{silences} did not answer a {stuck} within {BOUND:g} s"
        assert alerting.silences.unreadable.why == why
        await _through(fifo, file)
    now[0] = T + 30
    await alerting.evaluate_in_slices()
    assert [s.id for s in alerting.silences.silences.items] == ["s1"]
    assert alerting.silences.unreadable.readable() == {str(silences): 1}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("before", ["missing from the start", "removed after a read"])
async def test_a_share_mounted_late_that_hangs_reads_0_where_the_file_was_missing(
    tmp_path: Path, before: str
) -> None:
    """No file at the path (none yet, or the one read removed): no silences, readable.
    Then the share is mounted there late, and hangs: the silences the on-call wrote on
    it are not in force and their alerts page, so the gauge reads 0 and the status page
    and ``sesd status`` say the file does not answer; 1 once a read of it takes."""
    from sesd.commands.status_table import table
    from sesd.status.model import build_status, read_counters
    from sesd.status.page import status_html

    path = tmp_path / "silences.json"
    daemon = Daemon(parse_config(f'[alerts]\nsilences_path = "{path}"\n'), clock=lambda: T)
    watcher = daemon.alerting.silences
    watcher.thread = AtTheGate()
    if before == "removed after a read":
        SilenceFile(str(path)).add(_silence("s0", domain="a.example"), T - 10)
        assert await watcher.arefresh(T - 5)
        path.unlink()
    await watcher.arefresh(T)
    assert watcher.silences.items == []
    assert _scraped(daemon) == {str(path): 1}
    SilenceFile(str(path)).add(_silence("s1", domain="a.example"), T)
    why = f"{path} did not answer a look within {BOUND:g} s"
    with gate(tmp_path) as fifo:
        watcher.file = stuck = Stuck(str(path), fifo, stuck="look")
        with anyio.fail_after(5 * BOUND):
            assert not await watcher.arefresh(T + 1)
        assert watcher.silences.items == []
        assert _scraped(daemon) == {str(path): 0}
        assert watcher.unreadable.why == why
        counters = read_counters(daemon.status)
        doc = build_status(daemon.status, T + 1, counters, (T, counters))
        assert f'<p class="warn">The silences file cannot be read: {why}</p>' in status_html(
            doc, 10
        )
        assert f"  the silences file cannot be read: {why}" in table(doc)
        await _through(fifo, stuck)
    assert await watcher.arefresh(T + 2)
    assert [s.id for s in watcher.silences.items] == ["s1"]
    assert _scraped(daemon) == {str(path): 1}
