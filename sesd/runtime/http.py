"""The HTTP edge: ``GET /metrics``, ``/healthz`` (the loop answers) and ``/readyz``; and
the routes the caller adds (the status page, sesd.status.routes)."""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import anyio
from aiohttp import web, web_response
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry

from sesd.config import HttpConfig
from sesd.io.logs import get_logger
from sesd.metrics.exposition import CONTENT_TYPE, render_async
from sesd.runtime.health import STOPPING, Health

__all__ = ["SERVER", "ListenError", "StartError", "http_server"]


class _Refused(logging.Filter):
    """aiohttp logs each request its parser refuses (a header with a control byte, a
    line over the limit) as an error, with a traceback and the client's bytes, before
    sesd's middleware (and its auth) sees it: anyone who reaches the port could write
    error lines as fast as they send. Such a refusal is the client's doing: one debug
    line, without the bytes. Anything else (a handler that raised) is logged as it was."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            get_logger().debug("sesd.http.refused", error=type(exc).__name__, status=exc.code)
            return False
        return True


#: The HTTP server's own log (aiohttp's, with the refusals filtered out).
_SERVER_LOG = logging.getLogger("sesd.http.server")
_SERVER_LOG.addFilter(_Refused())

#: The ``Server`` header of every answer. aiohttp's own names Python's and aiohttp's
#: versions (``Python/3.11 aiohttp/3.14.5``): a scanner's shortcut to the holes of
#: that release, told to anyone who reaches the port, the lock's 401 included. Its
#: application hook (``on_response_prepare``) misses the refusals of its parser (a
#: malformed request: 400, before any route or the lock), which one bad request
#: gets, so the default aiohttp writes into every response is what is replaced.
#: Process-wide: the demo's local fakes, in sesd's process, say ``sesd`` too.
SERVER = "sesd"
web_response.SERVER_SOFTWARE = SERVER  # type: ignore[attr-defined]  # not in its __all__


def _app(
    registry: CollectorRegistry,
    health: Health,
    monotonic: Callable[[], float],
    middlewares: Sequence[Middleware] = (),
    routes: Callable[[web.Application], None] | None = None,
) -> web.Application:
    async def metrics(request: web.Request) -> web.Response:
        # Vary: the body's coding follows the request's Accept-Encoding.
        headers = {"Content-Type": CONTENT_TYPE, "Vary": "Accept-Encoding"}
        # A scrape of many domains is mostly repeated names: gzip makes it a tenth.
        gzipped = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
        if request.method == "HEAD":
            # A probe: no render (7.7 MiB, 190-380 ms at 1,000 domains) for a body it
            # never gets, but the headers a GET would get (RFC 9110 9.3.2), its coding
            # among them; its length, known only from a render, may be left out.
            if gzipped:
                headers["Content-Encoding"] = web.ContentCoding.gzip.value
            return web.Response(headers=headers)
        body = await render_async(registry)
        response = web.Response(body=body, headers=headers)
        if gzipped:
            response.enable_compression(web.ContentCoding.gzip)
        return response

    async def healthz(_: web.Request) -> web.Response:
        # Answering at all shows the event loop is alive.
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        ready, stale = health.ready(monotonic())
        if ready:
            return web.Response(text=f"ready\n{health.notes()}")
        if health.stopping:
            return web.Response(status=503, text=f"not ready: {STOPPING}\n{health.notes()}")
        stale_text = ", ".join(stale)
        return web.Response(
            status=503,
            text=f"not ready: no receive lately, or failing: {stale_text}\n{health.notes()}",
        )

    # Small requests only: nothing here takes a body. GET and HEAD on three paths (a
    # load balancer's or uptime checker's probe may ask with HEAD: a 405 reads as
    # down), nothing else (other methods: 405; other paths: 404).
    app = web.Application(client_max_size=1024, middlewares=middlewares)
    app.router.add_get("/metrics", metrics, allow_head=True)
    app.router.add_get("/healthz", healthz, allow_head=True)
    app.router.add_get("/readyz", readyz, allow_head=True)
    if routes is not None:
        routes(app)
    return app


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value asks for gzip (RFC 9110 12.5.3): named as
    ``gzip`` or ``x-gzip``, or else covered by ``*``, with a weight above 0 (``q=0``
    is "not acceptable") and not below the body as it is (``identity``, or else
    ``*``; ``gzip;q=0.5, identity;q=1`` prefers it plain). A search for the word took
    ``gzip;q=0`` as a yes."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0  # not a weight: taken as no
        coding = coding.lower()
        coding = "gzip" if coding == "x-gzip" else coding
        weights[coding] = max(weights.get(coding, weight), weight)
    gzip = weights.get("gzip", weights.get("*"))
    # Unweighed (not named, no *), the body as it is stands aside for a gzip named.
    identity = weights.get("identity", weights.get("*", 0.0))
    return gzip is not None and gzip > 0 and gzip >= identity


class StartError(Exception):
    """sesd could not start (the HTTP address is taken...); the CLI says so in one line
    and exits 2."""


class ListenError(StartError):
    """The HTTP address could not be listened on (taken, not this machine's, a port
    below 1024): a command that knows how its user gives another may say so."""

    @classmethod
    def of(cls, listen: str, exc: OSError) -> ListenError:
        """The error of a failed bind of ``listen``: its reason, not asyncio's text,
        which repeats the address ("error while attempting to bind on address
        ('127.0.0.1', 9585): address already in use")."""
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return cls(f"cannot listen on {listen}: {reason}")


@asynccontextmanager
async def http_server(
    config: HttpConfig,
    registry: CollectorRegistry,
    health: Health,
    monotonic: Callable[[], float],
    *,
    ssl_context: ssl.SSLContext | None = None,
    middlewares: Sequence[Middleware] = (),
    routes: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[int]:
    """Serve while the context is open; yields the bound port (useful with port 0).
    ``middlewares`` see every request (:mod:`sesd.runtime.web`'s lock among them);
    with ``ssl_context``, over TLS only.

    aiohttp serves on the event loop by itself, so no task is needed; binding
    happens here, in start-up, so a taken port fails before anything runs.
    ``routes`` adds the caller's routes to the application.
    """
    runner = web.AppRunner(
        _app(registry, health, monotonic, middlewares, routes),
        access_log=None,
        logger=_SERVER_LOG,
        handle_signals=False,
        shutdown_timeout=1.0,
        # Bounded requests: a request line or header over 4 KiB is refused (400),
        # and an idle connection is closed after 15 s.
        max_line_size=4096,
        max_field_size=4096,
        keepalive_timeout=15.0,
        # A handler whose client hung up is cancelled. Prometheus closes a scrape at
        # its scrape_timeout; a render finished for nobody shares the loop with the
        # next scrape, which then times out too: after one stall of a busy loop the
        # renders pile up and every scrape fails for good. (Every handler only reads.)
        handler_cancellation=True,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise ListenError.of(config.listen, exc) from None
        port = int(runner.addresses[0][1])
        get_logger().info(
            "sesd.http.listening", host=config.host, port=port, tls=ssl_context is not None
        )
        yield port
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()
