"""The lock on the HTTP port: ``[http] web_config`` applied to every request.

As the Prometheus exporter-toolkit does, one middleware guards every path
(``/metrics``, ``/healthz``, ``/readyz`` and any route added later): the
configured headers on every response, then HTTP basic auth when users are
configured. TLS is an :class:`ssl.SSLContext` the listener is given at start.

A reload (SIGHUP) swaps the users and headers for the next request and loads
the certificate and key again into the live context, for the next handshake
(read off the event loop, within READ_BOUND: :mod:`sesd.runtime.web_chain`,
:mod:`sesd.io.hung`).
Whether TLS is on, and the rest of ``tls_server_config``, is the listener's
own and waits for a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ssl
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import bcrypt
import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from sesd.config import ConfigError
from sesd.config.web import TlsServerConfig, WebConfig, load_chain, server_context
from sesd.core.text import escaped
from sesd.io import hung
from sesd.runtime.apart import apart
from sesd.runtime.web_chain import Chain, read_chain

__all__ = ["REALM", "BasicAuth", "Unanswered", "WebGuard", "guard_at_start"]

if TYPE_CHECKING:  # aiohttp's headers type (multidict comes with aiohttp)
    from multidict import CIMultiDict

T = TypeVar("T")

REALM = "sesd"
#: Credentials whose check succeeded, remembered (the exporter-toolkit keeps 100 too).
_CACHED = 100
#: Checks under way or waiting for the one running; more are refused at once (401).
_MAX_WAITING = 8


class BasicAuth:
    """Users and their bcrypt hashes, and the check of an ``Authorization`` header.

    bcrypt costs about 70 ms at cost 10 and 250 ms at 12, on purpose: a scrape
    every 15 s must not pay it each time. A success is remembered by a digest of
    (user, hash, password), never the password itself; the hash is in the key so
    that a password changed by a reload stops matching at once. Failures are not
    remembered: only valid credentials fill the cache, so guessing cannot evict
    the scrapers'. Checks run in a worker thread, one at a time (guessing then
    costs one core at most, and two scrapes with the same new credential pay once),
    at most _MAX_WAITING under way or waiting.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        check: Callable[[bytes, bytes], bool] = bcrypt.checkpw,
    ) -> None:
        self._users = [(name.encode(), hashed.encode()) for name, hashed in users.items()]
        self._check = check
        self._passed: OrderedDict[bytes, None] = OrderedDict()
        self._one_at_a_time = anyio.Lock()
        self._waiting = 0

    def __bool__(self) -> bool:
        return bool(self._users)

    def replace(self, users: Mapping[str, str]) -> None:
        """Check against ``users`` from the next request on (a reload)."""
        self._users = [(name.encode(), hashed.encode()) for name, hashed in users.items()]

    async def allows(self, header: str | None) -> bool:
        """True when ``header`` (an ``Authorization`` value) carries a configured user and
        that user's password."""
        credentials = _basic(header)
        if credentials is None or not self._users:
            return False
        user, password = credentials
        hashed, known = self._hash_of(user)
        # The user's length in the input: no other (user, password) pair reads the same.
        key = hashlib.sha256(hashed + len(user).to_bytes(4, "big") + user + password).digest()
        if known and key in self._passed:
            return True
        if self._waiting >= _MAX_WAITING:
            # Checks pile up only under guessing: refused at once rather than queued (a
            # queue without end would hold new credentials for hours after it stopped,
            # with the checks of clients long gone still to run).
            return False
        self._waiting += 1
        try:
            return await self._check_one(key, known, password, hashed)
        finally:
            self._waiting -= 1

    async def _check_one(self, key: bytes, known: bool, password: bytes, hashed: bytes) -> bool:
        async with self._one_at_a_time:
            if known and key in self._passed:  # a request just before this one checked it
                return True
            passed = await anyio.to_thread.run_sync(self._checked, password, hashed)
            if not (passed and known):
                return False
            self._passed[key] = None
            while len(self._passed) > _CACHED:
                self._passed.popitem(last=False)
        return True

    def _hash_of(self, user: bytes) -> tuple[bytes, bool]:
        """The user's hash, compared with every configured name in constant time (the
        time taken says nothing of which names exist). An unknown user is checked
        against the costliest configured hash, so it costs what the slowest known one
        does (with users of different costs, the first hash would tell them apart)."""
        found = None
        for name, hashed in self._users:
            if hmac.compare_digest(name, user) and found is None:
                found = hashed
        if found is None:
            return max((hashed for _, hashed in self._users), key=_cost), False
        return found, True

    def _checked(self, password: bytes, hashed: bytes) -> bool:
        try:
            return self._check(password, hashed)
        except ValueError:
            # bcrypt refuses passwords over 72 bytes: a wrong one, not a server error.
            return False


def _cost(hashed: bytes) -> int:
    """A bcrypt hash's cost (``$2b$12$...``: 12); 0 when it does not say."""
    parts = hashed.split(b"$")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else 0


def _basic(header: str | None) -> tuple[bytes, bytes] | None:
    """(user, password) from ``Basic BASE64``, as bytes (compared and checked as sent,
    whatever the client's charset); None for anything else."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


async def guard_at_start(config: WebConfig | None) -> WebGuard:
    """The start's :class:`WebGuard`, its certificate and key loaded in a thread apart
    (read with the config a moment ago, and read again here) within READ_BOUND; a
    ConfigError when they are not. A share that stopped answering since would hold
    the event loop for ever, and with it the stop signals: the start fails instead,
    saying why, and a supervisor starts sesd again."""
    tls = (config or WebConfig()).tls_server_config
    if tls is None:
        return WebGuard(config)  # no file to read
    return WebGuard(config, await _bounded(server_context, tls))


class Unanswered(ConfigError):
    """The certificate and key not read within READ_BOUND: the read is left in its
    thread, and the files were not read."""


async def _bounded(load: Callable[[TlsServerConfig], T], tls: TlsServerConfig) -> T:
    """``load(tls)`` in a thread apart within READ_BOUND; Unanswered naming the files
    when it has not returned by then (the thread left to it: nothing waits for it)."""
    bound = hung.READ_BOUND
    with anyio.move_on_after(bound):
        return await apart(partial(_prefixed, load, tls), "sesd-web-load")
    named = [tls.cert_file, tls.key_file] + ([tls.client_ca_file] if tls.client_ca_file else [])
    files = escaped(", ".join(named), 1500)
    raise Unanswered(
        f"http.web_config: tls_server_config: {files} not read within "
        f"{bound:g} s (a file on a hung mount?)"
    )


class WebGuard:
    """The web configuration in force: the SSL context the listener serves with and the
    middleware every request passes through."""

    def __init__(self, config: WebConfig | None, context: ssl.SSLContext | None = None) -> None:
        """``context``: the listener's, its files loaded already; loaded here if not."""
        config = config or WebConfig()
        #: What the listener was started with (its certificate and key as last loaded).
        self._tls = config.tls_server_config
        #: The listener's context (None: plain HTTP); a reload loads new files into it.
        self.ssl_context = None if self._tls is None else context
        if self._tls is not None and context is None:
            self.ssl_context = _prefixed(server_context, self._tls)
        self._headers = dict(config.http_server_config.headers)
        self.auth = BasicAuth(config.basic_auth_users)

    async def apply(
        self,
        config: WebConfig | None,
        held: Callable[[Callable[[], Chain]], Callable[[], Chain]] = lambda read: read,
    ) -> list[str]:
        """Take a reloaded web configuration: users and headers for the next request,
        the certificate and key for the next handshake. Returns the keys whose change
        waits for a restart; ConfigError (nothing changed) when the new files do not
        load, or Unanswered when they are not read within READ_BOUND. The read runs as
        ``held`` makes it (a reload's marks itself held while it runs: one left in its
        thread holds off the reads after it, as the config's does)."""
        config = config or WebConfig()
        running, new = self._tls, config.tls_server_config
        ignored = []
        if running is None or new is None:
            if running != new:
                ignored.append("tls_server_config")
        else:
            before, after = running.restart_only(), new.restart_only()
            ignored += [f"tls_server_config.{k}" for k in before if before[k] != after[k]]
            assert self.ssl_context is not None
            # Read, copied and loaded into a context of its own first, in a thread apart
            # (a share that hangs holds that thread, not the event loop), within
            # READ_BOUND: a load that fails half-way can leave a context with the new
            # certificate and no key. Then the live one, from the copies, here on the
            # event loop, where its handshakes run (sesd.runtime.web_chain). New
            # handshakes get the new certificate; open connections keep theirs.
            chain = await _bounded(lambda tls: held(partial(read_chain, tls))(), new)
            try:
                _prefixed(load_chain, self.ssl_context, chain.tls)
            finally:
                chain.close()
            self._tls = msgspec.structs.replace(
                running, cert_file=new.cert_file, key_file=new.key_file
            )
        self._headers = dict(config.http_server_config.headers)
        self.auth.replace(config.basic_auth_users)
        return ignored

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every request: 401 without a configured user's credentials (when users are
        configured), the configured headers on every response."""
        headers = self._headers
        if self.auth and not await self.auth.allows(request.headers.get("Authorization")):
            response: web.StreamResponse = web.Response(
                status=401,
                text="401: Unauthorized\n",
                headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
            )
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # 404, 405: answers too
                _set_headers(exc.headers, headers)
                raise
        _set_headers(response.headers, headers)
        return response


def _set_headers(target: CIMultiDict[str], headers: Mapping[str, str]) -> None:
    """The configured headers on a response. A Content-Security-Policy configured beside
    the status page's own is sent as a second header (a browser enforces both), never
    in its place: the page's policy is what keeps script to its own files."""
    for name, value in headers.items():
        if name == "Content-Security-Policy" and name in target:
            target.add(name, value)
        else:
            target[name] = value


def _prefixed(load: Callable[..., T], *args: Any) -> T:
    """``load(*args)``, its ConfigError under the key of the file it came from."""
    try:
        return load(*args)
    except ConfigError as exc:
        raise ConfigError(f"http.web_config: {exc}") from None
