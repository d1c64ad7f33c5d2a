"""A TCP proxy on loopback that a test can cut and restore: an outage of the server
behind it, without losing the server's state; and a reverse proxy that serves a server
under a path prefix."""

from __future__ import annotations

from types import TracebackType

import aiohttp
import anyio
from aiohttp import web
from anyio.abc import SocketStream, TaskGroup

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import free_port


class Proxy:
    """Forwards 127.0.0.1:port to ``upstream_port``; ``cut()`` drops every connection and
    refuses new ones until ``restore()``; ``stall()`` keeps every connection open and
    forwards nothing more, either way (a network that stalls); ``lag``: seconds each
    chunk a client sends is held before it is forwarded (a slow link, or a server slow
    to answer). Counts connection attempts."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.attempts = 0
        self.down = False
        self.stalled = False
        self.lag = 0.0
        self._upstream = upstream_port
        self._live: set[SocketStream] = set()
        self._tg: TaskGroup | None = None

    def cut(self) -> None:
        """Start the outage: close live connections, refuse new ones."""
        self.down = True
        for stream in list(self._live):
            self._close(stream)

    def restore(self) -> None:
        """End the outage."""
        self.down = False
        self.stalled = False

    def stall(self) -> None:
        """From now on, accept and hold connections, and forward nothing."""
        self.stalled = True

    def _close(self, stream: SocketStream) -> None:
        self._live.discard(stream)
        assert self._tg is not None
        self._tg.start_soon(stream.aclose)

    async def _serve(self, client: SocketStream) -> None:
        self.attempts += 1
        if self.down:
            await client.aclose()
            return
        try:
            server = await anyio.connect_tcp("127.0.0.1", self._upstream)
        except OSError:
            await client.aclose()
            return
        self._live.update((client, server))

        async def pipe(source: SocketStream, sink: SocketStream) -> None:
            try:
                async for chunk in source:
                    if source is client and self.lag:
                        await anyio.sleep(self.lag)  # the lag itself, not a wait for an event
                    if not self.stalled:
                        await sink.send(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass
            finally:
                self._live.discard(source)
                await sink.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pipe, client, server)
            tg.start_soon(pipe, server, client)

    async def __aenter__(self) -> Proxy:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self.port)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._listener = listener
        self._tg.start_soon(listener.serve, self._serve)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(exc_type, exc, tb)
        await self._listener.aclose()


class PrefixProxy(LocalServer):
    """A reverse proxy serving the HTTP server at ``upstream_port`` under ``prefix``
    (nginx's ``location /sesd/ { proxy_pass http://127.0.0.1:9585/; }``, or kubectl
    proxy's service path): ``PREFIX/x`` is the server's ``/x``; any other path is a
    404, and is recorded in ``outside``. ``upstream`` may be changed: another server
    answers from then on (sesd restarted)."""

    def __init__(self, upstream_port: int, prefix: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}{prefix}"
        self.outside: list[str] = []
        self.upstream = upstream_port
        self._prefix = prefix

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        path = request.raw_path
        if not path.startswith(f"{self._prefix}/"):
            self.outside.append(path)
            return web.Response(status=404, text="not under the prefix\n")
        upstream = f"http://127.0.0.1:{self.upstream}{path[len(self._prefix) :]}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, upstream, data=await request.read()) as answer,
        ):
            body = await answer.read()
            kept = ("Content-Type", "Content-Security-Policy", "Cache-Control")
            headers = {k: answer.headers[k] for k in kept if k in answer.headers}
            return web.Response(body=body, status=answer.status, headers=headers)
