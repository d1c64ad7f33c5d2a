"""A silences file that does not answer (a hard-mounted NFS share that hangs, a disk
that stalls): the daemon reads, looks at and writes it in a worker thread, waits a
bound for each, and goes on with the silences it read last. The hang is said once
(its path escaped), and no second operation starts on the file while one hangs.

The hang is real: a file whose read (or write) first waits at a FIFO it opened for
reading, until the test opens it for writing and closes it. sesd's own reads open a FIFO planted at
the path without waiting (and refuse it), so the FIFO stands in front of a plain file.
"""

from __future__ import annotations

import io
import os
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import anyio.to_thread
import msgspec
import pytest
from structlog.testing import capture_logs

from sesd.alerting.alert import Notification
from sesd.alerting.rules import Transition
from sesd.alerting.service import Alerting
from sesd.alerting.silence_entries import Entry
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_io import BOUND as SESD_BOUND
from sesd.alerting.silence_io import FileOp, FileThread
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import Silence
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, parse_config
from sesd.metrics.alerts import UnwrittenCollector
from tests.conftest import make_queue, running, send_bodies
from tests.fifo_gates import let_through
from tests.receivers import Receiver
from tests.test_alerting_e2e import alerting_config, short_polled, spike
from tests.test_routing import RULE, T, _queued, _silenceable
from tests.test_rules import feed_spike
from tests.test_silence_reload import BOUNCES, _text, _watching
from tests.test_silence_unwritable import _unwritable

pytestmark = pytest.mark.timeout(60)

#: How long the tests' watchers wait for an operation held at a gate: short, the hang
#: is the test's own (:class:`AtTheGate`).
BOUND = 0.3


class Stuck(SilenceFile):
    """A plain silences file whose first look, read or write (as ``stuck`` says) waits,
    as one on a share that hangs, until the test opens the FIFO ``gate`` for writing
    and closes it."""

    def __init__(self, path: str, gate: Path, stuck: str = "read") -> None:
        super().__init__(path)
        self._gate, self._stuck = gate, stuck
        #: How many operations came to the gate (one thread at most).
        self.waits = 0
        #: Set once the operation that waits is at the gate, and once it has come back.
        self.at_gate, self.back = threading.Event(), threading.Event()
        _made.add(self)

    def holds(self, op: FileOp) -> bool:
        """Whether ``op`` is the operation that waits at the gate: the first of its kind
        on this path. Asked before it runs; once it ran, none other on the path does
        until it came back (sesd's thread), and then it has waited."""
        return op.path == self.path and op.what == self._stuck and not self.waits

    def _wait(self, what: str) -> bool:
        """Wait at the gate, if this is the operation that does; whether it was."""
        if what != self._stuck or self.waits:
            return False
        # At the gate before it is counted: a test that lets it through once it is counted
        # (let_through) finds it there. Opened in a blocking open(), it was counted first,
        # and a gate opened in between was missed: the operation hung.
        fd = os.open(self._gate, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self.waits += 1
            self.at_gate.set()
            waiting = select.poll()
            waiting.register(fd, select.POLLIN)
            waiting.poll()  # until a writer came and went (a FIFO no writer opened yet waits)
        finally:
            os.close(fd)
        return True

    def identity(self) -> tuple[int, int, int, int] | None:
        waited = False
        try:
            waited = self._wait("look")
            return super().identity()
        finally:
            if waited:
                self.back.set()

    def entries(self) -> list[Entry]:
        waited = False
        try:
            waited = self._wait("read")
            return super().entries()
        finally:
            if waited:
                self.back.set()

    def update(
        self, change: Callable[[list[Silence]], list[Silence]], now: float, *, wait: bool = True
    ) -> None:
        waited = False
        try:
            waited = self._wait("write")
            super().update(change, now, wait=wait)
        finally:
            if waited:
                self.back.set()


#: The stuck files alive: :class:`AtTheGate` asks each whether it holds an operation.
_made: weakref.WeakSet[Stuck] = weakref.WeakSet()


class AtTheGate(FileThread):
    """The daemon's file thread, which gives up at :data:`BOUND` only an operation a
    :class:`Stuck` file holds at its gate: the hang the test makes. Any other (a look
    or a read of a plain file, a write that takes) waits sesd's own bound, as a disk
    that answers does: on a loaded machine the thread that runs one may not get a core
    within BOUND, and a look given up there says a file hung that the test means to
    answer."""

    async def _call(self, op: FileOp) -> Any:
        held = any(file.holds(op) for file in _made)
        self.bound = BOUND if held else SESD_BOUND
        return await super()._call(op)


@contextmanager
def gate(tmp_path: Path) -> Iterator[Path]:
    """A FIFO; opened for writing at the end, whatever the test did, so that no thread
    waits on it past the test."""
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    try:
        yield fifo
    finally:
        let_through(fifo)


async def _back(file: Stuck) -> None:
    """Wait for the operation given up to come back (its thread ended)."""
    assert await anyio.to_thread.run_sync(file.back.wait, 10)


async def _at_gate(file: Stuck) -> None:
    """Wait for ``file``'s operation to be at its gate. Given up, it may not be there
    yet: on a loaded machine its thread may not have run since."""
    assert await anyio.to_thread.run_sync(file.at_gate.wait, 10)


async def _through(fifo: Path, file: Stuck) -> None:
    """Let ``file``'s operation through the gate ``fifo`` once it is there, and wait for
    it to come back: a gate opened before it came there lets nothing through."""
    await _at_gate(file)
    let_through(fifo)
    await _back(file)


def _silence(silence_id: str, **kw: Any) -> Silence:
    return Silence(id=silence_id, comment="c", starts_at=T - 60, ends_at=None, **kw)


def _events(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def _read_bounded(path: Path, silence: Silence) -> SilenceWatcher:
    """A watcher of ``path``, written with ``silence`` and read at T, that waits BOUND
    for the operation a :class:`Stuck` file holds (:class:`AtTheGate`)."""
    SilenceFile(str(path)).add(silence, T)
    watcher = SilenceWatcher(str(path))
    watcher.thread = AtTheGate()
    assert await watcher.arefresh(T)
    return watcher


async def test_a_read_that_hangs_is_given_up_and_the_silences_read_last_hold(
    tmp_path: Path,
) -> None:
    """The file changes (s2 added) and its read hangs: the refresh comes back within the
    bound, s1 holds, and the hang is said once with the path escaped. The next refresh
    starts no second read while the first hangs. Once it comes back, the file is read
    again: s1 and s2 hold."""
    path = tmp_path / "sil\x1bences.json"
    watcher = await _read_bounded(path, _silence("s1", domain="a.example"))
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo)
        watcher.file = stuck
        SilenceFile(str(path)).add(_silence("s2", domain="b.example"), T)  # the CLI's
        with capture_logs() as logs:
            with anyio.fail_after(5 * BOUND):
                assert not await watcher.arefresh(T + 1)
                assert not await watcher.arefresh(T + 2)
        assert [s.id for s in watcher.silences.items] == ["s1"]
        (hung,) = _events(logs, "sesd.silences.hung")
        assert (hung["path"], hung["what"], hung["seconds"]) == (
            str(path).replace("\x1b", "\\u001b"),
            "read",
            BOUND,
        )
        await _through(fifo, stuck)
        assert stuck.waits == 1
    with capture_logs() as logs:
        assert await watcher.arefresh(T + 3)
    assert [s.id for s in watcher.silences.items] == ["s1", "s2"]
    assert [line["what"] for line in _events(logs, "sesd.silences.answered")] == ["read"]


async def test_a_file_that_hangs_again_after_it_answered_is_said_again(tmp_path: Path) -> None:
    """The file's read hangs, is said, and comes back; the next evaluation's read is
    said answered and runs. A later read that hangs is said again: the on-call hears
    of each hang, not only the first."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence("s1", domain="a.example"), T)
    watcher = SilenceWatcher(str(path))
    watcher.thread = AtTheGate()
    with capture_logs() as logs:
        for n in range(2):
            (tmp_path / str(n)).mkdir()
            with gate(tmp_path / str(n)) as fifo:
                stuck = Stuck(str(path), fifo)
                watcher.file = stuck
                SilenceFile(str(path)).add(_silence(f"s{n + 2}", domain="b.example"), T)
                with anyio.fail_after(5 * BOUND):
                    assert not await watcher.arefresh(T + n)
                await _through(fifo, stuck)
            watcher.file = SilenceFile(str(path))
            assert await watcher.arefresh(T + n)
    events = ("sesd.silences.hung", "sesd.silences.answered")
    said = [(e["event"], e["what"]) for e in logs if e["event"] in events]
    hung, answered = ("sesd.silences.hung", "read"), ("sesd.silences.answered", "read")
    assert said == [hung, answered, hung, answered]
    assert [s.id for s in watcher.silences.items] == ["s1", "s2", "s3"]


async def test_a_write_that_hangs_keeps_the_end_in_force_and_waiting(tmp_path: Path) -> None:
    """An ``--until-resolved`` silence whose alert resolved, and the write of its end
    hangs: it is out of force at once, the end waits (the gauge counts it, the stop
    names it), and a second end is not tried while the write hangs. Once the file
    answers, the next evaluation's write takes: the end at the resolve's time."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence("s1", domain="a.example", until_resolved=True), T)
    watcher = SilenceWatcher(str(path))
    watcher.thread = AtTheGate()
    gauge = UnwrittenCollector()
    gauge.read = watcher.unwritten
    assert await watcher.arefresh(T)
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo, stuck="write")
        watcher.file = stuck
        with capture_logs() as logs:
            with anyio.fail_after(5 * BOUND):
                await watcher.aend({"s1"}, T + 10)
                await watcher.aend(set(), T + 11)
            watcher.log_unwritten()
        assert watcher.silences.match("r", "a.example", "critical", T + 12) is None
        (family,) = gauge.collect()
        assert [(s.labels, s.value) for s in family.samples] == [({"path": str(path)}, 1)]
        assert [line["what"] for line in _events(logs, "sesd.silences.hung")] == ["write"]
        (unwritable,) = _events(logs, "sesd.silences.unwritable")
        assert unwritable["ids"] == ["s1"]
        (unwritten,) = _events(logs, "sesd.silences.unwritten")
        assert (unwritten["path"], unwritten["ids"]) == (str(path), ["s1"])
        await _at_gate(stuck)
        assert stuck.waits == 1
        assert SilenceFile(str(path)).read()[0].ends_at is None
        await _through(fifo, stuck)
    await watcher.aend(set(), T + 20)
    assert SilenceFile(str(path)).read()[0].ends_at == T + 10
    (family,) = gauge.collect()
    assert [(s.labels, s.value) for s in family.samples] == [({"path": str(path)}, 0)]


async def test_a_reload_writes_the_end_it_made_after_the_change(tmp_path: Path) -> None:
    """A reload's change of rules is one step, the file left alone amid it: a reload
    that removes the rule ends the ``--until-resolved`` silence holding its alert, in
    force at once, and in the file once the change is made."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, rule="delays", domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    await alerting.evaluate_in_slices()
    assert [s.id for s in alerting.silences.silences.items] == ["s1"]
    now[0] = T + 10
    config = parse_config(_text(silences, BOUNCES))
    await alerting.read_silences(config)
    alerting.reconfigure(config, files_read=True)
    assert [s.ends_at for s in file.read()] == [None]  # not in the change
    assert alerting.silences.silences.match("delays", "a.example", "critical", T + 10) is None
    await alerting.write_silences()
    assert [s.ends_at for s in file.read()] == [T + 10]


async def test_a_reload_off_a_share_that_hangs_reads_the_new_file_at_once(
    tmp_path: Path,
) -> None:
    """The silences file's read hangs (said once); the on-call moves ``silences_path``
    to a local disk and reloads: the new file is read at once, its silence in force,
    though the old file's read still hangs."""
    alerting, _, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    alerting.silences.thread = AtTheGate()
    moved = tmp_path / "local.json"
    SilenceFile(str(moved)).add(_silence("s2", domain="b.example"), T)
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo)
        alerting.silences.file = stuck
        SilenceFile(str(silences)).add(_silence("s1", domain="a.example"), T)
        with capture_logs() as logs, anyio.fail_after(5 * BOUND):
            await alerting.evaluate_in_slices()
            config = parse_config(_text(moved, RULE + 'sinks = ["ops"]\n'))
            now[0] = T + 10
            await _reloaded(alerting, config)
        assert [s.id for s in alerting.silences.silences.items] == ["s2"]
        assert [line["what"] for line in _events(logs, "sesd.silences.hung")] == ["read"]
        assert not stuck.back.is_set()
        await _through(fifo, stuck)


async def test_a_reload_off_a_file_no_end_waits_for_does_not_look_at_it(tmp_path: Path) -> None:
    """A reload moves ``silences_path`` off a share whose next look would hang, no end
    waiting for the old file: the reload looks at the new file only, and is done at once."""
    alerting, _, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    alerting.silences.thread = AtTheGate()
    await alerting.evaluate_in_slices()
    moved = tmp_path / "local.json"
    SilenceFile(str(moved)).add(_silence("s2", domain="b.example"), T)
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo, stuck="look")
        alerting.silences.file = stuck
        config = parse_config(_text(moved, RULE + 'sinks = ["ops"]\n'))
        now[0] = T + 10
        with capture_logs() as logs:
            await _reloaded(alerting, config)
        assert stuck.waits == 0
        assert _events(logs, "sesd.silences.hung") == []
    assert [s.id for s in alerting.silences.silences.items] == ["s2"]


@pytest.mark.timeout(90)
async def test_the_daemon_serves_and_pages_while_its_silences_read_hangs(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sesd`` whose silences file's read hangs from its first evaluation: /healthz
    answers 200, the queue's events are consumed and the alert they fire pages Slack,
    all while the read hangs; the hang is said once, and ``sesd_silences_readable``
    reads 0 (none of its silences are in force). Once the file answers, its silences
    are read, and it reads 1."""
    path = tmp_path / "silences.json"
    SilenceFile(str(path)).add(_silence("s1", domain="b.example"), time.time())
    monkeypatch.setattr("sesd.alerting.silence_watcher.FileThread", AtTheGate)
    url, _ = await make_queue(sqs)
    with gate(tmp_path) as fifo:
        made: list[Stuck] = []

        def stuck(at: str) -> Stuck:
            made.append(Stuck(at, fifo))
            return made[-1]

        monkeypatch.setattr("sesd.alerting.silence_watcher.SilenceFile", stuck)
        async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
            monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
            monkeypatch.setenv("SESD_TEST_PD_KEY", "key")
            config = alerting_config(local_sqs, url, slack, pd, min_events=10)
            config = _with_silences(short_polled(config, monkeypatch), path)
            with capture_logs() as logs:
                async with running(config, console=io.StringIO()) as daemon:
                    (file,) = made
                    assert not file.back.is_set()  # its read hangs
                    health = f"http://127.0.0.1:{daemon.http_port}/healthz"
                    async with aiohttp.ClientSession() as http, http.get(health) as answer:
                        assert answer.status == 200
                    await send_bodies(sqs, url, spike(time.time()))
                    with anyio.fail_after(30):
                        await slack.wait_for(1)
                    assert not file.back.is_set()
                    assert daemon.alerting.silences.silences.items == []
                    # None of its silences in force: the gauge and the page say so.
                    unreadable = daemon.alerting.silences.unreadable
                    assert unreadable.readable() == {str(path): 0}
                    assert unreadable.why == f"{path} did not answer a read within {BOUND:g} s"
                    await _through(fifo, file)
                    with anyio.fail_after(10):
                        await daemon.changes.wait_for(
                            lambda: (
                                [s.id for s in daemon.alerting.silences.silences.items] == ["s1"]
                            )
                        )
                    assert unreadable.readable() == {str(path): 1}
    assert [line["what"] for line in _events(logs, "sesd.silences.hung")] == ["read"]
    assert "outlook.example" in slack.accepted[0]["text"]


def _with_silences(config: Config, path: Path) -> Config:
    """``config`` with its silences in the file at ``path``."""
    alerts = msgspec.structs.replace(config.alerts, silences_path=str(path))
    return msgspec.structs.replace(config, alerts=alerts)


async def _reloaded(alerting: Alerting, config: Config) -> None:
    """A reload to ``config`` as the reloader makes it: the silences file read, the
    evaluation under way settled, the change, the ends it left written."""
    await alerting.read_silences(config)
    alerting.evaluator.settle()  # as the reloader does, before the change
    alerting.reconfigure(config, files_read=True)
    await alerting.write_silences()


async def _reload_between_slices(
    alerting: Alerting,
    config: Config,
    meanwhile: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> list[Notification]:
    """An evaluation in slices with a whole reload to ``config`` run between two of
    them (its read quick); ``meanwhile`` is done after the evaluation's own read.
    Returns what the evaluation notified."""
    reloaded = anyio.Event()
    slices = alerting.evaluator.slices

    def under_way(ledger: Any, at: float) -> Iterator[None]:
        evaluation = slices(ledger, at)
        meanwhile()
        while not reloaded.is_set():
            yield  # the evaluation gives the event loop back: the reload runs whole
        yield from evaluation

    async def reload() -> None:
        await _reloaded(alerting, config)
        reloaded.set()

    monkeypatch.setattr(alerting.evaluator, "slices", under_way)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(reload)
            notified = await alerting.evaluate_in_slices()
    return notified


async def _evaluated_amid_a_step(
    alerting: Alerting, stuck: Stuck, fifo: Path, now: list[float], to: float, step: float
) -> list[Notification]:
    """One evaluation whose file operation waits at ``fifo`` (``stuck``): the wall clock
    steps ``step`` seconds to ``to`` while it waits, told from another task as the
    daemon tells it, then the operation goes on. Returns what the evaluation notified."""

    async def step_while_stuck() -> None:
        while not stuck.waits:
            await anyio.lowlevel.checkpoint()
        now[0] = to
        alerting.stepped(to, step)  # as the daemon does
        let_through(fifo)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(step_while_stuck)
            notified = await alerting.evaluate_in_slices()
    return notified


async def _reload_amid(
    alerting: Alerting,
    config: Config,
    stuck: Stuck,
    fifo: Path,
    meanwhile: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> list[Notification]:
    """An evaluation in slices with a reload to ``config`` begun amid them, as the
    reloader makes it, whose read of ``stuck`` waits until the slices ran out (the
    evaluation decides first); ``meanwhile`` is done as they begin, after the
    evaluation's own read. Returns what the evaluation notified."""
    begun = anyio.Event()
    slices = alerting.evaluator.slices

    def under_way(ledger: Any, at: float) -> Iterator[None]:
        evaluation = slices(ledger, at)
        meanwhile()
        begun.set()
        while not stuck.waits:
            yield  # the evaluation gives the event loop back: the reload runs
        yield from evaluation
        let_through(fifo)

    async def reload() -> None:
        await begun.wait()
        await _reloaded(alerting, config)

    monkeypatch.setattr(alerting.evaluator, "slices", under_way)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(reload)
            notified = await alerting.evaluate_in_slices()
    return notified


@pytest.mark.parametrize("moved", [True, False], ids=["onto a copy", "removing the rule"])
async def test_a_reload_amid_an_evaluation_keeps_the_silences_until_its_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moved: bool
) -> None:
    """a.example fires, held by s1 (on the rule). A reload comes while an evaluation is
    under way in slices, and its read of the silences file is slow: onto a copy of the
    file on a local disk, or on the same file (s2 just added) removing the rule. The
    evaluation decides while the read is under way, under the rules it began with and
    so under their silences: s1 still holds a.example (the silences in force change
    with the rules, at the reload's change, not when its read begins; before, they
    were none, or checked by the new config, which leaves out a silence on a rule it
    removes), and nothing is paged, at the reload nor after."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    SilenceFile(str(silences)).add(_silence("s1", rule="delays", domain="a.example"), T)
    copy = tmp_path / "local.json"
    copy.write_bytes(silences.read_bytes())
    feed_spike(pipeline, "a.example", T, 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    if moved:
        config = parse_config(_text(copy, RULE + 'sinks = ["ops"]\n'))
    else:
        config = parse_config(_text(silences, BOUNCES))

    def added() -> None:
        if not moved:  # the CLI's, after the evaluation's read
            SilenceFile(str(silences)).add(_silence("s2", domain="b.example"), T)

    with gate(tmp_path) as fifo:
        stuck = Stuck(str(copy if moved else silences), fifo)
        monkeypatch.setattr(
            "sesd.alerting.silence_watcher.SilenceFile",
            lambda at: stuck if at == stuck.path else SilenceFile(at),
        )
        alerting.silences.file = SilenceFile(str(silences)) if moved else stuck
        now[0] = T + 10
        assert await _reload_amid(alerting, config, stuck, fifo, added, monkeypatch) == []
        assert _queued(alerting, "ops") == []
        if moved:
            assert [s.id for s in alerting.silences.silences.items] == ["s1"]
            assert alerting.silences.unwritten() == {str(copy): 0}  # the copy read


async def test_an_end_decided_before_a_reload_moved_the_file_is_written_to_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.example fired under ``--rule delays --domain a.example --until-resolved``, held.
    Its delays clear; the evaluation that resolves it is under way in slices when a
    reload moves ``silences_path`` to another file, whose read is slow. The evaluation
    decided the resolve, and so the silence's end, in the file it read: the end is
    written there, where the silence is, not to the file the reload read (which holds
    no such silence): a reload back to the old file, or a start with the old config,
    would otherwise mute the alert's next incident."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, rule="delays", domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    other = tmp_path / "other.json"
    SilenceFile(str(other)).update(list, T)  # no silences
    config = parse_config(_text(other, RULE + 'sinks = ["ops"]\n'))
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(other), fifo)
        monkeypatch.setattr(
            "sesd.alerting.silence_watcher.SilenceFile",
            lambda at: stuck if at == stuck.path else SilenceFile(at),
        )
        now[0] = T + 10
        feed_spike(pipeline, "a.example", T + 10, 0, 200)
        assert await _reload_amid(alerting, config, stuck, fifo, lambda: None, monkeypatch) == []
    assert [s.ends_at for s in SilenceFile(str(silences)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {str(other): 0}


async def test_an_end_decided_as_a_reload_settles_the_evaluation_is_written_to_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the reload's read is quick: the whole reload runs between two of
    the evaluation's slices, and its settle decides the evaluation, the resolve and
    so the silence's end, before its change of files. The end is written to the old
    file, which holds the silence (before: it waited for the evaluation's write, made
    after the change, and so went to the new file, which holds no such silence; the
    old file kept it waiting, to mute the alert's next incident at a reload back to
    it or a start with the old config)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, rule="delays", domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    other = tmp_path / "other.json"
    SilenceFile(str(other)).update(list, T)  # no silences
    config = parse_config(_text(other, RULE + 'sinks = ["ops"]\n'))
    now[0] = T + 10
    feed_spike(pipeline, "a.example", T + 10, 0, 200)
    assert await _reload_between_slices(alerting, config, lambda: None, monkeypatch) == []
    assert [s.ends_at for s in SilenceFile(str(silences)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {str(other): 0}


async def test_an_end_decided_while_a_reload_reads_the_file_moved_waits_for_no_old_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the on-call moved the silences file to the new path before the
    reload: the end decided while the reload's read is under way is written to the file
    moved, which holds the silence, and nothing waits for the old path, where no file is
    (before: the old path was not looked at, as no end waited when the read began, and
    its end waited there for good: counted by ``sesd_silences_unwritten``, and named at
    the stop as held waiting by a file that is not there)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, rule="delays", domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    moved = tmp_path / "moved.json"
    config = parse_config(_text(moved, RULE + 'sinks = ["ops"]\n'))
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(moved), fifo)
        monkeypatch.setattr(
            "sesd.alerting.silence_watcher.SilenceFile",
            lambda at: stuck if at == stuck.path else SilenceFile(at),
        )
        now[0] = T + 10
        feed_spike(pipeline, "a.example", T + 10, 0, 200)

        def move() -> None:  # after the evaluation's read, before the reload's
            os.rename(silences, moved)

        assert await _reload_amid(alerting, config, stuck, fifo, move, monkeypatch) == []
    assert [s.ends_at for s in SilenceFile(str(moved)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {str(moved): 0}
    with capture_logs() as logs:
        alerting.silences.log_unwritten()
    assert _events(logs, "sesd.silences.unwritten") == []


async def test_an_end_decided_as_a_reload_settles_waits_for_no_old_path_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but the whole reload runs between two of the evaluation's slices (its
    read quick), and its settle decides the end, after its read: the file read is
    looked at all the same, and nothing waits for the old path, where no file is
    (before: not looked at, as no end waited when the read began, the end waited there
    for good: counted by ``sesd_silences_unwritten``, and named at the stop)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, rule="delays", domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    moved = tmp_path / "moved.json"
    config = parse_config(_text(moved, RULE + 'sinks = ["ops"]\n'))
    now[0] = T + 10
    feed_spike(pipeline, "a.example", T + 10, 0, 200)

    def move() -> None:  # after the evaluation's read, before the reload's
        os.rename(silences, moved)

    assert await _reload_between_slices(alerting, config, move, monkeypatch) == []
    assert [s.ends_at for s in SilenceFile(str(moved)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {str(moved): 0}
    with capture_logs() as logs:
        alerting.silences.log_unwritten()
    assert _events(logs, "sesd.silences.unwritten") == []


async def test_an_end_decided_while_a_write_is_under_way_is_written_next(tmp_path: Path) -> None:
    """s1's end is being written, slowly, when another evaluation ends s2 (both
    ``--until-resolved``): s2 is out of force at once, and waits for the write under
    way; that write takes s1, and the next takes s2."""
    path = tmp_path / "silences.json"
    for silence_id, domain in (("s1", "a.example"), ("s2", "b.example")):
        SilenceFile(str(path)).add(_silence(silence_id, domain=domain, until_resolved=True), T)
    watcher = SilenceWatcher(str(path))
    assert await watcher.arefresh(T)
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(path), fifo, stuck="write")
        watcher.file = stuck
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watcher.aend, {"s1"}, T + 10)
                while not stuck.waits:
                    await anyio.lowlevel.checkpoint()  # the write of s1's end is under way
                tasks.start_soon(watcher.aend, {"s2"}, T + 20)
                await anyio.lowlevel.checkpoint()
                assert watcher.silences.match("r", "b.example", "critical", T + 20) is None
                let_through(fifo)
    assert [s.ends_at for s in SilenceFile(str(path)).read()] == [T + 10, T + 20]
    assert watcher.unwritten() == {str(path): 0}


@pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["an hour back", "an hour ahead"])
async def test_a_clock_step_while_the_silences_are_read_leaves_the_group_wait_whole(
    tmp_path: Path, step: float
) -> None:
    """a.example's mail is delayed (on either clock), its rule under a group_wait of
    30 s; the wall clock steps an hour while the evaluation's read of the silences
    file is under way (told from another task, as the daemon tells it). The
    evaluation runs on the clock after the step, as the times it holds do: it fires
    a.example, whose page waits its 30 s and goes once they are over (run on the
    clock before the step, amid times moved to the new one, it fired nothing: the
    page came an evaluation late)."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "30s")
    SilenceFile(str(silences)).update(list, T)  # no silences
    for at in (T, T + step):  # delayed on either clock
        feed_spike(pipeline, "a.example", at, 5, 5)
    now[0] = T + 1
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo)
        alerting.silences.file = stuck

        assert await _evaluated_amid_a_step(alerting, stuck, fifo, now, T + 1 + step, step) == []
    assert alerting.evaluator.waiting() == [("delays", "a.example", Transition.FIRING)]
    now[0] = T + 30 + step
    assert await alerting.evaluate_in_slices() == []
    now[0] = T + 31 + step
    assert [(n.kind, [a.domain for a in n.alerts]) for n in alerting.evaluate()] == [
        (Transition.FIRING, ["a.example"])
    ]


async def test_a_clock_step_while_an_end_is_written_leaves_the_group_wait_whole(
    tmp_path: Path,
) -> None:
    """b.example resolves under ``--until-resolved`` as a.example fires, its rule
    under a group_wait of 30 s; the wall clock steps an hour back while the
    evaluation writes b.example's silence's end, slowly. What is due is asked on the
    clock after the step, as the group's start moved to it: a.example's page waits its
    30 s (asked on the clock before the step, an hour past the moved start, it was
    paged at once). The end being written moves back with the step, and the next
    write writes it so."""
    step = -3600.0
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "30s")
    SilenceFile(str(silences)).add(_silence("s1", domain="b.example", until_resolved=True), T)
    feed_spike(pipeline, "b.example", T, 5, 5)
    now[0] = T
    assert await alerting.evaluate_in_slices() == []  # held
    feed_spike(pipeline, "b.example", T + 10, 0, 200)
    for at in (T + 9 + step, T + 9):  # delayed on either clock
        feed_spike(pipeline, "a.example", at, 5, 5)
    now[0] = T + 10
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo, stuck="write")
        alerting.silences.file = stuck

        assert await _evaluated_amid_a_step(alerting, stuck, fifo, now, T + 10 + step, step) == []
    assert [s.ends_at for s in SilenceFile(str(silences)).read()] == [T + 10]
    assert alerting.evaluator.waiting() == [("delays", "a.example", Transition.FIRING)]
    now[0] = T + 39 + step
    assert await alerting.evaluate_in_slices() == []
    # The end written moved back with the step (to the silence's start, an hour back),
    # written by the next write: the one under way wrote the end before it.
    assert [s.ends_at for s in SilenceFile(str(silences)).read()] == [T - 60]
    now[0] = T + 40 + step
    assert [(n.kind, [a.domain for a in n.alerts]) for n in alerting.evaluate()] == [
        (Transition.FIRING, ["a.example"])
    ]


async def test_a_clock_step_while_a_left_file_is_written_writes_its_end_again(
    tmp_path: Path,
) -> None:
    """A reload left s1's end (T + 10) to the old file, locked then; once it can be
    written the write is slow, and the wall clock steps an hour back meanwhile. The
    end moved back with the step waits for the next write, which writes it so (before:
    the write under way, which wrote the end from before the step, dropped it, and the
    old file held s1 in force again until the clock reached T + 10)."""
    step = -3600.0
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    assert await alerting.evaluate_in_slices() == []  # held
    lock = _unwritable(silences)
    now[0] = T + 10
    feed_spike(pipeline, "a.example", T + 10, 0, 200)
    await alerting.evaluate_in_slices()
    config = parse_config(_text(tmp_path / "other.json", RULE + 'sinks = ["ops"]\n'))
    await _reloaded(alerting, config)
    lock.rmdir()
    left = alerting.silences._left._files
    with gate(tmp_path) as fifo:
        stuck = Stuck(str(silences), fifo, stuck="write")
        _, was, ends, starts = left[str(silences)]
        left[str(silences)] = stuck, was, ends, starts

        now[0] = T + 11
        await _evaluated_amid_a_step(alerting, stuck, fifo, now, T + 11 + step, step)
    assert [s.ends_at for s in SilenceFile(str(silences)).read()] == [T + 10]
    assert alerting.silences.unwritten() == {str(silences): 1, str(tmp_path / "other.json"): 0}
    now[0] = T + 12 + step
    await alerting.evaluate_in_slices()
    assert [s.ends_at for s in SilenceFile(str(silences)).read()] == [T]
    assert alerting.silences.unwritten() == {str(tmp_path / "other.json"): 0}
