"""The status page's routes, added to sesd's HTTP server (sesd.runtime.http).

``GET /`` (the page), ``/domain/NAME``, ``/provider/NAME``, ``/tenant/NAME`` (one
label's page), ``/api/v1/status`` and ``/api/v1/{domain,provider,tenant}/NAME``
(the same as JSON), ``/static/...`` (the stylesheet, the script, the icon).
Each request builds its document from the live state, then; nothing runs for
the page between requests. Every response forbids inline script and style and
anything from another origin (Content-Security-Policy), and MIME sniffing.

Query parameters: ``top`` (labels per axis, 1-200), ``window`` (the window that
ranks them, by name; the shortest by default), ``alerts`` (alerts, silences and
tenants listed, 1-1000, 50 by default) and, for pages, ``refresh`` (the script's
period in seconds, 0.25-300); each at most once.
"""

from __future__ import annotations

from importlib import resources
from typing import Final
from urllib.parse import urlencode

import msgspec
from aiohttp import web

from sesd.core.domains import OTHER
from sesd.core.scopes import DOMAIN
from sesd.core.text import clean
from sesd.status.document import MAX_ALERTS, Limits, Status
from sesd.status.model import build_status, read_counters, scope_page
from sesd.status.page import status_html
from sesd.status.scope_page import not_found_page, scope_html
from sesd.status.scopes import find_scope
from sesd.status.sources import Rates, Sources

__all__ = ["HEADERS", "add_status_routes"]

#: On every response of the page's routes.
HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: The page's files (package data), with their content types.
_STATIC: Final = {
    "status.css": "text/css; charset=utf-8",
    "status.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_AXES: Final = "domain|provider|tenant"
_MAX_TOP: Final = 200
#: What a request without ``top`` or ``alerts`` lists.
_DEFAULT: Final = Limits()
_REFRESH: Final = 5.0
#: The query parameters a page and its API read.
_PARAMETERS: Final = ("top", "window", "alerts", "refresh")


def _whole(request: web.Request, key: str, default: int, high: int) -> int:
    """A query parameter as a whole number from 1 to ``high``; the default when absent.
    Anything else is refused, as an unknown window is: a typo in a bookmark must not
    show another list than asked, unsaid."""
    text = request.query.get(key)
    if text is None:
        return default
    # A long run of digits is no count (and int() of thousands of them is refused).
    if not (text.isascii() and text.isdigit() and len(text) < 9 and 1 <= int(text) <= high):
        raise _refused(f"{key}={clean(text, 40)!r}: give a whole number from 1 to {high}")
    return int(text)


def _number(request: web.Request, key: str, default: float, low: float, high: float) -> float:
    """A query parameter as a number within [low, high]; the default when absent or not a
    number (``refresh``: a page is served at any pace asked, the nearest one it allows)."""
    try:
        value = float(request.query.get(key, default))
    except ValueError:
        return default
    return min(high, max(low, value)) if value == value else default


def _refused(text: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=text + "\n", headers=HEADERS)


class _Routes:
    """The handlers, and the samples rates are read against (sesd.status.sources.Rates)."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.rates = Rates(sources.started)
        package = resources.files("sesd.status")
        self.static = {name: (package / name).read_bytes() for name in _STATIC}

    def _limits(self, request: web.Request) -> Limits:
        for key in _PARAMETERS:
            # The page reads the first value and its script's API link the last: two
            # would draw one page whose every refresh is refused, or another list.
            if len(request.query.getall(key, ())) > 1:
                raise _refused(f"{key} given twice: give it once")
        names = [spec.name for spec in self.sources.ledger.specs]
        window = request.query.get("window", names[0])
        if window not in names:
            raise _refused(f"unknown window {clean(window, 40)!r}; sesd keeps {', '.join(names)}")
        top = _whole(request, "top", _DEFAULT.top, _MAX_TOP)
        alerts = _whole(request, "alerts", _DEFAULT.alerts, MAX_ALERTS)
        return Limits(top=top, alerts=alerts, window=names.index(window))

    def _status(self, limits: Limits) -> Status:
        sources = self.sources
        now = sources.clock()
        counters = read_counters(sources)
        base = self.rates.sample(now, counters)
        return build_status(sources, now, counters, base, limits)

    async def page(self, request: web.Request) -> web.Response:
        limits = self._limits(request)
        status = self._status(limits)
        refresh = _number(request, "refresh", _REFRESH, 0.25, 300)
        kept = {k: v for k, v in request.query.items() if k in ("top", "window", "alerts")}
        api = "/api/v1/status" + (f"?{urlencode(kept)}" if kept else "")
        # A cut list's link lists the most alerts on this page: its window, top and
        # refresh kept. A page listing the most has no longer one to link to.
        same = {k: v for k, v in request.query.items() if k in ("top", "window", "refresh")}
        more = "/?" + urlencode({**same, "alerts": str(MAX_ALERTS)})
        more = more if limits.alerts < MAX_ALERTS else ""
        return _html(status_html(status, refresh, api, more))

    async def api(self, request: web.Request) -> web.Response:
        return _json(msgspec.json.encode(self._status(self._limits(request))))

    def _not_counted(self, axis: str, name: str) -> str:
        """What a label's page says of a name sesd has no label of. The name is the
        visitor's: shown cleaned (no raw controls or bidi marks to make a crafted link
        read as something else), HTML-escaped by the page. A domain may yet be counted,
        under ``other``: said so once there is one."""
        text = f"sesd counts no {axis} named {clean(name)}"
        ledger = self.sources.ledger
        domains = find_scope(ledger, DOMAIN)
        if axis == DOMAIN and domains is not None and OTHER in domains.windows:
            most = ledger.domains.max_tracked
            text += f" (past [domains] max_tracked, {most}, new domains count under {OTHER})"
        return text

    async def scope(self, request: web.Request) -> web.Response:
        axis, name = request.match_info["axis"], request.match_info["name"]
        detail = scope_page(self.sources, axis, name, self.sources.clock())
        if detail is None:
            return _html(not_found_page(self._not_counted(axis, name)), status=404)
        refresh = _number(request, "refresh", _REFRESH, 0.25, 300)
        return _html(scope_html(detail, refresh))

    async def scope_api(self, request: web.Request) -> web.Response:
        axis, name = request.match_info["axis"], request.match_info["name"]
        detail = scope_page(self.sources, axis, name, self.sources.clock())
        if detail is None:
            body = msgspec.json.encode({"error": self._not_counted(axis, name)})
            return _json(body, status=404)
        return _json(msgspec.json.encode(detail))

    async def file(self, request: web.Request) -> web.Response:
        name = request.match_info["file"]
        if name not in self.static:
            raise web.HTTPNotFound(headers=HEADERS)
        headers = {**HEADERS, "Content-Type": _STATIC[name], "Cache-Control": "no-cache"}
        return web.Response(body=self.static[name], headers=headers)


def _html(text: str, status: int = 200) -> web.Response:
    headers = {**HEADERS, "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    return web.Response(text=text, status=status, headers=headers)


def _json(body: bytes, status: int = 200) -> web.Response:
    headers = {**HEADERS, "Content-Type": "application/json", "Cache-Control": "no-store"}
    return web.Response(body=body, status=status, headers=headers)


def add_status_routes(sources: Sources, app: web.Application) -> None:
    """Add the status page's routes to ``app``."""
    routes = _Routes(sources)
    app.router.add_get("/", routes.page)
    app.router.add_get("/api/v1/status", routes.api)
    app.router.add_get(f"/{{axis:{_AXES}}}/{{name}}", routes.scope)
    app.router.add_get(f"/api/v1/{{axis:{_AXES}}}/{{name}}", routes.scope_api)
    app.router.add_get("/static/{file}", routes.file)
