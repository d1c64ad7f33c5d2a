"""Runs of failing deletes (sesd.runtime.sqs_deletes): a run is warned of when it
begins and its length said when deletes work again; a run that begins after that is
a new one, warned of again and counted from one."""

from __future__ import annotations

import io
import json
from typing import Any

from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from tests.conftest import aws_client
from tests.test_sqs_edges import poller

_KIND = "application/x-amz-json-1.0"


class ScriptedDeletes(LocalServer):
    """An endpoint whose DeleteMessageBatch fails (an error no retry of the SDK's
    follows) at the calls numbered in ``failing``, from 1, and deletes every entry at
    the others."""

    def __init__(self, failing: set[int]) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.failing = failing
        self.deletes = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        self.deletes += 1
        if self.deletes in self.failing:
            error = {"__type": "InternalError", "message": "try again"}
            return web.json_response(error, status=400, content_type=_KIND)
        entries = (await request.json())["Entries"]
        answer = {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}
        return web.json_response(answer, content_type=_KIND)


async def test_a_run_of_failed_deletes_after_one_that_ended_is_warned_of_again(
    json_logs: io.StringIO,
) -> None:
    """A batch's delete fails, and its retry: warned of. The next batch's works: the
    run of one batch is said over. The batch after that fails again, and its retry: a
    new run, warned of as the first was, not a debug line of the old one; it is said
    over after one batch too."""
    messages: list[Any] = [{"MessageId": "m1", "ReceiptHandle": "r1"}]
    async with ScriptedDeletes({1, 2, 4, 5}) as scripted, aws_client("sqs", scripted) as sqs:
        p, _ = poller(sqs, f"{scripted.url}/123456789012/q")
        for _ in range(4):
            await p._deletes.delete(messages)
        assert scripted.deletes == 6
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    lines = [(r["event"], r["level"]) for r in records]
    said = [line for line in lines if line[0].startswith("sesd.sqs.delete")]
    assert said == [
        ("sesd.sqs.delete_failed", "warning"),
        ("sesd.sqs.delete_failed", "warning"),
        ("sesd.sqs.deletes_recovered", "info"),
        ("sesd.sqs.delete_failed", "warning"),
        ("sesd.sqs.delete_failed", "warning"),
        ("sesd.sqs.deletes_recovered", "info"),
    ]
    recovered = [r["after_batches"] for r in records if r["event"] == "sesd.sqs.deletes_recovered"]
    assert recovered == [1, 1]


async def test_a_delete_cut_off_is_a_batch_of_the_run_and_a_release_cut_off_is_not(
    json_logs: io.StringIO,
) -> None:
    """Two deletes cut off (their bound, a stop's), a give-back cut off between them,
    then a delete that works: each cut off is counted a failed call of its own, and the
    run said over is two batches long, the give-back none of it."""
    messages: list[Any] = [{"MessageId": "m1", "ReceiptHandle": "r1"}]
    async with ScriptedDeletes(set()) as scripted, aws_client("sqs", scripted) as sqs:
        p, metrics = poller(sqs, f"{scripted.url}/123456789012/q")
        p._deletes.cut_off("delete")
        p._deletes.cut_off("release")
        p._deletes.cut_off("delete")
        await p._deletes.delete(messages)
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    recovered = [r["after_batches"] for r in records if r["event"] == "sesd.sqs.deletes_recovered"]
    assert recovered == [2]
    labels = {"queue": "q", "account": "default", "region": "us-east-1"}
    counted = {
        operation: metrics.registry.get_sample_value(
            "sesd_sqs_errors_total", {**labels, "operation": operation}
        )
        for operation in ("delete", "release")
    }
    assert counted == {"delete": 2, "release": 1}
