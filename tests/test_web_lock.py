"""The lock on the HTTP port: basic auth and TLS from ``[http] web_config`` on every
path, a real daemon answering a real client, and what a reload (SIGHUP) swaps."""

from __future__ import annotations

import io
import signal
import ssl
from pathlib import Path
from socket import gethostname
from typing import Any

import aiohttp
import anyio
import bcrypt
import pytest
import trustme

from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.main import main
from sesd.commands.status_access import Refused, access
from sesd.config import load_config
from sesd.config.web import parse_web_config
from sesd.runtime.daemon import Daemon, StartError
from sesd.runtime.web import BasicAuth, WebGuard
from tests.conftest import log_records, make_queue, running
from tests.dns_server import hermetic, hermetic_text
from tests.sesd_process import SesdProcess, sesd_process
from tests.test_status_cli import BUILT

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")

#: sesd's paths, the status page's among them.
PATHS = ("/metrics", "/healthz", "/readyz", "/", "/api/v1/status", "/static/status.css")
#: Cost 4: the tests need bcrypt hashes, not slow ones.
ALICE = bcrypt.hashpw(b"alice-pw", bcrypt.gensalt(4)).decode()
BOB = bcrypt.hashpw(b"bob-pw", bcrypt.gensalt(4)).decode()
HEADERS = "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
TLS = "tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"


def _users(**users: str) -> str:
    return "basic_auth_users:\n" + "".join(f"  {name}: {h}\n" for name, h in users.items())


def _certificate(directory: Path, name: str) -> trustme.CA:
    """A CA of its own, and NAME.crt and NAME.key in ``directory``, for 127.0.0.1."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    leaf.cert_chain_pems[0].write_to_path(str(directory / f"{name}.crt"))
    leaf.private_key_pem.write_to_path(str(directory / f"{name}.key"))
    return ca


def _tls(name: str) -> str:
    return TLS.format(cert=f"{name}.crt", key=f"{name}.key")


def _trusting(ca: trustme.CA) -> ssl.SSLContext:
    """A client's context that trusts ``ca`` (and nothing else)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


def _files(directory: Path, web: str, *, queue: str = "") -> Path:
    """web.yml holding ``web``, and sesd.toml naming it; returns sesd.toml."""
    (directory / "web.yml").write_text(web)
    path = directory / "sesd.toml"
    path.write_text(
        hermetic_text(
            queue + f'[http]\nlisten = "127.0.0.1:0"\nweb_config = "{directory / "web.yml"}"\n'
            '[logging]\nformat = "json"\nlevel = "debug"\n'
        )
    )
    return path


async def _queue(local_sqs: LocalSqs, sqs: Any) -> str:
    """A queue's config, for a daemon that reloads (a reload refuses a file without).
    Short-polled: a stop waits for a long poll in flight, 20 s by default."""
    url, _ = await make_queue(sqs)
    return (
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nwait_time_seconds = 0\n'
    )


async def _get(
    port: int,
    path: str,
    user: str | None = None,
    password: str = "",
    *,
    tls: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    """One request in a session of its own (a new connection, a new handshake):
    (status, headers)."""
    headers = {"Authorization": _header(user, password)} if user is not None else {}
    scheme = "https" if tls else "http"
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{scheme}://127.0.0.1:{port}{path}", headers=headers, ssl=tls if tls else True
        ) as response,
    ):
        await response.read()
        return response.status, response.headers


def _port(daemon: Daemon) -> int:
    assert daemon.http_port is not None
    return daemon.http_port


async def test_every_path_asks_for_a_configured_users_password(tmp_path: Path) -> None:
    """Every path (the metrics, health, the status page and its files) answers 401
    with a Basic challenge without
    credentials, with a wrong password, and with another user's password; 200 with
    the right one. A path that does not exist is locked too (401, then 404), and
    every answer carries the configured headers."""
    config = load_config(_files(tmp_path, _users(alice=ALICE, bob=BOB) + HEADERS))
    async with running(config) as daemon:
        port = _port(daemon)
        for path in PATHS:
            for user, password in ((None, ""), ("alice", "wrong"), ("carol", "alice-pw")):
                status, headers = await _get(port, path, user, password)
                assert status == 401, (path, user)
                assert headers["WWW-Authenticate"] == 'Basic realm="sesd"'
                assert headers["X-Content-Type-Options"] == "nosniff"
            for user in ("alice", "bob"):
                status, headers = await _get(port, path, user, f"{user}-pw")
                assert status == 200, (path, user)
                assert headers["X-Content-Type-Options"] == "nosniff"
        assert (await _get(port, "/nope"))[0] == 401
        status, headers = await _get(port, "/nope", "alice", "alice-pw")
        assert status == 404
        assert headers["X-Content-Type-Options"] == "nosniff"


async def test_a_configured_policy_adds_to_the_pages_own(tmp_path: Path) -> None:
    """A Content-Security-Policy in the web config (frame-ancestors, say) goes beside
    the status page's own, never in its place: the page keeps script to its own
    files; responses without a policy of their own (/metrics) carry the configured
    one."""
    web = "http_server_config:\n  headers:\n    Content-Security-Policy: frame-ancestors 'none'\n"
    config = load_config(_files(tmp_path, web))
    async with running(config) as daemon:
        _, page = await _get(_port(daemon), "/")
        _, metrics = await _get(_port(daemon), "/metrics")
    policies = page.getall("Content-Security-Policy")
    assert len(policies) == 2
    assert any("script-src 'self'" in policy for policy in policies)
    assert "frame-ancestors 'none'" in policies
    assert metrics.getall("Content-Security-Policy") == ["frame-ancestors 'none'"]


@pytest.mark.parametrize("web", ["", _users(alice=ALICE)], ids=["open", "locked"])
async def test_every_answer_names_sesd_and_no_version(tmp_path: Path, web: str) -> None:
    """Every answer, on an open port and behind the lock, says ``Server: sesd`` and
    names no software or version a scanner could look up: the metrics, health and
    readiness, the status page and its files, a path that does not exist (404), a
    method not allowed (405), the lock's 401, and a request too malformed to reach
    a route (aiohttp's parser refuses it: 400)."""
    config = load_config(_files(tmp_path, web))
    user = "alice" if web else None
    async with running(config) as daemon:
        port = _port(daemon)
        answers = {path: await _get(port, path, user, "alice-pw") for path in PATHS}
        answers["/nope"] = await _get(port, "/nope", user, "alice-pw")
        if web:
            answers["401"] = await _get(port, "/metrics")
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": _header("alice", "alice-pw")} if web else {}
            async with session.post(f"http://127.0.0.1:{port}/metrics", headers=headers) as post:
                answers["POST"] = post.status, post.headers
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(b"GET /metrics HTTP/1.1\r\nX-Bad\x01Header: x\r\n\r\n")
            raw = b""
            while b"\r\n\r\n" not in raw:
                raw += await stream.receive()
    statuses = {what: status for what, (status, _) in answers.items()}
    expected = dict.fromkeys(PATHS, 200) | {"/nope": 404, "POST": 405}
    assert statuses == expected | ({"401": 401} if web else {})
    for what, (_, headers) in answers.items():
        assert headers.getall("Server") == ["sesd"], what
    head = raw.split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert head[0].split()[1] == "400"
    assert [line for line in head if line.lower().startswith("server:")] == ["Server: sesd"]


async def test_tls_with_a_certificate_the_client_trusts(tmp_path: Path) -> None:
    """Over TLS with a certificate a throwaway CA signed: a client trusting that CA
    gets 200 with the password (401 without); one that does not trust it, or speaks
    plain HTTP, or allows no more than TLS 1.2 to a TLS 1.3 minimum, gets nothing."""
    ca = _certificate(tmp_path, "tls")
    web = _tls("tls") + "  min_version: TLS13\n" + _users(alice=ALICE)
    async with running(load_config(_files(tmp_path, web))) as daemon:
        port = _port(daemon)
        trusting = _trusting(ca)
        for path in PATHS:
            assert (await _get(port, path, "alice", "alice-pw", tls=trusting))[0] == 200
            assert (await _get(port, path, tls=trusting))[0] == 401
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(port, "/healthz", tls=_trusting(trustme.CA()))
        with pytest.raises(aiohttp.ClientError):
            await _get(port, "/healthz", "alice", "alice-pw")
        old = _trusting(ca)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(aiohttp.ClientConnectorError):
            await _get(port, "/healthz", tls=old)


async def test_client_certificates_from_the_client_ca_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With RequireAndVerifyClientCert, a client without a certificate, or with one
    another CA signed, is refused in the handshake; one the client CA signed gets in,
    `sesd status --cert --key` too."""
    ca = _certificate(tmp_path, "tls")
    clients = trustme.CA()
    clients.cert_pem.write_to_path(str(tmp_path / "clients.crt"))
    web = _tls("tls") + (
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.crt\n"
    )
    async with running(load_config(_files(tmp_path, web))) as daemon:
        port = _port(daemon)
        with pytest.raises(aiohttp.ClientError):
            await _get(port, "/metrics", tls=_trusting(ca))
        stranger = _trusting(ca)
        trustme.CA().issue_cert("scraper@example.com").configure_cert(stranger)
        with pytest.raises(aiohttp.ClientError):
            await _get(port, "/metrics", tls=stranger)
        known = _trusting(ca)
        client = clients.issue_cert("scraper@example.com")
        client.configure_cert(known)
        assert (await _get(port, "/metrics", tls=known))[0] == 200
        # sesd status: without a certificate the port hangs up, and the line said no
        # more than "Server disconnected" (or, when the request was not yet read,
        # "Connection reset by peer": a race of the kernel's, either is right);
        # --cert and --key present one.
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.crt"))
        client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
        url = f"https://127.0.0.1:{port}"
        status = ["status", "--url", url, "--cacert", str(tmp_path / "ca.pem")]
        assert await anyio.to_thread.run_sync(main, status) == 1
        hint = (
            " (a port whose web config requires client certificates hangs up on a client"
            " without one: give --cert and --key)\n"
        )
        assert capsys.readouterr().err in {
            f"sesd: cannot reach sesd at {url}: {hung_up}{hint}"
            for hung_up in ("Server disconnected", "Connection reset by peer")
        }
        mine = ["--cert", str(tmp_path / "client.crt"), "--key", str(tmp_path / "client.key")]
        assert await anyio.to_thread.run_sync(main, [*status, *mine]) == 0
        assert capsys.readouterr().out.startswith(f"sesd 0.1.0{BUILT} at {url}")
        missing = str(tmp_path / "nowhere.crt")
        assert await anyio.to_thread.run_sync(main, [*status, "--cert", missing]) == 2
        assert capsys.readouterr().err.startswith(f"sesd: --cert {missing}: ")


@pytest.mark.parametrize(
    ("cert", "key", "said"),
    [
        ("nowhere.crt", None, "--cert {cert}: No such file or directory"),
        ("client.crt", "nowhere.key", "--key {key}: No such file or directory"),
        ("client.crt", "other.key", "--key {key} is not the private key of --cert {cert}"),
        ("both.pem", "other.key", "--key {key} is not the private key of --cert {cert}"),
        ("client.crt", None, "--cert {cert}: no private key in it: give its file with --key"),
        ("junk", "client.key", "--cert {cert}: no PEM certificate in it"),
        ("client.crt", "junk", "--key {key}: no PEM private key in it"),
        (".", "client.key", "--cert {cert}: Is a directory"),
        ("both.pem", None, ""),
        ("client.crt", "client.key", ""),
    ],
)
def test_a_client_certificate_that_cannot_work_is_one_line_naming_its_file(
    tmp_path: Path, cert: str, key: str | None, said: str
) -> None:
    """``sesd status --cert --key``: a file missing, one that holds no certificate or
    key, or a key of another certificate is one line naming that option and file. A
    missing --key was said of --cert, and the others were OpenSSL's ``[SSL] PEM lib
    (_ssl.c:3926)``."""
    clients = trustme.CA()
    client, other = clients.issue_cert("scraper@example.com"), clients.issue_cert("other")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.crt"))
    client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    client.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "both.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "other.key"))
    (tmp_path / "junk").write_text("not PEM\n")
    cert_path = str(tmp_path / cert)
    key_path = None if key is None else str(tmp_path / key)
    if not said:
        assert access(None, None, cert_path, key_path).certified
        return
    with pytest.raises(Refused) as refused:
        access(None, None, cert_path, key_path)
    assert str(refused.value) == said.format(cert=cert_path, key=key_path)


@pytest.mark.parametrize(
    ("cacert", "said"),
    [
        ("nowhere.crt", "--cacert {cacert}: No such file or directory"),
        (".", "--cacert {cacert}: Is a directory"),
        ("junk", "--cacert {cacert}: no PEM certificate in it"),
    ],
)
def test_a_ca_file_that_cannot_serve_is_said_as_a_client_certificate_is(
    tmp_path: Path, cacert: str, said: str
) -> None:
    """``--cacert`` missing or holding no certificate: the line reads as ``--cert``'s,
    not ``[Errno 2] ...`` or OpenSSL's ``[X509: NO_CERTIFICATE_OR_CRL_FOUND] no
    certificate or crl found (_ssl.c:4154)``."""
    (tmp_path / "junk").write_text("not PEM\n")
    with pytest.raises(Refused) as refused:
        access(None, str(tmp_path / cacert))
    assert str(refused.value) == said.format(cacert=tmp_path / cacert)


async def test_a_reload_swaps_the_users_and_the_certificate(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path, json_logs: io.StringIO
) -> None:
    """A reload with a new users list and a new certificate: the next request checks
    the new users, the next handshake presents the new certificate. A broken file,
    or a key that is not its certificate's, changes nothing, is logged naming the
    key and reads 0 in sesd_config_last_reload_successful, until a good one. A TLS
    setting other than the files is named as needing a restart."""
    first = _certificate(tmp_path, "first")
    path = _files(tmp_path, _tls("first") + _users(alice=ALICE), queue=await _queue(local_sqs, sqs))
    async with running(load_config(path), config_path=path) as daemon:
        port = _port(daemon)
        registry = daemon.metrics.registry
        assert (await _get(port, "/metrics", "alice", "alice-pw", tls=_trusting(first)))[0] == 200

        second = _certificate(tmp_path, "second")
        (tmp_path / "web.yml").write_text(_tls("second") + _users(bob=BOB))
        assert await daemon.reload()
        trusting = _trusting(second)
        assert (await _get(port, "/metrics", "alice", "alice-pw", tls=trusting))[0] == 401
        assert (await _get(port, "/metrics", "bob", "bob-pw", tls=trusting))[0] == 200
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(port, "/metrics", "bob", "bob-pw", tls=_trusting(first))

        for broken in (
            _tls("second") + "basic_auth_users:\n  carol: hunter2\n",
            TLS.format(cert="second.crt", key="first.key") + _users(carol=ALICE),
        ):
            (tmp_path / "web.yml").write_text(broken)
            assert not await daemon.reload()
            assert registry.get_sample_value("sesd_config_last_reload_successful") == 0
            assert (await _get(port, "/metrics", "bob", "bob-pw", tls=trusting))[0] == 200

        (tmp_path / "web.yml").write_text(
            _tls("second") + "  min_version: TLS13\n" + _users(carol=ALICE)
        )
        assert await daemon.reload()
        assert registry.get_sample_value("sesd_config_last_reload_successful") == 1
        assert (await _get(port, "/metrics", "carol", "alice-pw", tls=trusting))[0] == 200
    logs = log_records(json_logs)
    failed = [e["error"] for e in logs if e["event"] == "sesd.config.reload_failed"]
    # Named by the line of [http] web_config, as check-config names it.
    line = path.read_text().splitlines().index(f'web_config = "{tmp_path / "web.yml"}"') + 1
    assert failed == [
        f"{path}:{line}: http.web_config: basic_auth_users.carol: not a bcrypt hash",
        failed[1],
    ]
    assert failed[1].startswith(
        f"{path}:{line}: http.web_config: tls_server_config.key_file: not the PEM"
    )
    assert "hunter2" not in json_logs.getvalue()  # nor in a traceback, as a user reads it
    ignored = [e["key"] for e in logs if e["event"] == "sesd.config.reload_ignored"]
    assert ignored == ["http.web_config: tls_server_config.min_version"]


async def test_certificate_files_gone_before_the_start_fail_it(tmp_path: Path) -> None:
    """The files were checked with the config, then went: the start fails, naming the
    file, as the CLI says it in one line."""
    _certificate(tmp_path, "tls")
    config = load_config(_files(tmp_path, _tls("tls")))
    (tmp_path / "tls.key").unlink()
    with pytest.raises(StartError) as caught:
        await Daemon(hermetic(config)).run(handle_signals=False)
    assert str(caught.value).startswith("http.web_config: tls_server_config.key_file: cannot read ")


async def test_a_reload_can_lock_an_open_port_and_open_it_again(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Users added by a reload apply at once; the file named no more, nothing is asked."""
    path = _files(tmp_path, "", queue=await _queue(local_sqs, sqs))
    async with running(load_config(path), config_path=path) as daemon:
        port = _port(daemon)
        assert (await _get(port, "/healthz"))[0] == 200
        (tmp_path / "web.yml").write_text(_users(alice=ALICE))
        assert await daemon.reload()
        assert (await _get(port, "/healthz"))[0] == 401
        path.write_text(path.read_text().replace("web_config", "# web_config"))
        assert await daemon.reload()
        assert (await _get(port, "/healthz"))[0] == 200


async def test_tls_settings_but_the_certificate_wait_for_a_restart(tmp_path: Path) -> None:
    """Turning TLS on or off, or changing its other keys, is named as needing a
    restart, every reload until then; the users change all the same."""
    _certificate(tmp_path, "tls")
    plain, tls = parse_web_config(""), parse_web_config(_tls("tls"), str(tmp_path))
    guard = WebGuard(tls)
    assert guard.ssl_context is not None
    stricter = parse_web_config(_tls("tls") + "  min_version: TLS13\n", str(tmp_path))
    assert await guard.apply(stricter) == ["tls_server_config.min_version"]
    assert await guard.apply(stricter) == ["tls_server_config.min_version"]
    assert guard.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert await guard.apply(plain) == ["tls_server_config"]
    assert await guard.apply(tls) == []
    open_port = WebGuard(None)
    assert open_port.ssl_context is None
    assert await open_port.apply(tls) == ["tls_server_config"]
    assert not open_port.auth
    await open_port.apply(parse_web_config(_users(alice=ALICE)))
    assert open_port.auth


def _counting() -> tuple[list[bytes], Any]:
    calls: list[bytes] = []

    def check(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return bcrypt.checkpw(password, hashed)

    return calls, check


def _header(user: str, password: str) -> str:
    return aiohttp.encode_basic_auth(user, password)


async def test_bcrypt_runs_once_per_distinct_credential() -> None:
    """A scrape every 15 s pays bcrypt once: ten requests with the same credential, five
    of them at once, check once. A wrong password is checked every time (failures are
    not remembered), as is an unknown user (against a real hash, so it takes as long);
    a password changed by a reload is checked afresh."""
    calls, check = _counting()
    auth = BasicAuth({"alice": ALICE, "bob": BOB}, check=check)
    right = _header("alice", "alice-pw")
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(auth.allows, right)
    for _ in range(5):
        assert await auth.allows(right)
    assert calls == [b"alice-pw"]
    assert await auth.allows(_header("bob", "bob-pw"))
    assert len(calls) == 2
    for _ in range(2):
        assert not await auth.allows(_header("alice", "nope"))
    assert not await auth.allows(_header("mallory", "alice-pw"))
    assert len(calls) == 5
    auth.replace({"alice": bcrypt.hashpw(b"alice-pw", bcrypt.gensalt(4)).decode()})
    assert await auth.allows(right)
    assert len(calls) == 6
    assert not await auth.allows(_header("bob", "bob-pw"))


async def test_guessing_queues_no_more_than_a_few_checks() -> None:
    """Twenty wrong passwords at once (a flood of guesses, each a bcrypt check): one
    runs, seven wait, the rest are refused at once rather than queued without end (a
    new credential would wait behind them for as long as the flood lasted, and after).
    Once the flood has gone, a right password is checked as before."""
    calls: list[bytes] = []
    release = anyio.Event()

    def slow(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        anyio.from_thread.run(release.wait)
        return bcrypt.checkpw(password, hashed)

    auth = BasicAuth({"alice": ALICE}, check=slow)
    answers: list[bool] = []

    async def guess(i: int) -> None:
        answers.append(await auth.allows(_header("alice", f"guess-{i}")))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(guess, i)
        with anyio.fail_after(10):
            while len(answers) < 12:  # the twelve beyond one running and seven waiting
                await anyio.lowlevel.checkpoint()
        release.set()
    assert answers == [False] * 20
    assert len(calls) == 8
    assert await auth.allows(_header("alice", "alice-pw"))


async def test_an_unknown_name_costs_what_the_costliest_user_does() -> None:
    """Users of different bcrypt costs: an unknown name is checked against the costliest
    hash (against the first, its time would tell it from the costlier user's)."""
    seen: list[bytes] = []

    def check(password: bytes, hashed: bytes) -> bool:
        seen.append(hashed)
        return bcrypt.checkpw(password, hashed)

    costly = bcrypt.hashpw(b"bob-pw", bcrypt.gensalt(6)).decode()
    auth = BasicAuth({"alice": ALICE, "bob": costly}, check=check)
    assert not await auth.allows(_header("mallory", "x"))
    assert seen == [costly.encode()]


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer abc", "Basic !!!", "Basic " + "YWxpY2U=", "Basic " + "x" * 7],
)
async def test_anything_but_basic_credentials_is_refused_unchecked(header: str | None) -> None:
    """No header, another scheme, bad base64, no colon: 401 without spending bcrypt."""
    calls, check = _counting()
    assert not await BasicAuth({"alice": ALICE}, check=check).allows(header)
    assert calls == []


async def test_a_password_bcrypt_cannot_take_is_a_wrong_one() -> None:
    """Over 72 bytes bcrypt raises; the client gets 401, not a server error."""
    assert not await BasicAuth({"alice": ALICE}).allows(_header("alice", "x" * 100))


@pytest.mark.timeout(90)
async def test_sighup_to_sesd_run_swaps_the_users(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """``sesd run`` as a process: its users change on SIGHUP, for the next request."""
    config = _files(tmp_path, _users(alice=ALICE), queue=await _queue(local_sqs, sqs))
    async with sesd_process(config) as sesd:
        port = await _listening(sesd)
        assert (await _get(port, "/healthz", "alice", "alice-pw"))[0] == 200
        (tmp_path / "web.yml").write_text(_users(bob=BOB))
        sesd.process.send_signal(signal.SIGHUP)
        with anyio.fail_after(20):
            await sesd.wait_for_event("sesd.config.reloaded")
        assert (await _get(port, "/healthz", "alice", "alice-pw"))[0] == 401
        assert (await _get(port, "/healthz", "bob", "bob-pw"))[0] == 200


async def _listening(sesd: SesdProcess) -> int:
    record = await sesd.logged("sesd.http.listening")
    assert record["tls"] is False
    return int(record["port"])


async def test_sesd_status_goes_through_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sesd status --config`` finds https from the web config, trusts ``--cacert``
    and sends ``--user`` with the password from the environment; without them, or
    with a wrong password, it says why in one line, exit 1."""
    ca = _certificate(tmp_path, "tls")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    path = _files(tmp_path, _tls("tls") + _users(alice=ALICE))
    async with running(load_config(path)) as daemon:
        text = path.read_text().replace("127.0.0.1:0", f"127.0.0.1:{_port(daemon)}")
        path.write_text(text)
        command = ["status", "--config", str(path), "--cacert", str(tmp_path / "ca.pem")]

        async def status(*extra: str) -> tuple[int, str, str]:
            code = await anyio.to_thread.run_sync(main, [*command, *extra])
            out, err = capsys.readouterr()
            return code, out, err

        code, _, err = await status()
        assert code == 1
        assert err.endswith("answered HTTP 401: give --user and $SESD_STATUS_PASSWORD\n")
        assert err.startswith(f"sesd: https://127.0.0.1:{_port(daemon)}/api/v1/status ")
        code, _, err = await status("--user", "alice")
        assert code == 2
        assert "set SESD_STATUS_PASSWORD" in err
        monkeypatch.setenv("SESD_STATUS_PASSWORD", "wrong")
        code, _, err = await status("--user", "alice")
        assert (code, err.endswith("answered HTTP 401: wrong user or password\n")) == (1, True)
        monkeypatch.setenv("SESD_STATUS_PASSWORD", "alice-pw")
        code, out, _ = await status("--user", "alice")
        assert code == 0
        assert out.startswith(f"sesd 0.1.0{BUILT} at https://127.0.0.1:{_port(daemon)}")
        # The password written into the address instead: sent, and never printed.
        monkeypatch.delenv("SESD_STATUS_PASSWORD")
        written = f"https://alice:alice-pw@127.0.0.1:{_port(daemon)}/metrics"
        code, out, _ = await status("--url", written)
        assert code == 0
        shown = f"sesd 0.1.0{BUILT} at https://127.0.0.1:{_port(daemon)} on {gethostname()}  as of"
        assert out.startswith(shown)
        assert "alice-pw" not in out
        written = f"https://alice:wrong-pw@127.0.0.1:{_port(daemon)}"
        code, _, err = await status("--url", written)
        assert code == 1
        assert err == (
            f"sesd: https://127.0.0.1:{_port(daemon)}/api/v1/status answered HTTP 401: "
            "wrong user or password\n"
        )
        assert "wrong-pw" not in err
        # http:// to the TLS port (a web config the command could not read, or the
        # scheme typed): the line names the fix, not "Server disconnected".
        plain = f"http://127.0.0.1:{_port(daemon)}"
        code, _, err = await status("--url", f"{plain}/sesd/")
        assert code == 1
        assert err == (
            f"sesd: cannot reach sesd at {plain}/sesd: it serves https, not http: give "
            f"--url https://127.0.0.1:{_port(daemon)}/sesd\n"
        )
