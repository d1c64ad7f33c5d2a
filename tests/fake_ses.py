"""A local SESv2 endpoint (``SendEmail``, ``GetAccount``) that can be slow, throttle,
fail or hang.

It answers as the real API does: ``POST /v2/email/outbound-emails``, 200 with
``{"MessageId": ...}``; errors carry the ``x-amzn-ErrorType`` header and a
JSON ``message`` (429 ``TooManyRequestsException``, 400 ``MessageRejected``,
500 ``InternalFailure``), which is how botocore's REST-JSON parser reads them.
A test scripts answers with :meth:`FakeSes.script`; unscripted requests are
accepted at once. ``GET /v2/email/account`` (moto has no GetAccount) answers
the account :attr:`FakeSes.account` describes, or the status scripted with
:meth:`FakeSes.script_account` (429 ``TooManyRequestsException``...).
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer

_ERRORS = {
    429: "TooManyRequestsException",
    400: "MessageRejected",
    500: "InternalFailure",
    403: "AccessDeniedException",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status, after ``delay`` seconds, or held until released."""

    status: int = 200
    delay: float = 0.0
    hold: bool = False


class FakeSes(LocalServer):
    """The endpoint; ``requests`` holds each request's JSON, ``answered`` each status."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[Any] = []
        self.answered: list[int] = []
        self.held = 0
        self._script: deque[Reply] = deque()
        self._release = anyio.Event()
        self._changed = anyio.Event()
        self._ids = itertools.count(1)
        #: What GetAccount answers (SESv2's field names).
        self.account: dict[str, Any] = healthy_account()
        self.account_requests = 0
        self._account_script: deque[int] = deque()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests so."""
        self._script.extend(replies)

    def release(self) -> None:
        """Let held requests be answered."""
        self._release.set()

    async def wait_for(self, predicate: Any) -> None:
        """Return once ``predicate(self)`` holds, re-checked after each request."""
        while not predicate(self):
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _send(self, request: web.Request) -> web.Response:
        reply = self._script.popleft() if self._script else Reply()
        self.requests.append(json.loads(await request.read()))
        if reply.hold:
            self.held += 1
            self._notify()
            await self._release.wait()
            self.held -= 1
        if reply.delay:
            await anyio.sleep(reply.delay)  # the endpoint is slow; nothing waits on it here
        self.answered.append(reply.status)
        self._notify()
        if reply.status == 200:
            return web.json_response({"MessageId": f"fake-ses-{next(self._ids):06d}"})
        error = _ERRORS.get(reply.status, "InternalFailure")
        return web.json_response(
            {"message": f"scripted {error}"},
            status=reply.status,
            headers={"x-amzn-ErrorType": f"{error}:http://internal.amazon.com/"},
        )

    def script_account(self, *statuses: int) -> None:
        """Answer the next GetAccount calls with these statuses (200: :attr:`account`)."""
        self._account_script.extend(statuses)

    async def _get_account(self, request: web.Request) -> web.Response:
        status = self._account_script.popleft() if self._account_script else 200
        self.account_requests += 1
        self._notify()
        if status == 200:
            return web.json_response(self.account)
        error = _ERRORS.get(status, "InternalFailure")
        return web.json_response(
            {"message": f"scripted {error}"},
            status=status,
            headers={"x-amzn-ErrorType": f"{error}:http://internal.amazon.com/"},
        )

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/email/outbound-emails", self._send)
        app.router.add_get("/v2/email/account", self._get_account)

    def close(self) -> None:
        self._release.set()


def healthy_account(sent: float = 1200.0) -> dict[str, Any]:
    """A GetAccount answer: production access, sending enabled, HEALTHY."""
    return {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": True,
        "SendingEnabled": True,
        "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": sent},
    }
