"""The ``sesd silence add`` line a firing carries, after a reload that adds or removes the
silences file: a config without ``silences_path`` (nor a state file beside which it
goes) carries none, as the command would fail; one with it carries the command. A
reload leaves the line a restart with that config would give: on the alerts from then
on, and on the firings still waiting in an outbox, not the line of the config the
daemon started with; but a page whose delivery has begun goes on as it was made. (A
restart gives one a stop left part-sent the restart's lines, as its sink takes it.) A real
daemon's parts, not started, its outboxes not running (but one run to a local PagerDuty)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import anyio
import msgspec
import pytest

from sesd.alerting.rules import Transition
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.config import parse_config
from sesd.runtime.daemon import Daemon
from sesd.runtime.saver import StateSaver
from tests.test_pagerduty_parts_restart import DOMAINS, _PagerDuty, _stopped_part_sent, _told
from tests.test_pagerduty_parts_restart import _text as _pagerduty
from tests.test_reload_sinks import _drained
from tests.test_routing import RULE, T
from tests.test_rules import feed_spike

QUEUE = '[[queues]]\nurl = "http://127.0.0.1:9/1/q"\n'
SINK = '[alerts.sinks.ops]\ntype = "console"\n'


def _text(silences: Path | None) -> str:
    where = "" if silences is None else f'silences_path = "{silences}"\n'
    return QUEUE + '[alerts]\ngroup_wait = "0s"\n' + where + SINK + RULE + 'sinks = ["ops"]\n'


def _restarted(path: Path) -> str:
    """The mute line of a.example's alert in a sesd started on the file at ``path``."""
    daemon = Daemon(parse_config(path.read_text()), config_path=str(path))
    return daemon.alerting.evaluator.mute("delays", ["a.example"])


async def test_a_reload_that_adds_or_removes_the_silences_file_gives_a_restarts_mute_line(
    tmp_path: Path,
) -> None:
    """Started without a silences file, a.example's page waits in the outbox with no
    mute line. A reload adds the file: the waiting page, and the next one, carry the
    line a restart gives. A reload removing it again takes the line off both."""
    path = tmp_path / "sesd.toml"
    path.write_text(_text(None))
    now = [T]
    daemon = Daemon(parse_config(path.read_text()), config_path=str(path), clock=lambda: now[0])
    async with aiohttp.ClientSession() as session:
        daemon.alerting.open(session)
    outbox = daemon.alerting.outboxes["ops"]
    feed_spike(daemon.pipeline, "a.example", T, 5, 5)
    daemon.alerting.evaluate()
    (page,) = outbox.waiting()
    assert (page.kind, page.silence, page.mutes) == (Transition.FIRING, "", (("a.example", ""),))

    path.write_text(_text(tmp_path / "silences.json"))
    assert await daemon.reload()
    line = _restarted(path)
    assert line.startswith(f"sesd silence add --config {path} --rule delays ")
    assert daemon.alerting.evaluator.mute("delays", ["a.example"]) == line
    (page,) = outbox.waiting()
    assert (page.silence, page.mutes) == (line, (("a.example", line),))
    now[0] = T + 10
    feed_spike(daemon.pipeline, "b.example", T + 10, 5, 5)
    daemon.alerting.evaluate()
    assert [n.silence for n in outbox.waiting()] == [line, line.replace("a.example", "b.example")]

    path.write_text(_text(None))
    assert await daemon.reload()
    assert _restarted(path) == ""
    assert daemon.alerting.evaluator.mute("delays", ["a.example"]) == ""
    assert [(n.silence, dict(n.mutes)) for n in outbox.waiting()] == [
        ("", {"a.example": ""}),
        ("", {"b.example": ""}),
    ]


async def test_a_reload_that_moves_the_silences_file_keeps_the_mute_line(
    tmp_path: Path,
) -> None:
    """The line names the config file, which names the silences file: a reload moving
    the file leaves the line as it was, which a restart gives too."""
    path = tmp_path / "sesd.toml"
    path.write_text(_text(tmp_path / "one.json"))
    daemon = Daemon(parse_config(path.read_text()), config_path=str(path))
    async with aiohttp.ClientSession() as session:
        daemon.alerting.open(session)
    line = daemon.alerting.evaluator.mute("delays", ["a.example"])
    path.write_text(_text(tmp_path / "two.json"))
    assert await daemon.reload()
    assert daemon.alerting.evaluator.mute("delays", ["a.example"]) == line == _restarted(path)


async def test_a_page_queued_for_two_sinks_stays_one_page_with_its_new_line(
    tmp_path: Path,
) -> None:
    """A page waiting for two sinks is one notification in both outboxes (what a new
    silence recalls is told so: no sink took it). Given the line the reload brings, it
    is still one, so a silence added then recalls it from both as never sent."""
    two = '[alerts.sinks.pager]\ntype = "console"\n'
    path = tmp_path / "sesd.toml"
    path.write_text(_text(None).replace(SINK, SINK + two).replace('["ops"]', '["ops", "pager"]'))
    now = [T]
    daemon = Daemon(parse_config(path.read_text()), config_path=str(path), clock=lambda: now[0])
    async with aiohttp.ClientSession() as session:
        daemon.alerting.open(session)
    feed_spike(daemon.pipeline, "a.example", T, 5, 5)
    daemon.alerting.evaluate()
    silences = tmp_path / "silences.json"
    path.write_text(path.read_text().replace(SINK, f'silences_path = "{silences}"\n' + SINK))
    assert await daemon.reload()
    outboxes = daemon.alerting.outboxes
    (ops,), (pager,) = outboxes["ops"].waiting(), outboxes["pager"].waiting()
    assert ops is pager
    assert ops.silence == _restarted(path) != ""
    held = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 60, domain="a.example")
    SilenceFile(str(silences)).add(held, T)
    now[0] = T + 1
    daemon.alerting.evaluate()
    assert outboxes["ops"].waiting() == outboxes["pager"].waiting() == []
    assert daemon.alerting.evaluator.states["delays"]["a.example"].notified is False


def _restarted_part_sent(
    state: Path, path: Path, text: str, session: aiohttp.ClientSession, opened: float
) -> Daemon:
    """A daemon on the config file ``path`` (``text``, written), its state restored from
    ``state`` at T+30 (the page a stop left part-sent), its outboxes opened (not run)
    at ``opened``, the start having taken that long."""
    path.write_text(text)
    now = [T + 30]
    config = parse_config(text)
    daemon = Daemon(config, config_path=str(path), clock=lambda: now[0], monotonic=lambda: now[0])
    saver = StateSaver(str(state), daemon.pipeline.ledger, daemon.alerting.evaluator, daemon.clock)
    saver.load()
    saver.release()
    assert [each.sink for each in daemon.alerting.evaluator.resumed] == ["pd"]
    now[0] = opened
    daemon.alerting.open(session)
    return daemon


async def _silences_added(daemon: Daemon, path: Path) -> None:
    """A reload of ``path`` with a silences file added: the mute lines begin anew."""
    assert daemon.alerting.evaluator.mute("delays", ["a.example"]) == ""
    text = await anyio.Path(path).read_text()
    await anyio.Path(path).write_text(
        text.replace("[alerts]\n", f'[alerts]\nsilences_path = "{path}.s"\n')
    )
    assert await daemon.reload()
    assert daemon.alerting.evaluator.mute("delays", ["a.example"]) == _restarted(path) != ""


async def test_a_page_part_sent_before_the_reload_goes_on_from_its_next_event(
    tmp_path: Path,
) -> None:
    """A PagerDuty page of three domains a stop left part-sent (PagerDuty took the first
    trigger) waits in its outbox after the restart, begun. A reload then adds the
    silences file: the page keeps the lines it was made with, and goes on from the
    second trigger. Made again with the new line, it would be another page to the
    sink, which knows nothing of its parts: the first trigger sent again (a second
    incident where the on-call had resolved the first by hand)."""
    state, path = tmp_path / "state", tmp_path / "sesd.toml"
    async with _PagerDuty() as pd, aiohttp.ClientSession() as session:
        await _stopped_part_sent(pd, session, state, "firing", "post")
        daemon = _restarted_part_sent(state, path, QUEUE + _pagerduty(pd.url), session, T + 30)
        outbox = daemon.alerting.outboxes["pd"]
        (begun,) = outbox.unsent()
        assert outbox.waiting() == []
        await _silences_added(daemon, path)
        assert outbox.unsent()[0] is begun
        await _drained(outbox, lambda seconds: anyio.lowlevel.checkpoint())
    assert _told(pd, "trigger") == [f"sesd:delays:{domain}" for domain in DOMAINS]


async def test_a_part_sent_page_sent_whole_after_the_restart_has_the_configs_lines(
    tmp_path: Path,
) -> None:
    """The same page, past its ``notification_max_age`` by the time the restart opens
    its outbox (a long start): it goes whole, a page anew, waiting. Its mute lines are
    the config's, none without a silences file, not the stopped run's (a command that
    fails now); and a reload that adds the file gives it the line, as it gives every
    page waiting, and what a silence recalls of it leaves the rest theirs. The file
    keeps the lines, not what made them: the page kept the stopped run's, and a
    reload or a recall left it none."""
    state, path = tmp_path / "state", tmp_path / "sesd.toml"
    async with _PagerDuty() as pd, aiohttp.ClientSession() as session:
        await _stopped_part_sent(pd, session, state, "firing", "post")
        text = QUEUE + _pagerduty(pd.url, max_age="40s")
        daemon = _restarted_part_sent(state, path, text, session, T + 100)
        outbox = daemon.alerting.outboxes["pd"]
        (whole,) = outbox.waiting()
        assert (whole.silence, dict(whole.mutes)) == ("", dict.fromkeys(DOMAINS, ""))
        await _silences_added(daemon, path)
        (whole,) = outbox.waiting()
        line = _restarted(path)
        assert whole.silence == line.replace("a.example", "'*'")
        assert dict(whole.mutes) == {d: line.replace("a.example", d) for d in DOMAINS}
        held = Silence(id="s1", comment="c", starts_at=T, ends_at=T + 600, domain="a.example")
        SilenceFile(f"{path}.s").add(held, T + 100)
        daemon.alerting.evaluate()
        (rest,) = outbox.waiting()
        assert [a.domain for a in rest.alerts] == DOMAINS[1:]
        assert rest.silence == line.replace("a.example", "'*'")
        assert dict(rest.mutes) == {d: line.replace("a.example", d) for d in DOMAINS[1:]}


@pytest.mark.parametrize("silences", [True, False])
async def test_a_page_part_sent_goes_on_with_the_restarts_mute_lines(
    tmp_path: Path, silences: bool
) -> None:
    """A PagerDuty page of three domains a stop left part-sent, its lines made by a run
    on another config file (an upgrade moved it) with a silences file. The restart
    goes on from the second trigger, each with the line the restart gives: on its own
    config file, or none where that config has no silences file (the saved line would
    be refused, or write a silence no sesd reads). Each line names the alert's domain."""
    state, path = tmp_path / "state", tmp_path / "sesd.toml"
    old = "sesd silence add --config /etc/sesd-old/sesd.toml --rule delays --domain"
    async with _PagerDuty() as pd, aiohttp.ClientSession() as session:
        await _stopped_part_sent(pd, session, state, "firing", "post")
        data = msgspec.msgpack.decode(state.read_bytes())
        (part,) = data["part_sent"]
        part["silence"] = f"{old} '*' --for 4h --comment REASON"
        part["mutes"] = [[d, f"{old} {d} --for 4h --comment REASON"] for d in DOMAINS]
        state.write_bytes(msgspec.msgpack.encode(data))
        text = QUEUE + _pagerduty(pd.url)
        if silences:
            text = text.replace("[alerts]\n", f'[alerts]\nsilences_path = "{path}.s"\n')
        daemon = _restarted_part_sent(state, path, text, session, T + 30)
        await _drained(daemon.alerting.outboxes["pd"], lambda seconds: anyio.lowlevel.checkpoint())
    assert _told(pd, "trigger") == [f"sesd:delays:{domain}" for domain in DOMAINS]
    line = _restarted(path)
    assert bool(line) is silences
    after = [e["payload"]["custom_details"].get("mute") for e in pd.accepted[1:]]
    assert after == [line.replace("a.example", d) or None for d in DOMAINS[1:]]
