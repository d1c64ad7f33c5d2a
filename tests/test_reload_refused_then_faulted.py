"""A reload refused (a file that does not parse), then a read of the config that faults
once its config is switched in (a bug in sesd), then a good file: what the log, the
reload's metrics, ``sesd_config_info`` and the outcome told to `sesd reload` say at
each step. The config file refused, only a SIGHUP that puts its file in force dates
the config again ("config loaded"); a refresh of its files does not, whether it ends
well or faults after its switch. A running daemon on moto's SQS, the fault injected
in one of its parts."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sesd.config import load_config
from sesd.runtime.daemon import Daemon
from sesd.runtime.reload_report import REPORT_NAME, Report, read_report
from tests.conftest import running
from tests.test_reload_part_way import LOADED_AT, _added, _on_queue_one, _once, _sample

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]

START = 1.8e9


def _said(daemon: Daemon) -> tuple[float | None, float | None, list[str]]:
    """The reload metric, "config loaded" (seconds after the start) and the digests
    sesd_config_info names."""
    at = _sample(daemon, LOADED_AT)
    digests = [s.labels["digest"] for m in daemon.metrics.config_info.collect() for s in m.samples]
    ok = _sample(daemon, "sesd_config_last_reload_successful")
    return ok, None if at is None else at - START, digests


def _told(tmp_path: Path) -> tuple[int, bool, bool, bool]:
    """The outcome of the last SIGHUP told to `sesd reload`."""
    told = read_report(tmp_path / REPORT_NAME)
    assert isinstance(told, Report)
    return told.ended, told.ok, told.part_way, told.new_whole


def _failed(logs: list[MutableMapping[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["error"], e["kept"], e.get("at"))
        for e in logs
        if e["event"] == "sesd.config.reload_failed"
    ]


@pytest.mark.parametrize(
    ("owner", "name", "at"),
    [
        ("metrics", "reloaded", "reload metrics and log"),
        ("alerting", "write_silences", "silences written"),
    ],
)
@pytest.mark.parametrize("whole", [True, False], ids=["reload", "refresh"])
async def test_a_fault_after_the_switch_behind_a_refused_file_dates_the_config_as_an_end_would(
    local_sqs: Any,
    sqs: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    owner: str,
    name: str,
    at: str,
    whole: bool,
) -> None:
    """A file that does not parse is refused: the config in force is kept, named and
    dated as at the start. A good refresh of its files after it dates nothing (the
    file still refused). Then a read faults once its config is switched in: a SIGHUP
    of a good file puts that file in force, named and dated from its switch; a refresh
    puts the files read again in force, and dates nothing, as one that ends well. The
    reload metric reads 0 after each, and each says the new config whole. The good
    file after it is refused as after any such fault, changing nothing."""
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    now = [START]
    one, two, path = await _on_queue_one(local_sqs, sqs, tmp_path)
    good = path.read_text()
    async with running(load_config(path), config_path=path, clock=lambda: now[0]) as daemon:
        reloader, first = daemon._reloader, daemon.config.digest()
        path.write_text(good + "[bogus]\n")
        now[0] += 100
        with capture_logs() as logs:
            await reloader.on_signal()
        assert _failed(logs) == [(f"{path}:10: bogus: unknown key", "running config", None)]
        assert _said(daemon) == (0, 0, [first])
        assert _told(tmp_path) == (1, False, False, False)
        path.write_text(good)
        now[0] += 50
        assert await reloader.refresh(["alerts.sinks.x.url"])
        assert _said(daemon) == (0, 0, [first])

        parts = {"metrics": daemon.metrics, "alerting": daemon.alerting}
        _once(daemon, monkeypatch, parts[owner], name)
        now[0] += 50
        with capture_logs() as logs:
            if whole:
                path.write_text(_added(local_sqs, one, two))
                await reloader.on_signal()
            else:
                assert not await reloader.refresh(["alerts.sinks.x.url"])
        kept = "the new config whole: steps after its switch left undone"
        assert _failed(logs) == [(f"RuntimeError: a fault in {name}", kept, at)]
        reloaded = [e for e in logs if e["event"] == "sesd.config.reloaded"]
        assert len(reloaded) == (at != "reload metrics and log")
        second = daemon.config.digest()
        assert (second != first) == whole
        assert _said(daemon) == (0, 200 if whole else 0, [second])
        assert _told(tmp_path) == ((2, False, True, True) if whole else (1, False, False, False))

        path.write_text(_added(local_sqs, one, two))
        now[0] += 100
        with capture_logs() as logs:
            await reloader.on_signal()
        ((error, said, _),) = _failed(logs)
        assert error.endswith(
            "its config is in force whole, but what it left undone waits for a restart"
        )
        assert said == kept
        assert _said(daemon) == (0, 200 if whole else 0, [second])
        assert _told(tmp_path) == ((3, False, True, True) if whole else (2, False, True, True))
