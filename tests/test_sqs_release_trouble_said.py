"""A give-back SQS refuses, or fails in part: at the place in force, a warning with the
error or the codes, how many, and what comes of them; at the old place of a queue a
reload removed (its poller's last batch), the old place's word, at info, ``retired``,
with the same fields and no advice (sesd reads none of that place's messages again)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp import web

from sesd.commands.demo.localsqs import LocalSqs
from sesd.runtime.sqs import QueuePoller
from tests.conftest import aws_client, said_in
from tests.test_sqs_edges import ForbiddingSqs, poller, two_received
from tests.test_sqs_receive_failures import OneMessage, _receiving


def _removed(p: QueuePoller) -> None:
    """A reload removed the queue ``p`` reads: ``p`` is at its old place."""
    p._metrics.sqs.configure([], lambda _: ("default", "us-east-1"))


def _said(line: dict[str, Any], removed: bool) -> None:
    """``line`` is the old place's when ``removed``, else a warning of the place in force."""
    if removed:
        assert (line["level"], line["retired"], line.get("hint")) == ("info", True, None)
    else:
        assert (line["level"], line.get("retired")) == ("warning", None)


@pytest.mark.parametrize("removed", [False, True], ids=["in_force", "removed"])
async def test_a_release_refused_is_said_with_its_error_and_count(
    local_sqs: LocalSqs, json_logs: io.StringIO, removed: bool
) -> None:
    """Two messages to give back, with credentials that may not change their
    visibility: the line names AccessDenied and the two."""
    async with aws_client("sqs", local_sqs) as sqs:
        url, messages = await two_received(sqs)
    async with ForbiddingSqs() as forbidding, aws_client("sqs", forbidding) as denied:
        p, _ = poller(denied, url)
        if removed:
            _removed(p)
        await p._deletes.release(messages)
    failed = said_in(json_logs)["sesd.sqs.release_failed"]
    assert (failed["error"], failed["count"]) == ("ClientError: AccessDenied", 2)
    _said(failed, removed)


class ReleaseFails(OneMessage):
    """As :class:`OneMessage`, every entry of a release failed (a receipt no longer good)."""

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.headers["X-Amz-Target"].endswith("ChangeMessageVisibilityBatch"):
            asked = await request.json()
            failed = [
                {"Id": e["Id"], "SenderFault": True, "Code": "ReceiptHandleIsInvalid"}
                for e in asked["Entries"]
            ]
            answer = {"Successful": [], "Failed": failed}
            return web.json_response(answer, content_type="application/x-amz-json-1.0")
        return await super()._answer(request)


@pytest.mark.parametrize("removed", [False, True], ids=["in_force", "removed"])
async def test_a_release_failed_in_part_is_said_with_its_codes_and_count(
    json_logs: io.StringIO, removed: bool
) -> None:
    """A message to give back whose entry SQS fails: the line names the code and the
    one, and, at the place in force, that it is visible again after its visibility
    timeout."""
    async with ReleaseFails() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        if removed:
            _removed(p)
        await p._deletes.release(messages)
    failed = said_in(json_logs)["sesd.sqs.release_partly_failed"]
    assert (failed["failed"], failed["codes"]) == (1, ["ReceiptHandleIsInvalid"])
    _said(failed, removed)
    if not removed:
        assert failed["hint"] == "they become visible again after their visibility timeout"
    assert "sesd.sqs.released" not in said_in(json_logs)  # none was given back


@pytest.mark.parametrize("removed", [False, True], ids=["in_force", "removed"])
async def test_a_release_done_is_said_where_it_was_made(
    json_logs: io.StringIO, removed: bool
) -> None:
    """A message given back: ``sesd.sqs.released`` counts it, and says ``retired`` at a
    removed queue's old place, as that place's other lines do."""
    async with OneMessage() as sqs, _receiving(sqs) as p:
        messages = await p._receive()
        assert messages is not None
        if removed:
            _removed(p)
        await p._deletes.release(messages)
    released = said_in(json_logs)["sesd.sqs.released"]
    assert (released["count"], released.get("retired")) == (1, True if removed else None)
