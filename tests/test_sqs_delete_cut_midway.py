"""A batch's delete whose first try deleted part of the batch, and whose second try (for
the rest, which SQS failed on its side) is then cut off: by the delete's own limit, a
stop's bound or a forced exit. What the first try deleted is said deleted; only the rest
is said cut off, to come back after its visibility timeout."""

from __future__ import annotations

import io
import json
from typing import Any

import anyio
import pytest
from aiohttp import web

import sesd.runtime.sqs as sqs_module
from sesd.runtime.in_flight import InFlight
from tests import factory as f
from tests.test_sqs_receive_failures import SometimesThrottled, _errors, _receiving


def _answer(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, content_type="application/x-amz-json-1.0")


class FirstTryHalfDone(SometimesThrottled):
    """Each receive brings two events. A batch's first delete deletes its first entry and
    fails the other (SQS's InternalError, no sender's fault: tried again); the second is
    held until ``answer_retry`` is set (5 s at most), then deletes what it is asked to.
    ``retried`` says the second has come."""

    def __init__(self) -> None:
        super().__init__()
        self.deletes = 0
        self.retried = anyio.Event()
        self.answer_retry = anyio.Event()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        asked = await request.json()
        if request.headers["X-Amz-Target"].endswith("ReceiveMessage"):
            bodies = [f.raw(f.delivery([f"u{i}@one.example"])) for i in range(2)]
            messages = [
                {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body}
                for i, body in enumerate(bodies)
            ]
            return _answer({"Messages": messages})
        self.deletes += 1
        first, *rest = asked["Entries"]
        if self.deletes == 1:
            failed = [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "again"}
                for e in rest
            ]
            return _answer({"Successful": [{"Id": first["Id"]}], "Failed": failed})
        self.retried.set()
        with anyio.move_on_after(5):  # a bound on the wait: the test then fails
            await self.answer_retry.wait()
        return _answer({"Successful": [{"Id": e["Id"]} for e in asked["Entries"]]})


@pytest.mark.parametrize("end", ["own limit", "stop", "forced exit"])
@pytest.mark.parametrize("beside", [True, False], ids=["beside_a_receive", "alone"])
async def test_a_delete_cut_off_in_its_second_try_says_what_its_first_deleted(
    beside: bool, end: str, monkeypatch: pytest.MonkeyPatch, json_logs: io.StringIO
) -> None:
    """A batch of two: the delete's first try deletes one and fails the other, and the
    second try, for that one, hangs until the delete's bound cuts it off (its own limit,
    0.3 s here; a stop's grace period, 0.1 s, and margin, 0.1 s; a forced exit at once).
    The one deleted is said deleted: the batch's line says ``deleted=1``, and
    ``sesd.sqs.delete_cut_off`` counts the one left (``count=1``, ``deleted=1``), not
    the batch's two, as SQS will hand out one again, not two. The failed entry and the
    call cut off count a failed delete each. So whether the delete was made beside the
    next receive or alone (a stop under way)."""
    monkeypatch.setattr(sqs_module, "DELETE_LIMIT", 0.3 if end == "own limit" else 15.0)
    async with FirstTryHalfDone() as sqs, _receiving(sqs) as p:
        p._in_flight = in_flight = InFlight(margin=0.1)
        messages = await p._receive()
        assert messages is not None
        assert len(messages) == 2
        if not beside:
            p._stopping.set()  # no receive beside the delete
        brought: list[object] = []

        async def handle() -> None:
            brought.append(await p._handle(messages, ask=True))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(handle)
                await sqs.retried.wait()
                if end == "stop":
                    in_flight.end_by(anyio.current_time() + 0.1)
                elif end == "forced exit":
                    in_flight.cut()
        sqs.answer_retry.set()
        errors = _errors(p, "delete")
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    (batch,) = [r for r in records if r["event"] == "sesd.sqs.batch"]
    assert (batch["received"], batch["to_delete"], batch["deleted"]) == (2, 2, 1)
    (cut,) = [r for r in records if r["event"] == "sesd.sqs.delete_cut_off"]
    assert (cut["count"], cut.get("deleted"), cut["level"]) == (1, 1, "warning")
    assert errors == 2
    if beside:
        assert [len(b) for b in brought if isinstance(b, list)] == [2]
    else:
        assert brought == [sqs_module.NOT_ASKED]
