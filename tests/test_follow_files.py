"""Files that change under a running sesd are read again by themselves: a certificate
renewed and a Secret rotated as Kubernetes swaps a mounted Secret (a symlink replaced
at once), the config file left as it runs until a SIGHUP."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import trustme
from structlog.testing import capture_logs

import sesd.io.hung
import sesd.runtime.reload
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, ConfigError, load_config, parse_config
from sesd.config.files import followed_files, reread
from sesd.runtime.apart import apart
from sesd.runtime.daemon import Daemon
from tests.conftest import log_records, running
from tests.dns_server import hermetic_text
from tests.fifo_gates import open_for_writing
from tests.test_web_lock import _certificate, _get, _port, _queue, _trusting

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")

RULE = (
    '[[alerts.rules]]\nname = "late"\nmetric = "delay_ratio"\nwindow = "5m"\n'
    'above = 0.5\nsinks = ["console"]\n'
)


def _version(mount: Path, name: str, routing_key: str) -> trustme.CA:
    """A Secret's version as the kubelet writes one: a directory ``name`` in ``mount``
    with tls.crt, tls.key (from a CA of its own) and routing_key; returns the CA."""
    directory = mount / name
    directory.mkdir()
    ca = _certificate(directory, "tls")
    (directory / "routing_key").write_text(_padded(routing_key))
    return ca


def _padded(key: str) -> str:
    """``key`` as long as a PagerDuty integration key (32 characters: another length is
    refused at load), its words still telling one version from another."""
    return key.ljust(32, "0")


def _swap(mount: Path, name: str) -> None:
    """Point ``mount/current`` at version ``name`` in one step (a rename over it)."""
    (mount / "next").symlink_to(name)
    os.replace(mount / "next", mount / "current")


def _config(tmp_path: Path, queue: str, mount: Path, every: str = "1s") -> Path:
    (tmp_path / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: {mount / 'current' / 'tls.crt'}\n"
        f"  key_file: {mount / 'current' / 'tls.key'}\n"
    )
    path = tmp_path / "sesd.toml"
    path.write_text(
        hermetic_text(
            queue + f'[http]\nlisten = "127.0.0.1:0"\nweb_config = "{tmp_path / "web.yml"}"\n'
            f'[reload]\ncheck_files_every = "{every}"\n'
            '[alerts.sinks.pd]\ntype = "pagerduty"\n'
            f'routing_key = "file:{mount / "current" / "routing_key"}"\n'
            # A rule on accounts: checked as it is loaded, and again as it is read back.
            '[[alerts.rules]]\nname = "paused"\nmetric = "sending_paused"\nwindow = "5m"\n'
            'above = 0\nsinks = ["console"]\n'
        )
    )
    return path


async def _mounted(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, every: str = "1s"
) -> tuple[Path, Path, trustme.CA]:
    """A Secret's mount at version v1 (routing key "key-one"), a config naming its
    files with a queue of its own, and the CA of v1's certificate."""
    mount = tmp_path / "mount"
    mount.mkdir()
    ca = _version(mount, "v1", "key-one")
    _swap(mount, "v1")
    return mount, _config(tmp_path, await _queue(local_sqs, sqs), mount, every), ca


def _key(daemon: Daemon) -> str:
    """The routing key of the PagerDuty sink in force, as :func:`_version` was given it."""
    return daemon.config.alerts.sinks["pd"].routing_key.get().rstrip("0")  # type: ignore[union-attr]


def _reloaded(daemon: Daemon) -> float | None:
    return daemon.metrics.registry.get_sample_value("sesd_config_last_reload_successful")


def _digests(daemon: Daemon) -> list[str]:
    """The digests ``sesd_config_info`` exports."""
    (family,) = [m for m in daemon.metrics.registry.collect() if m.name == "sesd_config_info"]
    return [sample.labels["digest"] for sample in family.samples]


def _held_read() -> threading.Thread:
    """The thread of the read of the config's files under way (one at a time)."""
    (reader,) = [t for t in threading.enumerate() if t.name == "sesd-reload-read"]
    return reader


async def test_a_renewed_certificate_and_a_rotated_secret_are_read_by_themselves(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, json_logs: io.StringIO
) -> None:
    """The Secret's mount swapped: within check_files_every the next handshake presents
    the new certificate and the sink holds the new key, logged as a reload naming the
    files, the config's digest unchanged (it sees the secret's reference, not its
    value); an edit of the config file waits for a SIGHUP. A swap to a key that is not
    the certificate's changes nothing and reads 0 in the reload metric until a good
    one."""
    mount, path, first = await _mounted(local_sqs, sqs, tmp_path)
    async with running(load_config(path), config_path=path) as daemon:
        port = _port(daemon)
        assert (await _get(port, "/healthz", tls=_trusting(first)))[0] == 200
        path.write_text(path.read_text() + RULE)  # edited, not reloaded
        second = _version(mount, "v2", "key-two")
        old, (digest,) = daemon.config, _digests(daemon)
        _swap(mount, "v2")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: daemon.config is not old)
        assert _key(daemon) == "key-two"
        assert _digests(daemon) == [digest]
        assert [rule.name for rule in daemon.config.alerts.rules] == ["paused"]
        assert (await _get(port, "/healthz", tls=_trusting(second)))[0] == 200
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(port, "/healthz", tls=_trusting(first))

        # A key that is not the certificate's: refused whole, the old ones in force.
        _version(mount, "v3", "key-three")
        (mount / "v3" / "tls.key").write_bytes((mount / "v1" / "tls.key").read_bytes())
        _swap(mount, "v3")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _reloaded(daemon) == 0)
        assert _key(daemon) == "key-two"
        assert (await _get(port, "/healthz", tls=_trusting(second)))[0] == 200
        fourth = _version(mount, "v4", "key-four")
        _swap(mount, "v4")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _reloaded(daemon) == 1)
        assert (await _get(port, "/healthz", tls=_trusting(fourth)))[0] == 200
    logs = log_records(json_logs)
    done = [e for e in logs if e["event"] == "sesd.config.reloaded"]
    files = [
        "alerts.sinks.pd.routing_key",
        "http.web_config: tls_server_config.cert_file",
        "http.web_config: tls_server_config.key_file",
    ]
    assert [e["files"] for e in done] == [files, files]
    assert [e["secrets_rotated"] for e in done] == [[files[0]], [files[0]]]
    assert all("path" not in e and e["rules_added"] == [] for e in done)
    assert [e for e in logs if e["event"] == "sesd.task.failed"] == []
    (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert failed["files"] == files
    assert failed["error"].startswith("http.web_config: tls_server_config.key_file: not the PEM")
    assert "key-t" not in json_logs.getvalue()  # nor in a traceback, as a user reads it


def test_reread_reads_the_files_and_leaves_the_running_config(tmp_path: Path) -> None:
    """A copy of the config in force with its files read anew: the running config's
    secrets are not touched, a literal stays, and the config file is not read."""
    key = tmp_path / "routing_key"
    key.write_text(_padded("first"))
    aws = tmp_path / "aws_secret"
    aws.write_text("secret")
    path = tmp_path / "sesd.toml"
    path.write_text(
        '[aws]\naccess_key_id = "AKIAEXAMPLE"\n'
        f'secret_access_key = "file:{aws}"\n'
        '[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"\n'
        f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "file:{key}"\n'
        '[alerts.sinks.hook]\ntype = "webhook"\nurl = "https://hooks.example/a"\n'
    )
    running = load_config(path)
    key.write_text(_padded("second"))
    path.write_text("not TOML at all [")
    again = reread(running)
    assert running.alerts.sinks["pd"].routing_key.get() == _padded("first")  # type: ignore[union-attr]
    assert again.alerts.sinks["pd"].routing_key.get() == _padded("second")  # type: ignore[union-attr]
    assert again.alerts.sinks["hook"].url.get() == "https://hooks.example/a"  # type: ignore[union-attr]
    assert again.to_display() == running.to_display()
    # [aws] is read at start only, but its file is followed: a rotation is said to wait.
    assert followed_files(running) == {
        str(aws): "aws.secret_access_key",
        str(key): "alerts.sinks.pd.routing_key",
    }
    key.unlink()
    with pytest.raises(ConfigError, match=r"^alerts\.sinks\.pd\.routing_key: cannot read"):
        reread(running)


@pytest.mark.parametrize(("every", "ok"), [("0s", True), ("1s", True), ("500ms", False)])
def test_check_files_every_is_off_or_at_least_a_second(every: str, ok: bool) -> None:
    text = f'[reload]\ncheck_files_every = "{every}"\n'
    if ok:
        assert parse_config(text).reload.check_files_every.text == every
    else:
        with pytest.raises(ConfigError, match=r"reload\.check_files_every: must be 0s"):
            parse_config(text)


async def test_a_reload_waits_for_a_refresh_under_way(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh reads the files of the config in force; a SIGHUP meanwhile applies its
    new file after it, not before (the refresh would put back what it replaced)."""
    _, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    reading, go_on = threading.Event(), threading.Event()

    def held(config: Config) -> Config:
        reading.set()
        go_on.wait(30)
        return reread(config)

    monkeypatch.setattr(sesd.runtime.reload, "reread", held)
    async with running(load_config(path), config_path=path) as daemon:
        reloader = daemon._reloader  # the refresh, without a file to change
        path.write_text(path.read_text() + RULE)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(reloader.refresh, ["alerts.sinks.pd.routing_key"])
            await anyio.to_thread.run_sync(reading.wait)
            tasks.start_soon(daemon.reload)
            # Given the time to apply: it must not, while the refresh is under way.
            with anyio.move_on_after(1):
                await daemon.changes.wait_for(lambda: len(daemon.config.alerts.rules) > 1)
            assert [rule.name for rule in daemon.config.alerts.rules] == ["paused"]
            go_on.set()
        assert [rule.name for rule in daemon.config.alerts.rules] == ["paused", "late"]


async def test_following_turned_on_by_a_reload_starts_from_what_it_read(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Off ("0s"), a rotated key waits for a SIGHUP, which reads it; the reload that
    turns following on makes the next rotation read within the new interval (not
    after the off state's minute); a refresh read well after a refused config file
    leaves the reload metric at 0, the file still not in force."""
    mount, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="0s")
    async with running(load_config(path), config_path=path) as daemon:
        _version(mount, "v2", "key-two")
        _swap(mount, "v2")
        path.write_text(path.read_text().replace('"0s"', '"1s"'))
        assert await daemon.reload()
        assert _key(daemon) == "key-two"
        _version(mount, "v3", "key-three")
        _swap(mount, "v3")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _key(daemon) == "key-three")

        path.write_text(path.read_text() + "[windows\n")  # refused
        assert not await daemon.reload()
        assert _reloaded(daemon) == 0
        _version(mount, "v4", "key-four")
        _swap(mount, "v4")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _key(daemon) == "key-four")
        assert _reloaded(daemon) == 0


async def test_a_read_held_by_a_hung_file_is_given_up_and_the_next_refused_until_it_returns(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotated Secret whose key is a file no read returns from (a FIFO with no writer,
    as a file on a hung mount): the refresh is given up after READ_BOUND, logged and
    the reload metric at 0; a SIGHUP meanwhile is refused at once, saying why, instead
    of waiting behind the held read without a word; once that read returns, a SIGHUP
    reads the files again."""
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 1.0)
    mount, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            _version(mount, "v2", "unused")
            fifo = mount / "v2" / "routing_key"
            fifo.unlink()
            os.mkfifo(fifo)
            _swap(mount, "v2")
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _reloaded(daemon) == 0)
            with anyio.fail_after(5):  # not behind the held read
                assert not await daemon.reload()
            assert _key(daemon) == "key-one"

            # The read returns (the mount answers): the next SIGHUP reads the files.
            reader = _held_read()
            _version(mount, "v3", "key-three")
            _swap(mount, "v3")
            async with open_for_writing(fifo, "w", encoding="utf-8") as late:
                late.write("late")
            await anyio.to_thread.run_sync(reader.join, 10)
            assert not reader.is_alive()
            assert await daemon.reload()
            assert _key(daemon) == "key-three"
            assert _reloaded(daemon) == 1
    given_up, refused = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert "alerts.sinks.pd.routing_key" in given_up["files"]
    assert given_up["error"].startswith("reading the config's files took over 1 s")
    assert refused["path"] == str(path)
    assert refused["error"].startswith("a read of the config's files begun")
    assert "has not returned" in refused["error"]
    assert [e for e in logs if e["event"] == "sesd.task.failed"] == []


async def test_a_refresh_given_up_is_read_again_once_the_mount_answers(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotated Secret whose read hangs past READ_BOUND (a mount that stops answering
    for a while): the refresh is given up and what the read would have read is dropped,
    so the files are not taken as read; once the mount answers again, the follower
    reads them by itself and the new key is in force, the reload metric back at 1."""
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", 1.0)
    mount, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    answers = threading.Event()
    reads: list[str] = []

    def hung(config: Config) -> Config:
        reads.append("read")
        answers.wait(30)  # the mount's hang: the first read, and any read during it
        return reread(config)

    monkeypatch.setattr(sesd.runtime.reload, "reread", hung)
    async with running(load_config(path), config_path=path) as daemon:
        _version(mount, "v2", "key-two")
        _swap(mount, "v2")
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: _reloaded(daemon) == 0)
        reader = _held_read()
        answers.set()  # the mount answers: the held read returns, its result dropped
        await anyio.to_thread.run_sync(reader.join, 10)
        assert not reader.is_alive()
        # No SIGHUP, no further change to the files: the follower reads them again.
        with anyio.fail_after(10):
            await daemon.changes.wait_for(lambda: _key(daemon) == "key-two")
        assert _reloaded(daemon) == 1


async def test_a_read_whose_thread_never_started_does_not_hold_off_every_reload(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGHUP whose read could not start its thread (the process at its limit of
    tasks) fails; it holds no read, so the next SIGHUP reads the file."""
    _, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="0s")
    started = apart
    limits = [RuntimeError("can't start new thread")]

    async def at_the_limit(work: Any, name: str) -> Any:
        if limits:
            raise limits.pop()
        return await started(work, name)

    monkeypatch.setattr(sesd.runtime.reload, "apart", at_the_limit)
    async with running(load_config(path), config_path=path) as daemon:
        path.write_text(path.read_text() + RULE)
        with pytest.raises(RuntimeError):
            await daemon.reload()
        assert await daemon.reload()  # a thread starts now: the file is read
        assert [rule.name for rule in daemon.config.alerts.rules] == ["paused", "late"]


async def test_a_refresh_that_fails_unexpectedly_says_why_as_a_reload_does(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh whose read cannot start its thread (the process at its limit of tasks)
    fails: its log line carries an ``error`` field, as a reload's failures do, so a
    search of the journal for why a rotated Secret did not take finds it."""
    _, path, _ = await _mounted(local_sqs, sqs, tmp_path, every="0s")
    started = apart
    limits = [RuntimeError("can't start new thread")]

    async def at_the_limit(work: Any, name: str) -> Any:
        if limits:
            raise limits.pop()
        return await started(work, name)

    monkeypatch.setattr(sesd.runtime.reload, "apart", at_the_limit)
    with capture_logs() as logs:
        async with running(load_config(path), config_path=path) as daemon:
            assert not await daemon._reloader.refresh(["alerts.sinks.pd.routing_key"])
            assert _reloaded(daemon) == 0
    (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert failed["error"] == "RuntimeError: can't start new thread"
    assert (failed["files"], failed["kept"]) == (["alerts.sinks.pd.routing_key"], "running config")
