"""Local HTTP receivers that answer like Slack's incoming webhooks and PagerDuty's Events API.

Each is an aiohttp server on a free loopback port. By default it accepts
(Slack: 200 ``ok``; PagerDuty: 202 with a JSON status). A test scripts other
answers with :meth:`Receiver.script`: a status, a Retry-After header, a body,
or ``"hang"`` (accept the connection and never answer). Every request's JSON
is recorded, and :meth:`Receiver.wait_for` waits for a count without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer


@dataclass(frozen=True)
class Answer:
    """One scripted answer."""

    status: int = 200
    body: str | None = None
    retry_after: str | None = None
    hang: bool = False


class Receiver(LocalServer):
    """A Slack- or PagerDuty-like endpoint."""

    def __init__(self, kind: str) -> None:
        assert kind in ("slack", "pagerduty")
        super().__init__()
        self.kind = kind
        self.path = "/services/T000/B000/planted-secret-slack" if kind == "slack" else "/v2/enqueue"
        self.url = f"http://127.0.0.1:{self.port}{self.path}"
        self.requests: list[Any] = []
        self.answers: list[int] = []
        #: Requests come so far, answered or not (one scripted to hang is not, yet).
        self.arrived = 0
        self._script: deque[Answer] = deque()
        self._changed = anyio.Event()
        self._release = anyio.Event()

    def script(self, *answers: Answer) -> None:
        """Answer the next requests so, then go back to accepting."""
        self._script.extend(answers)

    async def wait_for(self, count: int) -> None:
        """Return once ``count`` requests were answered successfully."""
        while sum(1 for s in self.answers if s < 300) < count:
            await self._changed.wait()

    async def wait_arrived(self, count: int) -> None:
        """Return once ``count`` requests came, answered or not."""
        while self.arrived < count:
            await self._changed.wait()

    @property
    def accepted(self) -> list[Any]:
        """The JSON of the requests that were answered successfully."""
        return [r for r, s in zip(self.requests, self.answers, strict=True) if s < 300]

    async def _handle(self, request: web.Request) -> web.Response:
        answer = self._script.popleft() if self._script else Answer()
        self.arrived += 1
        self._changed.set()
        self._changed = anyio.Event()
        if answer.hang:
            await self._release.wait()
        payload = await request.read()
        document = json.loads(payload)
        problem = self._check(document)
        if self.kind == "pagerduty" and len(payload) > 512 * 1024:
            problem = '{"status": "invalid event", "message": "event larger than 512 KB"}'

        if problem is not None:
            answer = Answer(400, body=problem)
        self.requests.append(document)
        self.answers.append(answer.status)
        self._changed.set()
        self._changed = anyio.Event()
        headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
        if answer.status < 300:
            if self.kind == "slack":
                return web.Response(text=answer.body or "ok")
            body = {
                "status": "success",
                "message": "Event processed",
                "dedup_key": json.loads(payload).get("dedup_key"),
            }
            return web.json_response(body, status=202)
        default = {
            400: "invalid_payload",
            404: "no_service",
            429: "rate_limited",
            500: "rollup_error",
        }.get(answer.status, "error")
        if self.kind == "pagerduty":
            default = json.dumps({"status": "invalid event", "message": default})
        return web.Response(status=answer.status, text=answer.body or default, headers=headers)

    def _check(self, document: Any) -> str | None:
        """What the real API would reject (documented limits)."""
        if self.kind == "slack":
            blocks = document.get("blocks", [])
            # Attachments alone carry a message too (Alertmanager's Slack integration).
            if not document.get("text") and not blocks and not document.get("attachments"):
                return "no_text"
            if len(blocks) > 50:
                return "invalid_blocks"
            for block in blocks:
                if not _slack_block_ok(block):
                    return "invalid_blocks"
            return None
        if document.get("event_action") not in ("trigger", "resolve", "acknowledge"):
            return '{"status": "invalid event", "message": "event_action"}'
        if not document.get("routing_key") or not document.get("dedup_key"):
            return '{"status": "invalid event", "message": "routing_key or dedup_key"}'
        if len(document["dedup_key"]) > 255:
            return '{"status": "invalid event", "message": "dedup_key"}'
        payload = document.get("payload")
        if document["event_action"] == "trigger":
            # The summary is required, at most 1024 characters.
            if not payload or not 0 < len(payload.get("summary") or "") <= 1024:
                return '{"status": "invalid event", "message": "summary"}'
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                return '{"status": "invalid event", "message": "severity"}'
        return None

    def routes(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._handle)

    def close(self) -> None:
        self._release.set()


def _slack_text_ok(text: Any, limit: int = 3000) -> bool:
    """A Block Kit text object as Slack takes it: a type, and 1 to ``limit`` characters."""
    return (
        isinstance(text, dict)
        and text.get("type") in ("plain_text", "mrkdwn")
        and 0 < len(text.get("text") or "") <= limit
    )


def _slack_block_ok(block: Any) -> bool:
    """A block within Slack's documented limits: a section's text, a header's 150
    characters of plain text, a context's ten elements (each a text or an image)."""
    kind = block.get("type")
    if kind == "section":
        return _slack_text_ok(block.get("text"))
    if kind == "header":
        text = block.get("text")
        return _slack_text_ok(text, 150) and text["type"] == "plain_text"
    if kind == "context":
        elements = block.get("elements") or []
        return 0 < len(elements) <= 10 and all(
            element.get("type") == "image" or _slack_text_ok(element) for element in elements
        )
    return True


#: nginx's default ``client_max_body_size`` (1m): a longer body is answered 413.
NGINX_MOST_BODY = 1024 * 1024
#: nginx's page for a body over its limit.
_TOO_LARGE = (
    "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>"
    "\r\n</body>\r\n</html>\r\n"
)


class WebhookReceiver(LocalServer):
    """An in-house endpoint for sesd's webhook sink (or Alertmanager's webhook receiver):
    records each JSON body; with ``secret``, it checks the HMAC-SHA256 signature header
    as a careful receiver would (constant-time) and answers 401 when it does not match.
    Behind nginx as it ships: a body over ``most`` bytes is answered 413 (nginx's page).
    ``next_statuses``: the next answers to bodies it reads whole, then ``status``."""

    def __init__(
        self,
        secret: str | None = None,
        path: str = "/hook",
        status: int = 204,
        most: int = NGINX_MOST_BODY,
    ) -> None:
        super().__init__()
        self.most = most
        #: Bodies answered 413, by size.
        self.too_large: list[int] = []
        self.next_statuses: deque[int] = deque()
        self.status = status
        #: Headers each answer carries (a Retry-After with a 429 or a 503).
        self.headers: dict[str, str] = {}
        self.path = path
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self.secret = secret
        self.bodies: list[Any] = []
        #: The status of each answer to a body recorded.
        self.statuses: list[int] = []
        self.rejected = 0
        self._changed = anyio.Event()

    @property
    def accepted(self) -> list[Any]:
        """The bodies answered with a 2xx."""
        return [b for b, s in zip(self.bodies, self.statuses, strict=True) if s < 300]

    async def wait_for(self, predicate: Any) -> Any:
        """Return the first body satisfying ``predicate``, waiting for it to come."""
        while True:
            for body in self.bodies:
                if predicate(body):
                    return body
            await self._changed.wait()

    async def _handle(self, request: web.Request) -> web.Response:
        # Read whole, whatever its size, as nginx reads a refused body before it closes:
        # left unread, the client may meet a reset connection and never the 413.
        payload = await request.content.read()
        if len(payload) > self.most:
            self.too_large.append(len(payload))
            return web.Response(status=413, text=_TOO_LARGE, content_type="text/html")
        if self.secret is not None:
            expected = (
                "sha256=" + hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()
            )
            got = request.headers.get("X-Sesd-Signature-256", "")
            if not hmac.compare_digest(expected, got):
                self.rejected += 1
                return web.Response(status=401, text="bad signature")
        status = self.next_statuses.popleft() if self.next_statuses else self.status
        self.bodies.append(json.loads(payload))
        self.statuses.append(status)
        self._changed.set()
        self._changed = anyio.Event()
        return web.Response(status=status, headers=self.headers)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._handle)
