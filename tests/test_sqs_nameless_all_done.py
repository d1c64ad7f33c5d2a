"""A batch call's answer that names every entry sent in ``Successful`` and lists a
failed entry naming none (a proxy's or a stand-in's answer: SQS names each entry once,
in one list or the other). Every message is known done: the nameless failure is of
none of them, so nothing is counted failed, warned of or said undeleted."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from sesd.metrics.registry import Metrics
from sesd.runtime.sqs_deletes import UNNAMED, _ours
from tests.conftest import aws_client, said_in, sesd_logs
from tests.test_malformed_entries import OddCodes
from tests.test_sqs_edges import poller

pytestmark = pytest.mark.timeout(30)


class AllDoneOneNameless(OddCodes):
    """A stand-in whose batch calls name every entry successful and fail one entry
    that names none."""

    async def _answer(self, request: web.Request) -> web.Response:
        entries = (await request.json())["Entries"]
        answer = {
            "Successful": [{"Id": e["Id"]} for e in entries],
            "Failed": [{"Code": "InternalError", "SenderFault": False}],
        }
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


def _errors(metrics: Metrics, call: str) -> float:
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": call}
    return metrics.registry.get_sample_value("sesd_sqs_errors_total", labels) or 0.0


def test_a_nameless_failure_stands_for_no_entry_named_done() -> None:
    """Every entry sent named successful: a nameless failed entry is none of them (it
    stands only for an entry the answer names nowhere)."""
    assert _ours([{"Code": "InternalError"}], {"0", "1"}, [{"Id": "0"}, {"Id": "1"}]) == []
    # One entry named nowhere: the nameless failure stands for it, once.
    nameless = {"Code": "InternalError"}
    assert _ours([nameless, None], {"0", "1"}, [{"Id": "0"}]) == [nameless]
    assert _ours([], {"0", "1"}, [{"Id": "0"}]) == [{"Id": "1", "Code": UNNAMED}]


@pytest.mark.parametrize("call", ["delete", "release"])
async def test_every_entry_named_done_is_counted_done(call: str) -> None:
    """Three messages deleted (released), each named successful, with a failure naming
    none beside: three done, no failed entry counted or warned of (one was counted
    failed and warned of, a delete said to have deleted two)."""
    logs = sesd_logs("info")
    async with AllDoneOneNameless() as endpoint, aws_client("sqs", endpoint) as sqs:
        p, metrics = poller(sqs, f"{endpoint.url}/123456789012/q")
        messages: Any = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(3)]
        if call == "delete":
            assert await p._deletes.delete(messages) == 3
        else:
            await p._deletes.release(messages)
    assert _errors(metrics, call) == 0
    said = said_in(logs)
    assert not [e for e in said if e.endswith("partly_failed")]
    if call == "release":
        assert said["sesd.sqs.released"]["count"] == 3
