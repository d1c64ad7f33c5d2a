"""Settings a reload left for a restart stay said where an on-call looks later: the
status page's config line, its JSON, `sesd status` and ``sesd_config_restart_pending``,
until a reload no longer leaves any. A running daemon reloading real files."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from structlog.testing import capture_logs

import sesd.runtime.reload
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.status_table import table
from sesd.config import Config, load_config, parse_config
from sesd.config.files import reread
from sesd.runtime.daemon import Daemon
from sesd.status.charts import moment
from sesd.status.model import build_status, read_counters
from sesd.status.page import _header
from tests.conftest import running
from tests.test_status_reload_shown import sources
from tests.test_web_lock import _certificate, _files, _get, _queue, _tls

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")

#: The config line's words for what waits, on the page and in its script alike.
WAITS = "except what waits for a restart"


def _pending(daemon: Daemon) -> float | None:
    return daemon.metrics.registry.get_sample_value("sesd_config_restart_pending")


def _reloaded(daemon: Daemon) -> float | None:
    return daemon.metrics.registry.get_sample_value("sesd_config_last_reload_successful")


async def _seen(daemon: Daemon) -> tuple[dict[str, Any], str]:
    """The config's state in ``/api/v1/status``, and the page's config line (its class
    and text), as a browser is given them."""
    base = f"http://127.0.0.1:{daemon.http_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/api/v1/status") as response:
            doc = await response.json()
        async with session.get(f"{base}/") as response:
            page = await response.text()
    (line,) = re.findall(r'<span class="\w+">config loaded [^<]*</span>', page)
    return doc["sesd"]["reload"], line


@pytest.mark.timeout(60)
async def test_settings_left_for_a_restart_are_shown_until_the_file_is_put_back(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload that moves the listen address and the domains' cap takes the rest and
    leaves both as they run: from then on the page, its JSON and the gauge say so (not
    red: sesd runs), the reload metric 1. A file refused after it leaves them
    waiting (the file in force is the one that left them); one putting back the address
    leaves the cap alone, and the file put back leaves none."""
    path = _files(tmp_path, "", queue=await _queue(local_sqs, sqs))
    running_text = path.read_text()
    async with running(load_config(path), config_path=path) as daemon:
        assert _pending(daemon) == 0
        told, line = await _seen(daemon)
        assert (told["restart"], told["restart_count"]) == ([], 0)
        assert line.startswith('<span class="ok">')

        moved = running_text.replace('"127.0.0.1:0"', '"127.0.0.1:9"')
        path.write_text(moved + "[domains]\nmax_tracked = 500\n")
        assert await daemon.reload()
        assert (_pending(daemon), _reloaded(daemon)) == (1, 1)
        told, line = await _seen(daemon)
        assert (told["ok"], told["restart"], told["restart_count"]) == (
            True, ["domains.max_tracked", "http.listen"], 2,
        )  # fmt: skip
        assert line.startswith('<span class="warn">config loaded ')
        assert line.endswith(f" ({WAITS}: domains.max_tracked, http.listen)</span>")

        path.write_text("[[queues]]\nurl =")  # cut short by a full disk, say
        assert not await daemon.reload()
        assert (_pending(daemon), _reloaded(daemon)) == (1, 0)
        told, line = await _seen(daemon)
        assert told["restart"] == ["domains.max_tracked", "http.listen"]
        assert line.startswith('<span class="bad">')
        assert f"({WAITS}: domains.max_tracked, http.listen), last reload FAILED" in line

        path.write_text(running_text + "[domains]\nmax_tracked = 500\n")
        assert await daemon.reload()
        assert _pending(daemon) == 1
        assert (await _seen(daemon))[0]["restart"] == ["domains.max_tracked"]

        path.write_text(running_text)
        assert await daemon.reload()
        assert (_pending(daemon), _reloaded(daemon)) == (0, 1)
        told, line = await _seen(daemon)
        assert (told["restart"], told["restart_count"]) == ([], 0)
        assert line.startswith('<span class="ok">')
        assert WAITS not in line


@pytest.mark.timeout(60)
async def test_tls_turned_on_by_a_refresh_waits_for_a_restart_as_by_a_reload(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """web.yml is followed: TLS turned on in it (the listener is plain HTTP until a
    restart) is read by a refresh, which leaves it waiting as a reload of it would,
    beside what the config file's last reload left; off again, only the config file's
    remains. A reload reads web.yml too: the file put back with TLS on leaves that
    alone waiting."""
    _certificate(tmp_path, "tls")
    path = _files(tmp_path, "", queue=await _queue(local_sqs, sqs))
    path.write_text(path.read_text() + '[reload]\ncheck_files_every = "1s"\n')
    running_text = path.read_text()
    web = tmp_path / "web.yml"
    async with running(load_config(path), config_path=path) as daemon:
        path.write_text(running_text + "[domains]\nmax_tracked = 500\n")
        assert await daemon.reload()

        def waiting() -> list[str]:
            doc = build_status(daemon.status, 1.8e9, read_counters(daemon.status), (1.8e9, {}))
            return doc.sesd.reload.restart

        web.write_text(_tls("tls"))  # a refresh's, not a reload's: no SIGHUP
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: len(waiting()) == 2)
        assert waiting() == ["domains.max_tracked", "http.web_config: tls_server_config"]
        assert _pending(daemon) == 1
        assert (await _get(daemon.http_port or 0, "/healthz"))[0] == 200  # still plain HTTP

        web.write_text("")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: len(waiting()) == 1)
        assert waiting() == ["domains.max_tracked"]
        assert _pending(daemon) == 1

        web.write_text(_tls("tls"))
        path.write_text(running_text)
        assert await daemon.reload()
        assert waiting() == ["http.web_config: tls_server_config"]
        web.write_text("")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _pending(daemon) == 0)
        assert waiting() == []


@pytest.mark.timeout(60)
async def test_a_refresh_keeps_what_the_last_reload_left_and_adds_its_own(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh (a rotated secret, a renewed certificate) reads the config in force
    again, whose restart-only settings are those that run: what the config file's last
    reload left stays said. One that reads such a setting changed (here the read made
    to) leaves it waiting beside them, as its log line says, not in the log alone, until
    a refresh no longer finds it; a reload of the file as it runs then leaves none."""
    path = _files(tmp_path, "", queue=await _queue(local_sqs, sqs))
    running_text = path.read_text()
    async with running(load_config(path), config_path=path) as daemon:
        path.write_text(running_text + "[domains]\nmax_tracked = 500\n")
        assert await daemon.reload()
        assert await daemon._reloader.refresh(["http.web_config"])
        assert (await _seen(daemon))[0]["restart"] == ["domains.max_tracked"]
        assert _pending(daemon) == 1

        def read_console(config: Config) -> Config:
            again = reread(config)
            logging = msgspec.structs.replace(again.logging, format="console")
            return msgspec.structs.replace(again, logging=logging)

        monkeypatch.setattr(sesd.runtime.reload, "reread", read_console)
        with capture_logs() as logs:
            assert await daemon._reloader.refresh(["http.web_config"])
        monkeypatch.undo()
        ignored = [r["key"] for r in logs if r["event"] == "sesd.config.reload_ignored"]
        assert ignored == ["logging.format"]
        told, line = await _seen(daemon)
        assert told["restart"] == ["domains.max_tracked", "logging.format"]
        assert line.endswith(f" ({WAITS}: domains.max_tracked, logging.format)</span>")
        assert daemon.config.logging.format == "json"  # as it runs

        # The files read again as they run: the setting that refresh found no longer
        # differs, and is no longer said; what the reload left still is.
        assert await daemon._reloader.refresh(["http.web_config"])
        told, line = await _seen(daemon)
        assert told["restart"] == ["domains.max_tracked"]
        assert line.endswith(f" ({WAITS}: domains.max_tracked)</span>")
        assert _pending(daemon) == 1

        path.write_text(running_text)
        assert await daemon.reload()
        assert _pending(daemon) == 0
        assert (await _seen(daemon))[0]["restart"] == []


def _put(path: Path, text: str) -> None:
    """``text`` in ``path`` as a Secret's mount changes a file: a new one renamed over it."""
    fresh = path.with_name(f"{path.name}.new")
    fresh.write_text(text)
    fresh.chmod(0o600)
    os.replace(fresh, path)


@pytest.mark.timeout(60)
async def test_aws_keys_rotated_in_their_files_wait_for_a_restart_as_in_the_config_file(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """``[aws]`` is read at start only, its keys from files too. The Secret behind them
    rotated in its mount is seen (a refresh, no SIGHUP), and said as a reload that
    changed ``[aws]`` in the config file says it: ``sesd.config.reload_ignored`` by key
    (never the value), the gauge at 1, the page's config line, the keys not claimed as
    rotated and taken; sesd signs on with the keys it started with. A SIGHUP meanwhile
    says it too, as `sesd reload` is told. A file that cannot be read (removed
    mid-rotation) is refused as any followed secret's, the keys in force kept; the
    files put back as they run leave nothing waiting."""
    secret = tmp_path / "aws_secret_access_key"
    key_id = tmp_path / "aws_access_key_id"
    _put(secret, "old-secret-0000")
    _put(key_id, "AKIAOLDEXAMPLE")
    keys = f'[aws]\naccess_key_id = "file:{key_id}"\nsecret_access_key = "file:{secret}"\n'
    queue = (await _queue(local_sqs, sqs)).replace("[aws]\n", keys)
    path = _files(tmp_path, "", queue=queue)
    path.write_text(path.read_text() + '[reload]\ncheck_files_every = "1s"\n')
    waiting = "aws.secret_access_key"
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            assert _pending(daemon) == 0
            _put(secret, "new-secret-0000")
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _pending(daemon) == 1)
            told, line = await _seen(daemon)
            assert (told["restart"], _reloaded(daemon)) == ([waiting], 1)
            assert line.endswith(f" ({WAITS}: {waiting})</span>")
            assert daemon.config.aws.secret_access_key.get() == "old-secret-0000"  # type: ignore[union-attr]

            left: list[str] = []
            assert await daemon._reloader.reload(left)  # a SIGHUP: `sesd reload` exits 3
            assert left == [waiting]
            assert (await _seen(daemon))[0]["restart"] == [waiting]

            secret.unlink()  # mid-rotation
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _reloaded(daemon) == 0)
            assert daemon.config.aws.secret_access_key.get() == "old-secret-0000"  # type: ignore[union-attr]
            _put(secret, "old-secret-0000")
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _pending(daemon) == 0)
            told, line = await _seen(daemon)
            assert (told["restart"], _reloaded(daemon)) == ([], 1)
            assert line.startswith('<span class="ok">')
    ignored = [e for e in logs if e["event"] == "sesd.config.reload_ignored"]
    assert [(e["key"], e["hint"]) for e in ignored] == [(waiting, "needs a restart")] * 2
    refreshed = [e for e in logs if e["event"] == "sesd.config.reloaded" and "files" in e]
    assert [e["files"] for e in refreshed] == [[waiting], [waiting]]
    assert all(e["secrets_rotated"] == [] and e["changed"] == {} for e in refreshed)
    (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert failed["files"] == [waiting]
    assert failed["error"].startswith(f"{waiting}: cannot read secret file {secret}")
    assert "new-secret" not in repr(logs)
    assert "old-secret" not in repr(logs)


@pytest.mark.timeout(60)
async def test_an_aws_key_moved_in_the_config_file_and_rotated_in_its_old_file_is_said_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """A reload that points ``[aws] secret_access_key`` at another file leaves it for a
    restart: sesd follows the file it signs with, which then rotates, with a sink's key
    beside it. The sink's key is taken; the [aws] key waits for both reasons and is
    named once, on the page and in the gauge's list. Pointed back, the key still waits
    (its file rotated); the file put back leaves none."""
    secret, moved = tmp_path / "aws_secret_access_key", tmp_path / "aws_secret_next"
    _put(secret, "old-secret-0000")
    _put(moved, "next-secret-0000")
    pd, first, second = tmp_path / "routing_key", "first".ljust(32, "0"), "second".ljust(32, "0")
    _put(pd, first)
    keys = f'[aws]\naccess_key_id = "AKIAEXAMPLE"\nsecret_access_key = "file:{secret}"\n'
    queue = (await _queue(local_sqs, sqs)).replace("[aws]\n", keys)
    path = _files(tmp_path, "", queue=queue)
    sink = f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{pd}"\n'
    path.write_text(path.read_text() + '[reload]\ncheck_files_every = "1s"\n' + sink)
    running_text = path.read_text()
    waiting = "aws.secret_access_key"
    async with running(load_config(path), config_path=path) as daemon:

        def routing_key() -> str:
            return daemon.config.alerts.sinks["pd"].routing_key.get()  # type: ignore[union-attr]

        path.write_text(running_text.replace(f"file:{secret}", f"file:{moved}"))
        left: list[str] = []
        assert await daemon._reloader.reload(left)
        assert left == [waiting]

        with capture_logs() as logs:
            _put(secret, "new-secret-0000")
            _put(pd, second)
            with anyio.fail_after(20):
                await daemon.changes.wait_for(
                    lambda: (
                        routing_key() == second and any(waiting in e.get("files", ()) for e in logs)
                    )
                )
        rotated = [e["secrets_rotated"] for e in logs if e["event"] == "sesd.config.reloaded"]
        assert [k for keys in rotated for k in keys] == ["alerts.sinks.pd.routing_key"]
        assert daemon.config.aws.secret_access_key.get() == "old-secret-0000"  # type: ignore[union-attr]
        assert (daemon.metrics.restart_keys, _pending(daemon), _reloaded(daemon)) == (
            (waiting,), 1, 1,
        )  # fmt: skip
        told, line = await _seen(daemon)
        assert (told["restart"], told["restart_count"]) == ([waiting], 1)
        assert line.endswith(f" ({WAITS}: {waiting})</span>")

        path.write_text(running_text)
        left = []
        assert await daemon._reloader.reload(left)
        assert left == [waiting]
        _put(secret, "old-secret-0000")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _pending(daemon) == 0)
        assert (await _seen(daemon))[0]["restart"] == []


def test_what_waits_is_listed_escaped_up_to_the_bound_sesd_reload_gives() -> None:
    """A config of many accounts, each moved to another role: the status lists the first
    20 settings and counts the rest, as `sesd reload` does, each escaped (a line break,
    a terminal's escape) and cut at 100 characters; the page, its JSON and `sesd
    status` say them alike, the page's escaped for HTML."""
    source = sources(parse_config(""))
    keys = ["accounts.<b>\n\x1b[2J", "accounts." + "x" * 150]
    keys += [f"accounts.a{n:02}" for n in range(23)]
    source.metrics.waiting_for_restart(keys)
    doc = build_status(source, 1.8e9 + 61, read_counters(source), (1.8e9, {}))
    told = doc.sesd.reload
    shown = ["accounts.<b>\\u000a\\u001b[2J", "accounts." + "x" * 90 + "…"]
    shown += [f"accounts.a{n:02}" for n in range(18)]
    assert (told.restart, told.restart_count) == (shown, 25)
    listed = ", ".join(shown[1:])
    loaded = moment(1.8e9, doc.at)
    header = _header(doc.sesd, doc.at)
    assert (
        f'<span class="warn">config loaded {loaded} ({WAITS}: accounts.&lt;b&gt;\\u000a'
        f"\\u001b[2J, {listed} and 5 more)</span>"
    ) in header
    assert (
        f"config loaded {loaded} (EXCEPT WHAT WAITS FOR A RESTART: accounts.<b>\\u000a"
        f"\\u001b[2J, {listed} and 5 more)"
    ) in table(doc).splitlines()[0]
