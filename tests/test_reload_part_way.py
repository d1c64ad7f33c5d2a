"""A reload that faults part way (a bug in sesd, not the file): before anything changed,
the config in force is kept whole and the clients made for it closed; once the config
was switched, sesd runs neither config whole, and says so until a restart. A running
daemon on moto's SQS, the fault injected in one of its parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

import sesd.runtime.reload_switch as reload_switch
from sesd.config import load_config
from sesd.runtime.daemon import Daemon
from sesd.runtime.reload_report import REPORT_NAME, read_report
from sesd.status.model import _daemon
from sesd.status.page import _header
from tests.conftest import make_queue, running

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]

RULE = (
    '[[alerts.rules]]\nname = "any-delay"\nmetric = "delayed_recipients"\nwindow = "5m"\n'
    'above = 0\nsinks = ["console"]\n'
)


def _text(local_sqs: Any, url: str, extra: str = "") -> str:
    """A daemon's config: queue ``one`` at ``url`` on the local SQS, and ``extra``."""
    return (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\nregion = "us-east-1"\n'
        f'[[queues]]\nurl = "{url}"\nname = "one"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n' + extra
    )


def _added(local_sqs: Any, url: str, second: str) -> str:
    """The config with a queue ``two`` at ``second`` and a rule added."""
    two = f'[[queues]]\nurl = "{second}"\nname = "two"\nwait_time_seconds = 0\n'
    return _text(local_sqs, url, two + RULE)


#: When the config in force was loaded, as the status page's "config loaded" says.
LOADED_AT = "sesd_config_last_reload_success_timestamp_seconds"


def _sample(daemon: Daemon, name: str, **labels: str) -> float | None:
    return daemon.metrics.registry.get_sample_value(name, labels)


def _once(daemon: Daemon, monkeypatch: pytest.MonkeyPatch, part: Any, name: str) -> None:
    """``part.name`` raises the first time it is called, as a bug in it would."""
    real = getattr(part, name)
    calls: list[int] = []

    def faulty(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"a fault in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(part, name, faulty)


async def _on_queue_one(local_sqs: Any, sqs: Any, tmp_path: Path) -> tuple[str, str, Path]:
    """Queues one and two, and the config file (returned last) reading queue one."""
    one, _ = await make_queue(sqs)
    two, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(_text(local_sqs, one))
    return one, two, path


async def test_a_reload_that_faults_after_the_switch_says_so_until_a_restart(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A reload adds queue ``two`` and a rule, and the alerting's reconfigure faults:
    the config was switched, the pipeline reconfigured, queue two not started. The
    log does not say the running config was kept: it says sesd runs neither config
    whole, to restart, and has the traceback; the reload metric reads 0 and the
    restart gauge 1 (named on the page). The same file reloaded again is refused, not
    taken as no change (it would be: the config in force already says queue two),
    and both gauges stay as they were until a restart, which reads queue two."""
    one, two, path = await _on_queue_one(local_sqs, sqs, tmp_path)
    async with running(load_config(path), config_path=path) as daemon:
        _once(daemon, monkeypatch, daemon.alerting, "reconfigure")
        path.write_text(_added(local_sqs, one, two))
        with capture_logs() as logs:
            await daemon._reloader.on_signal()
            await daemon._reloader.on_signal()
            assert not await daemon._reloader.refresh(["alerts.sinks.x.url"])
        assert _sample(daemon, "sesd_config_last_reload_successful") == 0
        assert _sample(daemon, "sesd_config_restart_pending") == 1
        assert daemon.metrics.restart_keys == ("all of it: a reload failed part way",)
        assert _sample(daemon, "sesd_queue_ready", queue="two") in (None, 0)
    failed = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert [e for e in logs if e["event"] == "sesd.config.reloaded"] == []
    first, again, refreshed = failed
    assert first["error"] == "RuntimeError: a fault in reconfigure"
    assert first["exc_info"] is True
    assert first["kept"] == "neither config whole: the new one in part"
    assert first["applied"] == ["logging level", "alert evaluations settled", "pipeline"]
    assert first["at"] == "alert rules, sinks and silences"
    assert first["hint"] == (
        "a fault in sesd, not in the file: restart sesd, which applies the config file "
        "whole (reloads are refused until then), and report this line with its traceback"
    )
    for later in (again, refreshed):
        assert later["error"].startswith("a reload failed part way at ")
        assert later["error"].endswith(
            ": sesd runs neither config whole, and a reload cannot tell what it would change"
        )
        assert later["kept"] == first["kept"]
        assert later["hint"] == first["hint"]
    assert refreshed["files"] == ["alerts.sinks.x.url"]

    async with running(load_config(path), config_path=path) as daemon:
        assert _sample(daemon, "sesd_config_last_reload_successful") == 1
        assert _sample(daemon, "sesd_config_restart_pending") == 0
        assert [q.label for q in daemon.config.queues] == ["one", "two"]


async def test_a_reload_that_faults_reading_silences_closes_the_clients_it_made(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The silences file is read before anything changes, after the added queue's
    clients are made: a fault there changes nothing, and the clients made for queue
    two are closed (those of the config in force kept), as when a file is refused.
    The file reloaded again is taken whole: queue two is read."""
    one, two, path = await _on_queue_one(local_sqs, sqs, tmp_path)
    async with running(load_config(path), config_path=path) as daemon:
        assert daemon.aws is not None
        before, config = dict(daemon.aws._clients), daemon.config
        _once(daemon, monkeypatch, daemon.alerting, "read_silences")
        path.write_text(_added(local_sqs, one, two))
        with capture_logs() as logs:
            await daemon._reloader.on_signal()
        assert daemon.config is config
        assert daemon.aws._clients == before
        assert _sample(daemon, "sesd_config_last_reload_successful") == 0
        assert _sample(daemon, "sesd_config_restart_pending") == 0
        (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
        assert (failed["error"], failed["kept"]) == (
            "RuntimeError: a fault in read_silences",
            "running config",
        )

        assert await daemon.reload()
        assert [q.label for q in daemon.config.queues] == ["one", "two"]
        assert _sample(daemon, "sesd_config_last_reload_successful") == 1


#: The parts of a reload once its config is switched, in the order they are applied.
PARTS = [
    "logging level",
    "alert evaluations settled",
    "pipeline",
    "alert rules, sinks and silences",
    "AWS accounts",
    "account and tenant polls",
    "queues",
    "canary",
    "reload metrics and log",
    "silences written",
    "followed files marked read",
    "AWS clients closed",
]
#: A canary moved by the reload, never sent: its restart is where the fault is.
CANARY = (
    '[canary]\nfrom = "canary@example.com"\nendpoint_url = "http://127.0.0.1:9"\n'
    'configuration_set = "sesd"\nqueue = "one"\ninterval = "1h"\ndeadline = "2m"\n'
    'send_timeout = "5s"\n'
)


@pytest.mark.parametrize(
    ("owner", "name", "at"),
    [
        ("switch", "set_level", "logging level"),
        ("pipeline", "reconfigure", "pipeline"),
        ("aws", "reconfigure", "AWS accounts"),
        ("switch", "requeue", "queues"),
        ("daemon", "restart_canary", "canary"),
        ("metrics", "reloaded", "reload metrics and log"),
        ("alerting", "write_silences", "silences written"),
        ("aws", "retire", "AWS clients closed"),
    ],
)
async def test_a_fault_in_each_part_names_the_parts_applied_before_it(
    local_sqs: Any,
    sqs: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    owner: str,
    name: str,
    at: str,
) -> None:
    """Wherever the fault is, the line names the part it was in and those applied before
    it (what an engineer reads to tell what runs), and both gauges are held. The outcome
    told to `sesd reload` says what the line does: the new config whole from the first
    step after the switch on, neither config whole before it."""
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    one, two, path = await _on_queue_one(local_sqs, sqs, tmp_path)
    async with running(load_config(path), config_path=path) as daemon:
        parts = {
            "switch": reload_switch, "pipeline": daemon.pipeline, "aws": daemon.aws,
            "daemon": daemon, "metrics": daemon.metrics, "alerting": daemon.alerting,
        }  # fmt: skip
        _once(daemon, monkeypatch, parts[owner], name)
        path.write_text(_added(local_sqs, one, two) + CANARY)
        old, loaded = daemon.config.digest(), _sample(daemon, LOADED_AT)
        with capture_logs() as logs:
            await daemon._reloader.on_signal()
        assert _sample(daemon, "sesd_config_last_reload_successful") == 0
        assert _sample(daemon, "sesd_config_restart_pending") == 1
        # Neither config whole: the metrics go on naming the one that ran before.
        whole = PARTS.index(at) >= PARTS.index("reload metrics and log")
        named = daemon.config.digest() if whole else old
        assert _sample(daemon, "sesd_config_info", digest=named) == 1
        assert whole or _sample(daemon, LOADED_AT) == loaded
    (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert (failed["error"], failed["at"]) == (f"RuntimeError: a fault in {name}", at)
    assert failed["applied"] == PARTS[: PARTS.index(at)]
    assert failed["kept"].startswith("the new config whole" if whole else "neither config")
    told = read_report(tmp_path / REPORT_NAME)
    assert told is not None
    assert (told.ok, told.part_way, told.new_whole) == (False, True, whole)


@pytest.mark.parametrize(
    ("owner", "name", "at"),
    [
        ("metrics", "reloaded", "reload metrics and log"),
        ("alerting", "write_silences", "silences written"),
        ("follower", "wake", "followed files marked read"),
        ("aws", "retire", "AWS clients closed"),
    ],
)
async def test_a_fault_after_the_switch_says_the_new_config_is_whole(
    local_sqs: Any,
    sqs: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    owner: str,
    name: str,
    at: str,
) -> None:
    """Every part of the switch was applied (``applied`` names them all: queue two and
    the rule are in force) and a step after it faults: the line says the new config
    runs whole, not "the new one in part", with the steps not done from ``at`` on and
    to restart. The reload after it is refused, saying the same, and why; the outcome
    told to `sesd reload` after each, and the status page, say the new config whole too."""
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    one, two, path = await _on_queue_one(local_sqs, sqs, tmp_path)
    async with running(load_config(path), config_path=path) as daemon:
        parts = {
            "metrics": daemon.metrics, "alerting": daemon.alerting, "aws": daemon.aws,
            "follower": daemon._reloader.follower,
        }  # fmt: skip
        _once(daemon, monkeypatch, parts[owner], name)
        path.write_text(_added(local_sqs, one, two))
        with capture_logs() as logs:
            await daemon._reloader.on_signal()
            told = read_report(tmp_path / REPORT_NAME)
            await daemon._reloader.on_signal()
        again_told = read_report(tmp_path / REPORT_NAME)
        assert told is not None
        assert again_told is not None
        assert [(t.ended, t.part_way, t.new_whole) for t in (told, again_told)] == [
            (1, True, True),
            (2, True, True),
        ]
        assert [q.label for q in daemon.config.queues] == ["one", "two"]
        assert "any-delay" in [rule.name for rule in daemon.alerting.evaluator.rules]
        assert _sample(daemon, "sesd_config_last_reload_successful") == 0
        assert _sample(daemon, "sesd_config_restart_pending") == 1
        # The status page says what waits, not all of it: the config is in force.
        assert daemon.metrics.restart_keys[0] == (
            "what a reload that failed part way left undone after its switch"
        )
    first, again = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert first["applied"] == PARTS[: PARTS.index(at)]
    assert first["at"] == at
    assert first["kept"] == "the new config whole: steps after its switch left undone"
    assert first["hint"] == (
        "a fault in sesd, not in the file: the config as that reload read it is in force; "
        "restart sesd (reloads are refused until then), and report this line with its "
        "traceback"
    )
    assert again["error"].startswith("a reload failed part way at ")
    assert again["error"].endswith(
        ": its config is in force whole, but what it left undone waits for a restart"
    )
    assert (again["kept"], again["hint"]) == (first["kept"], first["hint"])


async def test_a_fault_recording_the_reload_leaves_its_config_named_in_force(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first step after the switch records the reload (its metrics, then its line),
    and it faults before naming the config: that config runs whole all the same, as
    the line and the restart wait say. The status page's "config loaded" says when it
    came into force, and sesd_config_info names it, not the config it replaced."""
    now = [1.8e9]
    one, two, path = await _on_queue_one(local_sqs, sqs, tmp_path)
    async with running(load_config(path), config_path=path, clock=lambda: now[0]) as daemon:
        old = daemon.config.digest()
        _once(daemon, monkeypatch, daemon.metrics, "reloaded")
        path.write_text(_added(local_sqs, one, two))
        now[0] += 600
        await daemon._reloader.on_signal()
        new = daemon.config.digest()
        assert [q.label for q in daemon.config.queues] == ["one", "two"]
        assert new != old
        assert _sample(daemon, "sesd_config_info", digest=new) == 1
        assert _sample(daemon, "sesd_config_info", digest=old) is None
        assert _sample(daemon, "sesd_config_last_reload_success_timestamp_seconds") == now[0]
        assert _sample(daemon, "sesd_config_last_reload_successful") == 0
        header = _header(_daemon(daemon.status, now[0] + 60), now[0] + 60)
    assert (
        "config loaded 08:10:00Z (except what waits for a restart: what a reload that failed "
        "part way left undone after its switch), last reload FAILED"
    ) in header


@pytest.mark.parametrize("faults", [True, False], ids=["faulted", "ended well"])
async def test_a_fault_after_a_slow_step_dates_the_config_from_its_switch(
    local_sqs: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, faults: bool
) -> None:
    """The steps after the switch take a while (the silences written) before the last
    faults (the clients closed): "config loaded" says when the config came into force,
    as for a reload that ends well, not when the fault came. One that ends well after
    the same slow step is dated from its switch too, not from its end."""
    now = [1.8e9]
    one, two, path = await _on_queue_one(local_sqs, sqs, tmp_path)
    async with running(load_config(path), config_path=path, clock=lambda: now[0]) as daemon:
        write_silences = daemon.alerting.write_silences

        async def slow() -> None:
            now[0] += 30
            await write_silences()

        monkeypatch.setattr(daemon.alerting, "write_silences", slow)
        assert daemon.aws is not None
        if faults:
            _once(daemon, monkeypatch, daemon.aws, "retire")
        path.write_text(_added(local_sqs, one, two))
        now[0] += 600
        switched = now[0]
        await daemon._reloader.on_signal()
        assert now[0] == switched + 30
        assert [q.label for q in daemon.config.queues] == ["one", "two"]
        assert _sample(daemon, "sesd_config_info", digest=daemon.config.digest()) == 1
        assert _sample(daemon, "sesd_config_last_reload_success_timestamp_seconds") == switched
        assert _sample(daemon, "sesd_config_last_reload_successful") == (0 if faults else 1)
