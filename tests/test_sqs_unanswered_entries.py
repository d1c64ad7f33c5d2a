"""A batch call's answer that names an entry in neither ``Successful`` nor ``Failed``
(a proxy's ``{}``, a captive page the SDK reads as no lists, a stand-in's answer: SQS
names each entry in one of them). Whether that entry's message was deleted (released)
is not known: it is not counted as done. A delete is tried again (deleting a deleted
message again is harmless: nothing is lost or counted twice), then counted as a failed
delete and warned of; a release is counted and warned of as a failed one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from sesd.metrics.registry import Metrics
from tests.conftest import aws_client, log_records, said_in, sesd_logs
from tests.test_malformed_entries import OddCodes
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)


class Unnamed(OddCodes):
    """A stand-in whose batch calls answer with the first entry named in ``Successful``
    and no other named anywhere (``{}`` with :attr:`none`), as JSON or as
    a page of :attr:`kind`; each call's receipt handles kept in :attr:`calls`."""

    def __init__(self, *, none: bool = False, kind: str = "application/x-amz-json-1.0") -> None:
        super().__init__()
        self.none, self.kind = none, kind
        self.calls: list[list[str]] = []

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        self.calls.append([e["ReceiptHandle"] for e in entries])
        answer = {} if self.none else {"Successful": [{"Id": entries[0]["Id"]}]}
        text = json.dumps(answer) if "json" in self.kind else "<html>Sign in</html>"
        return web.Response(text=text, content_type=self.kind)


def _errors(metrics: Metrics, call: str) -> float | None:
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": call}
    return metrics.registry.get_sample_value("sesd_sqs_errors_total", labels)


@pytest.mark.parametrize(
    "answer", [{}, {"none": True}, {"none": True, "kind": "text/html"}], ids=["one", "{}", "page"]
)
async def test_a_delete_named_nowhere_is_not_counted_deleted(answer: dict[str, Any]) -> None:
    """Three messages deleted; the answer names the first deleted and says nothing of
    the others (or of any, or is a page): the others are tried again once, then counted
    as failed deletes and warned of (counted deleted, nothing was said of them, and a
    captive page passed for every delete done)."""
    logs = sesd_logs("info")
    async with Unnamed(**answer) as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(3)]
        deleted = await p._deletes.delete(messages)
    # Named deleted: the first of the three, then the first of the two tried again.
    named = answer == {}
    assert deleted == (2 if named else 0)
    assert endpoint.calls[1] == (["r1", "r2"] if named else ["r0", "r1", "r2"])
    assert _errors(metrics, "delete") == (2 + 1 if named else 3 + 3)
    said = log_records(logs)
    failed = [r for r in said if r["event"] == "sesd.sqs.delete_partly_failed"]
    assert failed[0]["failed"] == (2 if named else 3)


@pytest.mark.parametrize("answer", [{}, {"none": True}], ids=["one", "{}"])
async def test_a_release_named_nowhere_is_not_counted_released(answer: dict[str, Any]) -> None:
    """Three messages released; the answer names the first and says nothing of the
    others (or of any): those are counted as failed releases and warned of, and
    ``sesd.sqs.released`` counts only what was named released."""
    logs = sesd_logs("info")
    async with Unnamed(**answer) as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(3)]
        await p._deletes.release(messages)
    unnamed = 3 if answer else 2
    assert _errors(metrics, "release") == unnamed
    said = said_in(logs)
    assert said["sesd.sqs.release_partly_failed"]["failed"] == unnamed
    assert said.get("sesd.sqs.released", {}).get("count", 0) == 3 - unnamed
