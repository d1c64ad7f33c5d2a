"""An ``--until-resolved`` silence whose alert a change of rules resolves: a reload that
removes the rule or narrows what it watches, or a config edited while sesd was stopped.
The silence said "until this alert resolves": it ends then, in the file (``sesd silence
list``) and in force (the status page), as an evaluation's resolve ends it, whether the
resolve is sent or the silence held the firing back; else it waited on an alert gone,
and muted the next incident once the rule came back. The daemon's alerting on console
sinks whose outboxes do not run (what they get stays queued), a real silences file; and
a real daemon's start, over moto's SQS."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from sesd.alerting.evaluator import Evaluator
from sesd.alerting.rules import Transition
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silence_watcher import SilenceWatcher
from sesd.alerting.silences import Silence
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.runtime.saver import StateSaver
from sesd.runtime.state import restore, snapshot
from sesd.status.alerts import silence_list
from tests.conftest import make_queue, running
from tests.test_routing import RULE, T, _queued, _silenceable, alerting_for
from tests.test_rules import feed_spike

#: Another rule, kept when a reload removes ``delays``.
BOUNCES = """
[[alerts.rules]]
name = "bounces"
metric = "bounce_ratio"
window = "5m"
above = 0.5
sinks = ["ops"]
"""


def _text(silences: Path, rules: str) -> str:
    return (
        f'[alerts]\ngroup_wait = "0s"\nsilences_path = "{silences}"\n'
        '[alerts.sinks.ops]\ntype = "console"\n' + rules
    )


def _watching(silences: Path, **matchers: str) -> SilenceFile:
    """The silences file with ``sesd silence add --until-resolved`` made at T."""
    file = SilenceFile(str(silences))
    silence = Silence(id="s1", comment="watching", starts_at=T, ends_at=None,
                      until_resolved=True, **matchers)  # fmt: skip
    file.add(silence, T)
    return file


async def test_a_reload_removing_the_rule_ends_the_silence_that_held_its_alert(
    tmp_path: Path,
) -> None:
    """a.example fires under ``--rule delays --domain a.example --until-resolved``: held
    back. A reload removes the rule: the alert is gone, its resolve would have been
    sent were its firing not held. The silence ends at the reload: the file says so,
    the status page no longer lists it, and once the rule is back, a.example's next
    incident pages. (The config without the rule leaves such a silence out, as naming
    no rule it has: it ends all the same.)"""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, rule="delays", domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    assert _queued(alerting, "ops") == []
    now[0] = T + 10
    with capture_logs() as logs:
        alerting.reconfigure(parse_config(_text(silences, BOUNCES)))
    assert [s.ends_at for s in file.read()] == [T + 10]
    assert silence_list(alerting.evaluator, T + 10, 10).items == []
    ended = [e for e in logs if e["event"] == "sesd.silences.ended_by_resolve"]
    assert [(e["count"], e["ids"]) for e in ended] == [(1, ["s1"])]

    now[0] = T + 20
    alerting.reconfigure(parse_config(_text(silences, RULE + 'sinks = ["ops"]\n')))
    alerting.evaluate()
    (page,) = alerting.outboxes["ops"].waiting()
    assert (page.kind, [a.domain for a in page.alerts]) == (Transition.FIRING, ["a.example"])
    assert page.silence.endswith("--rule delays --domain a.example --for 4h --comment REASON")


async def test_a_reload_that_stops_watching_the_domain_ends_the_silence_its_resolve_ends(
    tmp_path: Path,
) -> None:
    """a.example's page went out; the on-call silences it until it resolves (its
    repeats held). A reload excludes a.example from the rule: its resolve is sent, and
    the silence ends with it. b.example's silence, its alert firing still, waits on."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    feed_spike(pipeline, "a.example", T, 5, 5)
    feed_spike(pipeline, "b.example", T, 5, 5)
    alerting.evaluate()
    assert _queued(alerting, "ops") == [("firing", ["a.example", "b.example"])]
    file = _watching(silences, domain="a.example")
    other = Silence(id="s2", comment="watching", starts_at=T, ends_at=None,
                    until_resolved=True, domain="b.example")  # fmt: skip
    file.add(other, T)
    now[0] = T + 10
    narrowed = RULE + 'sinks = ["ops"]\nexclude_domains = ["a.example"]\n'
    alerting.reconfigure(parse_config(_text(silences, narrowed)))
    assert _queued(alerting, "ops") == [("resolved", ["a.example"])]
    assert [(s.id, s.ends_at) for s in file.read()] == [("s1", T + 10), ("s2", None)]
    rows = silence_list(alerting.evaluator, T + 10, 10).items
    assert [row.id for row in rows] == ["s2"]


async def test_a_silence_the_reload_resolve_ended_is_listed_expired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What ``sesd silence list`` shows after the reload: the silence ending at the
    reload, not waiting on an alert the config no longer has."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    _watching(silences, domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    now[0] = T + 10
    text = _text(silences, BOUNCES)
    alerting.reconfigure(parse_config(text))
    (tmp_path / "sesd.toml").write_text(text)
    capsys.readouterr()
    assert main(["silence", "list", "--config", str(tmp_path / "sesd.toml")]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    ended = datetime.fromtimestamp(T + 10, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"ends {ended}" in line
    assert "when its alert resolves" not in line


@pytest.mark.parametrize("change", ["sink dropped", "severity"])
async def test_a_reload_resolve_of_an_alert_that_fires_on_leaves_the_silence_waiting(
    tmp_path: Path, change: str
) -> None:
    """a.example's page went to ops and Alertmanager; the on-call silences it until it
    resolves. A reload takes ops off the rule (ops is sent the resolve), or changes the
    rule's severity (Alertmanager is sent the old labels' resolve, the new ones'
    firing): resolves the reload causes, of an alert that fires on. The silence waits
    on."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    am = '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\n'
    rule = RULE + 'sinks = ["ops", "am"]\n'
    alerting.reconfigure(parse_config(_text(silences, am + rule)))
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    assert _queued(alerting, "ops") == _queued(alerting, "am") == [("firing", ["a.example"])]
    file = _watching(silences, domain="a.example")
    now[0] = T + 10
    if change == "severity":
        changed, sink = rule + 'severity = "critical"\n', "am"
    else:
        changed, sink = rule.replace('"ops", "am"', '"am"'), "ops"
    alerting.reconfigure(parse_config(_text(silences, am + changed)))
    assert ("resolved", ["a.example"]) in _queued(alerting, sink)
    assert [s.ends_at for s in file.read()] == [None]
    assert alerting.evaluator.silenced("delays", "a.example", T + 10)


async def test_a_reload_changing_the_severity_ends_a_silence_on_the_old_one(
    tmp_path: Path,
) -> None:
    """a.example fires, held back by ``--severity warning --until-resolved`` (the rule's
    severity), and by another silence on the domain alone, until it resolves. A reload
    makes the rule critical: the warning alert is over (Alertmanager would be sent its
    resolve), and none will resolve for the first silence to end on. It ends at the
    reload, in the file and in force; the other, whose alert fires on as critical,
    waits on. Once the rule is warning again, the next incident is not muted by it."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, severity="warning")
    other = Silence(id="s2", comment="watching", starts_at=T, ends_at=None,
                    until_resolved=True, domain="a.example")  # fmt: skip
    file.add(other, T)
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    assert _queued(alerting, "ops") == []
    now[0] = T + 10
    critical = RULE + 'sinks = ["ops"]\nseverity = "critical"\n'
    alerting.reconfigure(parse_config(_text(silences, critical)))
    assert [(s.id, s.ends_at) for s in file.read()] == [("s1", T + 10), ("s2", None)]
    assert [row.id for row in silence_list(alerting.evaluator, T + 10, 10).items] == ["s2"]
    file.expire({"s2"}, T + 15)
    now[0] = T + 20
    alerting.reconfigure(parse_config(_text(silences, RULE + 'sinks = ["ops"]\n')))
    alerting.evaluate()
    assert not alerting.evaluator.silenced("delays", "a.example", T + 20)


async def test_a_raised_threshold_resolves_by_evaluation_and_ends_the_silence(
    tmp_path: Path,
) -> None:
    """A reload that raises the threshold above a.example's figure: the next evaluation
    resolves the alert (held back, so nothing is sent), and the silence ends."""
    alerting, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    alerting.evaluate()
    now[0] = T + 10
    raised = RULE.replace("0.2", "0.9") + 'sinks = ["ops"]\n'
    alerting.reconfigure(parse_config(_text(silences, raised)))
    alerting.evaluate()
    assert [s.ends_at for s in file.read()] == [T + 10]
    assert _queued(alerting, "ops") == []


async def test_replicas_sharing_the_file_end_the_silence_once(tmp_path: Path) -> None:
    """Two sesd on one silences file, the same config, both holding a.example back. Both
    reload without the rule: the first ends the silence; the second reads it ended,
    writes nothing and says nothing, and a silence added between them stays."""
    first, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    config = parse_config(_text(silences, RULE + 'sinks = ["ops"]\n'))
    other = Pipeline(core_settings(config))
    second = alerting_for(config, other, now)
    async with aiohttp.ClientSession() as session:
        second.open(session)
    file = _watching(silences, domain="a.example")
    for alerting, fed in ((first, pipeline), (second, other)):
        feed_spike(fed, "a.example", T, 5, 5)
        alerting.evaluate()
        assert alerting.evaluator.silenced("delays", "a.example", T)
    now[0] = T + 10
    without = parse_config(_text(silences, BOUNCES))
    first.reconfigure(without)
    added = Silence(id="s2", comment="night", starts_at=T + 11, ends_at=T + 3600,
                    severity="*")  # fmt: skip
    file.add(added, T + 11)
    now[0] = T + 12
    written = file.identity()
    with capture_logs() as logs:
        second.reconfigure(without)
    assert file.identity() == written
    assert [e for e in logs if e["event"] == "sesd.silences.ended_by_resolve"] == []
    assert [(s.id, s.ends_at) for s in file.read()] == [("s1", T + 10), ("s2", T + 3600)]
    assert [s.state(T + 12) for s in second.evaluator.silences.items] == ["expired", "active"]


async def test_a_reload_reads_a_silence_added_since_the_last_evaluation(
    tmp_path: Path,
) -> None:
    """A silence added after the last evaluation, then a reload that resolves no alert
    (a rule added): the reload reads the file, as a start would, and the status page
    lists the silence at once, not from the next evaluation."""
    alerting, _pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    alerting.evaluate()
    _watching(silences, domain="a.example")
    now[0] = T + 10
    alerting.reconfigure(parse_config(_text(silences, RULE + 'sinks = ["ops"]\n' + BOUNCES)))
    assert [row.id for row in silence_list(alerting.evaluator, T + 10, 10).items] == ["s1"]


def test_a_silence_another_sesd_ended_after_this_one_read_it_is_not_said_ended(
    tmp_path: Path,
) -> None:
    """Two sesd on one file resolve the same alert: the second read the silence waiting,
    then the first ended it in the file (between the second's read and its write, an
    evaluation's slices apart). The second ends nothing, and logs no ended silence (a
    line of 0 silences ended, none named); its next read finds it ended."""
    silences = tmp_path / "silences.json"
    file = _watching(silences, domain="a.example")
    watcher = SilenceWatcher(str(silences))
    assert watcher.refresh(T)
    assert file.expire({"s1"}, T + 5) == ["s1"]
    with capture_logs() as logs:
        watcher.end({"s1"}, T + 10)
    assert [e for e in logs if e["event"] == "sesd.silences.ended_by_resolve"] == []
    assert [s.ends_at for s in file.read()] == [T + 5]
    assert watcher.refresh(T + 10)
    assert [s.state(T + 10) for s in watcher.silences.items] == ["expired"]


@pytest.mark.parametrize("ended_by", ["start", "first evaluation"])
async def test_a_config_edited_while_stopped_ends_the_silence_at_the_start(
    tmp_path: Path, ended_by: str
) -> None:
    """a.example fires held back by an ``--until-resolved`` silence; sesd stops, the
    rule is removed from the config, sesd starts from its state file: the restore
    resolves the alert, and the start ends the silence, once the restore is done (the
    daemon's start) or at the latest at the first evaluation."""
    before, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    before.evaluate()
    blob = snapshot(pipeline.ledger, before.evaluator, T + 5, stopped=True)

    config = parse_config(_text(silences, BOUNCES))
    fresh = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    after = alerting_for(config, fresh, now, evaluator)
    now[0] = T + 60
    restore(blob, fresh.ledger, evaluator, T + 60)
    if ended_by == "start":
        after.end_silences_resolved()
    else:
        after.evaluate()
    assert [s.ends_at for s in file.read()] == [T + 60]
    assert [s.state(T + 60) for s in after.evaluator.silences.items] == ["expired"]


async def test_a_severity_changed_while_stopped_ends_the_silence_on_the_old_one(
    tmp_path: Path,
) -> None:
    """As at a reload: a.example fires held back by ``--severity warning
    --until-resolved``; sesd stops, the rule is made critical, sesd starts from its
    state file. The start ends the silence: the warning alert is over."""
    before, pipeline, now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, severity="warning")
    feed_spike(pipeline, "a.example", T, 5, 5)
    before.evaluate()
    blob = snapshot(pipeline.ledger, before.evaluator, T + 5, stopped=True)

    config = parse_config(_text(silences, RULE + 'sinks = ["ops"]\nseverity = "critical"\n'))
    fresh = Pipeline(core_settings(config))
    evaluator = Evaluator(config.alerts, [spec.name for spec in fresh.ledger.specs])
    after = alerting_for(config, fresh, now, evaluator)
    now[0] = T + 60
    restore(blob, fresh.ledger, evaluator, T + 60)
    after.end_silences_resolved()
    assert [s.ends_at for s in file.read()] == [T + 60]


async def test_the_start_ends_the_silence_before_it_runs_anything(
    tmp_path: Path, local_sqs: LocalSqs, sqs: Any
) -> None:
    """The same stop and edit, then a real daemon's start from the state file (moto's
    SQS): the silence has ended by the time sesd says it started, before any task runs.
    A start given up after the restore (a stop signal, a second one saving what was
    restored) leaves a file without the alert: ended at the first evaluation only, the
    silence would wait on it for good."""
    before, pipeline, _now, silences = await _silenceable(tmp_path, ("ops",), "0s")
    file = _watching(silences, domain="a.example")
    feed_spike(pipeline, "a.example", T, 5, 5)
    before.evaluate()
    state = tmp_path / "state.bin"
    await StateSaver(str(state), pipeline.ledger, before.evaluator, lambda: T + 5).save_last(5.0)

    url, _ = await make_queue(sqs)
    text = (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n[[queues]]\nurl = "{url}"\n'
        f'wait_time_seconds = 0\n[http]\nlisten = "127.0.0.1:0"\n[state]\npath = "{state}"\n'
    )
    with capture_logs() as logs:
        async with running(parse_config(text + _text(silences, BOUNCES)), clock=lambda: T + 60):
            pass
    events = [e["event"] for e in logs]
    assert events.index("sesd.silences.ended_by_resolve") < events.index("sesd.daemon.started")
    assert [s.ends_at for s in file.read()] == [T + 60]
