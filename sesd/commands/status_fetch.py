"""How ``sesd status`` reaches the daemon: its status document fetched over HTTP(S),
through the lock :mod:`sesd.commands.status_access` opens, and why it could not be,
in one line."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import ssl
from typing import Final, NoReturn
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import anyio
import msgspec
from anyio.streams.buffered import BufferedByteReceiveStream

from sesd import __version__
from sesd.commands.status_access import PASSWORD_VARIABLE, Access
from sesd.core.shown_urls import shown_bare
from sesd.core.text import clean
from sesd.core.unreadable import not_utf8_at, undecoded
from sesd.status.document import Status

__all__ = ["MAX_ANSWER", "SESD_REALM", "Answered", "OtherVersion", "Unreachable", "fetch"]

_TIMEOUT: Final = 5.0
#: The most of an answer read. A status document listing 1,000 alerts, silences and
#: tenants (the most one lists) measured 1.7 MiB with a finding a tenant, 7.9 MiB with
#: 32 (the most kept) of the longest, in ASCII; text outside it takes up to 3 bytes a
#: character. An answer past this is no status: a wrong --url serving a big file.
MAX_ANSWER: Final = 64 << 20
#: Paths of sesd's own that a URL pasted from a browser or a scrape config ends with
#: (an endpoint, a domain's, provider's or tenant's page or document, or the page's
#: script, stylesheet or icon): the daemon's address is what comes before them.
_ENDPOINT: Final = re.compile(
    r"/(?:api/v1/status|metrics|healthz|readyz|static/[^/]+"
    r"|(?:api/v1/)?(?:domain|provider|tenant)/[^/]+)$"
)


def base_url(url: str) -> str:
    """The daemon's address in ``url``, less what a browser's address bar or a scrape
    config pastes with it: one of sesd's endpoints or pages, a query, a fragment
    (``http://host:9585/domain/gmail.com?alerts=5``); a path before them (a proxy's
    prefix) is kept."""
    parts = urlsplit(url.strip())
    path = _ENDPOINT.sub("", parts.path.rstrip("/"))
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


#: The realm sesd's own 401 asks for (sesd.runtime.web.REALM, not imported: the
#: daemon's web modules are no part of a status command's start).
SESD_REALM: Final = "sesd"
_REALM: Final = re.compile(r'\brealm="([^"]*)"', re.IGNORECASE)


class Unreachable(Exception):
    """The daemon did not answer with its status; the message says why in one line."""


class Answered(Unreachable):
    """A sesd answered, though not with a status this command draws (a 401 asking for
    its realm, an older sesd's 404, another version's document): the address is the
    daemon's, so nothing said of how it was chosen (a port left out, the default
    asked) belongs after."""


class OtherVersion(Answered):
    """A sesd answered with a status document this one cannot read (another version's):
    ``body`` is its JSON, which ``--json`` prints."""

    def __init__(self, message: str, body: bytes) -> None:
        super().__init__(message)
        self.body = body


async def fetch(
    url: str, top: int, through: Access, alerts: int | None = None
) -> tuple[bytes, Status]:
    """The status document (its JSON, and decoded), with ``top`` labels an axis and
    ``alerts`` alerts (the daemon's default when None); :class:`Unreachable` when there
    is none to be had."""
    base = base_url(url)
    api = f"{base}/api/v1/status"
    named = shown_bare(api)
    params = {"top": str(top)} | ({} if alerts is None else {"alerts": str(alerts)})
    # A look at the port after the answer (for TLS, for sesd's /metrics) takes what is
    # left of the try's timeout, not one of its own: a plain server that waits out a
    # TLS hello, or a /metrics that never answers, doubled the try.
    until = anyio.current_time() + _TIMEOUT
    try:
        timeout = aiohttp.ClientTimeout(total=_TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                api, params=params, headers=through.headers, ssl=through.tls or True
            ) as response,
        ):
            body = await _bounded(response, named)
            if response.status != 200:
                await _refused(response, body, (session, through), api, until)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        # A TLS server hangs up on plain HTTP (sesd's, Python's), or its bytes are no
        # HTTP: neither says why, a look at the port does.
        unheard = isinstance(
            exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError
        ) and not isinstance(exc, aiohttp.TooManyRedirects)  # HTTP, heard: no TLS port
        reason = _use_https(base) if unheard and await _serves_tls(base, until) else _reason(exc)
        if _tls_failed(exc) and await _serves_http(base, until):
            reason = f"it serves http, not https: give --url http{shown_bare(base)[len('https') :]}"
        if base.startswith("https:") and not through.certified and _hung_up(exc):
            reason += (
                " (a port whose web config requires client certificates hangs up on a "
                "client without one: give --cert and --key)"
            )
        raise Unreachable(f"cannot reach sesd at {shown_bare(base)}: {reason}") from None
    # JSON is UTF-8 throughout (RFC 8259). The decoder skips a key it does not know
    # unread: a document valid but for one is no text --json could print.
    where = not_utf8_at(body)
    if where is not None:
        raise Unreachable(f"{named} did not answer with sesd's status (not UTF-8 at {where})")
    try:
        return body, msgspec.json.decode(body, type=Status)
    except msgspec.ValidationError as exc:  # JSON, but not the document read here
        other = _named(body)
        if other:
            raise OtherVersion(
                f"{named} answered with {other}, which this sesd status ({__version__}) "
                f"cannot read ({clean(str(exc), 300)}): the sesd status of its version "
                "can, and --json prints it",
                body,
            ) from None
        raise Unreachable(
            f"{named} did not answer with sesd's status ({clean(str(exc), 300)})"
        ) from None
    except msgspec.DecodeError as exc:
        raise Unreachable(
            f"{named} did not answer with sesd's status ({undecoded(body, exc)})"
        ) from None


async def _refused(
    response: aiohttp.ClientResponse,
    body: bytes,
    asking: tuple[aiohttp.ClientSession, Access],
    api: str,
    until: float,
) -> NoReturn:
    """Why ``api``'s answer other than 200 is no status, as :class:`Unreachable` (a
    sesd's as :class:`Answered`); a look at the port, if one is taken, ends by
    ``until`` (anyio's clock)."""
    session, through = asking
    base = api.removesuffix("/api/v1/status")
    named = shown_bare(api)
    if response.status == 401:
        hint = (
            "wrong user or password"
            if through.headers or named != api  # a user and password in the address
            else f"give --user and ${PASSWORD_VARIABLE}"
        )
        # Any server may ask for a password: only one asking for sesd's realm shows
        # the address is the daemon's (a router's admin page on port 80 does not).
        realm = _REALM.search(response.headers.get("WWW-Authenticate", ""))
        refused = Answered if realm and realm[1] == SESD_REALM else Unreachable
        raise refused(f"{named} answered HTTP 401: {hint}")
    if response.status == 404:
        # During a rolling upgrade, a replica from before the status page: its
        # /metrics says it is sesd. Said only when looked at.
        if await _serves_metrics(session, base, through, until):
            raise Answered(
                f"{named} answered HTTP 404: a sesd older than its status page "
                "(its /metrics answers)"
            )
        raise Unreachable(
            f"{named} answered HTTP 404: not sesd (its /metrics has no sesd metrics either)"
        )
    if response.status == 400 and await _serves_tls(base, until):
        raise Unreachable(f"cannot reach sesd at {shown_bare(base)}: {_use_https(base)}")
    raise Unreachable(f"{named} answered HTTP {response.status}{_said(response, body)}")


class _Build(msgspec.Struct):
    version: str = "?"


class _Named(msgspec.Struct):
    """What any sesd's status document says of itself, whatever else it holds."""

    schema: str = ""
    sesd: _Build = msgspec.field(default_factory=_Build)


def _named(body: bytes) -> str:
    """Which sesd's status ``body`` is, as its text says (escaped: a stranger's may
    say anything), or "" when it names itself no sesd's status document."""
    try:
        said = msgspec.json.decode(body, type=_Named)
    except msgspec.DecodeError:
        return ""
    if not said.schema.startswith("sesd.status."):
        return ""
    return f"the status of sesd {clean(said.sesd.version, 100)} (schema {clean(said.schema, 100)})"


def _said(response: aiohttp.ClientResponse, body: bytes) -> str:
    """The first line of a refusal in plain text (sesd's says what it refused, ``top``
    or ``alerts`` past its bound), escaped and cut, after a colon; else ""."""
    if response.content_type != "text/plain":
        return ""  # an HTML error page's first line says nothing
    lines = body[:4096].decode("utf-8", "replace").strip().splitlines()
    return f": {clean(lines[0], 160)}" if lines else ""


async def _bounded(response: aiohttp.ClientResponse, named: str) -> bytes:
    """The answer's body, read no further than :data:`MAX_ANSWER`."""
    if (response.content_length or 0) <= MAX_ANSWER:
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) > MAX_ANSWER:
                break
        else:
            return bytes(body)
    raise Unreachable(
        f"{named} answered with more than {MAX_ANSWER >> 20} MiB: not sesd's status (a "
        "status document listing 1,000 alerts, silences and tenants is a few MB)"
    )


async def _serves_metrics(
    session: aiohttp.ClientSession, base: str, through: Access, until: float
) -> bool:
    """Whether ``base``'s /metrics answers with sesd's metrics, as seen by ``until``
    (anyio's clock): within the try's timeout, not a timeout of its own after it."""
    try:
        with anyio.fail_after(until - anyio.current_time()):
            async with session.get(
                f"{base}/metrics", headers=through.headers, ssl=through.tls or True
            ) as response:
                return response.status == 200 and b"sesd_" in await response.content.read(1 << 20)
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


def _hung_up(exc: BaseException) -> bool:
    """Whether the server closed the connection without a word (at TLS's handshake or
    just after it), as a port that asks for a client certificate does to one without."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    # TLS 1.3 ends the handshake at the client before the server has checked its
    # certificate: the refusal comes while the request is in flight, as a clean
    # close or, when the request was not yet read, as a reset.
    reset = isinstance(exc, aiohttp.ClientOSError) and exc.errno == errno.ECONNRESET
    return reset or isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError)


def _use_https(base: str) -> str:
    """The fix for ``base`` asked over http where TLS is served."""
    return f"it serves https, not http: give --url https{shown_bare(base)[len('http') :]}"


def _tls_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a TLS handshake that failed for another cause than trust (as
    when the server does not speak TLS)."""
    return isinstance(exc, aiohttp.ClientConnectorSSLError | ssl.SSLError) and not isinstance(
        exc, aiohttp.ClientConnectorCertificateError
    )


#: How a look at a port ends without its answer: refused, silent, or hung up before the
#: bytes looked for (``receive_exactly`` says so with IncompleteRead, not EndOfStream).
_UNANSWERED: Final = (
    OSError,
    TimeoutError,
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
)


async def _serves_http(base: str, until: float) -> bool:
    """Whether ``base``, an https:// address, is a port that answers plain HTTP, as
    seen by ``until`` (anyio's clock)."""
    parts = urlsplit(base)
    if parts.scheme != "https" or not parts.hostname:
        return False
    try:
        with anyio.fail_after(until - anyio.current_time()):
            async with await anyio.connect_tcp(parts.hostname, parts.port or 443) as stream:
                await stream.send(b"HEAD / HTTP/1.0\r\n\r\n")
                head = await BufferedByteReceiveStream(stream).receive_exactly(5)
    except _UNANSWERED:
        return False
    return head == b"HTTP/"


async def _serves_tls(base: str, until: float) -> bool:
    """Whether ``base``, an http:// address, is a port that speaks TLS: it answers a
    TLS hello with a TLS record (the server's hello, or an alert). Go's servers and
    nginx answer plain HTTP there with a 400, sesd's and Python's hang up. Seen by
    ``until`` (anyio's clock), or not."""
    parts = urlsplit(base)
    if parts.scheme != "http" or not parts.hostname:
        return False
    context = ssl.create_default_context()
    context.check_hostname = False  # no trust is given: only the first bytes are read
    context.verify_mode = ssl.CERT_NONE
    outgoing = ssl.MemoryBIO()
    client = context.wrap_bio(ssl.MemoryBIO(), outgoing)
    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()  # writes the hello, then waits for an answer it never gets
    try:
        with anyio.fail_after(until - anyio.current_time()):
            async with await anyio.connect_tcp(parts.hostname, parts.port or 80) as stream:
                await stream.send(outgoing.read())
                head = await BufferedByteReceiveStream(stream).receive_exactly(2)
    except _UNANSWERED:
        return False
    # A record's type (22 a handshake, 21 an alert), then its major version, 3.
    return head[0] in (21, 22) and head[1] == 3


def _reason(exc: BaseException) -> str:
    """Why a request failed, as a person says it ("Connection refused")."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {_TIMEOUT:g} s"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return (
            f"its TLS certificate is not trusted ({exc.certificate_error}): "
            "pass the CA that signed it with --cacert"
        )
    if isinstance(exc, aiohttp.InvalidURL):  # its text is the URL, password and all
        return "not a URL with a host and a valid port"
    if isinstance(exc, aiohttp.ClientConnectorSSLError | ssl.SSLError):
        return "TLS failed (is it serving https? http:// for a plain server)"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"redirected more than {len(exc.history)} times"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "Server disconnected"  # its text is the repr of an answer begun, if any
    if isinstance(exc, aiohttp.ClientResponseError):
        # No status is read without raise_for_status: this is the parser's refusal of
        # the answer (an SMTP banner, a database's greeting), its text the stranger's
        # bytes and a status 400 nobody answered.
        return "its answer is not HTTP (another service listens on that port?)"
    found = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    number = getattr(found, "errno", None)
    if isinstance(number, int) and number > 0:  # asyncio's own text names the address
        return os.strerror(number)
    if isinstance(found, ConnectionResetError):  # a hang-up in TLS's handshake: no errno
        return os.strerror(errno.ECONNRESET)
    return getattr(found, "strerror", None) or str(found) or type(found).__name__
