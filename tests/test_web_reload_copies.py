"""Where the system makes no file in memory, a reload's certificate and key are copied
to a directory of the temp directory for the port to load. A temp directory that
takes no copy (gone, not a directory, unwritable, full) refuses the reload as a file
that does not load is refused: one line saying why, not a fault of sesd's with its
traceback; the port serves on with the certificate it had. A real daemon on moto's
SQS; memfd refused as a system call filter does."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

import sesd.config.web
import sesd.runtime.web
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import load_config
from sesd.config.web import TlsServerConfig, parse_web_config
from sesd.runtime.web import WebGuard
from tests.conftest import running
from tests.test_web_lock import _certificate, _files, _get, _port, _queue, _tls, _trusting
from tests.test_web_reload_hung import _presents

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = [pytest.mark.usefixtures("short_polls"), pytest.mark.timeout(60)]


def _memfd_refused(name: str, flags: int) -> int:
    raise PermissionError(1, "Operation not permitted")


@pytest.mark.parametrize(
    ("tmp", "why"),
    [("gone", "No such file or directory"), ("a file", "Not a directory")],
)
async def test_a_temp_directory_that_takes_no_copy_refuses_the_reload_in_one_line(
    local_sqs: LocalSqs,
    sqs: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp: str,
    why: str,
) -> None:
    """memfd refused and the temp directory gone (or a file where it was): a SIGHUP
    naming a renewed certificate is refused, its line (no traceback) naming the temp
    directory and why, the config kept; the port presents the certificate it had."""
    first = _certificate(tmp_path, "first")
    path = _files(tmp_path, _tls("first"), queue=await _queue(local_sqs, sqs))
    scratch = tmp_path / "tmp"
    if tmp == "a file":
        scratch.write_text("")
    monkeypatch.setattr(os, "memfd_create", _memfd_refused)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    async with running(load_config(path), config_path=path) as daemon:
        port, registry = _port(daemon), daemon.metrics.registry
        second = _certificate(tmp_path, "second")
        (tmp_path / "web.yml").write_text(_tls("second"))
        with capture_logs() as logs:
            await daemon._reloader.on_signal()
        (failed,) = [e for e in logs if e["event"] == "sesd.config.reload_failed"]
        assert (failed["error"], failed["kept"], "exc_info" in failed) == (
            "http.web_config: tls_server_config: no file in memory here, and no copy of "
            f"cert_file and key_file made in the temp directory (TMPDIR): {scratch}: {why}",
            "running config",
            False,
        )
        assert registry.get_sample_value("sesd_config_last_reload_successful") == 0
        assert (await _get(port, "/healthz", tls=_trusting(first)))[0] == 200
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(port, "/healthz", tls=_trusting(second))


async def test_the_copies_are_unnamed_before_the_event_loop_loads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """memfd refused, /proc there: by the time the event loop loads the copies into the
    port's context, the read apart has opened them and removed their names, so the
    loop neither opens nor removes anything in the temp directory, and a process
    killed amid the load leaves no copy of the key there. The new certificate is
    presented, and the copies' descriptors are closed after."""
    monkeypatch.setattr(os, "memfd_create", _memfd_refused)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    _certificate(tmp_path, "first")
    second = _certificate(tmp_path, "second")
    guard = WebGuard(parse_web_config(_tls("first"), str(tmp_path)))
    assert guard.ssl_context is not None
    seen: list[tuple[list[str], str, str]] = []
    load_chain = sesd.config.web.load_chain

    def looked(context: ssl.SSLContext, tls: TlsServerConfig) -> None:
        seen.append(([p.name for p in scratch.iterdir()], tls.cert_file, tls.key_file))
        # Only sesd's user may read the copies, the key's above all: the directory
        # aside, each is made so (the umask would leave it readable by all).
        assert [os.stat(p).st_mode & 0o777 for p in (tls.cert_file, tls.key_file)] == [0o600] * 2
        load_chain(context, tls)

    monkeypatch.setattr(sesd.runtime.web, "load_chain", looked)
    # The directory the copies are made in is named as sesd's: a process killed before
    # their names are removed leaves it to whoever looks in the temp directory.
    made: list[str] = []
    rmdir = os.rmdir

    def removed(path: str) -> None:
        made.append(os.path.basename(path))
        rmdir(path)

    monkeypatch.setattr(os, "rmdir", removed)
    before = sorted(os.listdir("/proc/self/fd"))
    assert await guard.apply(parse_web_config(_tls("second"), str(tmp_path))) == []
    ((named, cert, key),) = seen
    assert named == []
    assert [name.startswith("sesd-tls-") for name in made] == [True]
    assert (cert.startswith("/proc/self/fd/"), key.startswith("/proc/self/fd/")) == (True, True)
    assert _presents(guard.ssl_context, second)
    assert sorted(os.listdir("/proc/self/fd")) == before
