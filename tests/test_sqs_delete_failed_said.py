"""What the on-call reads of a delete that failed (sesd.runtime.sqs_deletes): how many
messages, whether it is tried again, and what a message left undeleted costs; a
failed entry's code as the answer gave it, and none made up where it gave none; a
delete refused again after deletes worked, said as the first refusal was."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from tests.conftest import aws_client
from tests.log_lines import log_records
from tests.test_sqs_edges import poller

_KIND = "application/x-amz-json-1.0"
HINT = (
    "counted already: if not deleted, SQS hands them out again after their visibility "
    "timeout and they count as duplicates"
)
MESSAGES: list[Any] = [
    {"MessageId": "m1", "ReceiptHandle": "r1"},
    {"MessageId": "m2", "ReceiptHandle": "r2"},
]


class Answering(LocalServer):
    """An endpoint whose DeleteMessageBatch answers as ``answer`` says, given the
    entries sent: (HTTP status, JSON body)."""

    def __init__(self, answer: Callable[[list[Any]], tuple[int, Any]]) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.answer = answer

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        status, body = self.answer((await request.json())["Entries"])
        return web.json_response(body, status=status, content_type=_KIND)


def _deleted(entries: list[Any]) -> tuple[int, Any]:
    """SQS's answer to a delete that took every entry."""
    return 200, {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}


async def _lines(answer: Callable[[list[Any]], tuple[int, Any]], json_logs: io.StringIO,
                 event: str) -> list[dict[str, Any]]:  # fmt: skip
    """The lines ``event`` of a delete of the two messages at an endpoint answering so."""
    async with Answering(answer) as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        await p._deletes.delete(MESSAGES)
    return [r for r in log_records(json_logs) if r["event"] == event]


async def test_a_failed_delete_says_how_many_whether_tried_again_and_the_cost(
    json_logs: io.StringIO,
) -> None:
    """A delete of two messages fails, and so does its retry: each warning names the
    two, the first says it is tried again and the second that it is not, and both say
    what an undeleted message costs."""
    error = {"__type": "InternalError", "message": "try again"}
    lines = await _lines(lambda entries: (400, error), json_logs, "sesd.sqs.delete_failed")
    said = [(r["level"], r["count"], r["retrying"], r["hint"]) for r in lines]
    assert said == [("warning", 2, True, HINT), ("warning", 2, False, HINT)]
    assert all("InternalError" in r["error"] for r in lines)


async def test_a_failed_entry_without_a_code_is_said_with_an_empty_one(
    json_logs: io.StringIO,
) -> None:
    """An answer (a stand-in's, not SQS's) fails one entry with a code and the other
    with none, at the first try and at the retry of both: each line names the one code
    and an empty one, not a word the answer never said."""

    def answer(entries: list[Any]) -> tuple[int, Any]:
        failed = [{"Id": entries[0]["Id"], "Code": "ReceiptHandleIsInvalid"}]
        return 200, {"Successful": [], "Failed": failed + [{"Id": e["Id"]} for e in entries[1:]]}

    lines = await _lines(answer, json_logs, "sesd.sqs.delete_partly_failed")
    said = [(r["level"], r["failed"], r["codes"], r["retrying"]) for r in lines]
    codes = ["", "ReceiptHandleIsInvalid"]
    assert said == [("warning", 2, codes, 2), ("warning", 2, codes, 0)]


async def test_a_refusal_after_deletes_worked_again_is_an_error_again(
    json_logs: io.StringIO,
) -> None:
    """A delete the credentials may not make, then two that work (the permission
    granted), then a refusal again (taken away): the second refusal is said at error
    level as the first was, not a debug line of the first, and the recovery between
    them said once, not at each delete that works."""
    denied = {"__type": "AccessDeniedException", "message": "denied"}
    answers = iter([(400, denied), None, None, (400, denied)])

    def answer(entries: list[Any]) -> tuple[int, Any]:
        return next(answers) or _deleted(entries)

    async with Answering(answer) as endpoint, aws_client("sqs", endpoint) as sqs:
        p, _ = poller(sqs, f"{endpoint.url}/123456789012/q")
        for _ in range(4):
            await p._deletes.delete(MESSAGES)
    said = [(r["event"], r["level"]) for r in log_records(json_logs)
            if r["event"].startswith("sesd.sqs.delete")]  # fmt: skip
    assert said == [
        ("sesd.sqs.delete_refused", "error"),
        ("sesd.sqs.delete_recovered", "info"),
        ("sesd.sqs.delete_refused", "error"),
    ]
