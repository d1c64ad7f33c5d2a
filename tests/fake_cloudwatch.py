"""A local CloudWatch ``GetMetricData`` endpoint whose queries answer any status.

moto's CloudWatch answers every query ``Complete``; AWS may answer one
``InternalError``, ``Forbidden``, or ``PartialData`` with a ``NextToken`` for the
rest. CloudWatch's model names three protocols (``smithy-rpc-v2-cbor``, ``json``,
``query``); the pinned botocore takes the first of its own priority list it finds
there, ``json``: ``POST /`` with ``X-Amz-Target:
GraniteServiceVersion20100801.GetMetricData``, a JSON body, timestamps as epoch
seconds. This endpoint answers so, and checks that the SDK still asks so (a botocore
that moved to CBOR would make it a fake of nothing).

A test scripts pages with :meth:`FakeCloudWatch.script`: each a list of
:class:`Query` results and the page's next token; unscripted requests answer every
query ``Complete`` with no datapoint. ``requests`` holds each request's JSON.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.session
from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer

_TARGET = "GraniteServiceVersion20100801.GetMetricData"
_KIND = "application/x-amz-json-1.0"


@dataclass(frozen=True)
class Query:
    """One query's result on a page: its id, status and datapoints."""

    id: str
    status: str = "Complete"
    points: list[tuple[datetime, float]] = field(default_factory=list)


class FakeCloudWatch(LocalServer):
    """The endpoint; scripted pages are answered in order."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[dict[str, Any]] = []
        self._pages: deque[tuple[list[Query], str | None]] = deque()
        #: Answers given as they are, before any scripted page (one not of CloudWatch's
        #: shape: botocore checks no member's type).
        self.raw: deque[dict[str, Any] | str] = deque()
        model = botocore.session.get_session().get_service_model("cloudwatch")
        assert model.resolved_protocol == "json", model.resolved_protocol  # what is faked

    def script(self, *pages: tuple[list[Query], str | None]) -> None:
        """Answer the next GetMetricData calls with these pages (results, next token)."""
        self._pages.extend(pages)

    async def _call(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Amz-Target") != _TARGET:
            return web.json_response({"__type": "UnknownOperationException"}, status=400)
        asked = json.loads(await request.read())
        self.requests.append(asked)
        if self.raw:
            said = self.raw.popleft()
            if isinstance(said, str):  # the text as it is, JSON or not
                return web.Response(text=said, content_type=_KIND)
            return web.json_response(said, content_type=_KIND)
        if self._pages:
            results, token = self._pages.popleft()
        else:
            results, token = [Query(q["Id"]) for q in asked["MetricDataQueries"]], None
        answer: dict[str, Any] = {
            "MetricDataResults": [
                {
                    "Id": query.id,
                    "Label": query.id,
                    "Timestamps": [stamp.timestamp() for stamp, _ in query.points],
                    "Values": [value for _, value in query.points],
                    "StatusCode": query.status,
                }
                for query in results
            ],
            "Messages": [],
        }
        if token is not None:
            answer["NextToken"] = token
        return web.json_response(answer, content_type=_KIND)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._call)
