"""The certificate and key a reload (SIGHUP) names, read with the config, are read
again to load into the port's context. A share that stopped answering between the two
reads held that second read, made on the event loop, for ever: no request answered,
no stop heard. The read is made in a thread apart, given up within its bound: the
reload is refused as for a certificate that does not load, and the port serves on
with the certificate it had.

The hang is real: the certificate's path is a FIFO by the time of the second read,
whose open waits for a writer until the test lets it through."""

from __future__ import annotations

import os
import re
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from structlog.testing import capture_logs

import sesd.io.hung
import sesd.runtime.follow
import sesd.runtime.web
import sesd.runtime.web_chain
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, ConfigError, load_config
from sesd.config.web import parse_web_config
from sesd.runtime.web import Unanswered, WebGuard
from sesd.runtime.web_chain import Chain
from tests.conftest import running
from tests.fifo_gates import let_through
from tests.test_follow_files import _key, _mounted, _reloaded, _swap, _version
from tests.test_follow_hung import BOUND as FOLLOW_BOUND
from tests.test_follow_hung import Mount
from tests.test_web_lock import (
    TLS,
    _certificate,
    _files,
    _get,
    _port,
    _queue,
    _tls,
    _trusting,
)

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]

BOUND = 0.5


def _released(fifo: Path, done: threading.Event) -> None:
    """Without the bound, the event loop itself waits at the FIFO: each open of it is let
    through after a while, so that the test fails rather than hangs."""
    if done.wait(10):
        return
    while not done.is_set():
        let_through(fifo)
        done.wait(0.01)


async def _applied_then_hung(
    guard: WebGuard, tmp_path: Path, hung: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``guard`` given the second certificate, whose file ``hung`` becomes a FIFO no one
    writes once the read apart has read it (a share that stops answering then): the
    reload takes, within 5 s, so nothing opened the path again on the event loop."""
    read = sesd.runtime.web_chain.read_chain

    def then_hung(tls: Any) -> Chain:
        chain = read(tls)
        hung.unlink()
        os.mkfifo(hung)
        return chain

    monkeypatch.setattr(sesd.runtime.web, "read_chain", then_hung)
    done = threading.Event()
    releaser = threading.Thread(target=_released, args=(hung, done), daemon=True)
    releaser.start()
    try:
        began = anyio.current_time()
        assert await guard.apply(parse_web_config(_tls("second"), str(tmp_path))) == []
        assert anyio.current_time() - began < 5
    finally:
        done.set()
        releaser.join(5)


def _reads_held(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, list[str]]:
    """The port's reads of the certificate and key held, as by a share that hangs, until
    the event given is set (READ_BOUND the tests'); the certificates each read began
    for, in order."""
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    answers = threading.Event()
    reads: list[str] = []
    read_chain = sesd.runtime.web_chain.read_chain

    def hung(tls: Any) -> Chain:
        reads.append(tls.cert_file)
        answers.wait(30)  # the share's hang: the first read, and any read during it
        return read_chain(tls)

    monkeypatch.setattr(sesd.runtime.web, "read_chain", hung)
    return answers, reads


async def test_a_certificate_whose_read_hangs_at_a_reload_is_given_up_within_the_bound(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reload reads the new certificate and key with the config; the share then
    stops answering (the certificate's path a FIFO nobody writes). The load into the
    port's context is given up within the bound, not held on the event loop: the
    reload is refused naming the files (the metric at 0), the port presents the
    certificate it had, and the read is left in its thread. The share back and that
    read returned, the same file reloads."""
    first = _certificate(tmp_path, "first")
    path = _files(tmp_path, _tls("first"), queue=await _queue(local_sqs, sqs))
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    async with running(load_config(path), config_path=path) as daemon:
        port, registry = _port(daemon), daemon.metrics.registry
        second = _certificate(tmp_path, "second")
        (tmp_path / "web.yml").write_text(_tls("second"))
        cert = tmp_path / "second.crt"
        fifo = tmp_path / "hung"
        os.mkfifo(fifo)
        read_silences = daemon.alerting.read_silences

        async def then_hung(config: Config) -> None:
            # Read after the config and its files, before the port's load.
            await read_silences(config)
            os.replace(cert, tmp_path / "second.crt.kept")
            os.replace(fifo, cert)

        monkeypatch.setattr(daemon.alerting, "read_silences", then_hung)
        done = threading.Event()
        releaser = threading.Thread(target=_released, args=(cert, done), daemon=True)
        releaser.start()
        try:
            began = anyio.current_time()
            with capture_logs() as logs:
                assert not await daemon.reload()
            assert anyio.current_time() - began < 5
            (reader,) = [t for t in threading.enumerate() if t.name == "sesd-web-load"]
            assert registry.get_sample_value("sesd_config_last_reload_successful") == 0
            assert (await _get(port, "/healthz", tls=_trusting(first)))[0] == 200
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await _get(port, "/healthz", tls=_trusting(second))
        finally:
            done.set()
            let_through(cert)
            releaser.join(5)
        # The held read returns: until it does, reloads are refused (the test below).
        await anyio.to_thread.run_sync(reader.join, 10)
        (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
        assert (failed["error"], failed["kept"]) == (
            f"http.web_config: tls_server_config: {cert}, {tmp_path / 'second.key'} not read "
            "within 0.5 s (a file on a hung mount?)",
            "running config",
        )
        monkeypatch.setattr(daemon.alerting, "read_silences", read_silences)
        os.replace(tmp_path / "second.crt.kept", cert)
        assert await daemon.reload()
        assert (await _get(port, "/healthz", tls=_trusting(second)))[0] == 200


@pytest.mark.parametrize("name", ["second.crt", "second.key"])
async def test_the_port_loads_the_files_as_read_not_their_paths_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The share stops answering once the read apart has the certificate and key: the
    port's context loads what was read, from memory, and never opens either path again
    on the event loop (which would wait there for ever)."""
    _certificate(tmp_path, "first")
    _certificate(tmp_path, "second")
    guard = WebGuard(parse_web_config(_tls("first"), str(tmp_path)))
    await _applied_then_hung(guard, tmp_path, tmp_path / name, monkeypatch)
    assert guard._tls is not None
    assert guard._tls.cert_file == str(tmp_path / "second.crt")


def _no_memfd(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """A system that makes no file in memory: a filter that refuses memfd, or no /proc."""
    if how == "memfd refused":

        def refused(name: str, flags: int) -> int:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "memfd_create", refused)
    else:
        monkeypatch.setattr(sesd.runtime.web_chain, "_OPEN_FILES", Path("/nonexistent/fd"))


def _presents(context: ssl.SSLContext, ca: Any) -> bool:
    """Whether a handshake with ``context``, the server's, passes for a client that
    trusts ``ca`` alone (in memory: no socket)."""
    client = ssl.create_default_context()
    ca.configure_trust(client)
    ends = [ssl.MemoryBIO() for _ in range(4)]
    near = client.wrap_bio(ends[0], ends[1], server_hostname="127.0.0.1")
    far = context.wrap_bio(ends[2], ends[3], server_side=True)
    done = [False, False]
    for _ in range(10):
        for i, side in enumerate((near, far)):
            try:
                side.do_handshake()
                done[i] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                return False
        ends[2].write(ends[1].read())
        ends[0].write(ends[3].read())
        if all(done):
            return True
    return False


@pytest.mark.parametrize("how", ["memfd refused", "no /proc"])
@pytest.mark.parametrize("name", ["second.crt", "second.key"])
async def test_without_files_in_memory_the_port_loads_copies_not_the_paths_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, how: str
) -> None:
    """Where the system makes no file in memory, the share stops answering once the read
    apart has the certificate and key: the port's context loads copies the read made in
    a directory of its own, never either path on the event loop (which would wait there
    for ever), and presents the new certificate; the copies are gone after. One whose
    key is not its certificate's changes nothing."""
    _no_memfd(monkeypatch, how)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    first = _certificate(tmp_path, "first")
    second = _certificate(tmp_path, "second")
    guard = WebGuard(parse_web_config(_tls("first"), str(tmp_path)))
    assert guard.ssl_context is not None
    context = guard.ssl_context
    mixed = TLS.format(cert="first.crt", key="second.key")
    with pytest.raises(ConfigError, match=r"^http\.web_config: tls_server_config\.key_file: "):
        await guard.apply(parse_web_config(mixed, str(tmp_path)))
    assert _presents(context, first)
    await _applied_then_hung(guard, tmp_path, tmp_path / name, monkeypatch)
    assert guard.ssl_context is context
    assert (_presents(context, second), _presents(context, first)) == (True, False)
    assert list(scratch.iterdir()) == []


async def test_a_copy_made_for_a_read_given_up_is_removed_when_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without files in memory, the copies (the key among them) are made by the read
    apart: one given up past the bound that returns later leaves none behind."""
    _no_memfd(monkeypatch, "memfd refused")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    answers, _ = _reads_held(monkeypatch)
    _certificate(tmp_path, "first")
    _certificate(tmp_path, "second")
    guard = WebGuard(parse_web_config(_tls("first"), str(tmp_path)))
    try:
        with pytest.raises(Unanswered):
            await guard.apply(parse_web_config(_tls("second"), str(tmp_path)))
        (reader,) = [t for t in threading.enumerate() if t.name == "sesd-web-load"]
    finally:
        answers.set()
    await anyio.to_thread.run_sync(reader.join, 10)
    assert not reader.is_alive()
    await anyio.lowlevel.checkpoint()  # the thread's result handed to the loop, dropped
    assert list(scratch.iterdir()) == []


async def test_where_the_second_file_in_memory_is_refused_the_copies_are_made_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A system filter that lets one file in memory be made and refuses the next: the
    one made is closed, and the port's context loads copies in a directory of its own;
    a reload still swaps the certificate, where the refusal raised."""
    made: list[int] = []

    def memfd_create(name: str, flags: int) -> int:
        if made:
            raise PermissionError(1, "Operation not permitted")
        made.append(memfd(name, flags))
        return made[-1]

    memfd = os.memfd_create
    monkeypatch.setattr(os, "memfd_create", memfd_create)
    _certificate(tmp_path, "first")
    second = _certificate(tmp_path, "second")
    guard = WebGuard(parse_web_config(_tls("first"), str(tmp_path)))
    assert guard.ssl_context is not None
    assert await guard.apply(parse_web_config(_tls("second"), str(tmp_path))) == []
    assert _presents(guard.ssl_context, second)
    assert len(made) == 1


async def test_a_certificate_path_naming_a_device_is_refused_saying_what_it_is_not(
    tmp_path: Path,
) -> None:
    """A reload whose certificate path names a device (a slip: ``/dev/zero``) is read
    no further than the bound and refused, saying that no certificate or key is that
    large; the port keeps the certificate it had."""
    _certificate(tmp_path, "first")
    guard = WebGuard(parse_web_config(_tls("first"), str(tmp_path)))
    context = guard.ssl_context
    named = TLS.format(cert="/dev/zero", key="first.key")
    with pytest.raises(ConfigError) as refused:
        await guard.apply(parse_web_config(named, str(tmp_path)))
    assert str(refused.value) == (
        "http.web_config: tls_server_config.cert_file: cannot read /dev/zero: larger than "
        "8 MiB, which no certificate or key is (a log, a dump or a device named?)"
    )
    assert guard.ssl_context is context


async def test_a_reload_while_a_certificate_read_hangs_is_refused_at_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload whose certificate read was given up leaves that read in its thread. The
    share answers the config's read again, not the held one: the next reload is
    refused at once, saying why, as behind a held read of the config's files, rather
    than start another thread beside it (one more for each reload, were the share
    to hang on). Once the held read returns, the next reload loads the certificate."""
    _certificate(tmp_path, "first")
    path = _files(tmp_path, _tls("first"), queue=await _queue(local_sqs, sqs))
    monkeypatch.setattr(sesd.io.hung, "READ_BOUND", BOUND)
    async with running(load_config(path), config_path=path) as daemon:
        port = _port(daemon)
        second = _certificate(tmp_path, "second")
        (tmp_path / "web.yml").write_text(_tls("second"))
        cert, kept, fifo = tmp_path / "second.crt", tmp_path / "second.crt.kept", tmp_path / "hung"
        os.mkfifo(fifo)
        read_silences = daemon.alerting.read_silences

        async def then_hung(config: Config) -> None:
            await read_silences(config)
            os.replace(cert, kept)
            os.link(fifo, cert)  # the FIFO at both names: let through by its own

        monkeypatch.setattr(daemon.alerting, "read_silences", then_hung)
        done = threading.Event()
        releaser = threading.Thread(target=_released, args=(fifo, done), daemon=True)
        releaser.start()
        try:
            assert not await daemon.reload()
            (reader,) = [t for t in threading.enumerate() if t.name == "sesd-web-load"]
            monkeypatch.setattr(daemon.alerting, "read_silences", read_silences)
            os.replace(kept, cert)  # the config's read answers; the held one waits on
            began = anyio.current_time()
            with capture_logs() as logs:
                assert not await daemon.reload()
            assert anyio.current_time() - began < 5
            assert reader.is_alive()
        finally:
            done.set()
            let_through(fifo)
            releaser.join(5)
        await anyio.to_thread.run_sync(reader.join, 10)
        assert not reader.is_alive()
        assert await daemon.reload()
        assert (await _get(port, "/healthz", tls=_trusting(second)))[0] == 200
    (refused,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    begun = re.fullmatch(
        r"a read of the config's files begun (\d+) s ago was given up and has not returned "
        r"\(a file on a hung mount\?\): none is begun until it does",
        refused["error"],
    )
    # How long the read has been held, which the test's own timeout bounds.
    assert begun is not None
    assert int(begun[1]) < 60


async def test_a_renewed_certificate_whose_read_hung_is_read_again_once_it_answers(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate renewed on a share that stops answering as the port's load reads it
    again: the refresh is given up within the bound, and the files are not taken as
    read. Once the share answers, the follower reads them again by itself (no SIGHUP,
    no further change): the port presents the new certificate."""
    answers, _ = _reads_held(monkeypatch)
    mount, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    try:
        async with running(load_config(path), config_path=path) as daemon:
            port = _port(daemon)
            second = _version(mount, "v2", "key-two")
            _swap(mount, "v2")
            with anyio.fail_after(20):
                await daemon.changes.wait_for(lambda: _reloaded(daemon) == 0)
            (reader,) = [t for t in threading.enumerate() if t.name == "sesd-web-load"]
            answers.set()
            await anyio.to_thread.run_sync(reader.join, 10)
            assert not reader.is_alive()
            with anyio.fail_after(10):
                await daemon.changes.wait_for(lambda: _reloaded(daemon) == 1)
            assert _key(daemon) == "key-two"
            assert (await _get(port, "/healthz", tls=_trusting(second)))[0] == 200
    finally:
        answers.set()


async def test_looks_behind_a_held_certificate_read_read_nothing_until_it_returns_then_once(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewed certificate whose read for the port hangs: each look while that read is
    held finds the files unread and is refused behind it, said once (not at each look)
    and reading nothing (no thread more to hang beside it). Once it returns, the next
    look reads the files once; the looks after it read nothing more."""
    answers, reads = _reads_held(monkeypatch)
    monkeypatch.setattr(sesd.runtime.follow, "LOOK_BOUND", FOLLOW_BOUND)
    looks = Mount(set(), sesd.runtime.follow.signature, ("sesd-follow-stat",))
    monkeypatch.setattr(sesd.runtime.follow, "signature", looks.signature)
    mount, path, _ = await _mounted(local_sqs, sqs, tmp_path)
    cert = str(mount / "current" / "tls.crt")
    with capture_logs() as logs:
        try:
            async with running(load_config(path), config_path=path) as daemon:
                port = _port(daemon)
                second = _version(mount, "v2", "key-two")
                _swap(mount, "v2")
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(lambda: _reloaded(daemon) == 0)
                (reader,) = [t for t in threading.enumerate() if t.name == "sesd-web-load"]
                await looks.looked(cert, looks.count(cert) + 3)  # three looks behind it
                assert (reads, _key(daemon), _reloaded(daemon)) == ([cert], "key-one", 0)
                answers.set()
                await anyio.to_thread.run_sync(reader.join, 10)
                with anyio.fail_after(10):
                    await daemon.changes.wait_for(lambda: _reloaded(daemon) == 1)
                await looks.looked(cert, looks.count(cert) + 3)  # three looks after it
                assert (reads, _key(daemon)) == ([cert, cert], "key-two")
                assert (await _get(port, "/healthz", tls=_trusting(second)))[0] == 200
        finally:
            answers.set()
    given_up, behind = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
    assert given_up["error"].endswith(f" not read within {BOUND:g} s (a file on a hung mount?)")
    assert "has not returned" in behind["error"]
    (reloaded,) = [e for e in logs if e["event"] == "sesd.config.reloaded"]
    assert "http.web_config: tls_server_config.cert_file" in reloaded["files"]
