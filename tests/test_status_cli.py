"""``sesd status`` against a running daemon: the table (firing alerts first, outlook.com
first among the domains), ``--json``, ``--watch``, the address from ``--config``, and
one line when nothing answers."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from socket import gethostname
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
import trustme
from aiohttp import web
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.tls import TLSListener, TLSStream

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import LocalSqs, free_port
from sesd.commands.main import main
from sesd.commands.status import DEFAULT_URL, _screenful, default_url
from sesd.commands.status_fetch import MAX_ANSWER, base_url
from sesd.commands.status_table import rows, screenful, table
from sesd.config import ConfigError, parse_config
from sesd.io.build import revision
from sesd.runtime.daemon import Daemon
from sesd.status.document import MAX_ALERTS, Limits, TenantRow
from sesd.status.model import build_status, read_counters
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.sesd_process import hearing_ctrl_c
from tests.status_world import (
    MANY,
    NOW,
    RULES,
    everything,
    feed,
    many_alerts,
    settled,
    spike,
    world,
)

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("short_polls")]

#: What the status header shows of the build beside its version (a checkout's commit).
BUILT = f" ({revision()})" if revision() else ""


def config_text(local: LocalSqs, url: str) -> str:
    return (
        f'[aws]\nendpoint_url = "{local.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
        f'[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n{RULES}'
    )


SPIKE = len(spike(0.0))


async def firing(local: LocalSqs, sqs: Any) -> tuple[str, Any]:
    """A queue with the spike in it (the daemon reads it once started)."""
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, [f.raw(event) for event in spike(time.time())])
    return url, parse_config(config_text(local, url))


async def fired(daemon: Daemon) -> None:
    """Until the spike is read and evaluated, and outlook.com's alert fires."""
    await settled(daemon, SPIKE, ("delay-ratio-high", "outlook.com"))


async def sesd(*args: str) -> int:
    """``sesd ARGS`` in a thread of its own (its own event loop), this loop serving."""
    return await anyio.to_thread.run_sync(main, list(args))


async def test_the_table_lists_firing_alerts_first_and_the_spiking_domain_first(
    local_sqs: LocalSqs, sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """During the spike, the table opens with sesd's version and readiness, lists the
    firing alerts (with provider, cause, advice and stage) before anything else, the provider's
    before its domain's (which does not repeat the advice above it), and ranks
    outlook.com first among the domains; ``--json``
    prints the document itself."""
    _, config = await firing(local_sqs, sqs)
    async with running(config) as daemon:
        await fired(daemon)
        base = f"http://127.0.0.1:{daemon.http_port}"
        assert await sesd("status", "--url", base) == 0
        out = capsys.readouterr().out
        lines = out.splitlines()
        # The version, and the commit built: replicas of one version can differ.
        assert lines[0].startswith(f"sesd 0.1.0{BUILT} at {base}")
        assert " ready " in lines[0]
        assert lines[1].startswith("queue q (default/us-east-1):")
        alerts = lines.index("ALERTS: 2 firing, 0 pending")
        # The provider's alert first (it explains its domains'), though only a warning.
        assert lines[alerts + 1].split()[:3] == ["FIRING", "warning", "provider-delay-ratio-high:"]
        assert lines[alerts + 4].split()[:3] == ["FIRING", "critical", "delay-ratio-high:"]
        # Where its mail goes, as the alert's text says.
        assert (
            "domain outlook.com (provider microsoft) delay_ratio 60.0% (above 10.0%, 5m window)"
            in lines[alerts + 4]
        )
        assert "slow down to Microsoft" in lines[alerts + 2]
        # The same advice is not printed twice in a row.
        assert lines[alerts + 5].strip() == (
            "cause: ip_reputation (15 of 15 noted): the same advice as above"
        )
        assert "where: SES -> recipient MTA" in lines[alerts + 6]
        domains = next(i for i, line in enumerate(lines) if line.startswith("DOMAINS"))
        assert domains > alerts
        assert lines[domains + 2].split()[:4] == ["outlook.com", "10", "15", "60.0%"]
        assert lines[domains + 2].endswith("delay-ratio-high")
        assert "@" not in out

        assert await sesd("status", "--url", base, "--json", "--top", "1") == 0
        document = json.loads(capsys.readouterr().out)
        assert document["schema"] == "sesd.status.v1"
        assert [r["name"] for r in document["scopes"][0]["items"]] == ["outlook.com"]
        assert document["scopes"][0]["total"] == 3

        # A page's address pasted from the browser: the daemon's address is named.
        assert await sesd("status", "--url", f"{base}/domain/outlook.com?window=5m") == 0
        shown = f"sesd 0.1.0{BUILT} at {base} on {gethostname()}  as of "
        assert capsys.readouterr().out.startswith(shown)
        # The page's script or stylesheet (a link opened from its source) too: /static/
        # is sesd's, not a proxy's prefix to ask the status API under.
        assert await sesd("status", "--url", f"{base}/static/status.js") == 0
        assert capsys.readouterr().out.startswith(shown)


async def test_alerts_past_the_first_fifty_are_listed_with_alerts(
    local_sqs: LocalSqs, sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon lists 50 alerts unless asked for more: an incident on many domains
    left ``...and N more`` with no way to see them, in the table or with ``--json``.
    ``--alerts N`` asks for N; a cut list names the option and the number that lists
    them all."""
    _, config = await firing(local_sqs, sqs)
    async with running(config) as daemon:
        await fired(daemon)
        base = f"http://127.0.0.1:{daemon.http_port}"
        assert await sesd("status", "--url", base, "--alerts", "1") == 0
        lines = capsys.readouterr().out.splitlines()
        assert "ALERTS: 2 firing, 0 pending" in lines
        assert len([line for line in lines if line.startswith("  FIRING")]) == 1
        assert "  ...and 1 more (--alerts 2 lists them all)" in lines

        assert await sesd("status", "--url", base, "--json", "--alerts", "1") == 0
        alerts = json.loads(capsys.readouterr().out)["alerts"]
        assert (len(alerts["items"]), alerts["total"]) == (1, 2)
        assert await sesd("status", "--url", base, "--json", "--alerts", "2") == 0
        assert len(json.loads(capsys.readouterr().out)["alerts"]["items"]) == 2


async def test_a_replica_of_a_fleet_says_its_figures_are_its_share(
    local_sqs: LocalSqs, sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a shared Alertmanager sink (several replicas on the same queues), each
    replica counts the part of the traffic SQS hands it: ``sesd status`` and the page
    say its figures are that share, not the fleet's, and so are its alerts (Alertmanager
    has the fleet's); the document says ``shared``. A replica alone says nothing of it."""
    url, _ = await make_queue(sqs)
    text = config_text(local_sqs, url).replace(
        "[[alerts.rules]]",
        '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\n'
        "shared = true\n[[alerts.rules]]",
        1,
    )
    alone = parse_config(config_text(local_sqs, url))
    for config, shared in ((parse_config(text), True), (alone, False)):
        async with running(config) as daemon:
            base = f"http://127.0.0.1:{daemon.http_port}"
            assert await sesd("status", "--url", base) == 0
            lines = capsys.readouterr().out.splitlines()
            assert ("one replica of several" in lines[1]) is shared
            # Its alerts too: another replica's share may fire what this one's does not.
            assert ("its alerts are those it judged on that share" in lines[1]) is shared
            assert await sesd("status", "--url", base, "--json") == 0
            assert json.loads(capsys.readouterr().out)["sesd"]["shared"] is shared
            async with aiohttp.ClientSession() as session, session.get(f"{base}/") as answer:
                page = await answer.text()
            assert ("one replica of several" in page) is shared


async def test_the_address_comes_from_the_config(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``--config``, sesd status asks the daemon at that file's ``[http] listen``."""
    _, config = await firing(local_sqs, sqs)
    async with running(config) as daemon:
        path = tmp_path / "sesd.toml"
        text = config_text(local_sqs, config.queues[0].url)
        path.write_text(text.replace("127.0.0.1:0", f"127.0.0.1:{daemon.http_port}"))
        assert await sesd("status", "--config", str(path)) == 0
        assert capsys.readouterr().out.startswith(
            f"sesd 0.1.0{BUILT} at http://127.0.0.1:{daemon.http_port}"
        )


async def test_nothing_to_reach_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No daemon at the address: one line on standard error naming it, exit 1."""
    url = f"http://127.0.0.1:{free_port()}"
    assert await sesd("status", "--url", url) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"sesd: cannot reach sesd at {url}: Connection refused\n"
    assert captured.err.count("\n") == 1
    # The scrape config's URL pasted: the line names the daemon's address.
    assert await sesd("status", "--url", f"{url}/metrics?x=1") == 1
    assert capsys.readouterr().err == f"sesd: cannot reach sesd at {url}: Connection refused\n"
    # A password written into the address is not printed.
    secret = url.replace("http://", "http://ops:planted-secret@")
    assert await sesd("status", "--url", f"{secret}/metrics") == 1
    assert capsys.readouterr().err == f"sesd: cannot reach sesd at {url}: Connection refused\n"
    # Nor when the address is one no request can be made to (no host, a port past
    # 65535: the command line's mistake, as a scheme left out is), or has no scheme.
    assert await sesd("status", "--url", "http://ops:planted-secret@") == 2
    err = capsys.readouterr().err
    assert err == "sesd: --url 'http://' is not a URL: it names no host\n"
    assert await sesd("status", "--url", "http://ops:planted-secret@127.0.0.1:99999") == 2
    assert "planted-secret" not in capsys.readouterr().err
    # One urllib cannot read: a usage error naming it without them, not a traceback.
    assert await sesd("status", "--url", "http://ops:planted-secret@[::1") == 2
    assert capsys.readouterr().err == "sesd: --url 'http://[::1' is not a URL: Invalid IPv6 URL\n"
    # --user too: a usage error, not a traceback (the request cannot carry both).
    monkeypatch.setenv("SESD_STATUS_PASSWORD", "other-secret")
    assert await sesd("status", "--user", "ops", "--url", f"{secret}/metrics") == 2
    assert capsys.readouterr().err == (
        f"sesd: --user ops and a user and password written into --url {url}: give one\n"
    )
    monkeypatch.delenv("SESD_STATUS_PASSWORD")
    assert await sesd("status", "--url", "ops:planted-secret@127.0.0.1:9585") == 2
    assert capsys.readouterr().err == (
        "sesd: --url '127.0.0.1:9585' has no scheme: give it as "
        "http://127.0.0.1:9585 or https://127.0.0.1:9585\n"
    )


async def test_status_looks_where_sesd_run_listens(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image sets SESD_HTTP_LISTEN, which moves `sesd run` over the config's
    [http] listen: `sesd status` in the same environment looks there too."""
    port = free_port()
    monkeypatch.setenv("SESD_HTTP_LISTEN", f"0.0.0.0:{port}")
    assert await sesd("status") == 1
    assert f"cannot reach sesd at http://127.0.0.1:{port}:" in capsys.readouterr().err


async def test_something_else_answering_is_one_line_and_exit_1(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str]
) -> None:
    """An address where something other than sesd's status answers: one line, exit 1."""
    assert await sesd("status", "--url", local_sqs.url) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sesd: {local_sqs.url}/api/v1/status ")
    assert err.count("\n") == 1


async def _banner(client: SocketStream) -> None:
    """A mail relay's port: its greeting, whatever was sent."""
    await client.send(b"220 mail.example.com ESMTP \x1b[2J\r\n")


async def _hang_up(client: SocketStream) -> None:
    """A port that hangs up on what it reads (a TLS hello too)."""
    await client.receive()


async def _hang_up_in_a_byte(client: SocketStream) -> None:
    """A port that answers what it reads with a byte a TLS record starts with, no more."""
    await client.receive()
    await client.send(b"\x15")


async def _half_a_status_line(client: SocketStream) -> None:
    """A port that answers with the start of a status line, then hangs up."""
    await client.receive()
    await client.send(b"HTT")


async def _no_tls_then_half_a_status_line(client: SocketStream) -> None:
    """A port whose answer to a TLS hello is no TLS, and to HTTP the start of a status
    line, cut."""
    first = await client.receive()
    await client.send(b"HT" if first.startswith(b"HEAD") else b"no TLS here\r\n")


@pytest.mark.parametrize(
    ("scheme", "answer", "said"),
    [
        ("http", _banner, "its answer is not HTTP (another service listens on that port?)"),
        ("http", _hang_up, "Server disconnected"),
        (
            "http",
            _hang_up_in_a_byte,
            "its answer is not HTTP (another service listens on that port?)",
        ),
        ("http", _half_a_status_line, "Server disconnected"),
        (
            "https",
            _hang_up,
            "Connection reset by peer (a port whose web config requires client certificates"
            " hangs up on a client without one: give --cert and --key)",
        ),
        ("https", _banner, "TLS failed (is it serving https? http:// for a plain server)"),
        (
            "https",
            _no_tls_then_half_a_status_line,
            "TLS failed (is it serving https? http:// for a plain server)",
        ),
    ],
)
async def test_a_port_where_another_service_answers_is_said_so(
    scheme: str,
    answer: Callable[[SocketStream], Awaitable[None]],
    said: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--url`` naming the mail relay's port (or any service that does not speak HTTP):
    the line quoted the HTTP parser, ``400, message="Bad status line:\\n  Expected
    HTTP/...``, an HTTP 400 nobody answered. It says the answer is not HTTP. A port that
    hangs up, or answers the look for TLS (or for plain HTTP) with less than a record's
    start, is a line too: that look ended in a traceback (anyio's IncompleteRead). A
    hang-up is said in words, not as aiohttp's repr of the answer begun
    (``<RawResponseMessage(...)>``) or an exception's name (``ConnectionResetError``)."""

    async def served(client: SocketStream) -> None:
        async with client:
            await answer(client)

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, served)
            assert await sesd("status", "--url", f"{scheme}://127.0.0.1:{port}") == 1
            tg.cancel_scope.cancel()
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at {scheme}://127.0.0.1:{port}: {said}\n"
    )


async def test_a_reset_after_the_handshake_names_client_certificates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under TLS 1.3 a port that wants a client certificate refuses one without it after
    the client's side of the handshake is done, often by a reset as the request is in
    flight: the line said "Connection reset by peer" and no more. It names --cert and
    --key, as for a hang-up in the handshake."""
    ca = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(served)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))

    async def refuse(client: TLSStream) -> None:
        await client.receive()  # the request: the handshake is done both ways
        raw = client.extra(SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await client.transport_stream.aclose()  # no close_notify: a reset

    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with TLSListener(tcp, served, standard_compatible=False) as listener:
        port = tcp.extra(SocketAttribute.local_port)
        url = f"https://127.0.0.1:{port}"
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, refuse)
            status = ["status", "--url", url, "--cacert", str(tmp_path / "ca.pem")]
            assert await sesd(*status) == 1
            tg.cancel_scope.cancel()
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at {url}: Connection reset by peer (a port whose web"
        " config requires client certificates hangs up on a client without one: give"
        " --cert and --key)\n"
    )


async def test_a_certificate_no_ca_given_trusts_names_cacert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port serving a certificate of a private CA, asked without --cacert: the line
    says the certificate is not trusted, with the TLS library's words, and names
    --cacert as the fix."""
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(served)

    async def close(client: TLSStream) -> None:
        await client.aclose()

    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with TLSListener(tcp, served, standard_compatible=False) as listener:
        url = f"https://127.0.0.1:{tcp.extra(SocketAttribute.local_port)}"
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, close)
            assert await sesd("status", "--url", url) == 1
            tg.cancel_scope.cancel()
    err = capsys.readouterr().err
    head = f"sesd: cannot reach sesd at {url}: its TLS certificate is not trusted ("
    assert err.startswith(head), err
    assert "certificate verify failed" in err
    assert err.endswith("): pass the CA that signed it with --cacert\n")


async def test_http_to_a_port_that_answers_it_with_a_400_for_tls_says_use_https(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A TLS port behind Go's or nginx's server answers plain HTTP with a 400 ("Client
    sent an HTTP request to an HTTPS server"): the line said "answered HTTP 400". It
    names the fix, having seen the port answer a TLS hello with TLS."""

    async def go_tls(client: SocketStream) -> None:
        async with client:
            first = await client.receive()
            if first.startswith(b"\x16\x03"):  # a TLS hello: a handshake_failure alert
                await client.send(b"\x15\x03\x03\x00\x02\x02\x28")
            else:
                await client.send(
                    b"HTTP/1.0 400 Bad Request\r\n\r\n"
                    b"Client sent an HTTP request to an HTTPS server.\n"
                )

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, go_tls)
            assert await sesd("status", "--url", f"http://127.0.0.1:{port}") == 1
            tg.cancel_scope.cancel()
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at http://127.0.0.1:{port}: it serves https, not http: "
        f"give --url https://127.0.0.1:{port}\n"
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (400, "answered HTTP 400: nope"),
        (404, "answered HTTP 404: not sesd (its /metrics has no sesd metrics either)"),
    ],
)
async def test_a_look_at_the_port_after_the_answer_takes_what_is_left_of_the_timeout(
    status: int, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain server slow to refuse (HTTP 400), then silent at the TLS hello sent to
    see whether it serves TLS (waiting for a request line's end): the look took a
    timeout of its own on top of the request's, 5 s more before the 400 was said. So
    did the look at /metrics after a 404 (is it an older sesd?), the server silent
    there. The try, look included, ends within the one timeout: the look is given no
    more than what the answer, at least 0.6 s in coming, left of it. (The bound the
    look is given is read, not the clock: a busy machine makes no test of time pass or
    fail.) The timeout leaves the answer room on a loaded machine: at 1 s, a worker
    held for 0.4 s let the request itself time out."""
    timeout, slow = 2.5, 0.6
    monkeypatch.setattr("sesd.commands.status_fetch._TIMEOUT", timeout)
    looks: list[float] = []
    fail_after = anyio.fail_after
    here = threading.get_ident()

    def bounded(delay: float | None, shield: bool = False) -> Any:
        if threading.get_ident() != here:  # sesd's thread, not this loop's
            looks.append(math.inf if delay is None else delay)
        return fail_after(delay, shield)

    monkeypatch.setattr(anyio, "fail_after", bounded)

    async def slow_plain(client: SocketStream) -> None:
        async with client:
            if (await client.receive()).startswith(b"GET /api/v1/status"):
                await anyio.sleep(slow)  # a slow server, not a wait for anything
                await client.send(
                    f"HTTP/1.1 {status} Nope\r\nContent-Type: text/plain\r\n".encode()
                    + b"Content-Length: 5\r\nConnection: close\r\n\r\nnope\n"
                )
            else:
                await anyio.sleep_forever()

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, slow_plain)
            assert await sesd("status", "--url", f"http://127.0.0.1:{port}") == 1
            tg.cancel_scope.cancel()
    assert capsys.readouterr().err == f"sesd: http://127.0.0.1:{port}/api/v1/status {said}\n"
    (look,) = looks
    assert look <= timeout - slow


async def test_an_address_that_redirects_in_a_loop_is_said_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A proxy redirecting the status API to itself (a login loop): the line says it
    redirected without end, not that the answer is no HTTP."""

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/api/v1/status")

    async with _answering("/api/v1/status", loop) as url:
        assert await sesd("status", "--url", url) == 1
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at {url}: redirected more than 10 times\n"
    )


async def test_a_redirect_to_https_where_no_tls_is_served_is_not_told_to_give_http(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A plain proxy redirecting http:// to https:// on its own port, which serves no
    TLS: the line says TLS failed. The port answers HTTP, but the address given was
    http:// already: no "give --url http..." follows, which read as a URL cut short."""

    async def upgrade(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"https://{request.host}{request.path_qs}")

    async with _answering("/api/v1/status", upgrade) as url:
        assert await sesd("status", "--url", url) == 1
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at {url}: TLS failed (is it serving https? http:// for a "
        "plain server)\n"
    )


@asynccontextmanager
async def _answering(
    path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> AsyncIterator[str]:
    """Something other than a current sesd on loopback, answering only ``path``: its URL."""

    class _One(LocalServer):
        def routes(self, app: web.Application) -> None:
            app.router.add_get(path, handler)

    async with _One() as server:
        yield f"http://127.0.0.1:{server.port}"


async def test_a_refusal_in_plain_text_is_quoted_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A sesd of another version refuses what this command asks (an ``alerts`` past its
    own bound) with 400 and a line saying why: the command said "answered HTTP 400"
    and dropped the line. Its first line is quoted, escaped for the terminal and
    bounded; an HTML error page is not."""
    refusals = iter(
        [
            web.Response(status=400, text="alerts='1000': give a whole number from 1 to 500\n"),
            web.Response(status=503, text="busy \x1b[2J" + "x" * 500 + "\nsecond line"),
            web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html"),
        ]
    )

    async def refusing(request: web.Request) -> web.Response:
        return next(refusals)

    async with _answering("/api/v1/status", refusing) as url:
        assert await sesd("status", "--url", url, "--alerts", "1000") == 1
        assert capsys.readouterr().err == (
            f"sesd: {url}/api/v1/status answered HTTP 400: alerts='1000': give a whole "
            "number from 1 to 500\n"
        )
        assert await sesd("status", "--url", url) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"sesd: {url}/api/v1/status answered HTTP 503: busy \\u001b[2Jxxx")
        assert err.endswith("x…\n")
        assert len(err) < 300
        assert await sesd("status", "--url", url) == 1
        assert capsys.readouterr().err == f"sesd: {url}/api/v1/status answered HTTP 502\n"


async def test_a_sesd_from_before_the_status_page_is_named_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """During a rolling upgrade the new command reaches an old replica, which serves
    /metrics but no status API: the line says so, having looked. Another server (a
    plain file server) is called not sesd. The metrics URL pasted as --url is the
    daemon's address (the status API is not looked for under /metrics)."""

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text='sesd_build_info{version="0.0.9"} 1\n')

    async def other(request: web.Request) -> web.Response:
        return web.Response(text="<html>files</html>")

    async with _answering("/metrics", metrics) as url:
        assert await sesd("status", "--url", url) == 1
        assert capsys.readouterr().err == (
            f"sesd: {url}/api/v1/status answered HTTP 404: a sesd older than its status "
            "page (its /metrics answers)\n"
        )
        assert await sesd("status", "--url", f"{url}/metrics") == 1
        assert capsys.readouterr().err.startswith(f"sesd: {url}/api/v1/status answered HTTP 404")
    async with _answering("/", other) as url:
        assert await sesd("status", "--url", url) == 1
    assert capsys.readouterr().err == (
        f"sesd: {url}/api/v1/status answered HTTP 404: not sesd (its /metrics has no sesd "
        "metrics either)\n"
    )


async def _unauthorized(request: web.Request) -> web.Response:
    """sesd's own refusal of a request without its user and password."""
    from sesd.runtime.web import REALM

    challenge = {"WWW-Authenticate": f'Basic realm="{REALM}"'}
    return web.Response(status=401, text="Unauthorized", headers=challenge)


async def _unauthorized_elsewhere(request: web.Request) -> web.Response:
    """Another service's refusal (a router's admin page, a CI server), at an address
    that named no port or the wrong one."""
    challenge = {"WWW-Authenticate": 'Basic realm="Router admin"'}
    return web.Response(status=401, text="Unauthorized", headers=challenge)


async def _unauthorized_unsaid(request: web.Request) -> web.Response:
    """A refusal that names no scheme or realm (a proxy's bare 401): not sesd's."""
    return web.Response(status=401, text="Unauthorized")


async def _sesd_metrics(request: web.Request) -> web.Response:
    return web.Response(text='sesd_build_info{version="0.0.9"} 1\n')


async def _next_version(request: web.Request) -> web.Response:
    return web.json_response({"schema": "sesd.status.v9", "sesd": {"version": "9.0.0"}})


async def _files(request: web.Request) -> web.Response:
    return web.Response(text="<html>files</html>")


@pytest.mark.parametrize(
    ("path", "handler", "said", "sesd_answered"),
    [
        ("/api/v1/status", _unauthorized, "answered HTTP 401: give --user and", True),
        ("/api/v1/status", _unauthorized_elsewhere, "answered HTTP 401: give --user", False),
        ("/api/v1/status", _unauthorized_unsaid, "answered HTTP 401: give --user", False),
        ("/metrics", _sesd_metrics, "answered HTTP 404: a sesd older than", True),
        ("/api/v1/status", _next_version, "answered with the status of sesd 9.0.0", True),
        ("/", _files, "answered HTTP 404: not sesd", False),
    ],
    ids=["401", "401-not-sesd", "401-no-realm", "older-sesd", "other-version", "not-sesd"],
)
async def test_the_default_address_is_said_asked_only_when_no_sesd_answered_there(
    path: str,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    said: str,
    sesd_answered: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`sesd status` typed bare asks the default address, and its line of a failure
    says so (the daemon's config may listen elsewhere). A sesd that answered there (a
    401, an older sesd's 404, another version's document) is the daemon, at the right
    address: the line said all the same that no address was named, sending the user
    to look for another. It says so only where no sesd answered: a 401 is sesd's
    when it asks for sesd's realm, another's (a router's) or none leaves the hint."""
    from sesd.commands import status

    monkeypatch.delenv("SESD_CONFIG", raising=False)
    monkeypatch.delenv("SESD_HTTP_LISTEN", raising=False)
    hint = "(no --config, --url nor $SESD_HTTP_LISTEN named the daemon's address"
    async with _answering(path, handler) as url:
        monkeypatch.setattr(status, "DEFAULT_URL", url)
        assert await sesd("status") == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"sesd: {url}/api/v1/status {said}"), line
    assert (hint in line) is not sesd_answered, line


@pytest.mark.parametrize("json_", [False, True])
async def test_an_answer_not_in_utf8_is_one_line_and_exit_1(
    json_: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Something other than sesd answering the status path with JSON in Latin-1: one
    line, exit 1, as for any answer that is not sesd's status (a UnicodeDecodeError
    traceback under msgspec 0.22), which says where in the answer the text stops
    being UTF-8 (not the decoder's position in one string). So is a document that is
    sesd's but for a key it does not know holding text not in UTF-8: the decoder skips
    that key unread, and ``--json`` ended in a UnicodeDecodeError traceback."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    unknown = msgspec.json.encode(doc)[:-1] + b', "added_later": "caf\xe9"}'
    answers = iter([b'{"schema": "caf\xe9"}', unknown])

    async def latin1(request: web.Request) -> web.Response:
        return web.Response(body=next(answers), content_type="application/json")

    json_args = ["--json"] if json_ else []
    async with _answering("/api/v1/status", latin1) as url:
        assert await sesd("status", "--url", url, *json_args) == 1
        assert capsys.readouterr().err == (
            f"sesd: {url}/api/v1/status did not answer with sesd's status (not UTF-8 at "
            "line 1, column 16, byte offset 15)\n"
        )
        assert await sesd("status", "--url", url, *json_args) == 1
        assert capsys.readouterr().err == (
            f"sesd: {url}/api/v1/status did not answer with sesd's status (not UTF-8 at "
            f"line 1, column {len(unknown) - 2}, byte offset {len(unknown) - 3})\n"
        )


async def test_a_status_from_another_sesd_version_is_named_so_and_json_prints_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """During a rolling upgrade this command meets a replica of another version: keys
    it does not know are let be; keys added since the first document
    (``answered_at``, a cause's ``hinted`` and ``noted``, an alert's ``fires_text``,
    the settings waiting for a restart, why the silences file cannot be read) may be
    missing, and were refused as "did not answer with sesd's status", as of a
    stranger; a row without ``fires_text`` says
    the side as that sesd wrote it. A document it cannot read (a key it needs
    missing) names the version that answered (its text escaped) and what it lacks;
    ``--json`` prints it, where it failed too."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    newer = msgspec.to_builtins(doc) | {"added_later": {"x": 1}}
    older = msgspec.to_builtins(doc)
    for account in older["accounts"]:
        del account["answered_at"]
    causes = [a["cause"] for a in older["alerts"]["items"] if a["cause"] is not None]
    assert causes
    for cause in causes:
        del cause["hinted"], cause["noted"]
    for alert in older["alerts"]["items"]:
        del alert["fires_text"]
    del older["sesd"]["reload"]["restart"], older["sesd"]["reload"]["restart_count"]
    del older["silences"]["unreadable"]
    other = msgspec.to_builtins(doc)
    other["sesd"]["version"] = "9.0.0\x1b[2J"
    other["schema"] = "sesd.status.v2"
    del other["queues"]
    stranger = other | {"schema": "grafana.dashboard.v1"}  # sesd's keys, not its schema
    answers = iter([newer, older, other, other, stranger, stranger])

    async def document(request: web.Request) -> web.Response:
        return web.json_response(next(answers))

    async with _answering("/api/v1/status", document) as url:
        assert await sesd("status", "--url", url) == 0
        assert capsys.readouterr().out.startswith("sesd 0.1.0")
        assert await sesd("status", "--url", url) == 0
        out = capsys.readouterr().out
        assert f"           cause: {causes[0]['label']}: " in out
        # Its rows' side of the threshold as that sesd wrote it, not "( 10.0%".
        assert "delay_ratio 60.0% (above 10.0%, 5m window)" in out
        assert await sesd("status", "--url", url) == 1
        assert capsys.readouterr().err == (
            f"sesd: {url}/api/v1/status answered with the status of sesd 9.0.0\\u001b[2J"
            " (schema sesd.status.v2), which this sesd status (0.1.0) cannot read (Object"
            " missing required field `queues`): the sesd status of its version can, and"
            " --json prints it\n"
        )
        assert await sesd("status", "--url", url, "--json") == 0
        assert json.loads(capsys.readouterr().out) == other
        # JSON naming itself no sesd's status is a stranger's, --json or not.
        for json_args in ([], ["--json"]):
            assert await sesd("status", "--url", url, *json_args) == 1
            assert capsys.readouterr().err == (
                f"sesd: {url}/api/v1/status did not answer with sesd's status (Object"
                " missing required field `queues`)\n"
            )


async def test_json_to_a_terminal_carries_no_control_character_raw(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """JSON leaves U+0080-U+009F (C1: U+009B is a terminal's CSI) and the
    bidirectional and invisible characters raw in its strings, as msgspec writes
    them: a name carrying them (the host's, a domain's, a stranger's answer) reached
    the terminal from ``--json``. They are written as escapes: the same JSON, the
    same values."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    doc = msgspec.structs.replace(
        doc, sesd=msgspec.structs.replace(doc.sesd, host="pod\x9b2J\u202egro.\U000e0041")
    )

    async def document(request: web.Request) -> web.Response:
        return web.Response(body=msgspec.json.encode(doc), content_type="application/json")

    async with _answering("/api/v1/status", document) as url:
        assert await sesd("status", "--url", url, "--json") == 0
    out = capsys.readouterr().out
    assert '"host": "pod\\u009b2J\\u202egro.\\udb40\\udc41"' in out
    assert json.loads(out) == msgspec.to_builtins(doc)


async def test_an_answer_larger_than_any_status_is_not_read_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wrong --url whose status path serves a big file (an ISO, a log served
    without end): the answer was read whole into memory before being found not to be
    sesd's status. Reading stops past the bound, and one line says the bound; exit 1.
    Said the same of an answer that gives its length and of one that does not."""
    chunk = b"x" * (1 << 20)
    chunks = MAX_ANSWER // len(chunk) + 2

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(chunks):
                await response.write(chunk)
        return response

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=chunk * chunks, content_type="application/json")

    for handler in (endless, sized):
        async with _answering("/api/v1/status", handler) as url:
            assert await sesd("status", "--url", url) == 1
        assert capsys.readouterr().err == (
            f"sesd: {url}/api/v1/status answered with more than 64 MiB: not sesd's status "
            "(a status document listing 1,000 alerts, silences and tenants is a few MB)\n"
        )


async def test_an_address_without_its_scheme_or_tls_that_fails_says_why(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--url`` without http:// is a usage error naming the form (not a config error:
    no config is at fault); https:// to a server that speaks plain HTTP says so and
    names the --url to give (it said "TLS failed" and left the guess to the user), not
    an operating system's errno text."""
    assert await sesd("status", "--url", "127.0.0.1:9585") == 2
    assert capsys.readouterr().err == (
        "sesd: --url '127.0.0.1:9585' has no scheme: give it as http://127.0.0.1:9585 or "
        "https://127.0.0.1:9585\n"
    )
    tls = local_sqs.url.replace("http://", "https://")
    assert await sesd("status", "--url", tls) == 1
    assert capsys.readouterr().err == (
        f"sesd: cannot reach sesd at {tls}: it serves http, not https: give --url {local_sqs.url}\n"
    )


def test_a_time_on_another_day_carries_its_date() -> None:
    """A silence ending next year is not "08:00:00Z" (this morning)."""
    from sesd.status.charts import moment

    now = 1_800_000_000.0  # 2027-01-15 08:00:00Z
    assert moment(now + 60, now) == "08:01:00Z"
    assert moment(now + 365 * 86_400, now) == "2028-01-15 08:00:00Z"
    assert moment(None, now) == "-"


async def test_watch_redraws_until_ctrl_c_through_a_restart(local_sqs: LocalSqs, sqs: Any) -> None:
    """``--watch`` prints the table again every ``--every`` seconds; Ctrl-C ends it, 0.
    A daemon not up yet, or gone (restarting), is no end of the watch: each try says
    why on standard error, and when the daemon last answered, and the watch goes on
    and draws the table again once it answers. It ended, status 1, at a first try
    that failed."""
    url, config = await firing(local_sqs, sqs)
    port = free_port()
    config = parse_config(config_text(local_sqs, url).replace("127.0.0.1:0", f"127.0.0.1:{port}"))
    command = [sys.executable, "-m", "sesd", "status", "--watch", "--every", "0.2", "--url",
               f"http://127.0.0.1:{port}"]  # fmt: skip
    with hearing_ctrl_c():
        started = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    async with started as process:
        assert process.stdout is not None
        assert process.stderr is not None
        stream = BufferedByteReceiveStream(process.stdout)
        errors = BufferedByteReceiveStream(process.stderr)
        with anyio.fail_after(20):
            line = (await errors.receive_until(b"\n", 1 << 16)).decode()
        assert line == (
            f"sesd: cannot reach sesd at http://127.0.0.1:{port}: Connection refused;"
            " no answer yet, trying again every 0.2s"
        )
        async with running(config) as daemon:
            await fired(daemon)
            with anyio.fail_after(20):
                for _ in range(3):
                    while not (await stream.receive_until(b"\n", 1 << 16)).startswith(b"ALERTS:"):
                        pass
        # The daemon gone: the line says since when.
        with anyio.fail_after(20):
            while "last answered" not in (
                line := (await errors.receive_until(b"\n", 1 << 16)).decode()
            ):
                pass
        assert line.startswith(f"sesd: cannot reach sesd at http://127.0.0.1:{port}: ")
        assert re.search(
            r"; last answered at \d\d:\d\d:\d\dZ, \S+ ago, trying again every 0.2s$", line
        ), line
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await process.wait() == 0


class _Closed(io.StringIO):
    """A standard output whose descriptor was closed after sesd started: the highest
    number the process may open, which no file holds (poll says POLLNVAL of it)."""

    def fileno(self) -> int:
        import resource

        return resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1


@pytest.mark.parametrize("answers", [False, True], ids=["down", "up"])
@pytest.mark.parametrize("out", ["reader-gone", "closed-at-start", "closed-since"])
async def test_watch_ends_when_its_reader_is_gone_though_sesd_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], out: str, answers: bool
) -> None:
    """``sesd status --watch | head``: once the reader is gone, the next table written
    ends the watch (141, quietly). A try that fails writes nothing to standard output,
    only a line to standard error: with the daemon down, the watch went on trying for
    ever, unseen. It ends at that try too. So it does with standard output closed
    (``>&-``), the daemon up or down: closed at the start (Python's is None), it
    failed with a traceback at the terminal check (or, up, would have drawn to nothing
    for ever); closed since, it tried on for ever."""
    import os

    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))

    async def document(request: web.Request) -> web.Response:
        return web.Response(body=msgspec.json.encode(doc), content_type="application/json")

    read, write = os.pipe()
    os.close(read)  # the reader gone before the first try
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(_Closed().fileno())  # no file holds that number
    with os.fdopen(write, "w") as gone:
        stdout = {"reader-gone": gone, "closed-at-start": None, "closed-since": _Closed()}[out]
        monkeypatch.setattr(sys, "stdout", stdout)
        async with _answering("/api/v1/status", document) as up:
            url = up if answers else f"http://127.0.0.1:{free_port()}"
            with anyio.fail_after(10):
                code = await sesd("status", "--watch", "--every", "0.2", "--url", url)
    if out == "closed-since":  # the end points the number at /dev/null: closed again
        os.close(_Closed().fileno())
    assert code == 141
    assert capsys.readouterr().err == ""


async def test_ctrl_c_at_a_status_without_watch_is_an_interruption() -> None:
    """``sesd status`` (no ``--watch``) waiting on a daemon that does not answer, then
    Ctrl-C: it exited 0, as if it had printed the status, and a script's
    ``sesd status || page`` went on. It ends as other commands do at Ctrl-C: one
    line, ``sesd: interrupted``, and by the signal itself."""
    asked = anyio.Event()

    async def silent(client: SocketStream) -> None:
        async with client:
            asked.set()
            await anyio.sleep_forever()

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, silent)
            command = [sys.executable, "-m", "sesd", "status", "--url", f"http://127.0.0.1:{port}"]
            with hearing_ctrl_c():
                started = await anyio.open_process(command, stderr=subprocess.PIPE)
            async with started as process:
                with anyio.fail_after(20):
                    await asked.wait()
                process.send_signal(signal.SIGINT)
                with anyio.fail_after(10):
                    assert await process.wait() == -signal.SIGINT
                assert process.stderr is not None
                said = b"".join([chunk async for chunk in process.stderr])
                assert said.endswith(b"sesd: interrupted\n")
            tg.cancel_scope.cancel()


@pytest.mark.parametrize("json_", [False, True], ids=["table", "json"])
async def test_watch_on_a_terminal_keeps_to_the_screen(json_: bool) -> None:
    """On an 80 by 24 terminal, a watch drew the whole table each time, and what
    scrolled off the top was the header and the alerts; the lines of failed tries piled
    up under it, a screenful a minute at ``--every 0.2``. Each redraw, and each failed
    try (the daemon answering 503 after its first answer), is one screen: the table's
    head with how many lines are left out, and the latest try's line alone. A JSON
    document is drawn whole (it was cut to the screen too: no JSON a reader can
    parse), the latest try's line under it."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios

    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    asked = 0

    async def document(request: web.Request) -> web.Response:
        nonlocal asked
        asked += 1
        if asked > 1:
            return web.Response(status=503)
        return web.Response(body=msgspec.json.encode(doc), content_type="application/json")

    def read(master: int, enough: Callable[[bytes], bool]) -> bytes:
        shown = bytearray()
        deadline = time.monotonic() + 20
        while not enough(bytes(shown)) and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                shown += os.read(master, 1 << 16)
        return bytes(shown)

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    async with _answering("/api/v1/status", document) as url:
        command = [sys.executable, "-m", "sesd", "status", "--watch", "--every", "0.2",
                   "--url", url, *(["--json"] if json_ else [])]  # fmt: skip
        with hearing_ctrl_c():
            started = await anyio.open_process(command, stdout=slave, stderr=slave)
        async with started as process:
            os.close(slave)
            shown = await anyio.to_thread.run_sync(
                read, master, lambda shown: shown.count(b"trying again") >= 2
            )
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(10):
                assert await process.wait() == 0
    os.close(master)
    frames = [f.decode().replace("\r\n", "\n") for f in shown.split(b"\x1b[H\x1b[2J")[1:]]
    assert len(frames) >= 3, shown
    if json_:
        whole = json.loads(msgspec.json.encode(doc))
        assert json.loads(frames[0]) == whole
        for frame in frames[1:3]:
            text, line = frame.rstrip("\n").rsplit("\n", 1)
            assert json.loads(text) == whole
            assert line.startswith(f"sesd: {url}/api/v1/status answered HTTP 503; last answered")
        return
    assert all(frame.startswith("sesd 0.1.0") for frame in frames), frames
    assert all(rows(frame.rstrip("\n"), 80) <= 23 for frame in frames), frames
    assert "\nALERTS: " in frames[0]
    assert frames[0].rstrip("\n").rpartition("\n")[2].startswith("...")
    for frame in frames[1:3]:
        assert frame.count("trying again") == 1
        assert (
            frame.rstrip("\n")
            .rpartition("\n")[2]
            .startswith(f"sesd: {url}/api/v1/status answered HTTP 503; last answered at ")
        )


def test_a_screenful_is_the_head_of_the_table_and_how_much_is_left_out() -> None:
    """What fits is left as it is; else the head, counted in rows (a line wider than
    the terminal takes more than one, a wide character two columns), and a line that
    fits saying how many lines are left out."""
    text = "\n".join(f"line {n}" for n in range(30))
    assert screenful(text, 80, 30) == text
    cut = screenful(text, 80, 10).split("\n")
    assert cut[:9] == [f"line {n}" for n in range(9)]
    assert cut[9] == "...21 more lines: a taller terminal, or no --watch, shows them"
    wrapped = "x" * 100 + "\n" + "域" * 45 + "\nlast"  # 2 rows, 2 rows (90 columns), 1
    assert rows(wrapped, 80) == 5
    assert screenful(wrapped, 80, 5) == wrapped
    assert screenful(wrapped, 80, 4).split("\n") == [
        "x" * 100,
        "...2 more lines: a taller terminal, or no --watch, shows them",
    ]
    assert screenful(wrapped, 20, 3) == "...3 more lines: a t"
    # A wide character that would straddle the edge starts the next row: the last
    # column stays empty, and the line takes a row more than its columns say.
    straddling = "x" * 79 + "域" + "x" * 79
    assert rows(straddling, 80) == 3
    assert screenful(f"{straddling}\nlast", 80, 3).split("\n")[0] == (
        "...2 more lines: a taller terminal, or no --watch, shows them"
    )
    assert rows("域域", 1) == 2  # a terminal narrower than one still gives each a row


@pytest.mark.parametrize("under", ["", "sesd: cannot reach sesd: " + "x" * 100])
def test_a_redraw_leaves_the_cursors_row_and_the_failed_trys_line_on_the_screen(
    under: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a 24-row terminal, a redraw fills 23 rows: the 24th is the cursor's, after
    the last line's newline (a full screen scrolled its header off); below a failed
    try's line, the rows that line wraps to are left to it."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    text = "\n".join(f"line {n}" for n in range(40))
    drawn = _screenful(text, under=under)
    assert rows(drawn, 80) + (rows(under, 80) if under else 0) == 23
    assert drawn.startswith("line 0\n")


class Service(LocalServer):
    """A Kubernetes Service in front of replicas: each request goes to the next one."""

    def __init__(self, ports: list[int | None]) -> None:
        super().__init__()
        self._ports = ports
        self.answered = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/{path:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        port = self._ports[self.answered % len(self._ports)]
        self.answered += 1
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}{request.path_qs}") as answer,
        ):
            return web.Response(
                body=await answer.read(), status=answer.status, content_type=answer.content_type
            )


async def test_watch_through_a_service_names_the_replica_each_redraw_came_from(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """``--watch`` through a Service draws another replica at each redraw: the header
    names the host that answered (a pod's name), so a redraw from another replica does
    not pass for the same one changing its figures; the document carries ``host``."""
    _, config = await firing(local_sqs, sqs)
    async with running(config) as a, running(config) as b:
        # One machine here: the names the pods would have, in place of its own.
        a.status.host, b.status.host = "sesd-7f9c-a", "sesd-7f9c-b"
        async with Service([a.http_port, b.http_port]) as service:
            command = [sys.executable, "-m", "sesd", "status", "--watch", "--every", "0.2",
                       "--url", f"http://127.0.0.1:{service.port}"]  # fmt: skip
            with hearing_ctrl_c():
                started = await anyio.open_process(command, stdout=subprocess.PIPE)
            async with started as process:
                assert process.stdout is not None
                stream = BufferedByteReceiveStream(process.stdout)
                headers: list[str] = []
                with anyio.fail_after(20):
                    while len(headers) < 4:
                        line = (await stream.receive_until(b"\n", 1 << 16)).decode()
                        if "  as of " in line:
                            headers.append(line.rpartition("sesd 0.1.0")[2])
                process.send_signal(signal.SIGINT)
                with anyio.fail_after(10):
                    assert await process.wait() == 0
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{b.http_port}/api/v1/status") as answer,
        ):
            assert (await answer.json())["sesd"]["host"] == "sesd-7f9c-b"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{a.http_port}/") as answer,
        ):
            assert "<span>on sesd-7f9c-a</span>" in await answer.text()
    at = f"at http://127.0.0.1:{service.port}"
    replicas = [h.split(f"{at} on ", 1)[1].split()[0] for h in headers]
    assert replicas == ["sesd-7f9c-a", "sesd-7f9c-b"] * 2, headers


def test_the_default_address(tmp_path: Path) -> None:
    """No config: the default listen address; a config's listen address, reached on
    loopback when it listens everywhere, bracketed for IPv6."""
    assert default_url(None) == DEFAULT_URL == "http://127.0.0.1:9585"
    path = tmp_path / "sesd.toml"
    for listen, url in (
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("[::]:9001", "http://[::1]:9001"),
        ("[fd00::5]:9002", "http://[fd00::5]:9002"),
        ("10.1.2.3:9003", "http://10.1.2.3:9003"),
    ):
        path.write_text(f'[http]\nlisten = "{listen}"\n')
        assert default_url(str(path)) == url
    # SESD_HTTP_LISTEN moves `sesd run` over the file (the image sets it): here too.
    assert default_url(str(path), "0.0.0.0:19616") == "http://127.0.0.1:19616"
    assert default_url(None, "127.0.0.2:9700") == "http://127.0.0.2:9700"
    with pytest.raises(ConfigError, match="SESD_HTTP_LISTEN: must be HOST:PORT"):
        default_url(str(path), "9585")


def test_an_unreadable_config_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file that does not parse: the config error in one line, exit 2."""
    path = tmp_path / "sesd.toml"
    path.write_text("[http]\nlisten = 9585\n")
    assert main(["status", "--config", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"sesd: config error: {path}:2: http.listen")


def test_a_config_a_reload_refused_still_names_the_daemons_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reload refused the file (a threshold of 5 for a ratio): the daemon runs on the
    config it last loaded, and `sesd status --config` of that file, what the SRE runs
    next, asks the daemon at its ``[http] listen`` with a warning naming the error,
    not a config error and no status. A file that is no TOML, or whose ``[http]`` is
    itself wrong, is still the config error."""
    path = tmp_path / "sesd.toml"
    path.write_text(
        '[http]\nlisten = "127.0.0.1:19616"\n[[alerts.rules]]\nname = "r"\n'
        'metric = "delay_ratio"\nwindow = "5m"\nabove = 5\n'
    )
    assert default_url(str(path)) == "http://127.0.0.1:19616"
    err = capsys.readouterr().err
    assert err.startswith(f"sesd: warning: config error: {path}:7: alerts.rules[0] (r).above: 5")
    assert err.endswith(
        "asking the daemon at its [http] listen all the same (a running sesd "
        "keeps the config it last loaded)\n"
    )
    assert err.count("\n") == 1
    # $SESD_HTTP_LISTEN is over the file's [http] listen: the warning names it.
    assert default_url(str(path), "127.0.0.1:19617") == "http://127.0.0.1:19617"
    assert "; asking the daemon at $SESD_HTTP_LISTEN all the same" in capsys.readouterr().err
    for text, error in (
        ('[http]\nlisten = "127.0.0.1:19616"\n[alerts\n', f"{path}:3:8: not valid TOML"),
        ("[http]\nlisten = 9585\n[alerts]\nx = 1\n", f"{path}:2: http.listen"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(error)):
            default_url(str(path))
        assert capsys.readouterr().err == ""


def test_the_table_shows_every_section() -> None:
    """Alerts on the canary, an account and a tenant with their notes and silence, a
    pending one last; each axis; the canary's last timings; the paused account and
    tenant; the silence and its end; control characters from the network (in the
    version, in the host's name) escaped."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    text = table(msgspec.structs.replace(doc, sesd=msgspec.structs.replace(
        doc.sesd, version="0.1.0\x1b[2J", host="pod\x1b[2J", ready=False, not_ready=["q"]
    )))  # fmt: skip
    lines = text.splitlines()
    assert lines[0].startswith(f"sesd 0.1.0\\u001b[2J{BUILT} on pod\\u001b[2J  as of ")
    assert "NOT READY (q)" in lines[0]
    states = [line.split()[0] for line in lines if line.startswith(("  FIRING", "  PENDING"))]
    assert states == sorted(states, key=lambda state: state != "FIRING")
    assert states[-1] == "PENDING"
    assert "           silenced until resolved: known (s2)" in lines
    assert any(line.startswith("           last canary back") for line in lines)
    starts = (
        "DOMAINS by",
        "PROVIDERS by",
        "TENANTS by",
        "CANARY: 1 sent, 1 back, 1 missing",
        "ACCOUNT default/eu-west-1: sending PAUSED",
        "TENANT globex (default/eu-west-1): DISABLED: <b>bounces</b>",
        "SILENCES: 1",
        "  s2 active rule=ses-paused ",
    )
    for start in starts:
        assert any(line.startswith(start) for line in lines), start
    assert lines[-1].endswith(" until its alert resolves: known")
    (queue,) = [line for line in lines if line.startswith("queue ")]
    assert queue.endswith(", last receive never"), queue  # no receive yet: not "never ago"


def test_a_list_of_alerts_cut_at_the_most_says_where_the_rest_are() -> None:
    """Over 1,000 alerts: ``--alerts 1000`` lists the most a document does, and the
    table said only "...and 1 more", with nothing to ask for the rest. It says where
    every alert is; a shorter list says which ``--alerts`` lists the most."""
    w = many_alerts()
    for limit, said in (
        (1000, "(1000 is the most listed: every alert is in /metrics, sesd_alerts_firing)"),
        (50, "(--alerts 1000 lists the most: every alert is in /metrics, sesd_alerts_firing)"),
    ):
        doc = build_status(
            w.sources, NOW, read_counters(w.sources), (w.sources.started, {}), Limits(alerts=limit)
        )
        assert f"  ...and {MANY - limit} more {said}" in table(doc).splitlines()


def test_a_cut_list_of_silences_says_how_many_more() -> None:
    """The document lists as many silences as alerts (50 unless asked): the table said
    ``SILENCES: 3`` over one line, and nothing of the two left out."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    cut = msgspec.structs.replace(doc.silences, total=3)
    lines = table(msgspec.structs.replace(doc, silences=cut)).splitlines()
    assert lines[-1] == "  ...and 2 more (--alerts lists more)"


def test_a_cut_list_of_tenants_says_how_many_more() -> None:
    """A platform's SES tenants are hundreds; the document lists as many as alerts (50
    unless asked), paused first, and said nothing of the rest: it counts them all
    (``tenants_total``), and the table says how many it left out."""
    from sesd.status.document import Limits

    w = everything()
    for name in ("acme", "initech"):
        w.pipeline.ledger.tenant_status.record(("default", "eu-west-1", name))
    sources = w.sources
    doc = build_status(
        sources, NOW, read_counters(sources), (sources.started, {}), Limits(alerts=1)
    )
    assert [t.tenant for t in doc.tenants] == ["globex"]  # the paused one first
    assert doc.tenants_total == 3
    lines = table(doc).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("TENANT globex"))
    assert lines[at + 1] == "  ...and 2 more tenants (--alerts lists more)"


def test_cut_lists_at_the_most_listed_do_not_send_to_alerts() -> None:
    """A platform with 1,200 tenants and as many silences, asked with ``--alerts 1000``
    (the most a document lists): the table sent the reader to ``--alerts`` for the
    rest, which lists no more. It says 1000 is the most listed; a shorter list still
    names ``--alerts``."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    (silence,) = doc.silences.items
    for listed, said in (
        (MAX_ALERTS, f"({MAX_ALERTS} is the most listed)"),
        (50, "(--alerts lists more)"),
    ):
        tenants = [
            TenantRow(
                tenant=f"t{i}",
                account="1",
                region="eu-west-1",
                sending="DISABLED",
                cause="",
                impact="",
                findings=[],
            )
            for i in range(listed)
        ]
        silences = msgspec.structs.replace(doc.silences, items=[silence] * listed, total=1200)
        cut = msgspec.structs.replace(doc, tenants=tenants, tenants_total=1200, silences=silences)
        lines = table(cut).splitlines()
        assert f"  ...and {1200 - listed} more tenants {said}" in lines
        assert lines[-1] == f"  ...and {1200 - listed} more {said}"


def test_tenants_ses_acts_on_are_listed_and_the_others_counted() -> None:
    """A platform with sixty tenants, one paused and one with a finding of high impact:
    the table printed a TENANT line for each of the fifty listed, the two that matter
    lost among 48 saying ENABLED. It prints the two, their impact and findings said,
    then counts those SES says nothing of (the document, --json, still lists them
    all), then those not listed."""
    w = everything()
    statuses = w.pipeline.ledger.tenant_status
    for i in range(58):
        statuses.record(("default", "eu-west-1", f"quiet{i:02}"))
    found = statuses.record(("default", "eu-west-1", "initech"))
    found.impact = "HIGH"
    found.findings = [("BOUNCE", "HIGH", "Bounce rate high")]
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    assert (len(doc.tenants), doc.tenants_total) == (50, 60)
    assert json.loads(msgspec.json.encode(doc))["tenants"][2]["sending"] == "ENABLED"
    lines = table(doc).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("TENANT "))
    assert lines[at : at + 5] == [
        "TENANT globex (default/eu-west-1): DISABLED: <b>bounces</b>",
        "TENANT initech (default/eu-west-1): ENABLED, impact HIGH",
        "  finding BOUNCE (HIGH): Bounce rate high",
        "  ...and 48 more tenants sending, of which SES says nothing (--json lists them)",
        "  ...and 10 more tenants (--alerts lists more)",
    ]
    # None that SES acts on: the count stands on its own.
    quiet = msgspec.structs.replace(doc, tenants=doc.tenants[2:], tenants_total=48)
    assert "TENANTS: 48 sending, of which SES says nothing (--json lists them)" in (
        table(quiet).splitlines()
    )


def test_a_silence_ending_another_day_says_which_day() -> None:
    """A silence that ends in three days reads with its date, as the alert it holds
    back does: a bare time of day would read as already over."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    later = msgspec.structs.replace(doc.silences.items[0], ends_at=NOW + 3 * 86400)
    silences = msgspec.structs.replace(doc.silences, items=[later])
    lines = table(msgspec.structs.replace(doc, silences=silences)).splitlines()
    day = datetime.fromtimestamp(NOW + 3 * 86400, UTC).strftime("%Y-%m-%d")
    (listed,) = [line for line in lines if line.startswith("  s2 ")]
    assert f" until {day} " in listed


def test_an_account_line_says_how_far_its_tenant_walk_has_come() -> None:
    """An account whose tenant walk has read 1,200 of 2,000 tenants, its last complete
    map an hour old: its ACCOUNT line ends with the walk and that map's time. With no
    map yet, it says so; an account without tenant polls says nothing of them."""
    w = everything()
    status = w.pipeline.ledger.accounts.record(("default", "eu-west-1"))

    def account_line() -> str:
        doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
        (line,) = [line for line in table(doc).splitlines() if line.startswith("ACCOUNT ")]
        return line

    assert "tenants" not in account_line()
    status.tenants_listed, status.tenants_mapped = 2000, 1200
    assert account_line().endswith("; tenants: 1200 of 2000 walked, no map yet")
    status.tenant_map_at = NOW - 3600
    when = datetime.fromtimestamp(NOW - 3600, UTC).strftime("%H:%M:%SZ")
    assert account_line().endswith(f"; tenants: 1200 of 2000 walked, map of {when}")


def test_a_long_domain_keeps_the_columns_in_line() -> None:
    """A domain may have 253 characters: cut to its column (head and tail kept), the
    figures after it stay under their heading."""
    w = world(now=NOW)
    long = "a" * 60 + "." + "b" * 60 + ".example"
    events = [f.delivery([f"u{i}@{long}"], at=NOW - 50 + i) for i in range(3)]
    events += [f.delivery([f"u{i}@short.example"], at=NOW - 40 + i) for i in range(2)]
    feed(w, events, NOW)
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    lines = table(doc).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("DOMAINS by"))
    head, first, second = lines[start + 1 : start + 4]
    column = head.index("delivered") + len("delivered")
    assert first.startswith("  " + "a" * 19 + "…")
    assert first.split()[0].endswith("b.example")
    for row, delivered in ((first, "3"), (second, "2")):
        assert row[:column].endswith(f" {delivered}")


@pytest.mark.parametrize(
    "name",
    [
        "t\x1b[2J" * 3,  # 3 columns as sent, 27 escaped: padded short of its column
        "acme\x1b[2J" * 6,  # 30 as sent, fits; 72 escaped: cut past the table's edge
        "ops@example.com tenant",  # its address redacted to other text
        "x\x1b" * 20,  # 140 escaped: cut, at the bound of an escape, not inside one
    ],
)
def test_a_name_with_control_characters_keeps_the_columns_in_line(name: str) -> None:
    """A name in a table is text from the network (a tenant's is SES's, any other a
    stranger's answer): its control characters are escaped, six columns each
    (``\\u001b``), and an address in it redacted. The name was measured and cut to its
    column as sent, then escaped: the figures after it moved right, and a name that
    fit as sent ran past the column's 40. Measured as shown, the figures stay under
    their heading; a name cut to its column is cut between escapes, never inside one
    (``\\u00``, read as damage)."""
    w = everything()
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    scope = doc.scopes[0]
    first, *others = scope.items
    assert others, "two rows: one to measure the other against"
    renamed = msgspec.structs.replace(first, name=name, shown="")
    doc = msgspec.structs.replace(
        doc, scopes=[msgspec.structs.replace(scope, items=[renamed, *others]), *doc.scopes[1:]]
    )
    lines = table(doc).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{scope.axis.upper()}S by"))
    head, *rows = lines[start + 1 : start + 2 + len(scope.items)]
    column = head.index("delivered") + len("delivered")
    for row, item in zip(rows, scope.items, strict=True):
        assert row[:column].endswith(f" {item.delivered}"), (head, row)
    assert "\x1b" not in "".join(rows)
    assert len(rows[0].split()[0]) <= 40
    for part in rows[0].split()[0].split("…"):
        assert re.fullmatch(r"(?:[^\\]|\\u[0-9a-f]{4})*", part), rows[0]


def test_wide_characters_take_two_columns_and_keep_the_table_in_line() -> None:
    """A Chinese or Japanese domain's characters each take two of a terminal's columns:
    the figures after it stay under their heading, whether the name fits or is cut."""
    w = world(now=NOW)
    wide, long = "例子.中国", "很长的域名" * 6 + ".中国"
    events = [f.delivery([f"u{i}@{wide}"], at=NOW - 50 + i) for i in range(3)]
    events += [f.delivery([f"u{i}@{long}"], at=NOW - 45 + i) for i in range(2)]
    events += [f.delivery([f"u{i}@short.example"], at=NOW - 40 + i) for i in range(4)]
    feed(w, events, NOW)
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    lines = table(doc).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("DOMAINS by"))
    head, *rows = lines[start + 1 : start + 5]
    column = head.index("delivered") + len("delivered")

    def under_delivered(row: str) -> str:
        """The row up to the heading's column, counting a wide character as two."""
        used = 0
        for i, char in enumerate(row):
            if used >= column:
                return row[:i]
            used += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        return row

    counts = {}
    for row in rows:
        left = under_delivered(row)
        counts[left.split()[0]] = left.split()[-1]
        assert row[len(left)] == " ", row
    assert counts["short.example"] == "4"
    assert counts["xn--fsqu00a.xn--fiqs8s"] == "3"
    (cut,) = [name for name in counts if "…" in name]
    assert counts[cut] == "2"


#: Sequences a name can hold as shown (IDNA keeps them; it drops U+FE0F and the
#: zero-width joiner), and the columns a terminal draws each in: an emoji with a skin
#: tone is one emoji (a victory hand, text alone, drawn as the emoji a tone asks for), a
#: digit in a keycap's frame (no U+FE0F: text) one digit, a flag (two regional
#: indicators) one flag; a tone after a letter modifies nothing: a swatch of its own.
DRAWN = {
    "\U0001f44d\U0001f3fd": 2,
    "\U0001f44b\U0001f3ff": 2,
    "\u270c\U0001f3fd": 2,
    "x\U0001f3fd": 3,
    "1\u20e3": 1,
    "\U0001f1eb\U0001f1f7": 2,
}


def test_an_emoji_with_a_skin_tone_takes_the_two_columns_a_terminal_draws() -> None:
    """Domains whose shown names hold an emoji with a skin tone, a keycap and a flag:
    each took the columns of its characters apart (a thumbs-up and its tone four, a
    keycap's 1 and its frame two), one or two more than a terminal draws, and the
    figures after such a name stood left of their heading. Every row's figures end
    under the heading, each name measured as drawn (DRAWN). A line of them wraps
    where the terminal wraps it, an emoji asked for by U+FE0F two columns."""
    w = world(now=NOW)
    events = []
    for k, sequence in enumerate(DRAWN, start=1):
        events += [f.delivery([f"u{i}@{sequence}.example"], at=NOW - 50 + i) for i in range(k)]
    feed(w, events, NOW)
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    lines = table(doc).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("DOMAINS by"))
    head, *rows_ = lines[start + 1 : start + 2 + len(DRAWN)]
    column = head.index("delivered") + len("delivered")
    assert len(rows_) == len(DRAWN)
    for row in rows_:
        (sequence,) = [s for s in DRAWN if s in row]
        name, after = row.split(f"{sequence}.example)", 1)
        delivered = after.split()[0]
        assert delivered == str(list(DRAWN).index(sequence) + 1), row
        up_to = len(name) + DRAWN[sequence] + len(".example)") + after.index(delivered)
        assert up_to + len(delivered) == column, row
    assert rows("\U0001f44d\U0001f3fd" * 40, 80) == 1
    assert rows("1\ufe0f\u20e3" * 40, 80) == 1
    assert rows("\U0001f44d\U0001f3fd" * 41, 80) == 2
    assert rows("\u270c\U0001f3fd" * 41, 80) == 2
    assert rows("x\U0001f3fd" * 27, 80) == 2


def test_a_name_cut_among_flags_keeps_each_flag_whole() -> None:
    """A domain of flags (France, Germany, six times) too long for its column: its tail
    was cut by regional indicators, eleven of them, so a terminal paired each with the
    half of the next flag and drew flags that are not in the name (R and D, E and F).
    The tail is of whole flags, as the name has them; the figures stay in line."""
    flags = "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea" * 6
    w = world(now=NOW)
    feed(w, [f.delivery([f"u@{flags}.example"], at=NOW - 50)], NOW)
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    lines = table(doc).splitlines()
    (row,) = [line for line in lines if ".example)" in line]
    tail = row.split("\u2026", 1)[1].split(".example)")[0]
    assert flags.endswith(tail), tail
    assert len(tail) % 2 == 0 < len(tail), tail  # whole flags, some of them
    head = lines[lines.index(row) - 1]  # each character of both one column wide
    assert row[: head.index("delivered") + len("delivered")].endswith(" 1"), row


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--top", "0", "'0': give a whole number from 1 to 200"),
        ("--top", "-1", "'-1': give a whole number from 1 to 200"),
        ("--top", "201", "'201': give a whole number from 1 to 200"),
        ("--every", "0", "'0': give a number of seconds, at least 0.2"),
        ("--every", "-1", "'-1': give a number of seconds, at least 0.2"),
        ("--every", "nan", "'nan': give a number of seconds, at least 0.2"),
        ("--every", "inf", "'inf': give a number of seconds, at least 0.2"),
        ("--alerts", "0", "'0': give a whole number from 1 to 1000"),
        ("--alerts", "1001", "'1001': give a whole number from 1 to 1000"),
    ],
)
def test_a_top_or_an_every_that_cannot_work_is_a_usage_error(
    option: str, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--top 0 showed one row and --every 0 redrew as fast as it was told 0.2 s, both
    without a word: each is refused, exit 2, before the daemon is asked (port 1 has
    nothing listening, so an attempt would exit 1)."""
    with pytest.raises(SystemExit) as exited:
        main(["status", "--url", "http://127.0.0.1:1", "--watch", option, value])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize(
    ("pasted", "base"),
    [
        ("http://h:9585", "http://h:9585"),
        ("http://h:9585/", "http://h:9585"),
        ("http://h:9585/?alerts=5", "http://h:9585"),
        ("http://h:9585/#alerts", "http://h:9585"),
        ("http://h:9585/metrics", "http://h:9585"),
        ("http://h:9585/api/v1/status?top=5", "http://h:9585"),
        ("http://h:9585/domain/gmail.com", "http://h:9585"),
        ("http://h:9585/api/v1/provider/google", "http://h:9585"),
        ("https://proxy.example/sesd/tenant/acme?x=1", "https://proxy.example/sesd"),
        ("https://proxy.example/sesd/readyz", "https://proxy.example/sesd"),
        ("http://h:9585/static/status.js", "http://h:9585"),
        ("https://proxy.example/sesd/static/status.css?v=2", "https://proxy.example/sesd"),
        ("https://proxy.example/sesd", "https://proxy.example/sesd"),
    ],
)
def test_a_url_pasted_from_a_browser_or_a_scrape_config_is_the_daemons_address(
    pasted: str, base: str
) -> None:
    """Whatever page, document or query the address bar held, ``sesd status`` asks the
    daemon's own status API, under a proxy's prefix if there is one."""
    assert base_url(pasted) == base


def test_a_time_outside_the_years_1_to_9999_is_said_so() -> None:
    """Python's dates run from the year 1 to 9999; a time past either end (a silence's
    end written by hand) is said as such rather than raised."""
    from sesd.status.charts import moment, when

    now = 1_800_000_000.0
    assert moment(1e12, now) == when(1e12) == "after the year 9999"
    assert moment(1.7e308, now) == "after the year 9999"
    assert moment(-1e12, now) == when(-1e12) == "before the year 1"
    assert moment(253_402_300_799.0, now) == "9999-12-31 23:59:59Z"
