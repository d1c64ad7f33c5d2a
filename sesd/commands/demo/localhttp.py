"""A local aiohttp server on a free loopback port, as an async context manager: the
base of the demo's SESv2 tenant endpoint and of the tests' Slack, PagerDuty and SES
stand-ins."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web

from sesd.commands.demo.localsqs import free_port

__all__ = ["LocalServer"]


class LocalServer:
    """An aiohttp server on a free loopback port, as an async context manager."""

    def __init__(self) -> None:
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        """Add the server's routes."""
        raise NotImplementedError

    def close(self) -> None:
        """Let anything held go, before the server stops."""

    async def __aenter__(self) -> Self:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        assert self._runner is not None
        await self._runner.cleanup()
